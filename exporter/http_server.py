"""The HTTP server behind exporter.web: a thread per connection, with bounds.

The standard library's threading server accepts every connection into a thread of its own
and waits for a request forever, behind a listen backlog of 5. Here a storm of scrapes
queues in a deeper backlog; a client has HEADER_TIMEOUT_SECONDS from its connection to
finish the TLS handshake and the request head (and each read or write of the answer has as
long); at MAX_CONNECTIONS open connections a new one closes the oldest connection still
sending its request, so held half-open connections cannot lock scrapes out, and it is
refused only when every open connection is being answered. Each such close is counted in
deliverability_http_connections_closed_total.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter import metrics

__all__ = [
    "CLOSE_REASONS",
    "HEADER_TIMEOUT_SECONDS",
    "LISTEN_BACKLOG",
    "MAX_CONNECTIONS",
    "HttpServer",
]

LISTEN_BACKLOG = 128  # the stdlib's 5 let a 50-client storm wait seconds for a SYN retry
MAX_CONNECTIONS = 100  # open connections, and so handler threads
HEADER_TIMEOUT_SECONDS = 10.0  # TLS handshake and request head; also each read and write
CLOSE_REASONS = ("timeout", "evicted", "refused")
_STOP_SECONDS = 5.0  # shutdown waits this long for the handler threads

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(slots=True)
class _Connection:
    deadline: float  # for the TLS handshake and request head
    thread: threading.Thread | None = None
    sending_request: bool = True  # until the request head is read


class _ClosedCollector(Collector):
    """deliverability_http_connections_closed_total from the server's counts."""

    def __init__(self, read: Callable[[], Counter[str]]) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        counts = self._read()
        family = metrics.HTTP_CONNECTIONS_CLOSED.counter()
        for reason in CLOSE_REASONS:
            family.add_metric([reason], counts[reason])
        yield family


class _BoundedWSGIServer(WSGIServer):
    """WSGIServer with a thread per connection, a cap on connections and a header deadline."""

    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self, address: tuple[str, int], *, max_connections: int, header_timeout: float
    ) -> None:
        self._max = max_connections
        self._timeout = header_timeout
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Connection] = {}  # in the order of their arrival
        self._closed: Counter[str] = Counter()
        self._next_reap = 0.0
        super().__init__(address, _Handler)

    def closed_counts(self) -> Counter[str]:
        with self._lock:
            return self._closed.copy()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Runs in the accept loop: make room, then hand the connection to a thread."""
        with self._lock:
            if len(self._open) >= self._max and not self._evict_oldest_sending():
                self._closed["refused"] += 1
                self.shutdown_request(request)
                return
            connection = _Connection(deadline=time.monotonic() + self._timeout)
            self._open[request] = connection
            request.settimeout(self._timeout)
            connection.thread = threading.Thread(
                target=self._serve, args=(request, client_address), name="http", daemon=True
            )
        connection.thread.start()

    def _evict_oldest_sending(self) -> bool:
        for request, connection in self._open.items():
            if connection.sending_request:
                self._close_early(request, "evicted")
                return True
        return False

    def _close_early(self, request: socket.socket, reason: str) -> None:
        """With the lock held: count and wake the connection's thread, which closes it."""
        del self._open[request]
        self._closed[reason] += 1
        with contextlib.suppress(OSError):  # the client may have gone already
            # The plain socket's shutdown: SSLSocket's would drop the TLS state under the
            # thread that uses it.
            socket.socket.shutdown(request, socket.SHUT_RDWR)

    def service_actions(self) -> None:
        """Between accepts (at least every poll interval): close overdue request heads."""
        now = time.monotonic()
        if now < self._next_reap:
            return
        self._next_reap = now + min(self._timeout / 4, 0.25)
        with self._lock:
            for request, connection in list(self._open.items()):
                if connection.sending_request and connection.deadline <= now:
                    self._close_early(request, "timeout")

    def request_head_read(self, request: socket.socket) -> bool:
        """The handler read the request head; False if the connection was closed meanwhile."""
        with self._lock:
            connection = self._open.get(request)
            if connection is None:
                return False
            connection.sending_request = False
            return True

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        reason = None
        try:
            self.finish_request(request, client_address)
        except TimeoutError:
            reason = "timeout"
        except (OSError, ValueError):
            pass  # a dropped client or a failed TLS handshake is not worth a traceback
        finally:
            with self._lock:
                if self._open.pop(request, None) is not None and reason is not None:
                    self._closed[reason] += 1
            self.shutdown_request(request)

    def close_connections(self) -> None:
        """After the accept loop stopped: close every connection and wait for its thread."""
        with self._lock:
            threads = [c.thread for c in self._open.values() if c.thread is not None]
            for request in list(self._open):
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(request, socket.SHUT_RDWR)
        deadline = time.monotonic() + _STOP_SECONDS
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


class _BoundedWSGIServer6(_BoundedWSGIServer):
    address_family = socket.AF_INET6


class _ServerHandler(ServerHandler):
    def handle_error(self) -> None:
        """A client too slow to read the answer, or gone, gets neither a 500 nor a traceback
        on stderr; the exception reaches the server, which counts a timeout."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            raise error
        super().handle_error()


class _Handler(WSGIRequestHandler):
    server: _BoundedWSGIServer

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):  # handshake here, not in the accept loop
            self.request.do_handshake()
        super().setup()

    def parse_request(self) -> bool:
        return super().parse_request() and self.server.request_head_read(self.request)

    def handle(self) -> None:
        """WSGIRequestHandler.handle with the quieter ServerHandler."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:  # noqa: PLR2004 - the stdlib's request line limit
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(
            self.rfile,
            cast("IO[bytes]", self.wfile),  # a socket writer; typeshed says BufferedIOBase
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined] # the stdlib's back pointer
        handler.run(cast("WsgiApp", self.server.get_app()))  # set before serving

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Access logs stay off: Prometheus scrapes would flood them."""


def _no_body_on_head(app: WsgiApp) -> WsgiApp:
    """HEAD answers GET's status and headers, with the Content-Length of the body it leaves
    out, whatever the app (a 401 from basic auth, a 404)."""

    def head_or_get(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "HEAD":
            return app(environ, start_response)
        answer: list[tuple[str, list[tuple[str, str]]]] = []
        body = app(environ, lambda status, headers: answer.append((status, headers)))
        try:
            length = sum(map(len, body))  # counted as it streams: a body is never held whole
        finally:
            if hasattr(body, "close"):
                body.close()
        status, headers = answer[0]
        if not any(name.lower() == "content-length" for name, _ in headers):
            headers = [*headers, ("Content-Length", str(length))]
        start_response(status, headers)
        return []

    return head_or_get


class HttpServer:
    """Serves the WSGI app from a background thread until ``shutdown``.

    With ``registry``, deliverability_http_connections_closed_total is collected there.
    """

    def __init__(
        self,
        host: str,
        port: int,
        app: WsgiApp,
        *,
        tls: ssl.SSLContext | None = None,
        registry: CollectorRegistry | None = None,
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT_SECONDS,
    ) -> None:
        server_class = _BoundedWSGIServer6 if ":" in host else _BoundedWSGIServer
        self._server = server_class(
            (host or "0.0.0.0", port),
            max_connections=max_connections,
            header_timeout=header_timeout,
        )
        self._server.set_app(_no_body_on_head(app))
        if tls is not None:
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        if registry is not None:
            registry.register(_ClosedCollector(self._server.closed_counts))
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=_STOP_SECONDS)
