"""The landing page: what is broken at a glance, worst first, for a person on call.

Every value from DNS, AWS or the configuration is escaped (hostile records exist). Status is
shown in colour and in words (colour-blind readers), and the layout stacks the wide tables on
a phone so nothing scrolls sideways at 390 px.
"""

from __future__ import annotations

import html
import time
from urllib.parse import urlencode

from exporter import __version__
from exporter.event_windows import Window
from exporter.events.pipeline import EventCounts
from exporter.exposition import DomainTable, domain_table
from exporter.landing_parts import (
    RANK,
    WORST_FIRST,
    accounts_section,
    attention,
    badge,
    events_section,
    freshness_section,
    runbook_link,
    smtp_section,
    utc,
)
from exporter.model import CheckResult, Status
from exporter.store import Snapshot

__all__ = ["PAGE_SIZE", "RUNBOOK_ANCHORS", "render_landing_page", "runbook_anchor"]

PAGE_SIZE = 100  # domains per landing page
_PENDING_SHOWN = 100  # names listed of the domains not checked yet
_WORDS = {Status.FAIL: "failing", Status.UNKNOWN: "unknown", Status.WARN: "warning"}

# The runbook section of the alert that covers a failing check (rules/*.rules.yml); a check
# without an alert of its own is covered by DeliverabilityCheckFailing.
RUNBOOK_ANCHORS = {
    "mail_from_resolvable": "deliverabilitymailfromunresolvable",
    "dkim": "deliverabilitydkimbroken",
    "dmarc": "deliverabilitydmarcmissingorinvalid",
    "spf": "deliverabilityspfpermerror",
    "mail_from_spf": "deliverabilityspfpermerror",
    "ses_feedback_routing": "sesfeedbacknotrouted",
}
_CHECK_FAILING = "deliverabilitycheckfailing"
_STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:0 1em 2em;max-width:80em;"
    "line-height:1.4;color:#1f2328}"
    "h1{font-size:1.5em}h2{font-size:1.15em;margin:1.5em 0 .3em}h3{margin:1.2em 0 .3em}"
    "table{border-collapse:collapse;margin-bottom:1em;max-width:100%}"
    "td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;"
    "overflow-wrap:break-word}"
    ".scroll{overflow-x:auto;max-width:100%}"
    ".badge{display:inline-block;min-width:4.5em;text-align:center;padding:0 .4em;"
    "border-radius:4px;color:#fff;font-weight:bold;font-size:.85em;white-space:nowrap}"
    ".badge.fail{background:#cf222e}.badge.warn{background:#9a6700}"
    ".badge.unknown{background:#6e7781}.badge.pass{background:#1a7f37}"
    "tr.fail>td{background:#ffebe9}tr.warn>td{background:#fff8c5}"
    "tr.unknown>td{background:#f6f8fa}tr.pass>td{color:#57606a}"
    "#summary{font-size:1.1em;padding:.6em .8em;border-radius:6px;border:2px solid #1a7f37}"
    "#summary.fail{border-color:#cf222e;background:#ffebe9}"
    "#summary.warn{border-color:#9a6700;background:#fff8c5}"
    "#summary.unknown{border-color:#6e7781;background:#f6f8fa}"
    "#attention{margin:.4em 0 0;padding-left:1.2em}#attention li{margin:.2em 0}"
    ".remedy{margin-bottom:.2em}"
    ".record code{display:block;user-select:all;background:#f6f8fa;border:1px solid #d0d7de;"
    "padding:2px 4px;margin:2px 0;white-space:pre-wrap;word-break:break-all;font-size:.9em}"
    ".runbook{font-size:.9em}.muted{color:#57606a}.note{font-size:.9em;color:#57606a}"
    ".n-fail{color:#cf222e;font-weight:bold}.n-warn{color:#9a6700;font-weight:bold}"
    ".n-unknown{color:#57606a;font-weight:bold}"
    "@media (max-width:40em){"
    "body{padding:0 .5em 1em}h1{font-size:1.25em}"
    ".scroll table{font-size:.9em}.scroll td,.scroll th{padding:3px 5px}"
    "table.stack,table.stack tbody{display:block;width:100%}"
    "table.stack tr{display:flex;flex-wrap:wrap;align-items:baseline;gap:0 .6em;"
    "border:1px solid #d0d7de;border-radius:4px;margin-bottom:.5em;padding:.2em .4em}"
    "table.stack tr:first-child{display:none}"
    "table.stack td{display:block;border:none;padding:1px 0;overflow-wrap:anywhere;"
    "min-width:0;background:none!important}"
    "table.stack td.wide{width:100%}"
    "table.stack tr.fail{background:#ffebe9}table.stack tr.warn{background:#fff8c5}"
    "table.stack tr.unknown{background:#f6f8fa}"
    "table.stack td[data-label]::before{content:attr(data-label) ': ';font-weight:bold}"
    "table.stack td:empty{display:none}"
    "}"
)


def runbook_anchor(check: str) -> str:
    """The runbooks' section for a failing ``check``."""
    return RUNBOOK_ANCHORS.get(check, _CHECK_FAILING)


def render_landing_page(
    snap: Snapshot,
    events: EventCounts | None = None,
    *,
    page: int = 1,
    find: str = "",
    windows: list[Window] | None = None,
    now: float | None = None,
) -> str:
    """What a person needs at a glance: the worst status and what needs attention on top
    (failing domains, account enforcement, stale or failing collectors), when each source was
    last checked, the SES events of the last hour and day, the counts per check, then the
    domains worst first (PAGE_SIZE per page, ``page`` from 1) with their failing checks first,
    each remedy's records one per line and a runbook link. ``find`` shows one domain."""
    esc = html.escape
    now = time.time() if now is None else now
    runbooks = snap.config.server.runbook_base_url
    table = domain_table(snap)
    verdicts = table.verdicts
    sections = [
        _summary(table, snap, now, runbooks),
        freshness_section(snap, now, runbooks),
        accounts_section(snap, runbooks),
        smtp_section(snap, runbooks),
        events_section(events, windows or []),
        _check_counts_section(table),
        _budget_section(table),
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
    sections.extend(_domain_section(d, table, runbooks) for d in shown)
    if shown:
        sections.append(nav)
    pending = [d.name for d in snap.config.domains if d.name not in verdicts]
    if pending:
        listed = ", ".join(pending[:_PENDING_SHOWN])
        more = len(pending) - _PENDING_SHOWN
        listed += f" and {more} more" if more > 0 else ""
        sections.append(f"<p class='pending'>Not checked yet: {esc(listed)}</p>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>SES deliverability exporter</title><style>{_STYLE}</style></head><body>"
        "<h1>SES deliverability exporter</h1>"
        f"<p class='muted'>Version {esc(__version__)} · page rendered {utc(now)} · "
        "<a href='/metrics'>Metrics</a> · <a href='/healthz'>healthz</a> · "
        f"<a href='/readyz'>readyz</a></p>"
        + (f"<p id='notice'><strong>{esc(snap.notice)}</strong></p>" if snap.notice else "")
        + f"{''.join(sections)}</body></html>"
    )


def _domain_section(domain: str, table: DomainTable, runbooks: str) -> str:
    """One domain: its worst status in the heading, its checks worst first."""
    esc = html.escape
    checks = sorted(table.verdicts[domain], key=lambda c: RANK[c.status])
    worst = table.worst(domain)
    rows = "".join(_check_row(c, runbooks) for c in checks)
    return (
        f"<h2 id='{esc(domain)}' class='domain {worst.value}'>{badge(worst)} {esc(domain)}</h2>"
        "<table class='checks stack'><tr><th>check</th><th>status</th><th>summary</th>"
        f"<th>remedy</th></tr>{rows}</table>"
    )


def _check_row(result: CheckResult, runbooks: str) -> str:
    status = result.status
    link = runbook_link(runbooks, runbook_anchor(result.check)) if status is Status.FAIL else ""
    return (
        f"<tr class='{status.value}'><td><code>{html.escape(result.check)}"
        f"</code></td><td>{badge(status)}</td>"
        f"<td class='wide'>{html.escape(result.summary)}</td>"
        f"<td class='wide' data-label='remedy'>{_remedy_html(result)}{link}</td></tr>"
    )


def _remedy_html(result: CheckResult) -> str:
    """The remedy's words, then each record as its own copyable zone-file line."""
    words = f"<div class='remedy'>{html.escape(result.remedy)}</div>" if result.remedy else ""
    records = "".join(
        f"<div class='record'><code>{html.escape(r.zone_line())}</code></div>"
        for r in result.records
    )
    return words + records


def _summary(table: DomainTable, snap: Snapshot, now: float, runbooks: str) -> str:
    """The banner: the worst status of everything, the counts in words, what needs attention."""
    verdicts = table.verdicts
    counts = table.worst_counts
    wrong = attention(snap, now, runbooks)
    statuses = [s for s in WORST_FIRST if counts[s]] + [s for s, _ in wrong]
    worst = min(statuses, key=RANK.__getitem__, default=Status.PASS if verdicts else None)
    failing = counts[Status.FAIL]
    text = f"{len(verdicts)} domain(s) checked, <strong>{failing} with a failing check</strong>."
    if verdicts:
        by_worst = ", ".join(
            f"<span class='n-{s.value}'>{counts[s]} {label}</span>" if counts[s] else f"0 {label}"
            for s, label in (*_WORDS.items(), (Status.PASS, "passing"))
        )
        text += f" Worst check per domain: {by_worst}."
    head = badge(worst) if worst is not None else badge(Status.UNKNOWN, "NOT YET")
    css = worst.value if worst is not None else "unknown"
    items = "".join(f"<li>{badge(s)} {item}</li>" for s, item in wrong)
    listed = f"<ul id='attention'>{items}</ul>" if items else ""
    return f"<div id='summary' class='{css}'>{head} {text}{listed}</div>"


def _check_counts_section(table: DomainTable) -> str:
    """Domains per check and status (what deliverability_domains exports), failing first."""
    if not table.counts:
        return ""
    by_check: dict[str, dict[str, int]] = {}
    for (check, status), count in table.counts:
        by_check.setdefault(check, {})[status] = count
    order = sorted(
        by_check.items(),
        key=lambda item: (*(-item[1].get(s.value, 0) for s in WORST_FIRST[:3]), item[0]),
    )
    head = "".join(f"<th>{s.value}</th>" for s in WORST_FIRST)

    def cell(status: Status, count: int) -> str:
        marked = count and status is not Status.PASS
        return f"<td class='n-{status.value}'>{count}</td>" if marked else f"<td>{count}</td>"

    rows = "".join(
        f"<tr><td><code>{html.escape(check).replace('_', '_<wbr>')}</code></td>"
        + "".join(cell(s, counts.get(s.value, 0)) for s in WORST_FIRST)
        + "</tr>"
        for check, counts in order
    )
    return (
        "<h3>Domains by check and status</h3><div class='scroll'><table id='check-counts'>"
        f"<tr><th>check</th>{head}</tr>{rows}</table></div>"
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
