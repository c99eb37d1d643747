"""HTTP endpoints: /metrics, /healthz (liveness), /readyz (first cycle done), landing page."""

from __future__ import annotations

import gzip
import html
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlencode

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import ALLOWUTF8, UNDERSCORES
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.events.pipeline import EventCounts
from exporter.exposition import DomainTable, domain_table
from exporter.http_server import HttpServer
from exporter.metrics import PrerenderedFamily
from exporter.model import CheckResult, Status
from exporter.store import Snapshot

__all__ = [
    "PAGE_SIZE",
    "ExporterApp",
    "HttpServer",
    "make_app",
    "render_landing_page",
    "render_metrics",
]

PAGE_SIZE = 100  # domains per landing page
_PENDING_SHOWN = 100  # names listed of the domains not checked yet
_GZIP_LEVEL = 1  # level 9 (the client library's) costs ~7x the time for ~10 % fewer bytes

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Route = Callable[[dict[str, Any], StartResponse], list[bytes]]
_METRICS_METHODS = ("GET", "HEAD", "OPTIONS")
_PAGE_METHODS = ("GET", "HEAD")  # the landing page and the probes

_STATUS_COLOURS = {
    Status.PASS: "#1a7f37",
    Status.WARN: "#9a6700",
    Status.FAIL: "#cf222e",
    Status.UNKNOWN: "#6e7781",
}


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
        self._routes: dict[str, Route] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/": self._landing,
            "/index.html": self._landing,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
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

    def _metrics(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return _metrics(self._registry, environ, start_response)

    def _healthz(self, _environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return _text(start_response, "200 OK", "ok\n")

    def _readyz(self, _environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if self._read_snapshot().ready:
            return _text(start_response, "200 OK", "ready\n")
        return _text(start_response, "503 Service Unavailable", "first check cycle not finished\n")

    def _landing(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        events = self._read_events() if self._read_events is not None else None
        query = parse_qs(environ.get("QUERY_STRING", ""))
        page_text = query.get("page", ["1"])[0]
        page = int(page_text) if page_text.isdigit() else 1
        find = query.get("domain", [""])[0]
        body = render_landing_page(self._read_snapshot(), events, page=page, find=find).encode()
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
) -> list[bytes]:
    """/metrics as prometheus_client's make_wsgi_app serves it (format negotiation,
    ``name[]`` filters, gzip), with render_metrics' fast path for pre-rendered families."""
    names = parse_qs(environ.get("QUERY_STRING", "")).get("name[]")
    source: Collector = registry.restricted_registry(names) if names else registry
    body, content_type = render_metrics(source, environ.get("HTTP_ACCEPT", ""))
    headers = [("Content-Type", content_type)]
    if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
        body = gzip.compress(body, compresslevel=_GZIP_LEVEL)
        headers.append(("Content-Encoding", "gzip"))
    start_response("200 OK", headers)
    return [body]


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
    encoder, content_type = choose_encoder(accept)
    escaping = getattr(encoder, "keywords", {}).get("escaping", UNDERSCORES)
    if escaping not in (UNDERSCORES, ALLOWUTF8):
        return encoder(registry), content_type
    openmetrics = content_type.startswith("application/openmetrics-text")
    eof = b"# EOF\n"
    parts: list[bytes] = []
    for metric in registry.collect():
        if isinstance(metric, PrerenderedFamily):
            parts.append(encoder(_One(metric.header())).removesuffix(eof))
            parts.append(metric.body)
        else:
            parts.append(encoder(_One(metric)).removesuffix(eof))
    if openmetrics:
        parts.append(eof)
    return b"".join(parts), content_type


def _remedy_html(result: CheckResult) -> str:
    """The remedy's words, then each record as its own copyable zone-file line."""
    records = "".join(
        f"<div class='record'><code>{html.escape(r.zone_line())}</code></div>"
        for r in result.records
    )
    return html.escape(result.remedy) + records


def render_landing_page(
    snap: Snapshot, events: EventCounts | None = None, *, page: int = 1, find: str = ""
) -> str:
    """What a person needs at a glance: how many domains pass each check, failing domains
    first (PAGE_SIZE per page, ``page`` from 1), each check's verdict, summary and remedy,
    SES account state, SMTP credentials and the top bounce causes. ``find`` shows one domain."""
    esc = html.escape
    table = domain_table(snap)
    verdicts = table.verdicts
    failing = table.worst_counts[Status.FAIL]
    summary = f"{len(verdicts)} domain(s) checked, <strong>{failing} with a failing check</strong>."
    if verdicts:
        by_worst = ", ".join(
            f"{table.worst_counts[status]} {label}"
            for status, label in (
                (Status.FAIL, "failing"),
                (Status.UNKNOWN, "unknown"),
                (Status.WARN, "warning"),
                (Status.PASS, "passing"),
            )
        )
        summary += f" Worst check per domain: {by_worst}."
    sections = [
        f"<p id='summary'>{summary}</p>",
        _check_counts_section(table),
        _budget_section(table),
        _collectors_section(snap),
        _accounts_section(snap),
        _smtp_section(snap),
        _bounces_section(events),
        _find_form(find),
    ]
    wanted = find.strip().rstrip(".").lower()
    if wanted:
        shown = [wanted] if wanted in verdicts else []
        if not shown:
            sections.append(f"<p id='not-found'>{esc(wanted)} is not a monitored domain.</p>")
        nav = "<p class='pages'><a href='/'>All domains</a></p>"
    else:
        pages = max(1, -(-len(verdicts) // PAGE_SIZE))
        page = min(max(page, 1), pages)
        start = (page - 1) * PAGE_SIZE
        shown = table.order[start : start + PAGE_SIZE]
        nav = _page_nav(page, pages, start, len(shown), len(verdicts))
    sections.append(nav)
    for domain in shown:
        cells = "".join(
            f"<tr class='{c.status.value}'><td><code>{esc(c.check)}</code></td>"
            f"<td style='color:{_STATUS_COLOURS[c.status]};font-weight:bold'>{c.status.value}</td>"
            f"<td>{esc(c.summary)}</td><td>{_remedy_html(c)}</td></tr>"
            for c in verdicts[domain]
        )
        sections.append(
            f"<h2 id='{esc(domain)}'>{esc(domain)}</h2><table class='checks'>"
            f"<tr><th>check</th><th>status</th><th>summary</th><th>remedy</th></tr>{cells}</table>"
        )
    if shown:
        sections.append(nav)
    pending = [d.name for d in snap.config.domains if d.name not in verdicts]
    if pending:
        listed = ", ".join(pending[:_PENDING_SHOWN])
        more = len(pending) - _PENDING_SHOWN
        listed += f" and {more} more" if more > 0 else ""
        sections.append(f"<p class='pending'>Not checked yet: {esc(listed)}</p>")
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


def _check_counts_section(table: DomainTable) -> str:
    """Domains per check and status: the numbers deliverability_domains exports."""
    if not table.counts:
        return ""
    statuses = [Status.FAIL, Status.UNKNOWN, Status.WARN, Status.PASS]
    by_check: dict[str, dict[str, int]] = {}
    for (check, status), count in table.counts:
        by_check.setdefault(check, {})[status] = count
    head = "".join(f"<th>{s.value}</th>" for s in statuses)
    rows = "".join(
        f"<tr><td><code>{html.escape(check)}</code></td>"
        + "".join(f"<td>{counts.get(s.value, 0)}</td>" for s in statuses)
        + "</tr>"
        for check, counts in by_check.items()
    )
    return (
        "<h3>Domains by check and status</h3><table id='check-counts'>"
        f"<tr><th>check</th>{head}</tr>{rows}</table>"
    )


def _budget_section(table: DomainTable) -> str:
    budget = table.snapshot.config.metrics.series_budget
    if budget == 0 or not table.verdicts:
        return ""
    exposition = table.exposition()
    withheld = exposition.withheld
    not_passing = sum(count for status, count in withheld.items() if status is not Status.PASS)
    warning = (
        f" <strong>{not_passing} series of domains that are not passing are withheld</strong>: "
        "raise <code>metrics.series_budget</code> to see them in Prometheus."
        if not_passing
        else ""
    )
    return (
        f"<p id='series-budget'>Series budget {budget}: check series of "
        f"{exposition.exported_domains} domain(s) exported, {sum(withheld.values())} "
        f"withheld.{warning}</p>"
    )


def _find_form(find: str) -> str:
    return (
        "<form id='find' method='get' action='/'><label>Domain "
        f"<input name='domain' value='{html.escape(find)}'></label> "
        "<button type='submit'>Show</button></form>"
    )


def _page_nav(page: int, pages: int, start: int, shown: int, total: int) -> str:
    def link(target: int, text: str) -> str:
        return f"<a href='/?{urlencode({'page': target})}'>{text}</a>"

    items = [f"Domains {start + 1 if shown else 0}-{start + shown} of {total}, worst first"]
    items.append(f"page {page} of {pages}")
    if page > 1:
        items += [link(1, "first"), link(page - 1, "previous")]
    if page < pages:
        items += [link(page + 1, "next"), link(pages, "last")]
    return f"<p class='pages'>{' · '.join(items)}</p>"


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
