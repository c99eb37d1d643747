"""The lean DNS-over-UDP path: every question of a cycle to one nameserver, multiplexed.

Built for a million questions a cycle: no future, task or timer per question. An answer is
accepted only from the nameserver's address and port (connected sockets), on the socket its
question left from, with its query id and its question (RFC 5452 section 9.1); anything
else is stray or spoofed and ignored while the genuine answer may still come. So that an
off-path attacker must guess a source port as well as a query id (RFC 5452 section 10), the
questions leave from a few sockets at once, each with a port the kernel picks at random,
and each socket is replaced by a fresh one after a few questions.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from exporter.sources.dns_wire import (
    Unread,
    WireError,
    WireResponse,
    encode_question,
    fingerprint,
    hint,
    query_packet,
    read_answer,
)

__all__ = ["HAS_EPOLL", "PORTS_OPEN", "QUERIES_PER_PORT", "UdpMultiplexer"]

PORTS_OPEN = 4  # sockets open at once per nameserver; each question leaves from one at random
QUERIES_PER_PORT = 16  # questions sent from one socket before a fresh one replaces it
_MAX_DRAIN = 256  # datagrams read per socket and wake-up before other callbacks get a turn
HAS_EPOLL = hasattr(select, "epoll")  # Linux; elsewhere each socket is one of the loop's readers
_HEADER_SIZE = 12
# Linux: a socket non-blocking from the start, one system call less per socket opened
_NONBLOCK: int = getattr(socket, "SOCK_NONBLOCK", 0)
_RANDOM_BATCH = 4096  # bytes read from the OS's CSPRNG at a time: 2,048 16-bit numbers


class _Port:
    """One connected socket (one source port) and the questions still waiting on it."""

    __slots__ = ("fd", "sent", "sock", "waiting")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.sent = 0
        self.waiting = 0


class UdpMultiplexer:
    """Questions to one nameserver, each a slot in a dict keyed by query id.

    Datagrams are drained in one go per wake-up of the event loop; timeouts are a FIFO of
    send times (one timeout for all) checked by a single timer. Completion is a call of
    ``on_done(token, response, error)`` with ``error`` one of ``timeout``, ``network``,
    ``malformed_response``. A question sent with the `dns_wire.hint` of the fingerprint
    of the datagram that answered it last time (``expect``) is answered with an `Unread`
    datagram when its fingerprint has that hint: the caller compares the whole
    fingerprint, and reads the datagram if and when it needs to.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        on_done: Callable[[Any, WireResponse | Unread | None, str], None],
        *,
        use_epoll: bool = HAS_EPOLL,
    ) -> None:
        family, _, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )[0]
        self._family, self._proto, self._address = family, proto, address
        self._loop = asyncio.get_running_loop()
        self._timeout = timeout
        self._on_done = on_done
        self._ports: list[_Port] = []  # open for new questions
        self._retired: set[_Port] = set()  # closed once no question waits on them
        # query id -> (question, its name's text, token, port, the hint expected or 0):
        # see dns_wire.read_answer
        self._pending: dict[int, tuple[bytes, str, Any, _Port, int]] = {}
        self._sent: deque[tuple[float, int, Any]] = deque()  # (deadline, id, token), FIFO
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # of the questions sent by the running callback
        self._random: list[int] = []
        self._outbox: deque[tuple[_Port, bytes]] = deque()  # sent once the callback ends
        self._flushing: asyncio.Handle | None = None
        self._writing: _Port | None = None  # its buffer was full: waiting until writable
        # On Linux the sockets are watched by an epoll set of this multiplexer's, and the
        # event loop watches that set alone: a socket replaced every few questions costs one
        # epoll_ctl each way instead of the loop's reader bookkeeping, and one wake-up serves
        # every socket with answers waiting.
        self._epoll = select.epoll() if use_epoll else None
        self._by_fd: dict[int, _Port] = {}
        try:
            if self._epoll is not None:
                self._loop.add_reader(self._epoll.fileno(), self._ready)
            self._open()  # fail here, not per question, when the address cannot be used
        except BaseException:
            self.close()
            raise

    def _open(self) -> _Port:
        if self._epoll is not None and self._epoll.closed:
            raise OSError("the multiplexer is closed")
        sock = socket.socket(self._family, socket.SOCK_DGRAM | _NONBLOCK, self._proto)
        try:
            if not _NONBLOCK:
                sock.setblocking(False)  # noqa: FBT003 - the socket API
            sock.connect(self._address)  # the kernel drops datagrams from anyone else
            port = _Port(sock)
            if self._epoll is not None:
                self._epoll.register(port.fd, select.EPOLLIN)
            else:
                self._loop.add_reader(port.fd, self._drain, port)
        except BaseException:
            sock.close()
            raise
        self._by_fd[port.fd] = port
        self._ports.append(port)
        return port

    def send(
        self, token: Any, name: str, qtype: int, *, recursive: bool = True, expect: int = 0
    ) -> None:
        """Put one question on the wire; ``on_done`` gets ``token`` back. Raises WireError
        or ValueError (not ASCII) for a name that cannot be encoded, OSError when no socket
        can be opened."""
        question, text = encode_question(name, qtype)
        pending, random = self._pending, self._random
        packet_id = random.pop() if random else self._next()
        while packet_id in pending:  # a random query id not in flight
            packet_id = self._next()
        ports = self._ports
        if len(ports) < PORTS_OPEN:
            port = self._open()
        else:
            port = ports[(random.pop() if random else self._next()) % PORTS_OPEN]
        port.sent += 1
        port.waiting += 1
        if port.sent >= QUERIES_PER_PORT:
            ports.remove(port)
            self._retired.add(port)
        pending[packet_id] = (question.lower(), text, token, port, expect)
        if self._flushing is None:  # the first question of this callback: one clock read
            self._deadline = self._loop.time() + self._timeout
            if self._writing is None:
                self._flushing = self._loop.call_soon(self._flush)
        self._sent.append((self._deadline, packet_id, token))
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._expire)
        self._outbox.append((port, query_packet(packet_id, question, recursive=recursive)))

    def _next(self) -> int:
        """A random 16-bit number from the OS's CSPRNG, read 2,048 at a time."""
        if not self._random:  # refilled in place: `send` holds the list
            self._random.extend(struct.unpack(f"!{_RANDOM_BATCH // 2}H", os.urandom(_RANDOM_BATCH)))
        return self._random.pop()

    def _flush(self) -> None:
        """Send what the last callback queued in one burst: the server wakes up once for
        the burst, not once per question (each wake-up can preempt this process)."""
        self._flushing = None
        outbox = self._outbox
        while outbox:
            port, packet = outbox[0]
            if port.fd >= 0:  # else closed: its question already ended
                try:
                    port.sock.send(packet)
                except BlockingIOError:
                    if self._writing is None:
                        self._writing = port
                        self._loop.add_writer(port.fd, self._flush)
                    return
                except OSError:  # e.g. the ICMP port-unreachable of an earlier question
                    outbox.clear()
                    self._fail_all()
                    break
            outbox.popleft()
        if self._writing is not None:
            if self._writing.fd >= 0:
                self._loop.remove_writer(self._writing.fd)
            self._writing = None

    def _ready(self) -> None:
        """The epoll set is readable: drain every socket it says has datagrams."""
        assert self._epoll is not None  # noqa: S101 - the loop calls this for the epoll set only
        by_fd = self._by_fd
        for fd, _ in self._epoll.poll(0):
            port = by_fd.get(fd)
            if port is not None:  # else closed by a callback of this wake-up
                self._drain(port)

    def _drain(self, port: _Port) -> None:  # noqa: C901, PLR0912 - per datagram: a helper call would cost more
        pending, on_done, sock = self._pending, self._on_done, port.sock
        for _ in range(_MAX_DRAIN):
            if port.fd < 0:  # closed by a callback of this wake-up
                break
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                break
            except OSError:  # ICMP port unreachable: the server is gone
                self._fail_all()
                break
            if len(data) < _HEADER_SIZE:
                continue
            packet_id = (data[0] << 8) | data[1]
            entry = pending.get(packet_id)
            if entry is None or entry[3] is not port:
                continue  # late, stray or spoofed: keep waiting for the genuine answer
            response: WireResponse | Unread | None = None
            error = ""
            if entry[4] and (known := fingerprint(data, entry[0])) and hint(known) == entry[4]:
                response = Unread(data, known)  # last time's datagram, TTLs apart, it seems
            else:
                try:
                    response = read_answer(data, entry[0], entry[1])
                except WireError:
                    response, error = None, "malformed_response"
                else:
                    if response is None:
                        continue  # not an answer to this question: as above
            del pending[packet_id]
            self._release(port)
            on_done(entry[2], response, error)
        sent = self._sent
        while sent:  # drop answered heads: the timeout FIFO stays as short as what is in flight
            head = pending.get(sent[0][1])
            if head is not None and head[2] is sent[0][2]:
                break
            sent.popleft()

    def _release(self, port: _Port) -> None:
        """One question on ``port`` ended: close it if it is retired and nothing waits."""
        port.waiting -= 1
        if not port.waiting and port in self._retired:
            self._retired.discard(port)
            self._close_port(port)

    def _close_port(self, port: _Port) -> None:
        if port.fd >= 0:
            if self._epoll is not None:
                self._epoll.unregister(port.fd)
            else:
                self._loop.remove_reader(port.fd)
            del self._by_fd[port.fd]
            if self._writing is port:
                self._loop.remove_writer(port.fd)
                self._writing = None
            port.sock.close()
            port.fd = -1

    def _expire(self) -> None:
        self._timer = None
        now, sent, pending = self._loop.time(), self._sent, self._pending
        while sent and sent[0][0] <= now:
            _, packet_id, token = sent.popleft()
            entry = pending.get(packet_id)
            if entry is not None and entry[2] is token:
                del pending[packet_id]
                self._release(entry[3])
                self._on_done(token, None, "timeout")
        if self._timer is not None:  # set by a retry sent from on_done: may be too late
            self._timer.cancel()
        self._timer = self._loop.call_at(sent[0][0], self._expire) if sent else None

    def _fail_all(self) -> None:
        failed = list(self._pending.values())
        self._pending.clear()
        for _, _, _, port, _ in failed:
            self._release(port)
        for _, _, token, _, _ in failed:
            self._on_done(token, None, "network")

    def close(self) -> None:
        """Forget every question in flight (no callbacks) and close the sockets."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        for port in (*self._ports, *self._retired):
            self._close_port(port)
        self._ports.clear()
        self._retired.clear()
        self._pending.clear()
        self._sent.clear()
        self._outbox.clear()
        if self._epoll is not None and not self._epoll.closed:
            self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
