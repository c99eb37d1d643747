"""Recipient domain -> mailbox provider, by the domain's MX, cached.

The SQS pollers ask for a batch's recipient domains at once (`many`); a cache hit costs a
dict lookup, a miss one MX question. The questions are bounded so that DNS can never hold a
batch past its visibility timeout nor SIGTERM past its 10 s:

- each configured nameserver is asked on its own port, in order, each for a share of the
  lookup's timeout (a silent first server leaves time for the second);
- questions are paced under their own rate limit (a share of
  ``resolver.max_queries_per_second``, next to the check cycle's) and counted in the same
  `DnsQueryStats` as the check cycle's, as ``record_type="MX"``;
- a batch spends at most ``batch_budget`` seconds on lookups; the domains left over when it
  is spent, when the stop event is set (SIGTERM) or while a silent resolver is backed off,
  are ``unknown`` for that batch and asked again with a later one;
- answers are cached for hours, a missing domain or MX (``other``) for a shorter while, a
  failure (``unknown``) briefly.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from exporter.events.providers import provider_from_domain, provider_from_mx
from exporter.sources.dns import EDNS_PAYLOAD, DnsQueryStats
from exporter.sources.zones import ZoneOverrides

__all__ = ["MxProviderResolver"]

UNKNOWN = "unknown"
_TTL_SECONDS = 6 * 3600.0
_NEGATIVE_TTL_SECONDS = 900.0  # NXDOMAIN or no MX: the domain may get one soon
_FAILURE_TTL_SECONDS = 60.0
_BACKOFF_SECONDS = 30.0  # after a lookup every server left unanswered
_MIN_TRY_SECONDS = 0.2
_RETRY_RCODES = {dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTIMP, dns.rcode.FORMERR}


class MxProviderResolver:
    """Thread-safe, bounded LRU cache in front of paced, counted, time-boxed MX lookups."""

    def __init__(
        self,
        *,
        nameservers: Sequence[tuple[str, int]],
        timeout: float = 1.0,
        overrides: ZoneOverrides | None = None,
        max_entries: int = 50_000,
        stats: DnsQueryStats | None = None,
        max_queries_per_second: float = 0.0,
        batch_budget: float = 5.0,
        stop: threading.Event | None = None,
    ) -> None:
        self._nameservers = tuple(nameservers)
        self._timeout = timeout
        self._overrides = overrides
        self._max_entries = max_entries
        self._stats = stats if stats is not None else DnsQueryStats()
        self._interval = 1.0 / max_queries_per_second if max_queries_per_second > 0 else 0.0
        self._budget = batch_budget
        self._stop = stop or threading.Event()
        self._cache: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._next_slot = 0.0  # the rate limit's next free send time (monotonic)
        self._backoff_until = 0.0

    def __call__(self, domain: str) -> str:
        return self.many((domain,))[domain]

    def many(self, domains: Collection[str]) -> dict[str, str]:
        """Each domain's provider; what cannot be asked within the batch budget is unknown."""
        deadline = time.monotonic() + self._budget
        result: dict[str, str] = {}
        for domain in domains:
            provider = self._cached(domain)
            if provider is None:
                provider = self._resolve(domain, deadline)
            result[domain] = provider
        return result

    def _cached(self, domain: str) -> str | None:
        known = provider_from_domain(domain)
        if known is not None:
            return known
        if domain == "invalid":
            return UNKNOWN
        with self._lock:
            cached = self._cache.get(domain)
            if cached is not None and cached[1] > time.monotonic():
                self._cache.move_to_end(domain)
                return cached[0]
        if self._overrides:
            hop = self._overrides.answer(domain, "MX")
            if hop is not None and hop.answer is not None:
                return provider_from_mx(r.split()[-1] for r in hop.answer.records)
        return None

    def _resolve(self, domain: str, deadline: float) -> str:
        """Ask DNS, unless stopping, backed off or out of time: then unknown, not cached."""
        if not self._nameservers or self._stop.is_set() or not self._wait_for_slot(deadline):
            return UNKNOWN
        provider, ttl = self._lookup(domain, deadline)
        now = time.monotonic()
        with self._lock:
            self._cache[domain] = (provider, now + ttl)
            self._cache.move_to_end(domain)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return provider

    def _wait_for_slot(self, deadline: float) -> bool:
        """Take the next send time under the rate limit and sleep until it (the stop event
        ends the sleep); False, taking nothing, when that would pass the deadline."""
        now = time.monotonic()
        with self._lock:
            if now < self._backoff_until:
                return False
            slot = max(now, self._next_slot)
            if slot + _MIN_TRY_SECONDS > deadline:
                return False
            self._next_slot = slot + self._interval
        return slot <= now or not self._stop.wait(slot - now)

    def _lookup(self, domain: str, deadline: float) -> tuple[str, float]:
        """One MX question, to each nameserver in turn (on its own port) until one answers."""
        query = dns.message.make_query(domain, "MX", use_edns=0, payload=EDNS_PAYLOAD)
        end = min(deadline, time.monotonic() + self._timeout)
        share = max(_MIN_TRY_SECONDS, self._timeout / len(self._nameservers))
        answered = False
        for host, port in self._nameservers:
            remaining = end - time.monotonic()
            if remaining <= 0 or self._stop.is_set():
                break
            response = self._ask(query, host, port, min(share, remaining))
            if response is None:
                continue
            answered = True
            rcode = response.rcode()
            if rcode in _RETRY_RCODES:
                continue
            if rcode == dns.rcode.NXDOMAIN:
                return "other", _NEGATIVE_TTL_SECONDS
            hosts = [
                r.exchange.to_text(omit_final_dot=True).lower()
                for rrset in response.answer
                if rrset.rdtype == dns.rdatatype.MX
                for r in rrset
            ]
            if hosts:
                return provider_from_mx(hosts), _TTL_SECONDS
            if any(rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer):
                return UNKNOWN, _FAILURE_TTL_SECONDS  # an alias whose target was not given
            return "other", _NEGATIVE_TTL_SECONDS
        if not answered:  # every server silent or unreachable: spare the next batches
            with self._lock:
                self._backoff_until = time.monotonic() + _BACKOFF_SECONDS
        return UNKNOWN, _FAILURE_TTL_SECONDS

    def _ask(
        self, query: dns.message.Message, host: str, port: int, timeout: float
    ) -> dns.message.Message | None:
        """One exchange (TCP when truncated), counted; None when there was no response."""
        try:
            try:
                response = dns.query.udp(
                    query, host, port=port, timeout=timeout, raise_on_truncation=True
                )
            except dns.message.Truncated:
                response = dns.query.tcp(query, host, port=port, timeout=timeout)
        except dns.exception.Timeout:
            self._stats.record("MX", "timeout")
            return None
        except OSError:
            self._stats.record("MX", "network")
            return None
        except (dns.exception.DNSException, ValueError):
            self._stats.record("MX", "malformed_response")
            return None
        self._stats.record("MX", dns.rcode.to_text(response.rcode()).lower())
        return response
