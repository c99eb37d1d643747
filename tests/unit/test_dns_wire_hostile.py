"""Hostile replies: the lean parser gives dnspython's verdict on every reply, and its work
grows with the reply's size, never faster (one 64 KB reply cost ~0.2 s of CPU before)."""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import dns.exception
import dns.message
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.sources import dns_wire
from exporter.sources.dns_reference import _from_message
from exporter.sources.dns_wire import WireError, parse_response

QUESTION = b"\x01a\x07example\x00\x00\x10\x00\x01"  # a.example TXT IN, at offset 12
RR = struct.Struct("!HHIH")


def message(
    *records: bytes, counts: tuple[int, int, int] | None = None, tail: bytes = b""
) -> bytes:
    ancount, nscount, arcount = counts or (len(records), 0, 0)
    header = struct.pack("!HHHHHH", 7, 0x8180, 1, ancount, nscount, arcount)
    return header + QUESTION + b"".join(records) + tail


def record(
    owner: bytes, rtype: int, rdata: bytes, rclass: int = 1, rdlength: int | None = None
) -> bytes:
    size = len(rdata) if rdlength is None else rdlength
    return owner + RR.pack(rtype, rclass, 300, size) + rdata


def pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | min(offset, 0x3FFF))


def verdicts(data: bytes) -> tuple[object, object]:
    """(dnspython's, the lean parser's) as the transports read a UDP reply: the response
    the checks see, "truncated" (asked again over TCP) or "malformed"."""
    try:
        theirs: object = _from_message(dns.message.from_wire(data, raise_on_truncation=True))
    except dns.message.Truncated:
        theirs = "truncated"
    except (dns.exception.DNSException, ValueError):
        theirs = "malformed"
    try:
        response = parse_response(data)[2]
    except WireError:
        ours: object = "malformed"
    else:
        ours = "truncated" if response.truncated else response
    return _comparable(theirs), _comparable(ours)


def _comparable(response: object) -> object:
    if isinstance(response, dns_wire.WireResponse):  # dnspython groups records by RRset
        return (response.rcode, response.authoritative, sorted(response.answers))
    return response


SPF = b"\x21v=spf1 include:amazonses.com -all"
CASES = {
    "ch_class_txt": message(record(pointer(12), 16, SPF, rclass=3)),
    "dot_in_owner_label": message(record(b"\x09a.example\x00", 16, SPF)),
    "dot_in_mx_label": message(record(pointer(12), 15, b"\x00\x0a\x04mx.a" + pointer(14))),
    "mx_name_past_its_record": message(
        record(pointer(12), 15, b"\x00\x0a\x02mx" + pointer(12), rdlength=5), tail=b"\x00"
    ),
    "owner_over_255_bytes": message(
        record(
            b"\x3f"
            + b"a" * 63
            + b"\x3f"
            + b"b" * 63
            + b"\x3f"
            + b"c" * 63
            + b"\x3f"
            + b"d" * 63
            + b"\x00",
            16,
            SPF,
        )
    ),
    "trailing_junk": message(record(pointer(12), 16, SPF), tail=b"\x00"),
    "forward_pointer": message(  # the target comes later: at 41, the second owner
        record(pointer(12), 5, pointer(41)), record(b"\x01b\x00", 16, SPF)
    ),
    "pointer_into_itself": message(record(pointer(12), 5, pointer(12 + len(QUESTION) + 12))),
    "empty_txt": message(record(pointer(12), 16, b"")),
    "a_of_five_bytes": message(record(pointer(12), 1, b"\x01\x02\x03\x04\x05")),
    "duplicate_txt": message(record(pointer(12), 16, SPF), record(pointer(12), 16, SPF)),
    "txt_split_two_ways": message(
        record(pointer(12), 16, b"\x01a\x01b"), record(pointer(12), 16, b"\x02ab")
    ),
    "opt_in_answers": message(record(b"\x00", 41, b"")),
    "tsig_in_additional": message(
        record(pointer(12), 16, SPF),
        record(b"\x00", 250, b"\x00" * 16, rclass=255),
        counts=(1, 0, 1),
    ),
    "short_soa_in_authority": message(
        record(pointer(12), 6, b"\x00\x00" + b"\x00" * 19), counts=(0, 1, 0)
    ),
    "mapped_aaaa": message(record(pointer(12), 28, b"\x00" * 10 + b"\xff\xff\xc0\x00\x02\x01")),
    "ns_of_the_root": message(record(pointer(12), 2, b"\x00")),
    "label_of_64_bytes": message(record(b"\x40" + b"a" * 64 + b"\x00", 16, SPF)),
    "truncated_mid_record": message(record(pointer(12), 16, SPF))[:-5].replace(
        b"\x81\x80", b"\x83\x80", 1
    ),
    "uppercase_and_escapes": message(record(pointer(12), 5, b"\x04A(b)\x02\xc3\xa9\x00")),
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_same_verdict_as_dnspython(data: bytes) -> None:
    """A CH-class record, a dot inside a label, an MX past its record, a name over 255
    bytes, trailing junk...: the lean parser says what dnspython says."""
    theirs, ours = verdicts(data)
    assert ours == theirs


LABEL = st.one_of(
    st.sampled_from([b"a", b"example", b"mx", b"A.b", b"x" * 63]),
    st.binary(min_size=1, max_size=64),
)


@st.composite
def names(draw: st.DrawFn, here: int) -> bytes:
    """A name as it may sit at offset ``here``: labels, then the root or a pointer."""
    labels = draw(st.lists(LABEL, max_size=5))
    wire = b"".join(bytes((len(label),)) + label for label in labels)
    end = draw(st.sampled_from(["root", "question", "back", "anywhere"]))
    if end == "root":
        return wire + b"\x00"
    if end == "question":
        return wire + pointer(12)
    if end == "back":
        return wire + pointer(draw(st.integers(12, max(12, here - 1))))
    return wire + pointer(draw(st.integers(0, here + 40)))


RDATA = {
    1: st.one_of(st.just(b"\xc0\x00\x02\x01"), st.binary(max_size=6)),
    28: st.one_of(st.just(bytes(15) + b"\x01"), st.binary(max_size=18)),
    16: st.one_of(st.just(SPF), st.binary(max_size=12)),
}


@st.composite
def replies(draw: st.DrawFn) -> bytes:
    """A reply to ``a.example TXT``: owners, types, classes, data, lengths, counts and
    trailing bytes drawn from valid and broken shapes alike."""
    counts = [draw(st.integers(0, 3)) for _ in range(3)]
    body = bytearray(QUESTION)
    for _ in range(sum(counts)):
        here = 12 + len(body)
        owner = draw(st.one_of(st.just(pointer(12)), st.just(b"\x00"), names(here)))
        rtype = draw(st.sampled_from([1, 2, 5, 6, 15, 16, 28, 41, 99, 65280]))
        # dnspython reads a CH-class A by whatever class it met type A in first: no verdict
        rclass = draw(st.sampled_from([1, 1, 1, 3, 255] if rtype != 1 else [1, 1, 1, 4]))
        at = here + len(owner) + RR.size
        if rtype in RDATA:
            rdata = draw(RDATA[rtype])
        elif rtype == 15:
            rdata = b"\x00\x0a" + draw(names(at + 2))
        elif rtype == 6:
            mname = draw(names(at))
            rdata = (
                mname + draw(names(at + len(mname))) + bytes(draw(st.sampled_from([20, 19, 21])))
            )
        else:
            rdata = draw(st.one_of(names(at), st.binary(max_size=8)))
        rdlength = len(rdata) + draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
        body += (
            owner
            + RR.pack(rtype, rclass, draw(st.sampled_from([300, 0x01000000])), max(0, rdlength))
            + rdata
        )
    counts[draw(st.integers(0, 2))] += draw(st.sampled_from([0, 0, 0, 1, -1]))
    flags = draw(st.sampled_from([0x8180, 0x8180, 0x8580, 0x8380]))  # plain, AA, TC
    header = struct.pack("!HHHHHH", 7, flags, 1, *(max(0, c) for c in counts))
    return header + bytes(body) + draw(st.sampled_from([b"", b"", b"\x00", b"junk"]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replies())
def test_generated_replies_same_verdict_as_dnspython(data: bytes) -> None:
    """Differential: over replies drawn from valid and broken parts, both parsers agree on
    every one (malformed, or the same response)."""
    theirs, ours = verdicts(data)
    assert ours == theirs


def _lines_run(data: bytes) -> int:
    """Lines of the parser run for one reply: a measure of work that load cannot skew."""
    count = 0

    def tracer(frame: FrameType, event: str, _arg: object) -> Any:
        nonlocal count
        if frame.f_code.co_filename != dns_wire.__file__:
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        parse_response(data)
    except WireError:
        pass
    finally:
        sys.settrace(None)
    return count


def _blob_reply(records: int) -> bytes:
    """Legal: a TXT record whose data is also a 255-byte name, then ``records`` CNAMEs whose
    owners and targets point at suffixes of it, each a name of up to 127 labels."""
    blob = b"\x01a" * 127 + b"\x00"
    base = 12 + len(QUESTION) + 2 + RR.size
    rest = [
        record(pointer(base + 2 * (n % 127)), 5, pointer(base + 2 * (n % 127)))
        for n in range(records)
    ]
    return message(record(pointer(12), 16, blob), *rest)


def _chain_reply(records: int) -> bytes:
    """Illegal: names grow one 63-byte label per record past 255 bytes (RFC 1035 2.3.4)."""
    parts, previous, here = [], 12, 12 + len(QUESTION)
    for _ in range(records):
        parts.append(record(pointer(12), 5, b"\x3f" + b"a" * 63 + pointer(previous)))
        previous, here = here + 2 + RR.size, here + 2 + RR.size + 66
    return message(*parts)


@pytest.mark.parametrize("build", [_blob_reply, _chain_reply])
def test_work_grows_with_the_reply_not_faster(build: Callable[[int], bytes]) -> None:
    """A few lines of parser per byte of reply, however the names point into each other:
    each name and suffix is decoded once, and a name over 255 bytes ends the parse (the
    old parser ran ~100 lines per byte of the first shape, decoding every name again)."""
    data = build(2000)
    assert _lines_run(data) < 4 * len(data)


def test_hostile_reply_rejected_early() -> None:
    """The old parser decompressed 1,920-byte names thousands of times; now the first name
    over 255 bytes ends it."""
    data = _chain_reply(200)
    with pytest.raises(WireError, match="255"):
        parse_response(data)
    assert _lines_run(data) < 400


def test_two_cnames_for_one_name_keep_the_last_as_dnspython_does() -> None:
    """A name has one alias (RFC 2181 section 10.1): of two CNAME records for one owner,
    dnspython's RRset keeps the last; so does the wire parser (found by the test above)."""
    data = bytes.fromhex(
        "0007818000010002000000000161076578616d706c650000100001"
        "c00c0005000100000" + "12c0001" + "00" + "c00c0005000100000" + "12c0002c00c"
    )
    theirs, ours = verdicts(data)
    assert ours == theirs
    assert ours[2] == [("a.example", "CNAME", "a.example")]
