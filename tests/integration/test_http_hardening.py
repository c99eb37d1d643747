"""The HTTP server under hostile or slow clients, with real sockets on loopback: held
half-open connections cannot lock a scrape out, slow request heads are closed, every close
is counted by reason; methods are answered per path; basic auth never fails open or loud."""

from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any

import bcrypt
import pytest
from helpers.fleet import FLEET, registry_for, samples, snapshot

from exporter.http_server import HEADER_TIMEOUT_SECONDS, MAX_CONNECTIONS, HttpServer
from exporter.web import make_app
from exporter.web_config import BasicAuth

pytestmark = pytest.mark.integration

SLACK = 20.0  # client-side bound on a loaded machine; never a latency assertion
CLOSED = "deliverability_http_connections_closed_total"
Serve = Callable[..., HttpServer]


@pytest.fixture(name="serve")
def _serve() -> Iterator[Serve]:
    servers: list[HttpServer] = []

    def serve(app: Any = None, **limits: Any) -> HttpServer:
        """The exporter's app over a fleet snapshot (or ``app``), counting into its registry."""
        snap = snapshot(FLEET)
        registry = registry_for(snap)
        server = HttpServer(
            "127.0.0.1", 0, app or make_app(registry, lambda: snap), registry=registry, **limits
        )
        server.start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.shutdown()


def get(port: int, path: str = "/metrics", timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def closed(port: int) -> dict[str, float]:
    status, body = get(port)
    assert status == 200
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in samples(body.decode()).items()
        if name == CLOSED
    }


def exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` as raw bytes, read until the server closes: status, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        for _ in range(10_000):  # bounded: the answers are small
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status.split(" ", 1)[1], headers, body


def wait_closed_by_server(sock: socket.socket, within: float) -> bool:
    """True once the server has closed ``sock`` (EOF or reset), polling at most ``within`` s."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if sock.recv(1) == b"":
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


def test_the_defaults_are_the_documented_ones() -> None:
    assert (MAX_CONNECTIONS, HEADER_TIMEOUT_SECONDS) == (100, 10.0)  # README's metric table


def test_held_half_open_connections_do_not_lock_a_scrape_out(serve: Serve) -> None:
    """300 connections that send nothing or half a request line, against a cap of 50: a
    scrape still gets its answer, the oldest were evicted and counted, threads stay bounded."""
    cap, held = 50, 300
    threads_before = threading.active_count()
    server = serve(max_connections=cap, header_timeout=HEADER_TIMEOUT_SECONDS)
    with ExitStack() as stack:
        sockets = []
        for i in range(held):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), 10))
            if i % 2:
                sock.sendall(b"GET /metr")
            sockets.append(sock)
        status, body = get(server.port, timeout=HEADER_TIMEOUT_SECONDS + SLACK)
        assert status == 200
        counted = {
            dict(labels)["reason"]: value
            for (name, labels), value in samples(body.decode()).items()
            if name == CLOSED
        }
        assert counted["evicted"] >= held + 1 - cap  # all before the scrape, which came last
        assert counted["refused"] == 0
        assert wait_closed_by_server(sockets[0], within=SLACK)  # the oldest went first
        deadline = time.monotonic() + SLACK
        while threading.active_count() > threads_before + cap + 1:  # + the accept loop
            assert time.monotonic() < deadline, threading.active_count()
            time.sleep(0.1)


def test_a_request_head_not_finished_in_time_is_closed(serve: Serve) -> None:
    """A client dripping its head (each byte well within the timeout) is closed at the
    deadline, as is a silent one; both are counted as timeouts."""
    timeout = 1.0
    server = serve(header_timeout=timeout)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as drip,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as silent,
    ):
        drip.sendall(b"GET /metrics HTTP/1.1\r\n")
        gone = False
        for _ in range(int((timeout + SLACK) / 0.1)):
            try:
                drip.sendall(b"X")
            except OSError:
                gone = True
                break
            time.sleep(0.1)
        assert gone, "the dripping client was never closed"
        assert wait_closed_by_server(silent, within=SLACK)
    assert closed(server.port)["timeout"] == 2


def test_connections_are_refused_when_all_are_being_answered() -> None:
    """At the cap with every connection past its request head, a new one is refused."""
    release, both_in = threading.Event(), threading.Event()
    inside: list[str] = []
    snap = snapshot(FLEET)
    registry = registry_for(snap)
    exporter_app = make_app(registry, lambda: snap)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/healthz":
            inside.append("in")
            if len(inside) == 2:
                both_in.set()
            release.wait(SLACK)
        return exporter_app(environ, start_response)

    server = HttpServer("127.0.0.1", 0, app, registry=registry, max_connections=2)
    server.start()
    try:
        busy = [socket.create_connection(("127.0.0.1", server.port), SLACK) for _ in range(2)]
        for sock in busy:
            sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert both_in.wait(SLACK)
        with socket.create_connection(("127.0.0.1", server.port), 5) as third:
            assert wait_closed_by_server(third, within=SLACK)
        release.set()
        for sock in busy:
            assert sock.recv(12) == b"HTTP/1.0 200"
            sock.close()
        assert closed(server.port) == {"timeout": 0, "evicted": 0, "refused": 1}
    finally:
        release.set()
        server.shutdown()


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/metrics", {"GET", "HEAD", "OPTIONS"}),
        ("/", {"GET", "HEAD"}),
        ("/index.html", {"GET", "HEAD"}),
        ("/healthz", {"GET", "HEAD"}),
        ("/readyz", {"GET", "HEAD"}),
    ],
)
def test_methods(serve: Serve, path: str, allowed: set[str]) -> None:
    port = serve().port
    status, headers, get_body = exchange(port, f"GET {path} HTTP/1.0\r\n\r\n".encode())
    assert (status, bool(get_body)) == ("200 OK", True)
    status, headers, body = exchange(port, f"HEAD {path} HTTP/1.0\r\n\r\n".encode())
    assert (status, body) == ("200 OK", b"")  # headers only
    if path != "/metrics":  # /metrics' own counter may move between the two scrapes
        assert int(headers["Content-Length"]) == len(get_body)
    for method in ("OPTIONS", "POST", "PUT", "DELETE", "PATCH"):
        status, headers, body = exchange(
            port, f"{method} {path} HTTP/1.0\r\nContent-Length: 0\r\n\r\n".encode()
        )
        if method in allowed:  # OPTIONS on /metrics, as prometheus_client answers it
            assert (status, body) == ("200 OK", b"")
        else:
            assert status == "405 Method Not Allowed"
            assert method.encode() in body
        assert set(headers["Allow"].split(", ")) == allowed


def test_head_has_no_body_whatever_the_answer(serve: Serve) -> None:
    port = serve().port
    _, _, get_body = exchange(port, b"GET /nope HTTP/1.0\r\n\r\n")
    status, headers, body = exchange(port, b"HEAD /nope HTTP/1.0\r\n\r\n")
    assert (status, body) == ("404 Not Found", b"")
    assert int(headers["Content-Length"]) == len(get_body) > 0


def auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(port: int, authorization: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    req.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(req, timeout=SLACK) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_password_over_72_bytes_is_a_401_without_a_traceback(
    serve: Serve, capfd: pytest.CaptureFixture[str]
) -> None:
    """bcrypt refuses such passwords; older ones compared only the first 72 bytes, so the
    real 72-byte password plus anything must not pass either."""
    password = "p" * 72
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4))
    snap = snapshot(FLEET)
    port = serve(BasicAuth(make_app(registry_for(snap), lambda: snap), {"prom": hashed})).port
    assert request(port, auth_header("prom", password)) == 200
    assert request(port, auth_header("prom", password + "x")) == 401
    assert request(port, auth_header("nobody", "y" * 200)) == 401
    assert request(port, auth_header("prom", "é" * 40)) == 401  # 80 bytes in UTF-8
    status, headers, body = exchange(port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    assert (status, body) == ("401 Unauthorized", b"")
    assert int(headers["Content-Length"]) == len(b"unauthorized\n")
    assert "Traceback" not in capfd.readouterr().err


def test_unknown_users_pay_the_configured_cost(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check an unknown user pays is at the configured hashes' cost (the highest), so
    response time does not tell which users exist."""
    checked: list[bytes] = []
    checkpw = bcrypt.checkpw

    def recording_checkpw(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", recording_checkpw)
    users = {
        "alice": bcrypt.hashpw(b"a", bcrypt.gensalt(rounds=5)),
        "bob": bcrypt.hashpw(b"b", bcrypt.gensalt(rounds=6)),
    }
    snap = snapshot(FLEET)
    port = serve(BasicAuth(make_app(registry_for(snap), lambda: snap), users)).port
    assert request(port, auth_header("mallory", "guess")) == 401
    assert [hashed[:7] for hashed in checked] == [b"$2b$06$"]
    assert request(port, auth_header("bob", "x" * 100)) == 401  # too long: the same check
    assert [hashed[:7] for hashed in checked] == [b"$2b$06$", b"$2b$06$"]
    assert request(port, auth_header("alice", "a")) == 200
    assert checked[-1] == users["alice"]
