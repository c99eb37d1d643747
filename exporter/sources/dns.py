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
import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

import dns.exception
import dns.rcode
import dns.resolver

from exporter.model import Answer, AnswerKind
from exporter.sources.dns_reference import EDNS_PAYLOAD, dnspython_exchange
from exporter.sources.dns_udp import UdpMultiplexer
from exporter.sources.dns_wire import (
    QTYPES,
    Unread,
    WireError,
    WireResponse,
    encode_question,
    read_answer,
)
from exporter.sources.zones import ZoneOverrides

__all__ = ["EDNS_PAYLOAD", "TRANSPORTS", "DnsClient", "DnsQueryStats", "system_nameservers"]

MAX_CNAME_HOPS = 8
TRANSPORTS = ("wire", "dnspython")  # the lean shared-socket path, or dnspython's per query
_COUNT_BATCH = 256  # questions counted between two additions to the shared DnsQueryStats
# Only these codes say something about the records; any other (SERVFAIL, REFUSED, YXDOMAIN,
# NOTAUTH, an extended BADVERS, ...) is a failed attempt, as dnspython's Resolver reads it.
_ANSWER_RCODES = frozenset((int(dns.rcode.NOERROR), int(dns.rcode.NXDOMAIN)))
_RCODE_BITS = 0x0F  # of a header's second flags byte
_AA_BITS = 0x04  # of its first
_TC_BITS = 0x02


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

    def add(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add a client's counts of the last few hundred questions: one lock per batch."""
        with self._lock:
            self._counts.update(counts)


# One server's answer: (the final answer, aliases followed, the name the answer is about
# when final, else the alias target still to ask). A tuple: one per response, cheaper
# than a dataclass.
_Hop = tuple[Answer | None, tuple[str, ...], str]
_NO_ALIASES: tuple[str, ...] = ()


_NODATA = Answer(AnswerKind.NODATA)
_NXDOMAIN = Answer(AnswerKind.NXDOMAIN)
_RCODE_TEXT: dict[int, str] = {}


def _rcode_text(rcode: int) -> str:
    if (text := _RCODE_TEXT.get(rcode)) is None:
        text = _RCODE_TEXT[rcode] = dns.rcode.to_text(dns.rcode.Rcode(rcode)).lower()
    return text


# Called once the answer is known, with it; with None when it is kept unread (see
# `DnsClient.request`: only when every request for the question gave ``expect``).
Waiter = Callable[[Answer | None], None]


class _Question:
    """One distinct (name, type) being resolved: where its CNAME walk and retries are."""

    __slots__ = (
        "aliases",
        "attempt",
        "current",
        "direct",
        "error",
        "expect",
        "hops",
        "key",
        "servers",
        "waiters",
    )

    def __init__(
        self, key: tuple[str, ...], waiter: Waiter | None, *, direct: bool, expect: int
    ) -> None:
        self.key = key
        self.expect = expect  # the hint of last cycle's answer's fingerprint, or 0: `request`
        self.current = key[0]
        self.direct = direct  # asked of the zone's authoritative servers, without recursion
        self.servers: tuple[tuple[str, int], ...] = ()  # the current name's, when direct
        self.aliases: list[str] = []
        self.hops = 0
        self.attempt = 0
        self.error = "timeout"
        self.waiters: list[Waiter] = [waiter] if waiter is not None else []


class DnsClient:
    """Resolves (name, type) questions for one cycle, each distinct question once.

    The core is callback-driven (`request`): a million questions a cycle cost no task or
    future each. On the ``wire`` transport a question in flight is one slot in a
    `UdpMultiplexer`; on ``dnspython`` it is one task per exchange, as before.

    ``authoritative``: a recursive resolver's negative cache can hide a fix for up to the
    zone's SOA minimum TTL (RFC 2308), so a check would keep failing after the record is
    published. In this mode each question goes, without recursion, to the authoritative
    servers of the zone its name is in: the nearest enclosing name with NS records, and
    those servers' addresses, both asked of the configured nameservers (which must
    recurse) and kept for the cycle. A referral, lame or refusing server is ``unknown``.
    ``authoritative_port`` is for tests only: DNS has no way to name another port than 53.
    """

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
        authoritative: bool = False,
        authoritative_port: int = 53,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        self._authoritative = authoritative
        self._authoritative_port = authoritative_port
        self._zones: dict[str, asyncio.Task[tuple[tuple[str, int], ...]]] = {}
        self._wire = transport == "wire"
        self._muxes: dict[tuple[str, int], UdpMultiplexer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: dict[_Question, asyncio.TimerHandle] = {}  # paced by the rate limit
        self._nameservers = tuple(nameservers)
        self._timeout = timeout
        self._attempts = attempts
        self._concurrency = concurrency
        self._in_flight = 0
        self._queued: deque[_Question] = deque()  # waiting for a slot under ``concurrency``
        self._interval = 1.0 / max_queries_per_second if max_queries_per_second > 0 else 0.0
        self._next_slot = 0.0
        self._overrides = overrides
        self._stats = stats or DnsQueryStats()
        self._counts: dict[tuple[str, str], int] = {}  # not yet added to ``stats``
        self._uncounted = 0
        self._done: dict[tuple[str, ...], Answer] = {}
        # Datagrams whose fingerprint has the hint the question expected: read on demand
        self._unread: dict[tuple[str, ...], bytes] = {}
        self._fingerprints: dict[tuple[str, ...], int] = {}  # see `fingerprint`
        self._pending: dict[tuple[str, ...], _Question] = {}
        self.queries_sent = 0  # questions put on the wire this cycle
        self.responses = 0  # of those, how many got any DNS response
        self.kept_unread = 0  # of those, how many were kept unread: see `request`

    def get(self, name: str, rdtype: str) -> Answer | None:
        """The answer if it was resolved already this cycle (the checks' DnsView)."""
        key = (name, rdtype)
        answer = self._done.get(key)
        if answer is None and self._unread:
            return self._read(key)
        return answer

    def fingerprint(self, name: str, rdtype: str) -> int:
        """The `WireResponse.fingerprint` of the one datagram the answer is in, or 0
        (another transport, several datagrams, a failure): a nonzero fingerprint equal to
        that of a datagram read before means the same answer (the verdict memo's use)."""
        return self._fingerprints.get((name, rdtype), 0)

    def forget(self, keys: Iterable[tuple[str, str]]) -> None:
        """Drop answers no other domain will ask for (see dns_cycle._private_to)."""
        done, unread, fingerprints = self._done, self._unread, self._fingerprints
        for key in keys:
            if done.pop(key, None) is None and unread:
                unread.pop(key, None)
            fingerprints.pop(key, None)

    def request(
        self, name: str, rdtype: str, waiter: Waiter, *, recursive: bool = False, expect: int = 0
    ) -> Answer | None:
        """The answer when it is known without waiting; else None, and ``waiter`` is called
        once it is (never from inside this call). Concurrent requests for one question share
        one query. ``recursive`` asks the configured nameservers even in authoritative mode
        (how the zones' servers are found). ``expect``: the `dns_wire.hint` of the
        `fingerprint` of this question's answer last cycle; a datagram that has it is kept
        unread until the answer is asked for, which a domain whose verdict is reused never
        does (its fingerprints are those of last cycle)."""
        direct = self._authoritative and not recursive
        recursive_only = self._authoritative and recursive  # its own key: not a direct answer
        key = (name, rdtype, "recursive") if recursive_only else (name, rdtype)
        if (done := self._done.get(key)) is not None or (
            self._unread and (done := self._read(key)) is not None
        ):
            return done
        if (question := self._pending.get(key)) is not None:
            question.waiters.append(waiter)
            if not expect:  # this one reads the answer: no use keeping it unread
                question.expect = 0
            return None
        question = _Question(key, waiter, direct=direct, expect=expect)
        self._pending[key] = question
        answer = self._advance(question, None)
        if answer is not None:  # answered by a zone file alone: nobody waits yet
            del self._pending[key]
            self._done[key] = answer
        return answer

    async def resolve(self, name: str, rdtype: str, *, recursive: bool = False) -> Answer:
        """`request` for a coroutine: resolve once per cycle and return the answer."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        def waiter(answer: Answer | None) -> None:
            if not future.done():
                assert answer is not None  # noqa: S101 - asked without ``expect``: read
                future.set_result(answer)

        answer = self.request(name, rdtype, waiter, recursive=recursive)
        return answer if answer is not None else await future

    def _read(self, key: tuple[str, ...]) -> Answer | None:
        """Read the answer kept unread (see `request`) as `_attempt_done` would have; None
        when it does not give a final answer (only its fingerprint's hint was last
        cycle's): the question is forgotten, to be asked again."""
        data = self._unread.pop(key, None)
        if data is None:
            return None
        name, rdtype = key[0], key[1]
        try:
            response = _read_datagram(data, name, rdtype)
        except WireError:
            response = None
        final: Answer | None = None
        if response is not None and not response.truncated and response.rcode in _ANSWER_RCODES:
            final, aliases, current = _interpret(response, name, rdtype)
        if response is None or final is None:
            self._fingerprints.pop(key, None)
            return None
        answer = self._done[key] = _aliased(final, aliases, current)
        if response.fingerprint:
            self._fingerprints[key] = response.fingerprint
        else:
            self._fingerprints.pop(key, None)
        return answer

    def _advance(self, question: _Question, hop: _Hop | None) -> Answer | None:
        """Follow the CNAME walk: take ``hop`` (None to start), then ask for the next name
        unless a zone file answers it. Returns the answer when it is final, else None."""
        while True:
            if hop is not None:
                final, aliases, name = hop
                if aliases:
                    question.aliases.extend(aliases)
                question.hops += 1
                question.current = name
                if final is not None:
                    return self._with_aliases(final, question)
            if question.hops >= MAX_CNAME_HOPS:
                return self._with_aliases(
                    Answer(AnswerKind.ERROR, error="cname_chain_too_long"), question
                )
            hop = self._zone_hop(question.current, question.key[1])
            if hop is None:
                if not self._nameservers:
                    return self._with_aliases(
                        Answer(AnswerKind.ERROR, error="no_nameserver"), question
                    )
                question.attempt, question.error = 0, "timeout"
                if question.direct:
                    self._locate(question)
                else:
                    self._send(question)
                return None

    @staticmethod
    def _with_aliases(answer: Answer, question: _Question) -> Answer:
        """``answer`` to ``question``'s current name, with the aliases that led there."""
        return _aliased(answer, question.aliases, question.current)

    def _zone_hop(self, name: str, rdtype: str) -> _Hop | None:
        if not self._overrides:
            return None
        zone_hop = self._overrides.answer(name, rdtype)
        if zone_hop is None:
            return None
        if zone_hop.cname_target is not None and rdtype != "CNAME":
            return (None, (name,), zone_hop.cname_target)
        return (zone_hop.answer or _NODATA, _NO_ALIASES, name)

    def _send(self, question: _Question) -> None:
        """One attempt: wait for a slot under ``concurrency`` and the rate limit, then send."""
        if self._in_flight >= self._concurrency:
            self._queued.append(question)
            return
        self._in_flight += 1
        if self._interval:
            loop = asyncio.get_running_loop()
            now = loop.time()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            if slot > now:
                self._timers[question] = loop.call_at(slot, self._transmit_later, question)
                return
        self._transmit(question)

    def _transmit_later(self, question: _Question) -> None:
        del self._timers[question]
        self._transmit(question)

    def _server(self, question: _Question) -> tuple[str, int]:
        servers = question.servers or self._nameservers
        return servers[question.attempt % len(servers)]

    def _transmit(self, question: _Question) -> None:
        host, port = self._server(question)
        self.queries_sent += 1
        name, rdtype, recursive = question.current, question.key[1], not question.direct
        if not self._wire:
            self._spawn(question, self._dnspython(question, host, port, tcp=False))
            return
        mux = self._muxes.get((host, port))
        try:
            if mux is None:
                mux = self._muxes[(host, port)] = UdpMultiplexer(
                    host, port, self._timeout, self._on_wire
                )
            expect = question.expect if not question.hops else 0
            mux.send(question, name, QTYPES[rdtype], recursive=recursive, expect=expect)
        except OSError:  # later, so that `request` never calls a waiter from inside
            asyncio.get_running_loop().call_soon(self._attempt_done, question, None, "network")
        except (WireError, ValueError):
            asyncio.get_running_loop().call_soon(
                self._attempt_done, question, None, "malformed_response"
            )

    def _on_wire(
        self, question: _Question, response: WireResponse | Unread | None, error: str
    ) -> None:
        if isinstance(response, Unread):  # its fingerprint has the hint ``expect`` gave
            data = response.data
            # Kept unread if it may answer (read, it may not after all: see `_read`), unless
            # someone asked without ``expect`` since, or a zone's own server's answer is not
            # authoritative (the hint may be from a recursive cycle, before
            # `resolver.authoritative` was turned on)
            if (
                question.expect
                and data[3] & _RCODE_BITS in _ANSWER_RCODES
                and not data[2] & _TC_BITS
                and (not question.direct or data[2] & _AA_BITS)
            ):
                self._keep_unread(question, data, response.fingerprint)
                return
            try:
                response = _read_datagram(data, question.current, question.key[1])
            except WireError:
                response = None
            if response is None:  # not an answer to this question after all
                self._attempt_done(question, None, "malformed_response")
                return
        if response is not None and response.truncated:  # go straight to TCP, same attempt
            self._spawn(question, self._dnspython(question, *self._server(question), tcp=True))
            return
        self._attempt_done(question, response, error)

    def _dnspython(
        self, question: _Question, host: str, port: int, *, tcp: bool
    ) -> Coroutine[Any, Any, WireResponse]:
        return dnspython_exchange(
            question.current,
            question.key[1],
            host,
            port,
            seconds=self._timeout,
            recursive=not question.direct,
            tcp=tcp,
        )

    def _spawn(self, question: _Question, exchange: Coroutine[Any, Any, WireResponse]) -> None:
        """Run a dnspython exchange as a task that ends like a wire attempt."""

        async def attempt() -> None:
            try:
                response = await exchange
            except (TimeoutError, dns.exception.Timeout):
                self._attempt_done(question, None, "timeout")
            except (OSError, EOFError):  # EOFError: a TCP peer closed without a reply
                self._attempt_done(question, None, "network")
            except (WireError, dns.exception.DNSException, ValueError):
                self._attempt_done(question, None, "malformed_response")
            else:
                self._attempt_done(question, response, "")

        task = asyncio.get_running_loop().create_task(attempt())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep_unread(self, question: _Question, data: bytes, fingerprint: int) -> None:
        """The attempt got what seems last cycle's datagram: the question ends with it
        unread, as it ended then (a final answer, NOERROR or NXDOMAIN)."""
        self._in_flight -= 1
        self._count(question.key[1], _rcode_text(data[3] & _RCODE_BITS))
        self.responses += 1
        self.kept_unread += 1
        self._unread[question.key] = data
        self._fingerprints[question.key] = fingerprint
        del self._pending[question.key]
        for waiter in question.waiters:
            waiter(None)
        self._next_queued()

    def _count(self, rdtype: str, outcome: str) -> None:
        counts, key = self._counts, (rdtype, outcome)
        counts[key] = counts.get(key, 0) + 1
        self._uncounted += 1
        if self._uncounted >= _COUNT_BATCH:
            self._add_counts()

    def _attempt_done(self, question: _Question, response: WireResponse | None, error: str) -> None:
        """One attempt ended: free its slot, then retry, follow an alias or finish."""
        self._in_flight -= 1
        rdtype = question.key[1]
        outcome = error if response is None else _rcode_text(response.rcode)
        self._count(rdtype, outcome)
        answer: Answer | None = None
        if response is None:
            question.error = error
        else:
            self.responses += 1
            if response.rcode not in _ANSWER_RCODES:
                question.error = outcome
            elif question.direct and not response.authoritative:
                question.error = "not_authoritative"  # a referral or a lame server: next one
            else:
                answer = self._advance(question, _interpret(response, question.current, rdtype))
                if answer is None:  # the alias target was sent
                    self._next_queued()
                    return
                if question.hops == 1 and response.fingerprint:  # read from this datagram alone
                    self._fingerprints[question.key] = response.fingerprint
        if answer is None:
            question.attempt += 1
            if question.attempt < self._attempts:
                self._send(question)
                self._next_queued()
                return
            answer = self._with_aliases(Answer(AnswerKind.ERROR, error=question.error), question)
        self._finish(question, answer)
        self._next_queued()

    def _add_counts(self) -> None:
        """Add the questions counted since the last call to ``stats``: a lock per batch of
        `_COUNT_BATCH`, not per question; at the latest when the client closes."""
        if self._counts:
            self._stats.add(self._counts)
            self._counts = {}
            self._uncounted = 0

    def _next_queued(self) -> None:
        while self._queued and self._in_flight < self._concurrency:
            self._send(self._queued.popleft())

    def _finish(self, question: _Question, answer: Answer) -> None:
        del self._pending[question.key]
        self._done[question.key] = answer
        for waiter in question.waiters:
            waiter(answer)

    def _locate(self, question: _Question) -> None:
        """Find the authoritative servers of the question's current name, then send it."""

        async def locate() -> None:
            try:
                question.servers = await self._servers_for(question.current)
            except _NoServerError:
                answer = Answer(AnswerKind.ERROR, error="no_authoritative_server")
                self._finish(question, self._with_aliases(answer, question))
                return
            self._send(question)

        task = asyncio.get_running_loop().create_task(locate())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _servers_for(self, name: str) -> tuple[tuple[str, int], ...]:
        """The addresses of the zone's servers for ``name``: the nearest enclosing name with
        NS records (not an alias) is the zone; each zone is looked up once per cycle."""
        labels = name.split(".")
        for start in range(len(labels)):
            zone = ".".join(labels[start:])
            if zone not in self._zones:
                answer = await self.resolve(zone, "NS", recursive=True)
                if answer.is_error:
                    raise _NoServerError
                if answer.kind is not AnswerKind.RECORDS or answer.cname_chain:
                    continue  # not a zone apex: try the parent
            if zone not in self._zones:  # the first caller to get here looks up the addresses
                task = self._zones[zone] = asyncio.ensure_future(self._addresses(answer.records))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return await asyncio.shield(self._zones[zone])
        raise _NoServerError

    async def _addresses(self, hosts: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
        answers = await asyncio.gather(
            *(
                self.resolve(host, rdtype, recursive=True)
                for rdtype in ("A", "AAAA")
                for host in hosts
            )
        )
        port = self._authoritative_port
        servers = list(
            dict.fromkeys(
                (address, port) for a in answers if not a.is_error for address in a.records
            )
        )
        if not servers:
            raise _NoServerError
        # Answers come sorted (see _interpret): shuffled, the first tries of a cycle do not
        # all go to the same server, nor to the same one every cycle.
        random.shuffle(servers)
        return tuple(servers)

    async def aclose(self) -> None:
        """Close the cycle's sockets and stop what is still in flight (a cancelled cycle);
        count what is not counted yet."""
        self._add_counts()
        for mux in self._muxes.values():
            mux.close()
        self._muxes.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # dnspython's sockets need one more turn of the loop to close


def _aliased(answer: Answer, aliases: Sequence[str], current: str) -> Answer:
    """``answer`` to the name ``current``, reached through ``aliases`` (none: as it is)."""
    if not aliases:
        return answer
    return Answer(answer.kind, answer.records, answer.error, tuple(aliases), current)


def _read_datagram(data: bytes, name: str, rdtype: str) -> WireResponse | None:
    """`read_answer` for a datagram kept unread; it answered this question before."""
    question, text = encode_question(name, QTYPES[rdtype])
    return read_answer(data, question.lower(), text)


class _NoServerError(Exception):
    """The zone of a name or its servers' addresses could not be found."""


def _interpret(response: WireResponse, name: str, rdtype: str) -> _Hop:
    """Read one response: follow the aliases it contains, then take the records asked for."""
    aliases: list[str] = []
    current = name.lower().rstrip(".")
    for _ in range(MAX_CNAME_HOPS):
        records = tuple(
            text for owner, kind, text in response.answers if owner == current and kind == rdtype
        )
        if records:
            if len(records) > 1:
                # An RRset's order means nothing (RFC 2181 section 5) and servers rotate it
                # (BIND's default is random): in one order, a report and the verdict memo's
                # digest stay the same from one cycle to the next.
                records = tuple(sorted(records))
            return (Answer(AnswerKind.RECORDS, records), tuple(aliases), current)
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
        return (_NXDOMAIN, tuple(aliases), current)
    if aliases:
        # An authoritative server gave the alias but not the target's data: ask for it.
        return (None, tuple(aliases), current)
    return (_NODATA, _NO_ALIASES, current)
