"""A scripted 'nameserver' on loopback: answers each UDP query with datagrams the test
builds from it (spoofed, malformed, delayed, then genuine), from its port or from another
one, and each TCP query on the same port the way the test says (or refuses TCP).

`ask` and `on_both` run one scenario on both DNS transports and compare what the checks
and the query counters would see."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import pprint
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from exporter.model import Answer, DomainTarget
from exporter.sources.dns import TRANSPORTS, DnsClient, DnsQueryStats

# The demo zones' sending domains, each with a MAIL FROM, three DKIM tokens and a region
DEMO_TARGETS = [
    DomainTarget(
        f"{label}.example",
        f"mail.{label}.example",
        tuple(f"{n}{label[:6]}{c * 24}"[:32] for n, c in (("1", "a"), ("2", "b"), ("3", "c"))),
        "us-east-1",
    )
    for label in ("healthy", "gateway553", "exchange-junk", "legacy", "corp")
]
RR = struct.Struct("!HHIH")
TO_QUESTION = b"\xc0\x0c"  # a pointer to the question's name
FLAG_TC = 0x0200
Datagram = tuple[bool, bytes]  # (sent from another port than the one asked, bytes)
# The replies to one query over TCP: each sent length-prefixed; [] closes the connection
# without an answer, None leaves it open and silent.
TcpScript = Callable[[bytes], list[bytes] | None]
_LENGTH = struct.Struct("!H")
_POLL = 0.05  # seconds between two looks at the stop flag
PROMPT = 5.0  # seconds: a reply that comes at once must not become a timeout on a busy box
HANG = 120.0  # seconds: a question still open after this is a hang, not a slow box


class Responder:
    """Replies to every UDP query with ``script(query)``, ``delay(query)`` seconds later
    (a delayed reply not sent yet when the responder closes is dropped), and to every
    TCP query with ``tcp(query)``; without ``tcp`` its TCP port is held but refuses
    connections. Records each UDP query's source port and every query it got."""

    def __init__(
        self,
        script: Callable[[bytes], list[Datagram]],
        *,
        delay: Callable[[bytes], float] | None = None,
        tcp: TcpScript | None = None,
    ) -> None:
        self._script, self._delay, self._tcp_script = script, delay, tcp
        self._sock, self._listener = _udp_and_tcp_on_one_port()
        self._other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._other.bind(("127.0.0.1", 0))
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ, self._on_datagram)
        if tcp is not None:
            self._listener.listen(16)
            self._selector.register(self._listener, selectors.EVENT_READ, self._on_connection)
        self._connections: dict[socket.socket, bytearray] = {}
        self._later: list[tuple[float, int, socket.socket, bytes, tuple[str, int]]] = []
        self._order = itertools.count()
        self.source_ports: list[int] = []
        self.udp_queries: list[bytes] = []
        self.tcp_queries: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def nameserver(self) -> tuple[str, int]:
        return ("127.0.0.1", self._sock.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():  # ends with close()
            due = self._later[0][0] - time.monotonic() if self._later else _POLL
            for key, _ in self._selector.select(min(_POLL, max(0.0, due))):
                key.data(key.fileobj)
            while self._later and self._later[0][0] <= time.monotonic():
                _, _, sock, datagram, peer = heapq.heappop(self._later)
                _send(sock, datagram, peer)

    def _on_datagram(self, sock: socket.socket) -> None:
        query, peer = sock.recvfrom(65535)
        self.source_ports.append(peer[1])
        self.udp_queries.append(query)
        due = time.monotonic() + (self._delay(query) if self._delay else 0.0)
        for other, datagram in self._script(query):
            out = self._other if other else self._sock
            if self._delay is None:
                _send(out, datagram, peer)
            else:
                heapq.heappush(self._later, (due, next(self._order), out, datagram, peer))

    def _on_connection(self, listener: socket.socket) -> None:
        connection, _ = listener.accept()
        connection.settimeout(5)  # replies are small: sendall never waits that long
        self._connections[connection] = bytearray()
        self._selector.register(connection, selectors.EVENT_READ, self._on_stream)

    def _on_stream(self, connection: socket.socket) -> None:
        assert self._tcp_script is not None  # only registered with a TCP script
        try:
            data = connection.recv(65535)
        except OSError:
            data = b""
        if not data:
            self._hang_up(connection)
            return
        buffer = self._connections[connection]
        buffer += data
        while len(buffer) >= _LENGTH.size:  # each pass takes one whole query off the buffer
            size = _LENGTH.unpack_from(buffer)[0]
            if len(buffer) < _LENGTH.size + size:
                return
            query = bytes(buffer[_LENGTH.size : _LENGTH.size + size])
            del buffer[: _LENGTH.size + size]
            self.tcp_queries.append(query)
            replies = self._tcp_script(query)
            if replies == []:
                self._hang_up(connection)
                return
            for message in replies or ():
                connection.sendall(_LENGTH.pack(len(message)) + message)

    def _hang_up(self, connection: socket.socket) -> None:
        self._selector.unregister(connection)
        del self._connections[connection]
        connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in list(self._connections):
            self._hang_up(connection)
        self._selector.close()
        self._sock.close()
        self._listener.close()
        self._other.close()


def _udp_and_tcp_on_one_port() -> tuple[socket.socket, socket.socket]:
    """A UDP socket and a TCP socket bound to the same loopback port (a client falls back
    to TCP on the port it asked over UDP)."""
    for _ in range(50):  # another process may hold the TCP side of a free UDP port
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(udp.getsockname())
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise RuntimeError("no loopback port free for both UDP and TCP")


def _send(sock: socket.socket, datagram: bytes, peer: tuple[str, int]) -> None:
    with contextlib.suppress(OSError):  # the client is gone: nobody waits for this reply
        sock.sendto(datagram, peer)


@contextlib.contextmanager
def responder(
    script: Callable[[bytes], list[Datagram]],
    *,
    delay: Callable[[bytes], float] | None = None,
    tcp: TcpScript | None = None,
) -> Iterator[Responder]:
    server = Responder(script, delay=delay, tcp=tcp)
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


def asked(query: bytes) -> tuple[str, int]:
    """The name (lower case, no root dot) and type a query asks for."""
    question = question_of(query)
    labels, offset = [], 0
    while question[offset]:
        labels.append(question[offset + 1 : offset + 1 + question[offset]].decode().lower())
        offset += 1 + question[offset]
    return ".".join(labels), struct.unpack_from("!H", question, offset + 1)[0]


def reply(
    query: bytes,
    *records: bytes,
    rcode: int = 0,
    qid: int | None = None,
    question: bytes | None = None,
    tail: bytes = b"",
    flags: int = 0,
    count: int | None = None,
) -> bytes:
    """An authoritative response to ``query`` (or, spoofed, with another id or question;
    ``question=b""`` leaves the question section out). ``flags`` are added to the header's
    and ``count`` overrides the answer count (a reply cut short)."""
    qid = struct.unpack_from("!H", query)[0] if qid is None else qid
    question = question_of(query) if question is None else question
    header = struct.pack(
        "!HHHHHH",
        qid,
        0x8400 | flags | rcode,
        1 if question else 0,
        len(records) if count is None else count,
        0,
        0,
    )
    return header + question + b"".join(records) + tail


def record(rtype: int, rdata: bytes, *, owner: bytes = TO_QUESTION, rclass: int = 1) -> bytes:
    return owner + RR.pack(rtype, rclass, 300, len(rdata)) + rdata


def txt(text: bytes) -> bytes:
    return bytes((len(text),)) + text


def forward(
    query: bytes, upstream: tuple[str, int], *, tcp: bool = False, seconds: float = 5.0
) -> bytes | None:
    """The reply of a real nameserver to ``query``, over UDP or TCP, or None if it does not
    come within ``seconds`` (the relay of a scripted resolver in front of ``named``)."""
    if tcp:
        try:
            with socket.create_connection(upstream, timeout=seconds) as stream:
                stream.sendall(_LENGTH.pack(len(query)) + query)
                size = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))[0]
                return _read_exactly(stream, size)
        except (OSError, EOFError):
            return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(seconds)
        sock.connect(upstream)
        sock.send(query)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # ends with the reply or the deadline
            try:
                data = sock.recv(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            if data[:2] == query[:2]:
                return data
    return None


def _read_exactly(stream: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:  # each pass reads more, or the peer closed: bounded by size
        chunk = stream.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


@dataclass
class Outcome:
    """What both transports must agree on: the answers, the query counters, and how many
    queries each scripted nameserver got over UDP and over TCP."""

    answers: list[Answer]
    counts: dict[tuple[str, str], int]
    queries_sent: int
    responses: int
    udp: list[int]
    tcp: list[int]


def ask(
    transport: str,
    servers: Sequence[Responder | tuple[str, int]],
    *questions: tuple[str, str],
    timeout: float = PROMPT,
    attempts: int = 2,
    concurrency: int = 64,
    hang: float = HANG,
) -> Outcome:
    """Resolve ``questions`` with one client, as a check cycle would; a question still
    open after ``hang`` seconds fails the test (TimeoutError) instead of hanging it."""
    nameservers = [s.nameserver if isinstance(s, Responder) else s for s in servers]
    stats = DnsQueryStats()

    async def run() -> tuple[list[Answer], int, int]:
        client = DnsClient(
            nameservers=nameservers,
            timeout=timeout,
            attempts=attempts,
            concurrency=concurrency,
            stats=stats,
            transport=transport,
        )
        try:
            async with asyncio.timeout(hang):
                answers = await asyncio.gather(*(client.resolve(n, t) for n, t in questions))
        finally:
            await client.aclose()
        return list(answers), client.queries_sent, client.responses

    answers, sent, responses = asyncio.run(run())
    scripted = [s for s in servers if isinstance(s, Responder)]
    return Outcome(
        answers,
        stats.snapshot(),
        sent,
        responses,
        [len(s.udp_queries) for s in scripted],
        [len(s.tcp_queries) for s in scripted],
    )


def on_both(run: Callable[[str], Outcome]) -> Outcome:
    """``run`` on each transport (fresh scripted servers each time): the outcomes must be
    equal; returns the wire path's."""
    outcomes = {transport: run(transport) for transport in TRANSPORTS}
    if outcomes["wire"] != outcomes["dnspython"]:
        raise AssertionError(f"the transports differ:\n{pprint.pformat(outcomes)}")
    return outcomes["wire"]
