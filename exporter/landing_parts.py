"""The landing page's parts about the sources rather than the domains: when each collector
last succeeded, the SES accounts, the SMTP credentials, the SES events over the last hour and
day, and what of those needs attention; with the badges and links every part uses.

Every value from AWS or the configuration is escaped; status is shown in colour and in words.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

from exporter.event_windows import Window
from exporter.events.pipeline import EventCounts
from exporter.model import Status
from exporter.store import CollectorHealth, Snapshot

__all__ = [
    "RANK",
    "WORST_FIRST",
    "accounts_section",
    "attention",
    "badge",
    "events_section",
    "freshness_section",
    "runbook_link",
    "smtp_section",
    "utc",
]

WORST_FIRST = (Status.FAIL, Status.UNKNOWN, Status.WARN, Status.PASS)
RANK = {status: i for i, status in enumerate(WORST_FIRST)}

_ENFORCEMENT = {  # SES enforcement status -> (shown status, runbook section); both alerts page
    "PROBATION": (Status.FAIL, "sesaccountunderreview"),
    "SHUTDOWN": (Status.FAIL, "sesaccountsendingpaused"),
}


def runbook_link(base: str, anchor: str, text: str = "runbook") -> str:
    if not base:
        return ""
    return f" <a class='runbook' href='{html.escape(f'{base}#{anchor}')}'>{text}</a>"


def badge(status: Status, text: str = "") -> str:
    return f"<span class='badge {status.value}'>{text or status.value.upper()}</span>"


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:  # noqa: PLR2004 - a minute and a half reads better in seconds
        return f"{seconds:.0f} s"
    if seconds < 5400:  # noqa: PLR2004 - up to 90 min in minutes
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:  # noqa: PLR2004 - up to two days in hours
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def _stale(health: CollectorHealth, now: float) -> bool:
    """Not succeeded for two intervals and a minute: DeliverabilityCollectorStale's rule."""
    if health.last_success is None or health.interval_seconds <= 0:
        return False
    return now - health.last_success > 2 * health.interval_seconds + 60


def _collector_status(health: CollectorHealth, now: float) -> tuple[Status, str]:
    if not health.up and health.failures:
        return Status.FAIL, "DOWN"
    if _stale(health, now):
        return Status.WARN, "STALE"
    if health.last_success is None:
        return Status.UNKNOWN, "PENDING"
    return Status.PASS, "OK"


def attention(snap: Snapshot, now: float, runbooks: str) -> list[tuple[Status, str]]:
    """What is wrong outside the domains' checks, as (status, HTML) items."""
    esc = html.escape
    items: list[tuple[Status, str]] = []
    for result in snap.ses.values():
        account = result.account
        where = f"SES account {esc(result.account_id)} in {esc(result.region)}"
        if account is None:
            continue
        enforcement = _ENFORCEMENT.get(account.enforcement_status)
        if enforcement is not None:
            status, anchor = enforcement
            items.append(
                (
                    status,
                    (
                        f"{where}: enforcement status <strong>"
                        f"{esc(account.enforcement_status)}</strong>"
                        f"{runbook_link(runbooks, anchor)}"
                    ),
                )
            )
        if not account.sending_enabled:
            link = runbook_link(runbooks, "sessendingdisabled")
            items.append((Status.FAIL, f"{where}: sending is <strong>disabled</strong>{link}"))
    for name, health in snap.health.items():
        status, word = _collector_status(health, now)
        if status in (Status.FAIL, Status.WARN):
            anchor = (
                "deliverabilitycollectordown" if word == "DOWN" else "deliverabilitycollectorstale"
            )
            items.append(
                (
                    status,
                    f"collector <code>{esc(name)}</code> is {word}{runbook_link(runbooks, anchor)}",
                )
            )
    return sorted(items, key=lambda item: RANK[item[0]])


def freshness_section(snap: Snapshot, now: float, runbooks: str) -> str:
    """When each collector last succeeded: stale and failing ones first."""
    del runbooks  # the attention list links them
    if not snap.health:
        return "<h3>Last checked</h3><p id='freshness'>No collector has run yet.</p>"
    rows = []
    for name, health in sorted(
        snap.health.items(), key=lambda item: (RANK[_collector_status(item[1], now)[0]], item[0])
    ):
        status, word = _collector_status(health, now)
        last = (
            "never"
            if health.last_success is None
            else f"{_ago(now - health.last_success)} ago ({utc(health.last_success)})"
        )
        every = _ago(health.interval_seconds) if health.interval_seconds > 0 else "-"
        error = (
            f" <span class='muted'>{html.escape(health.last_error)}</span>"
            if health.last_error
            else ""
        )
        rows.append(
            f"<tr class='{status.value}'><td><code>{html.escape(name)}"
            f"</code></td><td>{badge(status, word)}{error}</td>"
            f"<td data-label='last success'>{last}</td><td data-label='every'>{every}</td></tr>"
        )
    return (
        "<h3>Last checked</h3><table id='freshness' class='stack'><tr><th>collector</th>"
        f"<th>status</th><th>last success</th><th>every</th></tr>{''.join(rows)}</table>"
    )


def accounts_section(snap: Snapshot, runbooks: str) -> str:
    """Each SES account and region; enforcement, sending and access coloured and in words."""
    esc = html.escape
    rows: list[tuple[int, str]] = []
    for result in sorted(snap.ses.values(), key=lambda r: r.key):
        account = result.account
        if account is None:
            worst = Status.UNKNOWN
            state = f"<td colspan='4'>{badge(Status.UNKNOWN)} GetAccount failed</td>"
        else:
            enforcement = _ENFORCEMENT.get(account.enforcement_status)
            healthy = Status.PASS if account.enforcement_status == "HEALTHY" else Status.UNKNOWN
            shown = enforcement[0] if enforcement else healthy
            link = runbook_link(runbooks, enforcement[1]) if enforcement else ""
            sending = Status.PASS if account.sending_enabled else Status.FAIL
            access = Status.PASS if account.production_access_enabled else Status.WARN
            worst = min((shown, sending, access), key=RANK.__getitem__)
            access_text = "production" if account.production_access_enabled else "sandbox"
            state = (
                f"<td data-label='enforcement'>{badge(shown, esc(account.enforcement_status))}"
                f"{link}</td><td data-label='sending'>"
                f"{badge(sending, 'yes' if account.sending_enabled else 'NO')}</td>"
                f"<td>{badge(access, access_text)}</td>"
                f"<td data-label='sent 24 h / quota'>{account.sent_last_24_hours:g} / "
                f"{account.max_24_hour_send:g}</td>"
            )
        rows.append(
            (
                RANK[worst],
                (
                    f"<tr class='{worst.value}'><td>"
                    f"{esc(result.account_id)}</td>"
                    f"<td>{esc(result.region)}</td>{state}</tr>"
                ),
            )
        )
    if not rows:
        return ""
    rows.sort(key=lambda row: row[0])
    return (
        "<h3>SES accounts</h3><table id='accounts' class='stack'><tr><th>account</th>"
        "<th>region</th><th>enforcement</th><th>sending</th><th>access</th>"
        f"<th>sent 24 h / quota</th></tr>{''.join(r for _, r in rows)}</table>"
    )


def smtp_section(snap: Snapshot, runbooks: str) -> str:
    esc = html.escape
    rows = []
    for result in sorted(snap.smtp.values(), key=lambda r: r.name):
        probe = result.probe
        status = {"ok": Status.PASS, "auth_failed": Status.FAIL}.get(
            probe.status if probe else "", Status.UNKNOWN
        )
        verdict = "not probed" if probe is None else f"{probe.status} ({probe.smtp_code or '-'})"
        link = runbook_link(runbooks, "sessmtpcredentialrejected") if status is Status.FAIL else ""
        active = sum(1 for k in result.keys or () if k.active)
        keys = "-" if result.keys is None else f"{active} active of {len(result.keys)}"
        rows.append(
            f"<tr class='{status.value}'><td>{esc(result.name)}</td>"
            f"<td data-label='AUTH probe'>{badge(status)} {esc(verdict)}{link}</td>"
            f"<td data-label='IAM keys'>{keys}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h3>SMTP credentials</h3><table id='smtp' class='stack'><tr><th>credential</th>"
        f"<th>AUTH probe</th><th>IAM keys</th></tr>{''.join(rows)}</table>"
    )


_SPANS = {3600.0: "last hour", 86400.0: "last 24 h"}
_SLACK = 120.0  # two samples: a window this close to its span is shown as that span


def _coverage(windows: list[Window]) -> str:
    """A note when a window's count does not span the window: a young process (the counters
    start at zero with it), or no request sampling the counters at the window's start."""
    young = [w for w in windows if w.covered < w.seconds - _SLACK]
    notes = []
    if young:
        names = " and ".join(_SPANS.get(w.seconds, _ago(w.seconds)) for w in young)
        plural = "s count" if len(young) > 1 else " counts"
        notes.append(
            f"The exporter started {_ago(young[0].covered)} ago: the {names} column{plural} "
            "since then."
        )
    notes.extend(
        f"The {_SPANS.get(w.seconds, _ago(w.seconds))} column covers {_ago(w.covered)} "
        "(no request sampled the counters at its start)."
        for w in windows
        if w.covered > w.seconds + _SLACK
    )
    return f"<p class='note'>{' '.join(notes)}</p>" if notes else ""


def _window_table(
    table_id: str, what: str, rows: Iterable[tuple[str, list[int], int]], windows: list[Window]
) -> str:
    heads = "".join(f"<th>{_SPANS.get(w.seconds, _ago(w.seconds))}</th>" for w in windows)
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>{''.join(f'<td>{n}</td>' for n in counts)}"
        f"<td>{total}</td></tr>"
        for name, counts, total in rows
    )
    return (
        f"<div class='scroll'><table id='{table_id}'><tr><th>{what}</th>{heads}"
        f"<th>since start</th></tr>{body}</table></div>"
    )


def events_section(events: EventCounts | None, windows: list[Window], top: int = 10) -> str:
    """SES events by type and the top bounce categories: last hour, last day, since start."""
    if events is None or not events.events:
        return ""
    by_type: dict[str, int] = {}
    for (event_type, *_), count in events.events.items():
        by_type[event_type] = by_type.get(event_type, 0) + count
    by_category: dict[str, int] = {}
    for labels, count in events.bounced.items():
        by_category[labels[5]] = by_category.get(labels[5], 0) + count

    def rows(totals: dict[str, int], pick: str) -> list[tuple[str, list[int], int]]:
        windowed = [
            (
                name,
                [
                    (w.counts.events if pick == "events" else w.counts.bounces).get(name, 0)
                    for w in windows
                ],
                total,
            )
            for name, total in totals.items()
        ]
        return sorted(windowed, key=lambda row: ([-n for n in row[1]], -row[2], row[0]))

    parts = [
        "<h3>SES events</h3>",
        _window_table("event-types", "event", rows(by_type, "events"), windows),
    ]
    if by_category:
        parts += [
            "<h3>Top bounce categories</h3>",
            _window_table(
                "bounce-categories",
                "category (bounced recipients)",
                rows(by_category, "bounces")[:top],
                windows,
            ),
        ]
    parts.append(_coverage(windows))
    return "".join(parts)
