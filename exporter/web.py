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
from exporter.events.pipeline import EventCounts
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


def make_app(
    registry: CollectorRegistry,
    read_snapshot: Callable[[], Snapshot],
    read_events: Callable[[], EventCounts] | None = None,
) -> WsgiApp:
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
            events = read_events() if read_events is not None else None
            body = render_landing_page(read_snapshot(), events).encode()
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [body]
        return _text(start_response, "404 Not Found", "not found\n")

    return app


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode()]


def render_landing_page(snap: Snapshot, events: EventCounts | None = None) -> str:
    """What a person needs at a glance: failing domains first, each check's verdict,
    summary and remedy, SES account state, SMTP credentials and the top bounce causes."""
    esc = html.escape
    verdicts = snap.verdicts()
    order = sorted(
        verdicts, key=lambda d: (-max((c.status.rank for c in verdicts[d]), default=0), d)
    )
    failing = sum(1 for d in verdicts if any(c.status is Status.FAIL for c in verdicts[d]))
    summary = f"{len(verdicts)} domain(s) checked, <strong>{failing} with a failing check</strong>."
    sections = [
        f"<p id='summary'>{summary}</p>",
        _collectors_section(snap),
        _accounts_section(snap),
        _smtp_section(snap),
        _bounces_section(events),
    ]
    for domain in order:
        cells = "".join(
            f"<tr class='{c.status.value}'><td><code>{esc(c.check)}</code></td>"
            f"<td style='color:{_STATUS_COLOURS[c.status]};font-weight:bold'>{c.status.value}</td>"
            f"<td>{esc(c.summary)}</td><td><code>{esc(c.remedy)}</code></td></tr>"
            for c in verdicts[domain]
        )
        sections.append(
            f"<h2 id='{esc(domain)}'>{esc(domain)}</h2><table class='checks'>"
            f"<tr><th>check</th><th>status</th><th>summary</th><th>remedy</th></tr>{cells}</table>"
        )
    pending = [d.name for d in snap.config.domains if d.name not in verdicts]
    if pending:
        sections.append(f"<p class='pending'>Not checked yet: {esc(', '.join(pending))}</p>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>SES deliverability exporter</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        "</style></head><body><h1>SES deliverability exporter</h1>"
        f"<p>Version {esc(__version__)}. <a href='/metrics'>Metrics</a> · "
        "<a href='/healthz'>healthz</a> · <a href='/readyz'>readyz</a></p>"
        f"{''.join(sections)}</body></html>"
    )


def _collectors_section(snap: Snapshot) -> str:
    items = "".join(
        f"<li><code>{html.escape(name)}</code>: {'up' if h.up else 'DOWN'}"
        f"{' (' + html.escape(h.last_error) + ')' if h.last_error else ''}</li>"
        for name, h in sorted(snap.health.items())
    )
    return f"<h3>Collectors</h3><ul>{items or '<li>none has run yet</li>'}</ul>"


def _accounts_section(snap: Snapshot) -> str:
    rows = []
    for result in sorted(snap.ses.values(), key=lambda r: r.key):
        account = result.account
        if account is None:
            state = "<td colspan='4'>unknown (GetAccount failed)</td>"
        else:
            state = (
                f"<td>{html.escape(account.enforcement_status)}</td>"
                f"<td>{'yes' if account.sending_enabled else 'NO'}</td>"
                f"<td>{'production' if account.production_access_enabled else 'sandbox'}</td>"
                f"<td>{account.sent_last_24_hours:g} / {account.max_24_hour_send:g}</td>"
            )
        rows.append(
            f"<tr><td>{html.escape(result.account_id)}</td><td>{html.escape(result.region)}</td>{state}</tr>"
        )
    if not rows:
        return ""
    return (
        "<h3>SES accounts</h3><table id='accounts'><tr><th>account</th><th>region</th>"
        "<th>enforcement</th><th>sending</th><th>access</th><th>sent 24 h / quota</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _smtp_section(snap: Snapshot) -> str:
    rows = []
    for result in sorted(snap.smtp.values(), key=lambda r: r.name):
        probe = result.probe
        verdict = "not probed" if probe is None else f"{probe.status} ({probe.smtp_code or '-'})"
        active = sum(1 for k in result.keys or () if k.active)
        keys = "-" if result.keys is None else f"{active} active of {len(result.keys)}"
        rows.append(
            f"<tr><td>{html.escape(result.name)}</td><td>{html.escape(verdict)}</td><td>{keys}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h3>SMTP credentials</h3><table id='smtp'><tr><th>credential</th><th>AUTH probe</th>"
        f"<th>IAM keys</th></tr>{''.join(rows)}</table>"
    )


def _bounces_section(events: EventCounts | None, top: int = 10) -> str:
    if events is None or not events.bounced:
        return ""
    by_category: dict[str, int] = {}
    for labels, count in events.bounced.items():
        by_category[labels[5]] = by_category.get(labels[5], 0) + count
    rows = "".join(
        f"<tr><td>{html.escape(category)}</td><td>{count}</td></tr>"
        for category, count in sorted(by_category.items(), key=lambda item: (-item[1], item[0]))[
            :top
        ]
    )
    return (
        "<h3>Top bounce categories</h3><table id='bounce-categories'>"
        f"<tr><th>category</th><th>bounced recipients</th></tr>{rows}</table>"
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
