"""The lean DNS wire path: queries dnspython understands, answers read like dnspython reads
them, and anything malformed is a WireError (an `unknown`), never a crash or a verdict."""

from __future__ import annotations

import contextlib

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.sources.dns_wire import (
    QTYPES,
    WireError,
    encode_query,
    encode_question,
    parse_response,
    query_packet,
    read_answer,
)


def reply(question: str, rdtype: str, *records: tuple[str, str, str], rcode: int = 0) -> bytes:
    query = dns.message.make_query(question, rdtype)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    for owner, kind, text in records:
        response.answer.append(dns.rrset.from_text(owner, 300, "IN", kind, text))
    return response.to_wire()


def test_query_is_valid_dns_with_edns() -> None:
    message = dns.message.from_wire(encode_query(4242, "Example.COM", QTYPES["TXT"]))
    assert message.id == 4242
    assert message.question[0].name.to_text() == "Example.COM."
    assert message.edns == 0
    assert message.payload == 1232


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("A", "192.0.2.1", "192.0.2.1"),
        ("AAAA", "2001:db8::1", "2001:db8::1"),
        ("MX", "10 MX1.Example.COM.", "10 mx1.example.com"),
        ("MX", "0 .", "0 ."),
        ("CNAME", "Target.Example.", "target.example"),
        ("TXT", '"v=spf1 include:amazon" "ses.com -all"', "v=spf1 include:amazonses.com -all"),
    ],
)
def test_records_as_the_checks_read_them(kind: str, text: str, expected: str) -> None:
    _, _, response = parse_response(reply("a.example.", kind, ("a.example.", kind, text)))
    assert response.answers == (("a.example", kind, expected),)


def test_rcode_and_other_types_skipped() -> None:
    data = reply(
        "a.example.", "TXT", ("a.example.", "PTR", "ptr.example."), rcode=dns.rcode.NXDOMAIN
    )
    _, _, response = parse_response(data)
    assert response.rcode == dns.rcode.NXDOMAIN
    assert response.answers == ()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01",
        bytes(12),  # not a response (QR clear)
        b"\x00\x01\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer loop
        b"\x00\x01\x80\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x09",  # rdata past end
    ],
)
def test_malformed_is_a_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        parse_response(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(WireError):
        parse_response(b"\x00\x01\x80\x00" + data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_answers_never_crash(data: st.DataObject) -> None:
    wire = bytearray(
        reply(
            "a.example.",
            "MX",
            ("a.example.", "MX", "10 mx.a.example."),
            ("a.example.", "MX", "20 mx2.a.example."),
        )
    )
    for _ in range(data.draw(st.integers(1, 5))):
        wire[data.draw(st.integers(2, len(wire) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(WireError):
        parse_response(bytes(wire))


def test_direct_query_and_authoritative_answer() -> None:
    """Authoritative mode: queries without RD, the AA flag read back, NS targets as names."""
    query = dns.message.from_wire(encode_query(7, "child.example", QTYPES["NS"], recursive=False))
    assert not query.flags & dns.flags.RD
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.answer.append(dns.rrset.from_text("child.example.", 300, "IN", "NS", "NS1.Child."))
    _, _, parsed = parse_response(response.to_wire())
    assert parsed.authoritative
    assert parsed.answers == (("child.example", "NS", "ns1.child"),)
    response.flags &= ~dns.flags.AA
    assert not parse_response(response.to_wire())[2].authoritative


def test_what_counts_as_an_answer() -> None:
    """dnspython's is_response, on raw bytes: same id is checked by the caller; here the
    flags and the question decide, and a failure code may come without the question."""
    query = encode_query(7, "A.Example", QTYPES["TXT"])
    question, text = encode_question("A.Example", QTYPES["TXT"])
    question = question.lower()

    def answers(data: bytes) -> bool:
        return read_answer(data, question, text) is not None

    genuine = dns.message.make_response(dns.message.from_wire(query)).to_wire()
    assert answers(genuine)
    other_name = dns.message.make_response(dns.message.make_query("b.example", "TXT"))
    assert not answers(other_name.to_wire())
    other_type = dns.message.make_response(dns.message.make_query("a.example", "A"))
    assert not answers(other_type.to_wire())
    assert not answers(query)  # QR clear: a query, not a response
    notify = bytearray(genuine)
    notify[2] |= 0x20  # opcode 4 (NOTIFY)
    assert not answers(bytes(notify))
    bare = b"\x00\x07\x81\x82" + bytes(8)  # SERVFAIL without a question
    assert answers(bare)
    assert not answers(b"\x00\x07\x81\x80" + bytes(8))  # NOERROR without one
    two = genuine[:5] + b"\x02" + genuine[6:] + genuine[12 : 12 + len(question)]
    assert not answers(two)  # our question and another: not ours


_PLAIN_LABEL = st.text("abcXYZ019-_*", min_size=1, max_size=12)
_LABEL = st.one_of(
    _PLAIN_LABEL, _PLAIN_LABEL, _PLAIN_LABEL, st.text('aZ@$;()\\"', min_size=1, max_size=4)
)


@settings(max_examples=300, deadline=None)
@given(
    labels=st.lists(_LABEL, min_size=1, max_size=7),
    kind=st.sampled_from(["TXT", "CNAME", "MX", "A"]),
    cut=st.integers(0, 6),
    flip=st.lists(st.booleans(), min_size=0, max_size=90),
    aa=st.booleans(),
)
def test_the_transport_reads_answers_as_the_parser_does(
    labels: list[str], kind: str, cut: int, flip: list[bool], aa: bool
) -> None:
    """`read_answer` skips decoding the question (known from the query) yet gives what
    `parse_response` gives, for plain and escaped names, names with many labels whose
    suffixes records point into, and a question echoed in another case; the packet it
    answers is `encode_query`'s."""
    name = ".".join(labels)
    qtype = QTYPES[kind]
    question, text = encode_question(name, qtype)
    assert query_packet(9, question, recursive=aa) == encode_query(9, name, qtype, recursive=aa)
    response = dns.message.make_response(dns.message.from_wire(encode_query(9, name, qtype)))
    if aa:
        response.flags |= dns.flags.AA
    owner = dns.name.from_wire(question, 0)[0]
    suffix = owner.split(max(1, len(owner) - cut))[1]  # a record's data points into the name
    rdata = {"TXT": '"x"', "CNAME": suffix.to_text(), "MX": f"5 {suffix}", "A": "192.0.2.9"}
    response.answer.append(dns.rrset.from_text(owner, 300, "IN", kind, rdata[kind]))
    data = bytearray(response.to_wire())
    for offset, upper in enumerate(flip[: len(question) - 4], 12):  # the question, 0x20-like
        if upper and 0x61 <= data[offset] <= 0x7A:
            data[offset] -= 0x20
    got = read_answer(bytes(data), question.lower(), text)
    assert got == parse_response(bytes(data))[2]
