"""HTTP endpoints: /metrics, /healthz (liveness), /readyz (first cycle done), landing page."""

from __future__ import annotations

import html
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from exporter import __version__
from exporter.model import Status
from exporter.store import Snapshot

__all__ = ["HttpServer", "make_app", "render_landing_page"]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STATUS_COLOURS = {
    Status.PASS: "#1a7f37",
    Status.WARN: "#9a6700",
    Status.FAIL: "#cf222e",
    Status.UNKNOWN: "#6e7781",
}


def make_app(registry: CollectorRegistry, read_snapshot: Callable[[], Snapshot]) -> WsgiApp:
    """The WSGI application; /healthz never depends on DNS or AWS."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            if read_snapshot().ready:
                return _text(start_response, "200 OK", "ready\n")
            return _text(
                start_response, "503 Service Unavailable", "first check cycle not finished\n"
            )
        if path in ("/", "/index.html"):
            body = render_landing_page(read_snapshot()).encode()
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [body]
        return _text(start_response, "404 Not Found", "not found\n")

    return app


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode()]


def render_landing_page(snap: Snapshot) -> str:
    """Every domain, every check's verdict, summary and remedy, for a person."""
    esc = html.escape
    rows = []
    reports = {r.domain: r for r in (snap.dns.reports if snap.dns else ())}
    for domain in snap.config.domains:
        report = reports.get(domain.name)
        header = f"<h2 id='{esc(domain.name)}'>{esc(domain.name)}</h2>"
        if domain.mail_from:
            header += f"<p>MAIL FROM: <code>{esc(domain.mail_from)}</code></p>"
        if report is None:
            rows.append(header + "<p class='pending'>Not checked yet.</p>")
            continue
        cells = "".join(
            f"<tr class='{c.status.value}'><td><code>{esc(c.check)}</code></td>"
            f"<td style='color:{_STATUS_COLOURS[c.status]};font-weight:bold'>{c.status.value}</td>"
            f"<td>{esc(c.summary)}</td><td><code>{esc(c.remedy)}</code></td></tr>"
            for c in report.checks
        )
        rows.append(
            f"{header}<table><tr><th>check</th><th>status</th><th>summary</th><th>remedy</th></tr>"
            f"{cells}</table>"
        )
    health = "".join(
        f"<li><code>{esc(name)}</code>: {'up' if h.up else 'DOWN'}"
        f"{' (' + esc(h.last_error) + ')' if h.last_error else ''}</li>"
        for name, h in sorted(snap.health.items())
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>SES deliverability exporter</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        "</style></head><body><h1>SES deliverability exporter</h1>"
        f"<p>Version {esc(__version__)}. <a href='/metrics'>Metrics</a> · "
        "<a href='/healthz'>healthz</a> · <a href='/readyz'>readyz</a></p>"
        f"<h3>Collectors</h3><ul>{health or '<li>none has run yet</li>'}</ul>"
        f"{''.join(rows) or '<p>No domains configured.</p>'}</body></html>"
    )


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadingWSGIServer6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Access logs stay off: Prometheus scrapes would flood them."""


class HttpServer:
    """Serves the WSGI app from a background thread until ``shutdown``."""

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        server_class = _ThreadingWSGIServer6 if ":" in host else _ThreadingWSGIServer
        self._server = make_server(
            host or "0.0.0.0", port, app, server_class=server_class, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
