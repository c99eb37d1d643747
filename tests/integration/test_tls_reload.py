"""The served certificate follows its files (cert-manager renewals, Secret updates) without a
restart, and handshakes never started cannot lock clients out: real TLS handshakes over
loopback against the exporter's HTTP server."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from prometheus_client import CollectorRegistry

from exporter.web import HttpServer
from exporter.web_config import ReloadingCertificate

pytestmark = pytest.mark.integration


def app(_environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]


def write_pair(ca: trustme.CA, directory: Path) -> bytes:
    """A fresh leaf for 127.0.0.1 into server.crt/server.key; returns its DER."""
    leaf = ca.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(directory / "server.crt"))
    leaf.private_key_pem.write_to_path(str(directory / "server.key"))
    return ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())


def served_certificate(port: int, client: ssl.SSLContext) -> bytes:
    """The leaf the server presents to a client sending no SNI (as Prometheus scraping an IP)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with client.wrap_socket(raw) as tls:  # no server_hostname: no SNI
        der = tls.getpeercert(binary_form=True)
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert tls.recv(1024).startswith(b"HTTP/1.0 200")
    assert der is not None
    return der


@pytest.fixture(name="ca")
def _ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(name="client")
def _client(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False  # an IP without SNI; the chain is still verified
    ca.configure_trust(context)
    return context


@pytest.fixture(name="serve")
def _serve() -> Iterator[Any]:
    servers: list[HttpServer] = []

    def serve(directory: Path, recheck_seconds: float) -> int:
        """The exporter's HTTP server on directory/server.crt and server.key; its port."""
        certificate = ReloadingCertificate(
            directory / "server.crt", directory / "server.key", recheck_seconds=recheck_seconds
        )
        server = HttpServer("127.0.0.1", 0, app, tls=certificate.context)
        server.start()
        servers.append(server)
        return server.port

    yield serve
    for server in servers:
        server.shutdown()


def test_a_renewed_certificate_is_served_without_a_restart(
    ca: trustme.CA, client: ssl.SSLContext, serve: Any, tmp_path: Path
) -> None:
    first = write_pair(ca, tmp_path)
    port = serve(tmp_path, recheck_seconds=0)
    assert served_certificate(port, client) == first

    renewed = write_pair(ca, tmp_path)
    assert renewed != first
    assert served_certificate(port, client) == renewed
    assert served_certificate(port, client) == renewed


def test_a_half_written_pair_keeps_the_previous_certificate(
    ca: trustme.CA, client: ssl.SSLContext, serve: Any, tmp_path: Path
) -> None:
    first = write_pair(ca, tmp_path)
    port = serve(tmp_path, recheck_seconds=0)
    other = ca.issue_cert("127.0.0.1")
    other.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))  # key not yet renewed
    assert served_certificate(port, client) == first  # still served, not a failed handshake

    other.private_key_pem.write_to_path(str(tmp_path / "server.key"))  # the pair completes
    assert served_certificate(port, client) == ssl.PEM_cert_to_DER_cert(
        other.cert_chain_pems[0].bytes().decode()
    )


def test_files_are_looked_at_only_every_recheck_interval(
    ca: trustme.CA, client: ssl.SSLContext, serve: Any, tmp_path: Path
) -> None:
    """Handshakes do not stat the files each time: within the interval the old one stays."""
    first = write_pair(ca, tmp_path)
    port = serve(tmp_path, recheck_seconds=3600)
    write_pair(ca, tmp_path)
    assert served_certificate(port, client) == first


def test_handshakes_never_started_do_not_lock_a_tls_client_out(
    ca: trustme.CA, client: ssl.SSLContext, tmp_path: Path
) -> None:
    """TCP connections that never send a ClientHello (or half of one) are half-open too: past
    the cap the oldest is evicted, past the header timeout closed, and a client is served."""
    first = write_pair(ca, tmp_path)
    certificate = ReloadingCertificate(tmp_path / "server.crt", tmp_path / "server.key")
    registry = CollectorRegistry()
    server = HttpServer(
        "127.0.0.1", 0, app, tls=certificate.context, registry=registry, max_connections=5
    )
    server.start()
    try:
        held = [socket.create_connection(("127.0.0.1", server.port), 5) for _ in range(20)]
        held[-1].sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello
        assert served_certificate(server.port, client) == first
        evicted = registry.get_sample_value(
            "deliverability_http_connections_closed_total", {"reason": "evicted"}
        )
        assert evicted is not None
        assert evicted >= 20 + 1 - 5
        for sock in held:
            sock.close()
    finally:
        server.shutdown()


def test_a_handshake_not_finished_in_time_is_closed(ca: trustme.CA, tmp_path: Path) -> None:
    write_pair(ca, tmp_path)
    certificate = ReloadingCertificate(tmp_path / "server.crt", tmp_path / "server.key")
    registry = CollectorRegistry()
    server = HttpServer(
        "127.0.0.1", 0, app, tls=certificate.context, registry=registry, header_timeout=0.5
    )
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), 30) as silent:
            assert silent.recv(1) == b""  # closed by the server, within the client's timeout
        deadline = time.monotonic() + 30
        while not registry.get_sample_value(
            "deliverability_http_connections_closed_total", {"reason": "timeout"}
        ):
            assert time.monotonic() < deadline, "the timeout was not counted"
            time.sleep(0.05)
    finally:
        server.shutdown()
