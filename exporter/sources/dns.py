"""The DNS adapter: asks the questions the pure checks need, concurrently and politely.

One ``DnsClient`` lives for one check cycle. It resolves each distinct (name, type) once per
cycle (the ``amazonses.com`` SPF is shared by every domain), keeps at most ``concurrency``
questions in flight, paces them under a query-rate limit (AWS VPC resolvers drop traffic
above 1,024 packets/s per interface), follows CNAME chains itself (an authoritative server
does not chase aliases into other zones), and turns every transport or server failure
into an ERROR answer, which the checks report as ``unknown``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from exporter.model import Answer, AnswerKind
from exporter.sources.dns_wire import QTYPES, UdpMultiplexer, WireError, WireResponse
from exporter.sources.records import rdata_text
from exporter.sources.zones import ZoneOverrides

__all__ = ["TRANSPORTS", "DnsClient", "DnsQueryStats", "system_nameservers"]

MAX_CNAME_HOPS = 8
EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: no fragmentation, rarely truncated
TRANSPORTS = ("wire", "dnspython")  # the lean shared-socket path, or dnspython's per query
_RETRY_RCODES = {dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTIMP, dns.rcode.FORMERR}


def system_nameservers() -> tuple[tuple[str, int], ...]:
    """The nameservers of /etc/resolv.conf, the default when none are configured."""
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        return ()
    return tuple((str(ns), 53) for ns in resolver.nameservers)


class DnsQueryStats:
    """Process-lifetime counts of DNS questions by record type and outcome, for metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, rdtype: str, outcome: str) -> None:
        with self._lock:
            self._counts[(rdtype, outcome)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


@dataclass(frozen=True, slots=True)
class _Hop:
    """One server's answer: final, or the alias target that still has to be asked."""

    answer: Answer | None
    aliases: tuple[str, ...] = ()
    next_name: str | None = None


class _RateLimiter:
    """Paces calls to at most ``rate`` per second (no bursts); 0 disables it."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next_slot = 0.0

    async def acquire(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class DnsClient:
    """Resolves (name, type) questions for one cycle, each distinct question once."""

    def __init__(
        self,
        *,
        nameservers: Sequence[tuple[str, int]],
        timeout: float = 2.0,
        attempts: int = 2,
        concurrency: int = 64,
        max_queries_per_second: float = 0.0,
        overrides: ZoneOverrides | None = None,
        stats: DnsQueryStats | None = None,
        transport: str = "wire",
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        self._transport = transport
        self._muxes: dict[tuple[str, int], UdpMultiplexer] = {}
        self._nameservers = tuple(nameservers)
        self._timeout = timeout
        self._attempts = attempts
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiter = _RateLimiter(max_queries_per_second)
        self._overrides = overrides
        self._stats = stats or DnsQueryStats()
        self._done: dict[tuple[str, str], Answer] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[Answer]] = {}
        self.queries_sent = 0  # questions put on the wire this cycle
        self.responses = 0  # of those, how many got any DNS response

    def get(self, name: str, rdtype: str) -> Answer | None:
        """The answer if it was resolved already this cycle (the checks' DnsView)."""
        return self._done.get((name, rdtype))

    def forget(self, keys: Iterable[tuple[str, str]]) -> None:
        """Drop answers no other domain will ask for (see dns_cycle._private_to)."""
        for key in keys:
            self._done.pop(key, None)

    async def resolve(self, name: str, rdtype: str) -> Answer:
        """Resolve once per cycle; concurrent callers of the same question share one query."""
        key = (name, rdtype)
        if (done := self._done.get(key)) is not None:
            return done
        if (pending := self._pending.get(key)) is not None:
            return await pending
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            answer = await self._resolve_chain(name, rdtype)
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._pending[key]
        self._done[key] = answer
        future.set_result(answer)
        return answer

    async def _resolve_chain(self, name: str, rdtype: str) -> Answer:
        aliases: list[str] = []
        current = name
        for _ in range(MAX_CNAME_HOPS):
            hop = await self._ask(current, rdtype)
            aliases.extend(hop.aliases)
            if hop.answer is not None:
                if not aliases:
                    return hop.answer
                return Answer(hop.answer.kind, hop.answer.records, hop.answer.error, tuple(aliases))
            assert hop.next_name is not None  # noqa: S101 - _Hop has an answer or a next name
            current = hop.next_name
        return Answer(AnswerKind.ERROR, error="cname_chain_too_long", cname_chain=tuple(aliases))

    async def _ask(self, name: str, rdtype: str) -> _Hop:
        if self._overrides:
            zone_hop = self._overrides.answer(name, rdtype)
            if zone_hop is not None:
                if zone_hop.cname_target is not None and rdtype != "CNAME":
                    return _Hop(None, (name,), zone_hop.cname_target)
                return _Hop(zone_hop.answer or Answer(AnswerKind.NODATA))
        if not self._nameservers:
            return _Hop(Answer(AnswerKind.ERROR, error="no_nameserver"))
        return await self._ask_nameservers(name, rdtype)

    async def _ask_nameservers(self, name: str, rdtype: str) -> _Hop:
        error = "timeout"
        for attempt in range(self._attempts):
            host, port = self._nameservers[attempt % len(self._nameservers)]
            await self._limiter.acquire()
            async with self._semaphore:
                self.queries_sent += 1
                try:
                    response = await self._exchange(name, rdtype, host, port)
                except (TimeoutError, dns.exception.Timeout):
                    error = "timeout"
                except OSError:
                    error = "network"
                except (WireError, dns.exception.DNSException, ValueError):
                    error = "malformed_response"
                else:
                    self.responses += 1
                    rcode_text = dns.rcode.to_text(dns.rcode.Rcode(response.rcode)).lower()
                    self._stats.record(rdtype, rcode_text)
                    if response.rcode in _RETRY_RCODES:
                        error = rcode_text
                        continue
                    return _interpret(response, name, rdtype)
            self._stats.record(rdtype, error)
        return _Hop(Answer(AnswerKind.ERROR, error=error))

    async def _exchange(self, name: str, rdtype: str, host: str, port: int) -> WireResponse:
        """One question: the lean shared-socket path, or dnspython's; TCP when truncated."""
        if self._transport == "wire":
            mux = self._muxes.get((host, port))
            if mux is None:
                mux = self._muxes[(host, port)] = UdpMultiplexer(host, port)
            response = await mux.query(name, QTYPES[rdtype], self._timeout)
            if not response.truncated:
                return response
        query = dns.message.make_query(
            dns.name.from_text(name),
            dns.rdatatype.from_text(rdtype),
            use_edns=0,
            payload=EDNS_PAYLOAD,
        )
        if self._transport == "wire":  # the UDP answer was truncated: go straight to TCP
            return _from_message(
                await dns.asyncquery.tcp(query, host, timeout=self._timeout, port=port)
            )
        try:
            message = await dns.asyncquery.udp(
                query, host, timeout=self._timeout, port=port, raise_on_truncation=True
            )
        except dns.message.Truncated:
            message = await dns.asyncquery.tcp(query, host, timeout=self._timeout, port=port)
        return _from_message(message)

    async def aclose(self) -> None:
        """Close the cycle's sockets (the loop needs one turn to really close them)."""
        for mux in self._muxes.values():
            mux.close()
        self._muxes.clear()
        await asyncio.sleep(0)


def _from_message(message: dns.message.Message) -> WireResponse:
    """dnspython's parse, reduced to what the lean path reports, so both read the same."""
    answers = tuple(
        (
            rrset.name.to_text(omit_final_dot=True).lower(),
            dns.rdatatype.to_text(rrset.rdtype),
            rdata_text(r),
        )
        for rrset in message.answer
        if rrset.rdclass == dns.rdataclass.IN and dns.rdatatype.to_text(rrset.rdtype) in QTYPES
        for r in rrset
    )
    truncated = bool(message.flags & dns.flags.TC)
    return WireResponse(rcode=int(message.rcode()), truncated=truncated, answers=answers)


def _interpret(response: WireResponse, name: str, rdtype: str) -> _Hop:
    """Read one response: follow the aliases it contains, then take the records asked for."""
    aliases: list[str] = []
    current = name.lower().rstrip(".")
    for _ in range(MAX_CNAME_HOPS):
        records = tuple(
            text for owner, kind, text in response.answers if owner == current and kind == rdtype
        )
        if records:
            return _Hop(Answer(AnswerKind.RECORDS, records), tuple(aliases))
        if rdtype == "CNAME":
            break
        target = next(
            (
                text
                for owner, kind, text in response.answers
                if owner == current and kind == "CNAME"
            ),
            None,
        )
        if target is None:
            break
        aliases.append(current)
        current = target
    if response.rcode == dns.rcode.NXDOMAIN:
        return _Hop(Answer(AnswerKind.NXDOMAIN), tuple(aliases))
    if aliases:
        # An authoritative server gave the alias but not the target's data: ask for it.
        return _Hop(None, tuple(aliases), current)
    return _Hop(Answer(AnswerKind.NODATA))
