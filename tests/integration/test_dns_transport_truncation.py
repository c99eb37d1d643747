"""Truncation on both DNS transports: a UDP reply with TC set is asked again over TCP, on
the same attempt, and what TCP gives (the full answer, a refusal, silence, a closed
connection) is read alike by the wire path and by dnspython's.

`named` truncates an RRset larger than the client's EDNS size (1,232 bytes) on its own; a
scripted nameserver sends the truncated replies `named` never would."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import pytest
from conftest import NamedServer, start_named, stop_named, zone_files
from helpers.dns_responder import (
    FLAG_TC,
    Datagram,
    Outcome,
    TcpScript,
    ask,
    on_both,
    record,
    reply,
    responder,
    txt,
)

from exporter.model import Answer, AnswerKind
from exporter.sources.dns import EDNS_PAYLOAD

pytestmark = pytest.mark.integration

# 12 strings of 150 bytes, in sorted order: about 1,900 bytes of TXT, over EDNS_PAYLOAD
STRINGS = tuple(f"record {n:02d} ".encode() + bytes([97 + n]) * 140 for n in range(12))
FULL = Answer(AnswerKind.RECORDS, tuple(sorted(s.decode() for s in STRINGS)))
SERVFAIL = 2


@pytest.fixture(name="large_named", scope="module")
def _large_named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamedServer]:
    """A `named` serving a zone with a TXT RRset too large for one UDP reply."""
    workdir = tmp_path_factory.mktemp("named-large")
    zone = workdir / "large.test.zone"
    rrset = "".join(f'big TXT "{s.decode()}"\n' for s in STRINGS)
    zone.write_text(
        "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
        f"{rrset}alias CNAME big\n"
    )
    zones: dict[str, Path] = {"healthy.example": zone_files()["healthy.example"]}
    server = start_named(workdir, {**zones, "large.test": zone})
    yield server
    stop_named(server)


def test_a_large_rrset_from_named_comes_over_tcp(large_named: NamedServer) -> None:
    """named sets TC on the UDP reply; both transports ask again over TCP and read the
    whole RRset, behind an alias too."""
    query = dns.message.make_query("big.large.test", "TXT", use_edns=0, payload=EDNS_PAYLOAD)
    udp = dns.query.udp(query, large_named.host, port=large_named.port, timeout=5.0)
    assert udp.flags & dns.flags.TC  # else this test would not test truncation

    def run(transport: str) -> Outcome:
        nameserver = (large_named.host, large_named.port)
        # named rotates the order of an RRset from one reply to the next; the client sorts it
        return ask(transport, [nameserver], ("big.large.test", "TXT"), ("alias.large.test", "TXT"))

    outcome = on_both(run)
    assert outcome.answers == [
        FULL,
        Answer(
            FULL.kind,
            FULL.records,
            cname_chain=("alias.large.test",),
            canonical_name="big.large.test",
        ),
    ]
    assert outcome.counts == {("TXT", "noerror"): 2}
    assert (outcome.queries_sent, outcome.responses) == (2, 2)


def full(query: bytes) -> list[bytes]:
    return [reply(query, *(record(16, txt(s)) for s in STRINGS))]


TRUNCATED: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda q: reply(q, flags=FLAG_TC),
    "some_records": lambda q: reply(q, record(16, txt(STRINGS[0])), flags=FLAG_TC),
    "cut_in_a_record": lambda q: reply(q, record(16, txt(STRINGS[0]))[:-9], flags=FLAG_TC),
    "fewer_records_than_counted": lambda q: reply(
        q, record(16, txt(STRINGS[0])), flags=FLAG_TC, count=len(STRINGS)
    ),
}


@pytest.mark.parametrize("build", TRUNCATED.values(), ids=TRUNCATED.keys())
def test_a_truncated_reply_is_asked_again_over_tcp(build: Callable[[bytes], bytes]) -> None:
    """Whatever the truncated UDP reply holds (nothing, a part that parses, a part cut in a
    record), the answer is TCP's, in the same attempt: one query sent, one response."""

    def run(transport: str) -> Outcome:
        with responder(lambda query: [(False, build(query))], tcp=full) as server:
            return ask(transport, [server], ("a.example", "TXT"))

    outcome = on_both(run)
    assert outcome.answers == [FULL]
    assert (outcome.udp, outcome.tcp) == ([1], [1])
    assert outcome.counts == {("TXT", "noerror"): 1}
    assert (outcome.queries_sent, outcome.responses) == (1, 1)


def truncated(query: bytes) -> list[Datagram]:
    return [(False, reply(query, flags=FLAG_TC))]


def other_id(query: bytes) -> list[bytes]:
    return [reply(query, qid=struct.unpack_from("!H", query)[0] ^ 1)]


TCP_FAILURES: dict[str, tuple[TcpScript | None, str, list[int]]] = {
    # (the TCP side, the answer's error, TCP queries the server got over both attempts)
    "refused": (None, "network", [0]),
    "silent": (lambda _: None, "timeout", [2]),
    "servfail": (lambda q: [reply(q, rcode=SERVFAIL)], "servfail", [2]),
    "another_id": (other_id, "malformed_response", [2]),
}


@pytest.mark.parametrize(("tcp", "error", "tcp_queries"), TCP_FAILURES.values(), ids=TCP_FAILURES)
def test_tcp_failing_after_truncation_is_an_error(
    tcp: TcpScript | None, error: str, tcp_queries: list[int]
) -> None:
    """TCP refused, silent, answering SERVFAIL or a reply to another query after TC: each
    attempt ends in that error, and the question in an ERROR (`unknown`), never a verdict
    read from the truncated reply."""

    def run(transport: str) -> Outcome:
        with responder(truncated, tcp=tcp) as server:
            return ask(transport, [server], ("a.example", "TXT"), timeout=2.0)

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error=error)]
    assert outcome.counts == {("TXT", error): 2}
    assert (outcome.udp, outcome.tcp) == ([2], tcp_queries)


def test_tcp_closed_without_a_reply_after_truncation_is_a_network_error() -> None:
    """The server closes the TCP connection without replying: like a reset, a network
    error (dnspython's own Resolver drops such a server like one that fails on OSError)."""

    def run(transport: str) -> Outcome:
        with responder(truncated, tcp=lambda _: []) as server:
            return ask(transport, [server], ("a.example", "TXT"), timeout=1.0, hang=30.0)

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error="network")]
    assert outcome.counts == {("TXT", "network"): 2}
