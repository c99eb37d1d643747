"""Recipient domain -> mailbox provider, by the domain's MX, cached.

Called by the SQS pollers for every recipient domain; a cache miss costs one MX query
(bounded by a short timeout), a hit costs a dict lookup. Failures are cached briefly as
``unknown`` so a dead resolver does not stall the consumer.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

import dns.exception
import dns.resolver

from exporter.events.providers import provider_from_domain, provider_from_mx
from exporter.sources.zones import ZoneOverrides

__all__ = ["MxProviderResolver"]

_TTL_SECONDS = 6 * 3600.0
_FAILURE_TTL_SECONDS = 300.0


class MxProviderResolver:
    """Thread-safe, bounded LRU cache in front of MX lookups."""

    def __init__(
        self,
        *,
        nameservers: Sequence[tuple[str, int]],
        timeout: float = 1.0,
        overrides: ZoneOverrides | None = None,
        max_entries: int = 50_000,
    ) -> None:
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [host for host, _ in nameservers]
        if nameservers:
            self._resolver.port = nameservers[0][1]
        self._resolver.lifetime = timeout
        self._overrides = overrides
        self._max_entries = max_entries
        self._cache: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, domain: str) -> str:
        known = provider_from_domain(domain)
        if known is not None:
            return known
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(domain)
            if cached is not None and cached[1] > now:
                self._cache.move_to_end(domain)
                return cached[0]
        provider, ttl = self._lookup(domain)
        with self._lock:
            self._cache[domain] = (provider, now + ttl)
            self._cache.move_to_end(domain)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return provider

    def _lookup(self, domain: str) -> tuple[str, float]:
        if domain == "invalid":
            return "unknown", _TTL_SECONDS
        if self._overrides:
            hop = self._overrides.answer(domain, "MX")
            if hop is not None and hop.answer is not None:
                return provider_from_mx(r.split()[-1] for r in hop.answer.records), _TTL_SECONDS
        if not self._resolver.nameservers:
            return "unknown", _TTL_SECONDS
        try:
            answer = self._resolver.resolve(domain, "MX", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return "other", _TTL_SECONDS
        except (dns.exception.DNSException, OSError, ValueError):
            return "unknown", _FAILURE_TTL_SECONDS
        hosts = [r.exchange.to_text(omit_final_dot=True).lower() for r in answer]
        return provider_from_mx(hosts), _TTL_SECONDS
