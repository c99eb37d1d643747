"""A lean DNS-over-UDP path for the handful of record types the checks read.

dnspython builds a Message object per query, opens a socket per query and parses every
section into rich objects; at 100,000 domains (1.3 million questions) that is most of a
cycle's CPU. Here one UDP socket per nameserver carries every question of a cycle, matched
to its answer by query id and question, queries are packed with `struct`, and answers are
read only as far as the checks need (A, AAAA, MX, TXT, CNAME in the answer section). Any
response this parser cannot read is reported as malformed: the caller turns it into an
ERROR answer (``unknown``), never a verdict. Truncated answers go to dnspython over TCP.
"""

from __future__ import annotations

import asyncio
import random
import struct
from dataclasses import dataclass

__all__ = [
    "QTYPES",
    "UdpMultiplexer",
    "WireError",
    "WireResponse",
    "encode_query",
    "parse_response",
]

QTYPES = {"A": 1, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}
_NAMES = {v: k for k, v in QTYPES.items()}
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_FLAG_RD = 0x0100
_FLAG_TC = 0x0200
_FLAG_QR = 0x8000
_POINTER = 0xC0  # the two top bits of a length byte mark a compression pointer
_MAX_POINTERS = 32  # compression pointers followed in one name before it is malformed


class WireError(Exception):
    """A response that does not parse; the caller treats it as ``malformed_response``."""


@dataclass(frozen=True, slots=True)
class WireResponse:
    """The parts of a response the checks use; names are lower case without the root dot."""

    rcode: int
    truncated: bool
    answers: tuple[tuple[str, str, str], ...]  # (owner, type, record text)


def encode_query(qid: int, name: str, qtype: int, payload: int = 1232) -> bytes:
    """A recursive query with an EDNS0 OPT record advertising ``payload`` bytes."""
    question = _encode_name(name) + struct.pack("!HH", qtype, 1)
    opt = b"\x00" + struct.pack("!HHIH", 41, payload, 0, 0)
    return _HEADER.pack(qid, _FLAG_RD, 1, 0, 0, 1) + question + opt


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:  # noqa: PLR2004 - RFC 1035 label length
            raise WireError(f"bad label in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The (decompressed) name at ``offset`` and the offset just after it in place."""
    labels: list[str] = []
    end = -1
    pointers = 0
    while True:
        if offset >= len(data):
            raise WireError("name runs past the end")
        length = data[offset]
        if length == 0:
            offset += 1
            break
        if length & _POINTER == _POINTER:
            if offset + 1 >= len(data):
                raise WireError("truncated pointer")
            if end < 0:
                end = offset + 2
            pointers += 1
            if pointers > _MAX_POINTERS:
                raise WireError("compression loop")
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & _POINTER:
            raise WireError("unsupported label type")
        label = data[offset + 1 : offset + 1 + length]
        if len(label) != length:
            raise WireError("label runs past the end")
        labels.append(label.decode("ascii", "replace").lower())
        offset += 1 + length
    return ".".join(labels), (end if end >= 0 else offset)


def parse_response(data: bytes) -> tuple[int, bytes, WireResponse]:
    """(query id, raw question section, response); raises WireError when malformed."""
    if len(data) < _HEADER.size:
        raise WireError("shorter than a header")
    qid, flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(data)
    if not flags & _FLAG_QR:
        raise WireError("not a response")
    offset = _HEADER.size
    question_start = offset
    for _ in range(qdcount):
        _, offset = _read_name(data, offset)
        offset += 4
    question = data[question_start:offset]
    answers: list[tuple[str, str, str]] = []
    for _ in range(ancount):
        owner, offset = _read_name(data, offset)
        if offset + _RR.size > len(data):
            raise WireError("record header runs past the end")
        rtype, _rclass, _ttl, rdlength = _RR.unpack_from(data, offset)
        offset += _RR.size
        rdata_end = offset + rdlength
        if rdata_end > len(data):
            raise WireError("rdata runs past the end")
        type_name = _NAMES.get(rtype)
        if type_name is not None:
            answers.append((owner, type_name, _rdata_text(data, offset, rdata_end, rtype)))
        offset = rdata_end
    return qid, question, WireResponse(flags & 0x000F, bool(flags & _FLAG_TC), tuple(answers))


def _rdata_text(data: bytes, start: int, end: int, rtype: int) -> str:
    """The text form of `exporter.model.Answer` records (see there)."""
    if rtype == 1:  # A
        if end - start != 4:  # noqa: PLR2004
            raise WireError("A rdata is not 4 bytes")
        return ".".join(str(b) for b in data[start:end])
    if rtype == 28:  # AAAA  # noqa: PLR2004
        if end - start != 16:  # noqa: PLR2004
            raise WireError("AAAA rdata is not 16 bytes")
        import ipaddress  # noqa: PLC0415 - rare; keeps the hot import list short

        return str(ipaddress.IPv6Address(data[start:end]))
    if rtype == 5:  # CNAME  # noqa: PLR2004
        return _read_name(data, start)[0]
    if rtype == 15:  # MX  # noqa: PLR2004
        if end - start < 3:  # noqa: PLR2004
            raise WireError("MX rdata too short")
        preference = struct.unpack_from("!H", data, start)[0]
        exchange = _read_name(data, start + 2)[0] or "."
        return f"{preference} {exchange}"
    # TXT: character-strings concatenated (RFC 7208 3.3)
    out = bytearray()
    offset = start
    while offset < end:
        length = data[offset]
        if offset + 1 + length > end:
            raise WireError("TXT string runs past the rdata")
        out += data[offset + 1 : offset + 1 + length]
        offset += 1 + length
    return out.decode("utf-8", "replace")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, mux: UdpMultiplexer) -> None:
        self._mux = mux

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:  # noqa: ARG002 - connected socket: only the server sends here
        self._mux.deliver(data)

    def error_received(self, exc: Exception) -> None:
        self._mux.fail_all(exc)


class UdpMultiplexer:
    """One connected UDP socket to one nameserver, shared by every question of a cycle."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._transport: asyncio.DatagramTransport | None = None
        self._opening: asyncio.Future[asyncio.DatagramTransport] | None = None
        self._pending: dict[int, tuple[bytes, asyncio.Future[WireResponse]]] = {}
        self._random = random.SystemRandom()

    async def _ensure(self) -> asyncio.DatagramTransport:
        if self._transport is not None and not self._transport.is_closing():
            return self._transport
        if self._opening is None:  # concurrent first questions share one socket
            self._opening = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._opening)

    async def _open(self) -> asyncio.DatagramTransport:
        try:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Protocol(self), remote_addr=self._address
            )
        finally:
            self._opening = None
        self._transport = transport
        return transport

    async def query(self, name: str, qtype: int, timeout: float) -> WireResponse:  # noqa: ASYNC109 - a per-question deadline, not a cancel scope
        """Send one question and wait for its answer; raises TimeoutError, OSError, WireError."""
        transport = await self._ensure()
        qid = self._random.randrange(65536)
        while qid in self._pending:
            qid = self._random.randrange(65536)
        packet = encode_query(qid, name, qtype)
        future: asyncio.Future[WireResponse] = asyncio.get_running_loop().create_future()
        question = packet[_HEADER.size : len(packet) - 11]  # without the 11-byte OPT record
        self._pending[qid] = (question.lower(), future)
        try:
            transport.sendto(packet)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(qid, None)

    def deliver(self, data: bytes) -> None:
        if len(data) < 2:  # noqa: PLR2004
            return
        qid = int.from_bytes(data[:2], "big")
        entry = self._pending.get(qid)
        if entry is None:
            return  # late or stray: its question already timed out
        question, future = entry
        if future.done():
            return
        try:
            _, got_question, response = parse_response(data)
        except WireError as exc:
            future.set_exception(exc)
            return
        if got_question.lower() != question:
            return  # not ours (id collision or spoofing): keep waiting for the real answer
        future.set_result(response)

    def fail_all(self, exc: Exception) -> None:
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(exc if isinstance(exc, OSError) else OSError(str(exc)))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
