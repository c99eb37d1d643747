"""Both DNS transports against a nameserver of the test's own (loopback UDP) that sends
spoofed, malformed and genuine datagrams: spoofing cannot deny an answer, malformed
answers get dnspython's verdict on both paths, and source ports change (RFC 5452)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import pytest
from helpers.dns_responder import TO_QUESTION, Datagram, record, reply, responder, txt

from exporter.model import Answer, AnswerKind
from exporter.sources.dns import TRANSPORTS, DnsClient
from exporter.sources.dns_udp import QUERIES_PER_PORT

pytestmark = pytest.mark.integration

SPF = b"v=spf1 include:amazonses.com -all"
NXDOMAIN = 3


def resolve(
    nameserver: tuple[str, int], transport: str, *questions: tuple[str, str]
) -> list[Answer]:
    async def run() -> list[Answer]:
        # 3 s: the responder answers at once, but a loaded box can delay a reply by seconds
        client = DnsClient(nameservers=[nameserver], timeout=3.0, attempts=1, transport=transport)
        try:
            return list(await asyncio.gather(*(client.resolve(n, t) for n, t in questions)))
        finally:
            await client.aclose()

    return asyncio.run(run())


def spoofed_then_genuine(query: bytes) -> list[Datagram]:
    """Four forged answers that would say NXDOMAIN, or garbage under the query's id, then
    the genuine TXT answer."""
    qid = struct.unpack_from("!H", query)[0]
    genuine = reply(query, record(16, txt(SPF)))
    other_name = b"\x01b" + reply(query)[14:]  # same length, another first label
    other_type = reply(query)[12:-4] + b"\x00\x01\x00\x01"  # the same name, type A
    return [
        (False, reply(query, rcode=NXDOMAIN, qid=qid ^ 0x5A5A)),  # wrong id
        (False, reply(query, rcode=NXDOMAIN, question=other_name)),  # wrong question name
        (False, reply(query, record(1, bytes(4)), question=other_type)),  # wrong type
        (False, query[:2] + b"\x81\x80\x00\x01" + bytes(6) + b"\x40"),  # right id, garbage
        (True, reply(query, rcode=NXDOMAIN)),  # right id and question, from another port
        (False, genuine),
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_spoofed_answers_are_ignored_until_the_genuine_one(transport: str) -> None:
    """A wrong id, question name, type or source port, or garbage under the right id, is
    ignored on both transports: the verdict comes from the genuine answer that follows
    (dnspython's own udp() gave up on the first one: `unknown`, easy to deny)."""
    with responder(spoofed_then_genuine) as server:
        (answer,) = resolve(server.nameserver, transport, ("a.example", "TXT"))
    assert answer == Answer(AnswerKind.RECORDS, (SPF.decode(),))


def test_source_ports_change_within_a_cycle() -> None:
    """RFC 5452 section 10: questions to one nameserver leave from many random ports, so a
    spoofer must guess the port as well as the id (all 4,000 left from one port before)."""
    questions = [(f"q{n}.example", "TXT") for n in range(8 * QUERIES_PER_PORT)]
    with responder(lambda query: [(False, reply(query, record(16, txt(SPF))))]) as server:
        answers = resolve(server.nameserver, "wire", *questions)
        ports = list(server.source_ports)
    assert all(a.kind is AnswerKind.RECORDS for a in answers)
    assert len(ports) == len(questions)
    assert len(set(ports)) >= len(questions) // QUERIES_PER_PORT


# Malformed answers, built from the query (for a.example: its question ends at offset 27)
MALFORMED = {
    "ch_class_txt": ("TXT", lambda q: reply(q, record(16, txt(SPF), rclass=3))),
    "dot_inside_a_label": ("MX", lambda q: reply(q, record(15, b"\x00\x0a\x04mx.a" + TO_QUESTION))),
    "mx_name_past_its_record": (
        "MX",
        lambda q: reply(
            q, TO_QUESTION + struct.pack("!HHIH", 15, 1, 300, 5) + b"\x00\x0a\x02mx" + TO_QUESTION
        ),
    ),
    "name_over_255_bytes": (
        "TXT",
        lambda q: reply(
            q,
            record(
                16, txt(SPF), owner=b"".join(b"\x3f" + bytes([c]) * 63 for c in b"abcd") + b"\x00"
            ),
        ),
    ),
    "trailing_junk": ("TXT", lambda q: reply(q, record(16, txt(SPF)), tail=b"\x00")),
    "forward_pointer": (  # an alias to b, a name that comes later (at 41)
        "TXT",
        lambda q: reply(q, record(5, b"\xc0\x29"), record(16, txt(SPF), owner=b"\x01b\x00")),
    ),
}


@pytest.mark.parametrize(("qtype", "build"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_answers_same_verdict_on_both_transports(
    qtype: str, build: Callable[[bytes], bytes]
) -> None:
    """A CH-class record, a dot inside a label, an MX past its record, a name over 255
    bytes, trailing junk, a pointer forward: one answer whichever transport reads it."""
    answers = {}
    with responder(lambda query: [(False, build(query))]) as server:
        for transport in TRANSPORTS:
            (answers[transport],) = resolve(server.nameserver, transport, ("a.example", qtype))
    assert answers["wire"] == answers["dnspython"]
    assert answers["wire"].error != "timeout"  # read and judged, not waited out
