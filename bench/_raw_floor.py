"""The syscall floor of a DNS cycle in Python: the exporter's questions as pre-built packets
through bare non-blocking sockets and epoll, nothing parsed.

What it does per question is what any Python client on this kernel must do at the least,
with the exporter's RFC 5452 hardening: a random query id from the OS's CSPRNG, one of
``PORTS_OPEN`` connected sockets picked at random, a fresh socket (a new random source port)
after ``QUERIES_PER_PORT`` questions, an answer accepted only on its socket with its id.
It skips what a client cannot skip for real: reading the answer beyond its header (the rcode
is counted), checking the question section, retries. The gap between this floor and the
exporter is what the exporter's own code costs per question.
"""

from __future__ import annotations

import os
import select
import socket
import struct
from collections import Counter

from exporter.sources.dns_udp import PORTS_OPEN, QUERIES_PER_PORT

__all__ = ["raw_loop"]

RCODES = {0: "noerror", 2: "servfail", 3: "nxdomain", 5: "refused"}
TIMEOUT_S = 5.0  # no datagram for this long: whatever is in flight counts as a timeout
_HEADER = 12


class _Port:
    __slots__ = ("fd", "sent", "sock", "waiting")

    def __init__(self, port: int, epoll: select.epoll) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)  # noqa: FBT003 - the socket API
        self.sock.connect(("127.0.0.1", port))
        self.fd = self.sock.fileno()
        self.sent = 0
        self.waiting = 0
        epoll.register(self.fd, select.EPOLLIN)


class _Client:
    """The exporter's socket pattern, bare: ids and ports random, answers matched by both."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.epoll = select.epoll()
        self.open: list[_Port] = []  # taking new questions
        self.by_fd: dict[int, _Port] = {}  # every socket not closed yet
        self.pending: dict[int, _Port] = {}
        self.randoms: list[int] = []
        self.outcomes: Counter[str] = Counter()

    def random16(self) -> int:
        if not self.randoms:
            self.randoms.extend(struct.unpack("!2048H", os.urandom(4096)))
        return self.randoms.pop()

    def send(self, packet: bytes) -> None:
        packet_id = self.random16()
        while packet_id in self.pending:
            packet_id = self.random16()
        if len(self.open) < PORTS_OPEN:
            entry = _Port(self.port, self.epoll)
            self.open.append(entry)
            self.by_fd[entry.fd] = entry
        else:
            entry = self.open[self.random16() % PORTS_OPEN]
        entry.sent += 1
        entry.waiting += 1
        if entry.sent >= QUERIES_PER_PORT:
            self.open.remove(entry)
        self.pending[packet_id] = entry
        entry.sock.send(packet_id.to_bytes(2, "big") + packet[2:])

    def release(self, entry: _Port) -> None:
        """One question on ``entry`` ended: close it once retired and nothing waits."""
        entry.waiting -= 1
        if not entry.waiting and entry.sent >= QUERIES_PER_PORT:
            self.epoll.unregister(entry.fd)
            del self.by_fd[entry.fd]
            entry.sock.close()

    def drain(self, entry: _Port) -> None:
        while entry.fd in self.by_fd:  # until closed by its last answer, or nothing to read
            try:
                data = entry.sock.recv(65535)
            except BlockingIOError:
                return
            if len(data) < _HEADER:
                continue
            packet_id = (data[0] << 8) | data[1]
            if self.pending.get(packet_id) is not entry:
                continue
            del self.pending[packet_id]
            self.outcomes[RCODES.get(data[3] & 0x0F, "other")] += 1
            self.release(entry)

    def expire(self) -> None:
        self.outcomes["error:timeout"] += len(self.pending)
        for entry in list(self.pending.values()):
            self.release(entry)
        self.pending.clear()

    def close(self) -> None:
        for entry in self.by_fd.values():
            entry.sock.close()
        self.epoll.close()


def raw_loop(packets: list[bytes], port: int, window: int) -> Counter[str]:
    """Send ``packets`` (wire queries, id bytes to be overwritten) to 127.0.0.1:``port``,
    at most ``window`` in flight, topped up after each wake-up, and count the rcodes."""
    client = _Client(port)
    queue = iter(packets)
    left = len(packets)
    try:
        while left or client.pending:
            while left and len(client.pending) < window:
                client.send(next(queue))
                left -= 1
            events = client.epoll.poll(TIMEOUT_S)
            if not events:
                client.expire()
            for fd, _ in events:
                if (entry := client.by_fd.get(fd)) is not None:
                    client.drain(entry)
    finally:
        client.close()
    return client.outcomes
