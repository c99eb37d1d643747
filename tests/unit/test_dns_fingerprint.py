"""A datagram's fingerprint: its bytes but for the id and the TTLs. A datagram with the
fingerprint of one `read_answer` read reads the same, so the transport may keep it unread;
anything else that changes (a record, a flag, EDNS0's extended code) changes it."""

from __future__ import annotations

import struct

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.sources.dns_wire import (
    QTYPES,
    WireError,
    WireResponse,
    encode_question,
    fingerprint,
    read_answer,
)

NAME = "sel._domainkey.Example.COM"
QUESTION, TEXT = encode_question(NAME, QTYPES["TXT"])


def datagram(
    ttl: int = 300,
    *,
    qid: int = 7,
    key: str = "v=DKIM1; p=MIIB",
    extended: int = 0,
    order: tuple[int, ...] = (0, 1),
) -> bytes:
    """What a recursive resolver answers for NAME: the alias, the key behind it (TXT,
    compressed against the alias), a referral's NS records and glue, EDNS0."""
    query = dns.message.make_query(NAME, "TXT", use_edns=0)
    query.id = qid
    response = dns.message.make_response(query)
    response.answer.append(
        dns.rrset.from_text(f"{NAME}.", ttl, "IN", "CNAME", "sel.dkim.amazonses.com.")
    )
    response.answer.append(
        dns.rrset.from_text("sel.dkim.amazonses.com.", ttl, "IN", "TXT", f'"{key}"')
    )
    servers = [f"ns{n}.amazonses.com." for n in order]
    response.authority.append(dns.rrset.from_text("amazonses.com.", ttl, "IN", "NS", *servers))
    response.additional.append(dns.rrset.from_text(servers[0], ttl, "IN", "A", "192.0.2.1"))
    response.use_edns(0, dns.flags.DO if extended else 0, 1232)
    if extended:
        response.set_rcode(
            dns.rcode.Rcode(extended << 4)
        )  # BADVERS: the extended code, in the OPT's TTL
    return response.to_wire(want_shuffle=False)


def read(data: bytes) -> WireResponse:
    response = read_answer(data, QUESTION.lower(), TEXT)
    assert response is not None
    return response


def test_what_reads_the_same_has_one_fingerprint() -> None:
    first = read(datagram())
    assert first.fingerprint
    assert fingerprint(datagram(), QUESTION.lower()) == first.fingerprint
    later = datagram(ttl=17, qid=4242)  # a resolver's cache, a later query
    assert later != datagram()
    assert fingerprint(later, QUESTION.lower()) == first.fingerprint
    assert read(later).fingerprint == first.fingerprint
    assert read(later) == first


def test_anything_else_changes_it() -> None:
    first = read(datagram()).fingerprint
    for other in (
        datagram(key="v=DKIM1; p=MIIC"),  # a record's data, same length
        datagram(order=(1, 0)),  # the same records in another order
        datagram(extended=1),  # EDNS0: its TTL field is no TTL and counts
    ):
        assert fingerprint(other, QUESTION.lower()) not in (0, first)
        assert read(other).fingerprint != first
    flipped = bytearray(datagram())
    flipped[3] |= 0x04  # AA
    assert fingerprint(bytes(flipped), QUESTION.lower()) not in (0, first)


def test_records_that_do_not_add_up_have_none() -> None:
    data = datagram()
    for cut in (0, 5, 12, len(QUESTION) + 14, len(data) - 1):
        assert fingerprint(data[:cut], QUESTION.lower()) == 0
    assert fingerprint(data + b"\x00", QUESTION.lower()) == 0  # trailing bytes
    no_question = bytearray(data)
    no_question[5] = 0  # QDCOUNT 0
    assert fingerprint(bytes(no_question), QUESTION.lower()) == 0


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=64))
def test_arbitrary_bytes_never_crash(data: bytes, question: bytes) -> None:
    assert isinstance(fingerprint(data, question), int)


@settings(max_examples=1000, deadline=None)
@given(
    ttl=st.integers(0, 2**31 - 1),
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
)
def test_a_matching_fingerprint_means_the_same_answer(
    ttl: int, edits: list[tuple[int, int]]
) -> None:
    """The transport's promise: a datagram whose fingerprint is that of one read before
    (other TTLs, any bytes changed anywhere) reads exactly as that one did."""
    known = read(datagram())
    data = bytearray(datagram(ttl=ttl))
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    if fingerprint(bytes(data), QUESTION.lower()) != known.fingerprint:
        return
    try:
        again = read_answer(bytes(data), QUESTION.lower(), TEXT)
    except WireError as error:  # pragma: no cover - the promise broken
        raise AssertionError("a matching fingerprint on a malformed datagram") from error
    assert again == known
    assert again is not None
    assert again.fingerprint == known.fingerprint


def test_edns_extended_code_is_read_not_masked() -> None:
    """EDNS0's OPT record carries the upper bits of the response code where other records
    have their TTL: a datagram that differs there must be read."""
    plain, extended = read(datagram()), read(datagram(extended=1))
    assert plain.rcode == 0
    assert extended.rcode == 16  # BADVERS
    assert fingerprint(datagram(extended=1), QUESTION.lower()) == extended.fingerprint
    assert extended.fingerprint != plain.fingerprint


def pointing_into(window: int, label: bytes) -> tuple[bytes, bytes, str]:
    """A reply to ``example.com A`` whose CNAME target is a compression pointer into the
    first record's TTL (``window`` 0) or into the id (``window`` -1), where ``label`` is
    written: the alias reads from bytes a fingerprint leaves out."""
    question, text = encode_question("example.com", QTYPES["A"])
    # At the id: a label of 11 bytes (the id's second byte and the rest of the header)
    # followed by the question's name
    qid = int.from_bytes(b"\x0b" + label) if window else 1
    head = struct.pack("!HHHHHH", qid, 0x8180, 1, 2, 0, 0)
    ttl = len(head) + len(question) + 6  # after the owner's pointer, TYPE and CLASS
    target = ttl if window == 0 else 0
    ttl_bytes = b"\x01" + label + b"\x00\x00" if window == 0 else b"\x00\x00\x01\x2c"
    data = head + question
    data += b"\xc0\x0c" + struct.pack("!HH", 5, 1) + ttl_bytes
    data += struct.pack("!HH", 2, 0xC000 | target)  # CNAME -> the pointed-at bytes
    data += struct.pack("!HHHIH", 0xC000 | target, 1, 1, 300, 4) + bytes((192, 0, 2, 1))
    return data, question, text


def test_a_name_read_from_left_out_bytes_takes_the_fingerprint_away() -> None:
    """A compression pointer may point at any earlier byte, a TTL or the id too: two such
    datagrams that differ only there read differently, so they get no fingerprint."""
    for window in (0, -1):
        x, question, text = pointing_into(window, b"x")
        y = pointing_into(window, b"y")[0]
        read_x, read_y = (
            read_answer(x, question.lower(), text),
            read_answer(y, question.lower(), text),
        )
        assert read_x is not None
        assert read_y is not None
        assert read_x.answers != read_y.answers  # the alias is "x" in one, "y" in the other
        assert read_x.fingerprint == read_y.fingerprint == 0
