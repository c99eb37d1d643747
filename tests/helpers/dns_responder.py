"""A scripted UDP 'nameserver' on loopback: answers each query with datagrams the test
builds from it (spoofed, malformed, then genuine), from its port or from another one."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

RR = struct.Struct("!HHIH")
TO_QUESTION = b"\xc0\x0c"  # a pointer to the question's name
Datagram = tuple[bool, bytes]  # (sent from another port than the one asked, bytes)


class Responder:
    """Replies to every query with ``script(query)``; records each query's source port."""

    def __init__(self, script: Callable[[bytes], list[Datagram]]) -> None:
        self._script = script
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._other.bind(("127.0.0.1", 0))
        self.source_ports: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def nameserver(self) -> tuple[str, int]:
        return ("127.0.0.1", self._sock.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():  # ends with close()
            try:
                query, peer = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.source_ports.append(peer[1])
            for other, datagram in self._script(query):
                (self._other if other else self._sock).sendto(datagram, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        self._other.close()


@contextmanager
def responder(script: Callable[[bytes], list[Datagram]]) -> Iterator[Responder]:
    server = Responder(script)
    try:
        yield server
    finally:
        server.close()


def question_of(query: bytes) -> bytes:
    """The question section of a query: its name, type and class."""
    offset = 12
    while query[offset]:
        offset += 1 + query[offset]
    return query[12 : offset + 5]


def reply(
    query: bytes,
    *records: bytes,
    rcode: int = 0,
    qid: int | None = None,
    question: bytes | None = None,
    tail: bytes = b"",
) -> bytes:
    """An authoritative response to ``query`` (or, spoofed, with another id or question)."""
    qid = struct.unpack_from("!H", query)[0] if qid is None else qid
    header = struct.pack("!HHHHHH", qid, 0x8400 | rcode, 1, len(records), 0, 0)
    return (
        header + (question_of(query) if question is None else question) + b"".join(records) + tail
    )


def record(rtype: int, rdata: bytes, *, owner: bytes = TO_QUESTION, rclass: int = 1) -> bytes:
    return owner + RR.pack(rtype, rclass, 300, len(rdata)) + rdata


def txt(text: bytes) -> bytes:
    return bytes((len(text),)) + text
