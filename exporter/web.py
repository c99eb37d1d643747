"""HTTP endpoints: /metrics, /healthz (liveness), /readyz (first cycle done), landing page."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import ALLOWUTF8, UNDERSCORES
from prometheus_client.registry import Collector

from exporter.deflate import DeflatedFamily, Part, gzip_stream, text_stream
from exporter.event_windows import EventWindows
from exporter.events.pipeline import EventCounts
from exporter.http_server import HttpServer
from exporter.landing import PAGE_SIZE, render_landing_page
from exporter.metrics import PrerenderedFamily
from exporter.store import Snapshot

__all__ = [
    "PAGE_SIZE",
    "ExporterApp",
    "HttpServer",
    "make_app",
    "render_landing_page",
    "render_metrics",
]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Route = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_METRICS_METHODS = ("GET", "HEAD", "OPTIONS")
_PAGE_METHODS = ("GET", "HEAD")  # the landing page and the probes


class ExporterApp:
    """The WSGI application; the daemon runs the DomainWarmer that keeps /metrics fast."""

    def __init__(
        self,
        registry: CollectorRegistry,
        read_snapshot: Callable[[], Snapshot],
        read_events: Callable[[], EventCounts] | None = None,
    ) -> None:
        self._registry = registry
        self._read_snapshot = read_snapshot
        self._read_events = read_events
        self._windows = EventWindows(read_events) if read_events is not None else None
        self._routes: dict[str, Route] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/": self._landing,
            "/index.html": self._landing,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if self._windows is not None:  # any request (scrapes, probes) keeps the ring dense
            self._windows.sample()
        route = self._routes.get(path)
        if route is None:
            return _text(start_response, "404 Not Found", "not found\n")
        methods = _METRICS_METHODS if path == "/metrics" else _PAGE_METHODS
        method = environ.get("REQUEST_METHOD", "GET")
        allow = ", ".join(methods)
        if method not in methods:
            start_response(
                "405 Method Not Allowed",
                [("Allow", allow), ("Content-Type", "text/plain; charset=utf-8")],
            )
            return [f"{method} is not allowed here; use {allow}\n".encode()]
        if method == "OPTIONS":  # as prometheus_client's /metrics answers it
            start_response("200 OK", [("Allow", allow)])
            return [b""]
        return route(environ, start_response)  # HEAD too: the server drops the body

    def _metrics(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return _metrics(self._registry, environ, start_response)

    def _healthz(self, _environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return _text(start_response, "200 OK", "ok\n")

    def _readyz(self, _environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if self._read_snapshot().ready:
            return _text(start_response, "200 OK", "ready\n")
        return _text(start_response, "503 Service Unavailable", "first check cycle not finished\n")

    def _landing(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        events = self._read_events() if self._read_events is not None else None
        windows = self._windows.windows(events) if self._windows is not None and events else None
        query = parse_qs(environ.get("QUERY_STRING", ""))
        page_text = query.get("page", ["1"])[0]
        page = int(page_text) if page_text.isdigit() else 1
        find = query.get("domain", [""])[0]
        snap = self._read_snapshot()
        body = render_landing_page(snap, events, page=page, find=find, windows=windows).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body]


def make_app(
    registry: CollectorRegistry,
    read_snapshot: Callable[[], Snapshot],
    read_events: Callable[[], EventCounts] | None = None,
) -> ExporterApp:
    """The WSGI application; /healthz never depends on DNS or AWS."""
    return ExporterApp(registry, read_snapshot, read_events)


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode()]


def _metrics(
    registry: CollectorRegistry, environ: dict[str, Any], start_response: StartResponse
) -> Iterator[bytes]:
    """/metrics as prometheus_client's make_wsgi_app serves it (format negotiation,
    ``name[]`` filters, gzip), with render_metrics' fast path for pre-rendered families,
    streamed: the whole text is never held, compressed or not (close-delimited body)."""
    names = parse_qs(environ.get("QUERY_STRING", "")).get("name[]")
    source: Collector = registry.restricted_registry(names) if names else registry
    parts, content_type = _parts(source, environ.get("HTTP_ACCEPT", ""))  # errors: a 500
    headers = [("Content-Type", content_type)]
    if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
        headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return gzip_stream(parts)
    start_response("200 OK", headers)
    return text_stream(parts)


class _One(Collector):
    """One metric family as a collector, so the client library's encoders can render it."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self._metric]


def render_metrics(registry: Collector, accept: str = "") -> tuple[bytes, str]:
    """The exposition of ``registry`` in the format ``accept`` negotiates, and its content type.

    The output is byte for byte what prometheus_client's encoder writes: every family is
    rendered by it, except that a PrerenderedFamily contributes only its HELP/TYPE lines that
    way and its sample lines as the bytes rendered once per snapshot. Escaping schemes that
    rewrite metric names (dots, values) take the library's path for everything.
    """
    parts, content_type = _parts(registry, accept)
    return b"".join(text_stream(parts)), content_type


def _parts(registry: Collector, accept: str) -> tuple[list[Part], str]:
    """render_metrics' text as parts: encoded families, and bodies still deflated."""
    encoder, content_type = choose_encoder(accept)
    escaping = getattr(encoder, "keywords", {}).get("escaping", UNDERSCORES)
    if escaping not in (UNDERSCORES, ALLOWUTF8):
        return [encoder(registry)], content_type
    openmetrics = content_type.startswith("application/openmetrics-text")
    eof = b"# EOF\n"
    parts: list[Part] = []
    for metric in registry.collect():
        if isinstance(metric, PrerenderedFamily):
            parts.append(encoder(_One(metric.header())).removesuffix(eof))
            body = metric.deflated if isinstance(metric, DeflatedFamily) else metric.body
            parts.append(body)
        else:
            parts.append(encoder(_One(metric)).removesuffix(eof))
    if openmetrics:
        parts.append(eof)
    return parts, content_type
