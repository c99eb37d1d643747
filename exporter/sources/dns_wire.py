"""A lean DNS-over-UDP path for the handful of record types the checks read.

dnspython builds a Message object per query, opens a socket per query and parses every
section into rich objects; at 100,000 domains (1.3 million questions) that is most of a
cycle's CPU. Here one UDP socket per nameserver carries every question of a cycle, matched
to its answer by query id and question, queries are packed with `struct`, and answers are
read only as far as the checks need (A, AAAA, MX, TXT, CNAME, NS in the answer section). Any
response this parser cannot read is reported as malformed: the caller turns it into an
ERROR answer (``unknown``), never a verdict. Truncated answers go to dnspython over TCP.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "QTYPES",
    "UdpMultiplexer",
    "WireError",
    "WireResponse",
    "encode_query",
    "parse_response",
]

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}
_NAMES = {v: k for k, v in QTYPES.items()}
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QTAIL = struct.Struct("!HHBHHIH")  # QTYPE, QCLASS, then the OPT record: root, 41, size, 0, 0
_LENGTH_BYTE = [bytes((n,)) for n in range(64)]
_FLAG_RD = 0x0100
_FLAG_AA = 0x0400
_FLAG_TC = 0x0200
_FLAG_QR = 0x8000
_POINTER = 0xC0  # the two top bits of a length byte mark a compression pointer
_TO_QUESTION = b"\xc0\x0c"  # a compression pointer to the first question's name
_OPT_SIZE = 11  # the EDNS0 OPT record closing every query
_MAX_DRAIN = 256  # datagrams read per wake-up before other callbacks get a turn
_MAX_POINTERS = 32  # compression pointers followed in one name before it is malformed


class WireError(Exception):
    """A response that does not parse; the caller treats it as ``malformed_response``."""


@dataclass(frozen=True, slots=True)
class WireResponse:
    """The parts of a response the checks use; names are lower case without the root dot."""

    rcode: int
    truncated: bool
    answers: tuple[tuple[str, str, str], ...]  # (owner, type, record text)
    authoritative: bool = False  # the AA flag: the server is authoritative for the name


def encode_query(
    qid: int, name: str, qtype: int, payload: int = 1232, *, recursive: bool = True
) -> bytes:
    """A query (RD set when ``recursive``) with an EDNS0 OPT record advertising ``payload``."""
    header = _HEADER.pack(qid, _FLAG_RD if recursive else 0, 1, 0, 0, 1)
    return b"".join((header, _encode_name(name), _QTAIL.pack(qtype, 1, 0, 41, payload, 0, 0)))


def _encode_name(name: str) -> bytes:
    parts: list[bytes] = []
    for raw in name.rstrip(".").encode("ascii").split(b"."):
        if not 0 < len(raw) < 64:  # noqa: PLR2004 - RFC 1035 label length
            raise WireError(f"bad label in {name!r}")
        parts += (_LENGTH_BYTE[len(raw)], raw)
    parts.append(b"\x00")
    return b"".join(parts)


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The (decompressed) name at ``offset`` and the offset just after it in place."""
    labels: list[bytes] = []
    end = -1
    pointers = 0
    size = len(data)
    while True:
        if offset >= size:
            raise WireError("name runs past the end")
        length = data[offset]
        if length == 0:
            offset += 1
            break
        if length & _POINTER == _POINTER:
            if offset + 1 >= size:
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
        after = offset + 1 + length
        if after > size:
            raise WireError("label runs past the end")
        labels.append(data[offset + 1 : after])
        offset = after
    name = b".".join(labels).decode("ascii", "replace").lower()
    return name, (end if end >= 0 else offset)


def parse_response(data: bytes) -> tuple[int, bytes, WireResponse]:
    """(query id, raw question section, response); raises WireError when malformed."""
    if len(data) < _HEADER.size:
        raise WireError("shorter than a header")
    qid, flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(data)
    if not flags & _FLAG_QR:
        raise WireError("not a response")
    offset = _HEADER.size
    first_name = ""
    for index in range(qdcount):
        name, offset = _read_name(data, offset)
        first_name = first_name if index else name
        offset += 4
    question = data[_HEADER.size : offset]
    answers: list[tuple[str, str, str]] = []
    for _ in range(ancount):
        if qdcount and data.startswith(_TO_QUESTION, offset):
            owner, offset = first_name, offset + 2  # the usual owner: a pointer to the question
        else:
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
    response = WireResponse(
        flags & 0x000F, bool(flags & _FLAG_TC), tuple(answers), bool(flags & _FLAG_AA)
    )
    return qid, question, response


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
    if rtype in (2, 5):  # NS, CNAME
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


class UdpMultiplexer:
    """One connected UDP socket to one nameserver, shared by every question of a cycle.

    Built for a million questions a cycle: no future, task or timer per question. Each
    question is a slot in a dict keyed by query id; datagrams are drained in one go per
    wake-up of the event loop; timeouts are a FIFO of send times (one timeout for all)
    checked by a single timer. Completion is a call of ``on_done(token, response,
    error)`` with ``error`` one of ``timeout``, ``network``, ``malformed_response``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        on_done: Callable[[Any, WireResponse | None, str], None],
    ) -> None:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )[0]
        self._sock = socket.socket(family, kind, proto)
        try:
            self._sock.setblocking(False)  # noqa: FBT003 - the socket API
            self._sock.connect(address)
        except OSError:
            self._sock.close()
            raise
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._drain)
        self._timeout = timeout
        self._on_done = on_done
        self._pending: dict[int, tuple[bytes, Any]] = {}  # id -> (question, token)
        self._sent: deque[tuple[float, int, Any]] = deque()  # (deadline, id, token), FIFO
        self._timer: asyncio.TimerHandle | None = None
        self._ids: list[int] = []
        self._outbox: deque[bytes] = deque()  # sent together once the current callback ends
        self._flushing: asyncio.Handle | None = None
        self._writing = False  # the socket buffer was full: waiting until it is writable

    def send(self, token: Any, name: str, qtype: int, *, recursive: bool = True) -> None:
        """Put one question on the wire; ``on_done`` gets ``token`` back. Raises WireError
        or ValueError (not ASCII) for a name that cannot be encoded."""
        packet_id = self._new_id()
        packet = encode_query(packet_id, name, qtype, recursive=recursive)
        self._pending[packet_id] = (packet[_HEADER.size : -_OPT_SIZE].lower(), token)
        deadline = self._loop.time() + self._timeout
        self._sent.append((deadline, packet_id, token))
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._expire)
        self._outbox.append(packet)
        if self._flushing is None and not self._writing:
            self._flushing = self._loop.call_soon(self._flush)

    def _new_id(self) -> int:
        """A random query id not in flight: ids from the OS's CSPRNG, 2,048 per read."""
        while True:
            if not self._ids:
                raw = os.urandom(4096)
                self._ids = list(struct.unpack(f"!{len(raw) // 2}H", raw))
            packet_id = self._ids.pop()
            if packet_id not in self._pending:
                return packet_id

    def _flush(self) -> None:
        """Send what the last callback queued in one burst: the server wakes up once for
        the burst, not once per question (each wake-up can preempt this process)."""
        self._flushing = None
        outbox, send = self._outbox, self._sock.send
        while outbox:
            try:
                send(outbox[0])
            except BlockingIOError:
                if not self._writing:
                    self._writing = True
                    self._loop.add_writer(self._sock.fileno(), self._flush)
                return
            except OSError:  # e.g. the ICMP port-unreachable of an earlier question
                outbox.clear()
                self._fail_all()
                break
            outbox.popleft()
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._sock.fileno())

    def _drain(self) -> None:
        pending, on_done = self._pending, self._on_done
        for _ in range(_MAX_DRAIN):
            try:
                data = self._sock.recv(65535)
            except BlockingIOError:
                break
            except OSError:  # ICMP port unreachable: the server is gone
                self._fail_all()
                break
            if len(data) < _HEADER.size:
                continue
            packet_id = (data[0] << 8) | data[1]
            entry = pending.get(packet_id)
            if entry is None:
                continue  # late or stray: its question already timed out
            question, token = entry
            try:
                _, got_question, response = parse_response(data)
            except WireError:
                del pending[packet_id]
                on_done(token, None, "malformed_response")
                continue
            if got_question.lower() != question:
                continue  # not ours (id collision or spoofing): keep waiting for the real one
            del pending[packet_id]
            on_done(token, response, "")
        sent = self._sent
        while sent:  # drop answered heads: the timeout FIFO stays as short as what is in flight
            entry = pending.get(sent[0][1])
            if entry is not None and entry[1] is sent[0][2]:
                break
            sent.popleft()

    def _expire(self) -> None:
        self._timer = None
        now, sent, pending = self._loop.time(), self._sent, self._pending
        while sent and sent[0][0] <= now:
            _, packet_id, token = sent.popleft()
            entry = pending.get(packet_id)
            if entry is not None and entry[1] is token:
                del pending[packet_id]
                self._on_done(token, None, "timeout")
        if self._timer is not None:  # set by a retry sent from on_done: may be too late
            self._timer.cancel()
        self._timer = self._loop.call_at(sent[0][0], self._expire) if sent else None

    def _fail_all(self) -> None:
        failed = [token for _, token in self._pending.values()]
        self._pending.clear()
        for token in failed:
            self._on_done(token, None, "network")

    def close(self) -> None:
        """Forget every question in flight (no callbacks) and close the socket."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            if self._writing:
                self._loop.remove_writer(self._sock.fileno())
        self._pending.clear()
        self._sent.clear()
        self._outbox.clear()
        self._sock.close()
