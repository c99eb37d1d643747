"""Answers kept unread across cycles, behind a caching resolver: each cycle its TTLs are
lower, as a real resolver's cached answers are; a cycle whose datagrams are last cycle's
but for ids and TTLs reads none of them and reuses every verdict, and any other change
(an RRset in another order, one changed record) is read and judged as a cycle without
memo judges it.

The resolver is a scripted loopback nameserver in front of `named` that rewrites each
answer with dnspython (TTLs, the order of records, one record's text)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from conftest import NamedServer
from helpers.dns_responder import (
    DEMO_TARGETS,
    HANG,
    PROMPT,
    Datagram,
    asked,
    forward,
    record,
    reply,
    responder,
    txt,
)

from exporter.jobs.dns import check_domains
from exporter.jobs.verdict_cache import VerdictMemo
from exporter.model import Answer, AnswerKind, DomainReport, DomainTarget, Status
from exporter.sources.dns import DnsClient
from exporter.sources.dns_wire import encode_query, encode_question, fingerprint, hint

pytestmark = pytest.mark.integration

TARGETS = [
    *DEMO_TARGETS,
    DomainTarget("many-mx.chk-spf.test"),  # RRsets of several records
    DomainTarget("two-mx.chk-mx.test"),
]
BROKEN = DomainTarget("broken.test")  # SERVFAIL: answers without a fingerprint
CHANGED = "_dmarc.healthy.example."
TIMEOUT = 5.0  # seconds per attempt: a relayed answer comes in milliseconds


@dataclass
class Resolver:
    """How the scripted resolver rewrites named's answers this cycle."""

    ttl: int = 300
    reverse: bool = False  # every RRset of several records in the opposite order to usual
    weaker_dmarc: bool = False  # healthy.example's DMARC record says p=none

    def rewrite(self, data: bytes) -> bytes:
        message = dns.message.from_wire(data)
        if message.rcode() == dns.rcode.REFUSED:  # a name named does not serve, such as
            message.set_rcode(dns.rcode.NXDOMAIN)  # _dmarc.example: a resolver says NXDOMAIN
        for section in (message.answer, message.authority, message.additional):
            for index, rrset in enumerate(section):
                if self.weaker_dmarc and rrset.name.to_text() == CHANGED:
                    rrset = section[index] = dns.rrset.from_text(  # noqa: PLW2901
                        CHANGED, 0, dns.rdataclass.IN, dns.rdatatype.TXT, '"v=DMARC1; p=none"'
                    )
                if len(rrset) > 1:  # named rotates them: in one order, or in its reverse
                    records = sorted(rrset, key=str, reverse=self.reverse)
                    rrset.clear()
                    for record in records:
                        rrset.add(record)
                rrset.ttl = self.ttl
        return message.to_wire(want_shuffle=False)  # dnspython shuffles RRsets otherwise


def test_unchanged_datagrams_are_not_read_and_changes_are(named: NamedServer) -> None:
    resolver = Resolver()
    upstream = (named.host, named.port)

    def script(query: bytes) -> list[Datagram]:
        relayed = forward(query, upstream)
        return [(False, resolver.rewrite(relayed))] if relayed is not None else []

    memo = VerdictMemo()
    with responder(script) as server:

        def cycle(
            memo: VerdictMemo | None, targets: list[DomainTarget] = TARGETS
        ) -> tuple[tuple[DomainReport, ...], DnsClient]:
            client = DnsClient(nameservers=[server.nameserver], timeout=TIMEOUT)

            async def run() -> tuple[DomainReport, ...]:
                async with asyncio.timeout(HANG):
                    return (await check_domains(targets, client, memo=memo)).reports

            return asyncio.run(run()), client

        first, client = cycle(memo)
        assert client.kept_unread == 0  # nothing to expect yet
        assert first == cycle(None)[0]

        # Only the TTLs went down: every datagram is kept unread, each verdict reused.
        resolver.ttl = 299
        again, client = cycle(memo)
        assert again == first
        assert (memo.hits, memo.misses) == (len(TARGETS), 0)
        assert client.kept_unread == client.responses > 0

        # RRsets in another order: other bytes, the same answers (RFC 2181 section 5).
        resolver.ttl, resolver.reverse = 298, True
        rotated, client = cycle(memo)
        assert rotated == first
        assert (memo.hits, memo.misses) == (2 * len(TARGETS), 0)
        assert 0 < client.kept_unread < client.responses  # the reversed ones are read

        # The same answers in the same other order again: the memo took the new
        # datagrams' fingerprints with the verdicts it reused, so nothing is read.
        resolver.ttl = 297
        settled, client = cycle(memo)
        assert settled == first
        assert (memo.hits, memo.misses) == (3 * len(TARGETS), 0)
        assert client.kept_unread == client.responses

        # One record changed: that domain's datagram is read and its verdict is new.
        resolver.ttl, resolver.weaker_dmarc = 296, True
        changed, client = cycle(memo)
        assert changed == cycle(None)[0]
        assert changed[0] != first[0]  # healthy.example: p=none is weaker than p=reject
        assert changed[1:] == first[1:]
        assert memo.misses == 1

        # A domain with a failed answer (SERVFAIL: no fingerprint) has nothing kept unread,
        # and its verdicts are reused all the same, from the digest of its answers.
        broken_memo = VerdictMemo()
        broken = cycle(broken_memo, [BROKEN])[0]
        assert {c.status for c in broken[0].checks} == {Status.UNKNOWN}
        again, client = cycle(broken_memo, [BROKEN])
        assert again == broken
        assert (broken_memo.hits, broken_memo.misses) == (1, 0)
        assert client.kept_unread == 0


def test_a_fingerprint_lets_no_unauthoritative_answer_through() -> None:
    """A fingerprint taken while asking a recursive resolver, then expected of a zone's
    own server (`resolver.authoritative` turned on in between, the memo kept): the same
    bytes without the AA flag are refused as they would be without a fingerprint."""
    zone = "zone.test"
    ns_wire = b"\x02ns\x04zone\x04test\x00"

    def script(query: bytes) -> list[Datagram]:
        name, qtype = asked(query)
        if qtype == 2:  # NS: the zone's server, ns.zone.test
            return [(False, reply(query, record(2, ns_wire)))]
        if qtype == 1 and name == f"ns.{zone}":  # its address: this responder
            return [(False, reply(query, record(1, bytes((127, 0, 0, 1)))))]
        if qtype != 16:  # AAAA: none
            return [(False, reply(query))]
        answer = bytearray(reply(query, record(16, txt(b"v=spf1 -all"))))
        answer[2] &= ~0x04  # AA cleared, as a recursive resolver answers
        return [(False, bytes(answer))]

    async def resolve(client: DnsClient, expect: int) -> Answer | None:
        known = asyncio.get_running_loop().create_future()
        try:
            if client.request(zone, "TXT", known.set_result, expect=expect) is None:
                await asyncio.wait_for(known, HANG)
            return client.get(zone, "TXT")
        finally:
            await client.aclose()

    with responder(script) as server:
        recursive = DnsClient(nameservers=[server.nameserver], timeout=PROMPT)
        first = asyncio.run(resolve(recursive, 0))
        fingerprint = recursive.fingerprint(zone, "TXT")
        assert first is not None
        assert first.kind is AnswerKind.RECORDS
        assert fingerprint
        direct = DnsClient(
            nameservers=[server.nameserver],
            timeout=PROMPT,
            authoritative=True,
            authoritative_port=server.nameserver[1],  # test-only: the zone's server is here
        )
        answer = asyncio.run(resolve(direct, fingerprint))
    assert answer == Answer(AnswerKind.ERROR, error="not_authoritative")
    assert direct.kept_unread == 0


def test_a_datagram_that_matches_only_the_hint_is_asked_again() -> None:
    """A question is asked with 16 bits of last cycle's fingerprint: a datagram that has
    them may still be another one (one in 65,536). Kept unread, it is read when asked for;
    if it does not answer (here an alias without its target's records, which the client
    would have followed), the question is asked again, as if never answered."""
    name = "alias.test"
    alias_only = reply(
        encode_query(0, name, 16), record(5, b"\x06target\x04test\x00")
    )  # the first datagram: what the hint is taken from
    queries: list[bytes] = []

    def script(query: bytes) -> list[Datagram]:
        queries.append(query)
        if len(queries) == 1:
            return [(False, reply(query, record(5, b"\x06target\x04test\x00")))]
        return [(False, reply(query, record(16, txt(b"v=spf1 -all"))))]

    question = encode_question(name, 16)[0].lower()

    async def run(server: tuple[str, int]) -> tuple[Answer | None, Answer | None]:
        client = DnsClient(nameservers=[server], timeout=PROMPT)
        try:
            known = asyncio.get_running_loop().create_future()
            expect = hint(fingerprint(alias_only, question))
            assert client.request(name, "TXT", known.set_result, expect=expect) is None
            await asyncio.wait_for(known, HANG)
            assert client.kept_unread == 1
            unread = client.get(name, "TXT")  # read now: not a final answer
            asked = asyncio.get_running_loop().create_future()
            if client.request(name, "TXT", asked.set_result) is None:
                await asyncio.wait_for(asked, HANG)
            return unread, client.get(name, "TXT")
        finally:
            await client.aclose()

    with responder(script) as server:
        unread, answer = asyncio.run(run(server.nameserver))
    assert unread is None  # asked again, not an error
    assert answer == Answer(AnswerKind.RECORDS, ("v=spf1 -all",))
    assert len(queries) == 2


def test_a_stray_datagram_with_the_hint_is_not_taken_for_the_answer() -> None:
    """A datagram with the question's id and the hint of its fingerprint, but another
    question (late, stray or spoofed), is ignored as without a hint: the genuine answer
    that follows is the answer."""
    name, other = "genuine.test", "decoyed.test"  # of one length: the walk matches
    spf = record(16, txt(b"v=spf1 -all"))
    other_question = encode_question(other, 16)[0]
    stray_like = reply(encode_query(0, name, 16), spf, question=other_question)

    def script(query: bytes) -> list[Datagram]:
        return [(False, reply(query, spf, question=other_question)), (False, reply(query, spf))]

    async def run(server: tuple[str, int]) -> tuple[Answer | None, DnsClient]:
        client = DnsClient(nameservers=[server], timeout=PROMPT)
        try:
            known = asyncio.get_running_loop().create_future()
            # its fingerprint as its own question's answer: the same bytes and layout
            stray_fingerprint = fingerprint(stray_like, other_question.lower())
            assert stray_fingerprint  # else this test would test nothing
            expect = hint(stray_fingerprint)
            if client.request(name, "TXT", known.set_result, expect=expect) is None:
                await asyncio.wait_for(known, HANG)
            return client.get(name, "TXT"), client
        finally:
            await client.aclose()

    with responder(script) as server:
        answer, client = asyncio.run(run(server.nameserver))
    assert answer == Answer(AnswerKind.RECORDS, ("v=spf1 -all",))
    assert (client.queries_sent, client.kept_unread) == (1, 0)
