"""A lean DNS wire format for the handful of record types the checks read.

dnspython builds a Message object per query and parses every section into rich objects; at
100,000 domains (1.3 million questions) that is most of a cycle's CPU. Here queries are
packed with `struct` and answers are read only as far as the checks need (A, AAAA, MX, TXT,
CNAME, NS in the answer section), yet as strictly as dnspython reads them: a reply is
whatever its sender wants it to be, so both transports must give one verdict for it. Any
response that dnspython would reject is a WireError: the caller turns it into an ERROR
answer (``unknown``), never a verdict. Every name is decoded once per message and bounded
by RFC 1035's limits, so the work per message grows with its size, never faster.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import accumulate
from typing import Final

import dns.ipv6

__all__ = [
    "QTYPES",
    "Unread",
    "WireError",
    "WireResponse",
    "encode_query",
    "encode_question",
    "fingerprint",
    "hint",
    "parse_response",
    "query_packet",
    "read_answer",
]

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}
_NAMES = {v: k for k, v in QTYPES.items()}
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_OPT_HEAD = struct.Struct("!BHHIH")  # an empty OPT record: root, 41, payload size, 0, 0
_ID = struct.Struct("!H")
_TTL_SIZE = 4
_HINT_BITS = 0xFFFF
_TTL_OFFSET = 4  # in a record's fixed part: TYPE, CLASS, then the TTL
_QTYPE_CLASS = struct.Struct("!HH")
_MAX_LABEL = 63  # RFC 1035 2.3.4
_LENGTH_BYTE = [bytes((n,)) for n in range(_MAX_LABEL + 1)]
_MAX_NAME = 255  # RFC 1035 2.3.4: the wire form, length bytes and the root included
_SHORT = 4  # labels in a name below which its suffixes are not kept (see _name)
_MAX_HOPS = 16  # compression pointers in one name: dnspython's MAX_COMPRESSION_POINTER_CHAIN
_FLAG_RD = 0x0100
_FLAG_AA = 0x0400
_FLAG_TC = 0x0200
_FLAG_QR = 0x8000
_OPCODE = 0x7800
_RCODE = 0x000F
_POINTER = 0xC0  # the two top bits of a length byte mark a compression pointer
_QUESTION_TAIL = 4  # QTYPE and QCLASS after a question's name
_CLASS_IN = 1
_A, _NS, _CNAME, _SOA, _PTR, _MX, _TXT, _AAAA, _OPT, _TSIG = 1, 2, 5, 6, 12, 15, 16, 28, 41, 250
_SPF = 99  # RFC 4408's own type, obsolete: TXT's format
_A_SIZE, _AAAA_SIZE, _SOA_COUNTERS, _OPTION_HEADER = 4, 16, 20, 4
_PREFERENCE = 2  # an MX's 16-bit preference before its exchange
_ADDITIONAL = 2  # sections: answer, authority, additional
# A reply with one of these codes may leave out the question (dnspython's is_response).
_BARE_RCODES = frozenset((1, 2, 4, 5))  # FORMERR, SERVFAIL, NOTIMP, REFUSED
# How dnspython prints a name's bytes: specials behind a backslash, unprintables as \DDD.
_SPECIAL = frozenset(b'"().;\\@$')
_PRINTABLE = frozenset(range(0x21, 0x7F))
_PLAIN = bytes(sorted(_PRINTABLE - _SPECIAL))
_PLAIN_OR_DOT = _PLAIN + b"."
_QTAILS = {qtype: _QTYPE_CLASS.pack(qtype, _CLASS_IN) for qtype in QTYPES.values()}
_HEAD_RD = _HEADER.pack(0, _FLAG_RD, 1, 0, 0, 1)[2:]  # a query's header after its id
_HEAD_NO_RD = _HEADER.pack(0, 0, 1, 0, 0, 1)[2:]
_OPT_RR = _OPT_HEAD.pack(0, _OPT, 1232, 0, 0)  # what `query_packet` ends with

# A decoded name: (text, wire length, where its in-place part ends, pointers followed, and
# where the name its first pointer points at ends: it must start no earlier than that)
_Name = tuple[str, int, int, int, int]


class WireError(Exception):
    """A response that does not parse; the caller treats it as ``malformed_response``."""


class WireResponse:
    """The parts of a response the checks use; names are lower case without the root dot.

    Immutable; a class of its own, not a frozen dataclass, whose generated ``__init__``
    costs as much as a quarter of reading a small answer (one is made per response)."""

    __slots__ = ("answers", "authoritative", "fingerprint", "rcode", "truncated")

    def __init__(
        self,
        rcode: int,
        truncated: bool,
        answers: tuple[tuple[str, str, str], ...],  # (owner, type, record text)
        authoritative: bool = False,  # the AA flag
        fingerprint: int = 0,
    ) -> None:
        self.rcode: Final = rcode
        self.truncated: Final = truncated
        self.answers: Final = answers
        self.authoritative: Final = authoritative  # the server is authoritative for the name
        # The datagram's bytes but its id and TTLs (`fingerprint`), from `read_answer`; 0
        # for a response read any other way. Not part of the value: equal responses may
        # come in datagrams that differ in more than their TTLs (names compressed or not).
        self.fingerprint: Final = fingerprint

    def _key(self) -> tuple[int, bool, tuple[tuple[str, str, str], ...], bool]:
        return (self.rcode, self.truncated, self.answers, self.authoritative)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WireResponse):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"WireResponse(rcode={self.rcode!r}, truncated={self.truncated!r}, "
            f"answers={self.answers!r}, authoritative={self.authoritative!r})"
        )


class Unread:
    """A datagram kept unread, with its `fingerprint`: see `UdpMultiplexer.send`."""

    __slots__ = ("data", "fingerprint")

    def __init__(self, data: bytes, fingerprint: int) -> None:
        self.data: Final = data
        self.fingerprint: Final = fingerprint


def hint(fingerprint: int) -> int:
    """16 bits of a nonzero fingerprint, never 0: what a question is asked with to have a
    datagram with this fingerprint kept unread (`UdpMultiplexer.send`). Only a hint: the
    whole fingerprint decides (one datagram in 65,536 that matches only the hint is
    read after all when it is asked for)."""
    return fingerprint & _HINT_BITS or 1


def encode_query(
    qid: int, name: str, qtype: int, payload: int = 1232, *, recursive: bool = True
) -> bytes:
    """A query (RD set when ``recursive``) with an EDNS0 OPT record advertising ``payload``."""
    header = _HEADER.pack(qid, _FLAG_RD if recursive else 0, 1, 0, 0, 1)
    question = encode_question(name, qtype)[0]
    return b"".join((header, question, _OPT_HEAD.pack(0, _OPT, payload, 0, 0)))


def encode_question(name: str, qtype: int) -> tuple[bytes, str]:
    """A query's question section (name as given, QTYPE, QCLASS IN), for `query_packet`,
    and the text `read_answer` knows the name by without decoding it: the lower-case name
    when it is plain (as `_name` would decode it), else ""."""
    text = name.rstrip(".")
    raw = text.encode("ascii")
    parts: list[bytes] = []
    for label in raw.split(b"."):
        size = len(label)
        if not 0 < size <= _MAX_LABEL:
            raise WireError(f"bad label in {name!r}")
        parts += (_LENGTH_BYTE[size], label)
    if len(raw) + 2 > _MAX_NAME:  # a length byte per label where the dots were, and the root
        raise WireError(f"name too long: {name!r}")
    parts += (b"\x00", _QTAILS.get(qtype) or _QTYPE_CLASS.pack(qtype, _CLASS_IN))
    return b"".join(parts), "" if raw.translate(None, _PLAIN_OR_DOT) else text.lower()


def query_packet(qid: int, question: bytes, *, recursive: bool) -> bytes:
    """The query for a question of `encode_question`: what `encode_query` builds, at the
    cost of one join (the header after the id and the OPT record are constants)."""
    return b"".join((_ID.pack(qid), _HEAD_RD if recursive else _HEAD_NO_RD, question, _OPT_RR))


def _escape(label: bytes) -> str:
    """A label as dnspython prints it: specials behind a backslash, the rest as \\DDD."""
    return "".join(
        f"\\{c:c}" if c in _SPECIAL else (chr(c) if c in _PRINTABLE else f"\\{c:03d}")
        for c in label
    )


def _name(data: bytes, start: int, names: dict[int, _Name], depth: int) -> _Name:
    """The name at ``start``, by dnspython's rules: labels of at most 63 bytes, at most 255
    bytes in all, at most 16 pointers, each to a name that ends before the part that points
    to it. ``names`` holds every name and suffix decoded in this message by offset: no
    label is decoded twice, whatever the pointers point at."""
    if (known := names.get(start)) is not None:
        return known
    labels: list[bytes] = []
    offset = start
    stop = min(len(data), start + _MAX_NAME)  # past it the name is too long (see below)
    while offset < stop and 0 < (count := data[offset]) <= _MAX_LABEL and offset not in names:
        labels.append(data[offset + 1 : offset + 1 + count])
        offset += count + 1
    if offset < len(data) and data[offset] == 0:  # the root: no pointer to check
        tail, rest, end, hops, floor = ".", 1, offset + 1, 0, 0
    else:
        tail, rest, end, hops, floor = _tail(data, offset, start, names, depth)
    length = offset - start + rest
    if length > _MAX_NAME:
        raise WireError("name longer than 255 bytes")
    if not labels:
        names[start] = result = (tail, length, end, hops, floor)
        return result
    joined = b".".join(labels).lower()
    plain = joined.count(b".") == len(labels) - 1 and not joined.translate(None, _PLAIN_OR_DOT)
    texts = None if plain else [_escape(label.lower()) for label in labels]
    text = joined.decode("ascii") if texts is None else ".".join(texts)
    if tail != ".":
        text = f"{text}.{tail}"
    names[start] = result = (text, length, end, hops, floor)
    if len(labels) > _SHORT:  # where quadratic work would hide: keep every suffix too
        cuts = list(accumulate([len(label) + 1 for label in labels[:-1]]))  # in the wire
        widths = cuts if texts is None else list(accumulate([len(t) + 1 for t in texts[:-1]]))
        names.update(
            {
                start + cut: (text[width:], length - cut, end, hops, floor)
                for cut, width in zip(cuts, widths, strict=True)
            }
        )
    return result


def _tail(data: bytes, offset: int, start: int, names: dict[int, _Name], depth: int) -> _Name:
    """What ends the labels of the name at ``start`` if not the root: a pointer, or a suffix
    decoded before (valid here only if its pointer's target also ends before ``start``)."""
    if (known := names.get(offset)) is not None:
        if known[4] > start or depth + known[3] > _MAX_HOPS:
            raise WireError("compression pointer does not point back")
        return known
    if offset >= len(data):
        raise WireError("name runs past the end")
    count = data[offset]  # not 0: _name reads the root itself
    if count & _POINTER != _POINTER:
        raise WireError("unsupported label type")
    if offset + 1 >= len(data):
        raise WireError("truncated pointer")
    if depth >= _MAX_HOPS:
        raise WireError("too many compression pointers")
    target = ((count & ~_POINTER) << 8) | data[offset + 1]
    text, length, end, hops, _ = _name(data, target, names, depth + 1)
    if end > start or depth + 1 + hops > _MAX_HOPS:
        raise WireError("compression pointer does not point back")
    return (text, length, offset + 2, hops + 1, end)


def _read_name(data: bytes, offset: int, limit: int, names: dict[int, _Name]) -> tuple[str, int]:
    """The name at ``offset`` and the offset after it, which must not pass ``limit``."""
    if offset < limit and data[offset] == 0:
        return ".", offset + 1
    if offset + 2 <= limit and data[offset] >= _POINTER:  # a pointer alone: a name seen before
        known = names.get(((data[offset] & ~_POINTER) << 8) | data[offset + 1])
        if known is not None and known[2] <= offset and known[3] < _MAX_HOPS:
            return known[0], offset + 2
    text, _, end, _, _ = _name(data, offset, names, 0)
    if end > limit:
        raise WireError("name runs past its record")
    return text, end


def parse_response(data: bytes) -> tuple[int, bytes, WireResponse]:
    """(query id, raw question section, response); raises WireError when malformed."""
    size = len(data)
    if size < _HEADER.size:
        raise WireError("shorter than a header")
    qid, flags, qdcount, *counts = _HEADER.unpack_from(data)
    if not flags & _FLAG_QR:
        raise WireError("not a response")
    names: dict[int, _Name] = {}
    try:
        offset = _questions(data, qdcount, names)
        answers, rcode = _records(data, offset, counts, names, [])
    except WireError:
        if not flags & _FLAG_TC:
            raise
        # Cut short by the server (TC): to be asked again over TCP, as dnspython does
        cut = WireResponse(flags & _RCODE, truncated=True, answers=(), authoritative=False)
        return qid, b"", cut
    response = WireResponse(
        flags & _RCODE | rcode, bool(flags & _FLAG_TC), answers, bool(flags & _FLAG_AA)
    )
    return qid, data[_HEADER.size : offset], response


def read_answer(data: bytes, question: bytes, text: str) -> WireResponse | None:
    """The response in a datagram whose id matched, if it answers ``question`` (lower
    case, from `encode_question`, with its ``text``) the way dnspython's ``is_response``
    decides it: a response to a standard query with the same question, or a failure code
    without one. None for anything else (stray or spoofed: the genuine answer may still
    come); WireError when malformed. The question equals ours but for case, so it is
    valid and not decoded again: a plain name is known by ``text``, another is decoded
    when a record points at it."""
    if len(data) < _HEADER.size:
        return None
    _, flags, qdcount, *counts = _HEADER.unpack_from(data)
    if not _standard_response(flags):
        return None
    names: dict[int, _Name] = {}
    if qdcount == 0:
        if flags & _RCODE not in _BARE_RCODES:
            return None
        offset = _HEADER.size
    else:
        if not _echoes(data, qdcount, question):
            return None
        offset = _HEADER.size + len(question)
        if text:  # the question's plain name, one byte a character, as `_name` keeps it;
            # a pointer into it (rare) has `_name` read that suffix, once
            length = len(question) - _QUESTION_TAIL
            names[_HEADER.size] = (text, length, _HEADER.size + length, 0, 0)
    ttls: list[int] = []
    try:
        answers, rcode = _records(data, offset, counts, names, ttls)
    except WireError:
        if not flags & _FLAG_TC:
            raise
        return WireResponse(flags & _RCODE, truncated=True, answers=(), authoritative=False)
    return WireResponse(
        flags & _RCODE | rcode,
        bool(flags & _FLAG_TC),
        answers,
        bool(flags & _FLAG_AA),
        _digest(data, ttls) if _apart(names, ttls) else 0,
    )


def fingerprint(data: bytes, question: bytes) -> int:
    """A datagram's `WireResponse.fingerprint`, found without reading its records: their
    owner names are skipped, not decoded, and nothing is checked. 0 when it is not a
    response to ``question`` (lower case, as `read_answer` takes it) or its records do not
    add up. So it tells only whether a datagram is the one `read_answer` read before
    for the same question, TTLs apart: one with the fingerprint of a datagram `read_answer`
    read has its bytes where that one's TTLs were not (a 64-bit hash aside), and reads
    the same, since a TTL is never part of the answer (EDNS0's is not a TTL and stays)."""
    size = len(data)
    if size < _HEADER.size:
        return 0
    _, flags, qdcount, *counts = _HEADER.unpack_from(data)
    if not _standard_response(flags) or not _echoes(data, qdcount, question):
        return 0
    offset = _HEADER.size + len(question)
    ttls: list[int] = []
    for _ in range(sum(counts)):
        while True:  # the owner: labels up to the root or a pointer
            if offset >= size:
                return 0
            count = data[offset]
            if not count:
                offset += 1
                break
            if count >= _POINTER:
                offset += 2
                break
            offset += count + 1
        if offset + _RR.size > size:
            return 0
        if (data[offset] << 8 | data[offset + 1]) != _OPT:
            ttls.append(offset + _TTL_OFFSET)
        offset += _RR.size + (data[offset + 8] << 8 | data[offset + 9])
    return _digest(data, ttls) if offset == size else 0


def _standard_response(flags: int) -> bool:
    """A response (QR) to a standard query (opcode 0), as dnspython's ``is_response``."""
    return bool(flags & _FLAG_QR) and not flags & _OPCODE


def _echoes(data: bytes, qdcount: int, question: bytes) -> bool:
    """Whether the datagram's one question is ``question`` (lower case) but for case."""
    return qdcount == 1 and data[_HEADER.size : _HEADER.size + len(question)].lower() == question


def _apart(names: dict[int, _Name], ttls: list[int]) -> bool:
    """Whether every name read lies apart from the bytes a fingerprint leaves out (the id
    and the TTLs): a compression pointer may point anywhere before it, into a TTL too, and
    a datagram whose names read such bytes gets no fingerprint."""
    first = ttls[0] if ttls else 0
    for start, name in names.items():
        end = name[2]  # the name's own bytes: [start, end)
        if start < _ID.size:
            return False
        if end <= first:  # before every TTL: the question's, most often
            continue
        for ttl in ttls:
            if start < ttl + _TTL_SIZE and ttl < end:
                return False
    return True


def _digest(data: bytes, ttls: list[int]) -> int:
    """A hash (keyed per process: Python's) of ``data`` after its id, TTLs left out; never 0."""
    if len(ttls) == 1:  # the usual answer: one record (and EDNS0's)
        ttl = ttls[0]
        return hash((data[_ID.size : ttl], data[ttl + _TTL_SIZE :])) or 1
    parts, start = [], _ID.size
    for ttl in ttls:
        parts.append(data[start:ttl])
        start = ttl + _TTL_SIZE
    parts.append(data[start:])
    return hash(tuple(parts)) or 1


def _questions(data: bytes, qdcount: int, names: dict[int, _Name]) -> int:
    """Where the question section ends."""
    offset = _HEADER.size
    for _ in range(qdcount):
        offset = _read_name(data, offset, len(data), names)[1] + _QUESTION_TAIL
        if offset > len(data):
            raise WireError("question runs past the end")
    return offset


def _records(  # noqa: C901, PLR0912 - the hot loop of every reply: one call per record would cost more
    data: bytes, offset: int, counts: list[int], names: dict[int, _Name], ttls: list[int]
) -> tuple[tuple[tuple[str, str, str], ...], int]:
    """The answer section's records the checks read, and the high bits of the response
    code (EDNS0); every record of every section is checked, and nothing may follow.
    ``ttls`` gets where each record's TTL is (not the OPT record's: no TTL)."""
    size = len(data)
    answers: dict[tuple[str, int, str | bytes], tuple[str, str, str]] = {}
    rcode, opt, unpack, rr_size = 0, False, _RR.unpack_from, _RR.size
    for section, count in enumerate(counts):
        for _ in range(count):
            known = (  # the usual owner: a pointer alone, to a name decoded before
                names.get(((data[offset] & ~_POINTER) << 8) | data[offset + 1])
                if offset + 1 < size and data[offset] >= _POINTER
                else None
            )
            if known is not None and known[2] <= offset and known[3] < _MAX_HOPS:
                owner, offset = known[0], offset + 2
            elif offset < size and not data[offset]:  # the root: EDNS0's OPT record
                owner, offset = ".", offset + 1
            else:
                owner, offset = _read_name(data, offset, size, names)
            if offset + rr_size > size:
                raise WireError("record header runs past the end")
            rtype, rclass, ttl, rdlength = unpack(data, offset)
            if rtype != _OPT:
                ttls.append(offset + _TTL_OFFSET)
            start = offset + rr_size
            offset = start + rdlength
            if offset > size:
                raise WireError("rdata runs past the end")
            if rtype == _OPT:  # EDNS0: once, in the additional section, owned by the root
                if section != _ADDITIONAL or opt or owner != ".":
                    raise WireError("misplaced OPT record")
                opt, rcode = True, (ttl >> 24) << 4
            if rclass != _CLASS_IN:
                if (reader := _ANY_CLASS.get(rtype)) is not None:
                    reader(data, start, offset, names)
                continue
            reader = _READERS.get(rtype)
            text = reader(data, start, offset, names) if reader is not None else ""
            if section == 0 and rtype in _NAMES:
                if rtype == _CNAME:
                    # A name has one alias (RFC 2181 section 10.1): a later CNAME record for
                    # the same owner replaces an earlier one, as in dnspython's RRset.
                    answers[owner, rtype, ""] = (owner, "CNAME", text)
                    continue
                # An RRset is a set: one of each record (TXT strings as they were split)
                key = (owner, rtype, data[start:offset] if rtype == _TXT else text)
                if key not in answers:
                    answers[key] = (owner, _NAMES[rtype], text)
    if offset != size:
        raise WireError("trailing bytes after the last record")
    return tuple(answers.values()), rcode


# Record data readers, as strict as dnspython's for the types a server sends unasked or we
# ask for; each returns the text form of `exporter.model.Answer` records (or ""). Other
# types are skipped by their length.
Reader = Callable[[bytes, int, int, dict[int, _Name]], str]


def _exact_name(data: bytes, start: int, end: int, names: dict[int, _Name]) -> str:
    """A name that must fill the rest of its record's data exactly (NS, CNAME, PTR)."""
    text, after = _read_name(data, start, end, names)
    if after != end:
        raise WireError("trailing bytes in the record's data")
    return text


def _mx(data: bytes, start: int, end: int, names: dict[int, _Name]) -> str:
    if end - start < _PREFERENCE:
        raise WireError("MX rdata too short")
    preference = int.from_bytes(data[start : start + _PREFERENCE])
    return f"{preference} {_exact_name(data, start + _PREFERENCE, end, names)}"


def _txt(data: bytes, start: int, end: int, _names: dict[int, _Name]) -> str:
    """Character-strings, concatenated (RFC 7208 3.3); at least one."""
    if start == end:
        raise WireError("TXT without a string")
    strings, offset = [], start
    while offset < end:
        after = offset + 1 + data[offset]
        if after > end:
            raise WireError("TXT string runs past the rdata")
        strings.append(data[offset + 1 : after])
        offset = after
    return b"".join(strings).decode("utf-8", "replace")


def _a(data: bytes, start: int, end: int, _names: dict[int, _Name]) -> str:
    if end - start != _A_SIZE:
        raise WireError("A rdata is not 4 bytes")
    return ".".join(map(str, data[start:end]))


def _aaaa(data: bytes, start: int, end: int, _names: dict[int, _Name]) -> str:
    if end - start != _AAAA_SIZE:
        raise WireError("AAAA rdata is not 16 bytes")
    return dns.ipv6.inet_ntoa(data[start:end])  # dnspython's text, e.g. ::ffff:192.0.2.1


def _soa(data: bytes, start: int, end: int, names: dict[int, _Name]) -> str:
    offset = _read_name(data, start, end, names)[1]
    if _read_name(data, offset, end, names)[1] != end - _SOA_COUNTERS:
        raise WireError("SOA rdata of the wrong size")
    return ""


def _opt(data: bytes, start: int, end: int, _names: dict[int, _Name]) -> str:
    offset = start
    while offset < end:
        offset += _OPTION_HEADER + int.from_bytes(data[offset + 2 : offset + _OPTION_HEADER])
        if offset > end:
            raise WireError("EDNS option runs past the rdata")
    return ""


def _tsig(_data: bytes, _start: int, _end: int, _names: dict[int, _Name]) -> str:
    raise WireError("a signed response, and no key to check it")


_ANY_CLASS: dict[int, Reader] = {
    _NS: _exact_name,
    _CNAME: _exact_name,
    _PTR: _exact_name,
    _MX: _mx,
    _TXT: _txt,
    _SPF: _txt,
    _SOA: _soa,
    _OPT: _opt,
    _TSIG: _tsig,
}
_READERS: dict[int, Reader] = {**_ANY_CLASS, _A: _a, _AAAA: _aaaa}
