"""The landing page shows what is broken at a glance (exporter/landing.py): worst first, status
in colour and words, last-checked times, SES enforcement, runbook links, event windows."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType

import yaml
from helpers.fleet import FAIL, UNKNOWN, WARN, call, registry_for, report, snapshot

from exporter.checks.ses import AccountState
from exporter.config import Config
from exporter.config.model import RUNBOOK_BASE_URL, ServerConfig
from exporter.event_windows import DAY, HOUR, EventWindows
from exporter.events.pipeline import DELAY_BUCKETS, LAG_BUCKETS, EventCounts, Histogram
from exporter.jobs.ses import SesRegionResult
from exporter.landing import RUNBOOK_ANCHORS, render_landing_page, runbook_anchor
from exporter.store import CollectorHealth, Snapshot
from exporter.web import make_app

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0


def rows_of(page: str, domain: str) -> list[str]:
    """The status classes of a domain's check rows, in page order."""
    table = page.split(f"<h2 id='{domain}'", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr class='(\w+)'>", table)


def with_runbooks(snap: Snapshot, url: str) -> Snapshot:
    config = dataclasses.replace(snap.config, server=ServerConfig(runbook_base_url=url))
    return dataclasses.replace(snap, config=config)


def account(status: str = "HEALTHY", *, sending: bool = True) -> SesRegionResult:
    return SesRegionResult(
        account_name="prod",
        account_id="123456789012",
        region="eu-west-1",
        account=AccountState(
            sending_enabled=sending,
            production_access_enabled=True,
            enforcement_status=status,
            max_24_hour_send=50_000.0,
            max_send_rate=14.0,
            sent_last_24_hours=10.0,
        ),
    )


def counts(events: dict[str, int], bounces: dict[str, int] | None = None) -> EventCounts:
    """A pipeline snapshot with ``events`` by type and bounced recipients by category."""
    bounced = {
        ("gmail.com", "google", "Permanent", "General", "5xx", category, "d.example"): n
        for category, n in (bounces or {}).items()
    }
    return EventCounts(
        events={(kind, "d.example", "default"): n for kind, n in events.items()},
        sent={},
        delivered={},
        bounced=bounced,
        complained={},
        delayed={},
        rejected={},
        rendering_failed={},
        malformed={},
        ignored={},
        refused={},
        duplicates=0,
        processing=Histogram(DELAY_BUCKETS),
        lag=Histogram(LAG_BUCKETS),
        last_event_timestamp=None,
        tracked_recipient_domains=0,
    )


def test_the_page_fits_a_phone() -> None:
    page = render_landing_page(snapshot([report("d.example")]))
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in page
    assert "@media (max-width:40em)" in page


def test_failing_checks_come_before_passing_ones_and_say_their_status_in_words() -> None:
    bad = report("d.example", {"dmarc_reports": WARN, "mail_from_mx": FAIL, "spf": UNKNOWN})
    page = render_landing_page(snapshot([bad, report("ok.example")]))
    assert rows_of(page, "d.example") == ["fail", "unknown", "warn"] + ["pass"] * 5
    assert "<span class='badge fail'>FAIL</span>" in page  # colour and the word
    assert "<h2 id='d.example' class='domain fail'><span class='badge fail'>FAIL</span>" in page
    assert "<h2 id='ok.example' class='domain pass'><span class='badge pass'>PASS</span>" in page
    assert "<div id='summary' class='fail'><span class='badge fail'>FAIL</span>" in page


def test_each_failing_check_links_the_runbook_of_the_alert_that_covers_it() -> None:
    bad = report("d.example", {"dkim": FAIL, "mx": FAIL, "dmarc": WARN})
    page = render_landing_page(snapshot([bad]))
    links = re.findall(r"<a class='runbook' href='([^']*)'>runbook</a>", page)
    assert links == [
        f"{RUNBOOK_BASE_URL}#deliverabilitycheckfailing",  # mx has no alert of its own
        f"{RUNBOOK_BASE_URL}#deliverabilitydkimbroken",
    ]
    custom = render_landing_page(with_runbooks(snapshot([bad]), "/docs/run'books.md"))
    assert "href='/docs/run&#x27;books.md#deliverabilitydkimbroken'" in custom
    assert "class='runbook'" not in render_landing_page(with_runbooks(snapshot([bad]), ""))


def test_runbook_anchors_follow_the_alert_rules_and_exist() -> None:
    """A check with an alert of its own links that alert's runbook section, and exactly those
    checks are left out of DeliverabilityCheckFailing, whose section the others link."""
    rules = yaml.safe_load((ROOT / "rules" / "ses-deliverability.rules.yml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    generic = alerts["DeliverabilityCheckFailing"]["expr"]
    excluded = set(re.search(r'check!~"([^"]+)"', generic)[1].split("|"))  # type: ignore[index]
    assert excluded == set(RUNBOOK_ANCHORS)
    for alert in alerts.values():  # the selectors of failing checks name their checks
        anchor = alert["annotations"]["runbook_url"].rsplit("#", 1)[1]
        for selector in re.findall(r"(last_known_fail|status=\"fail\")?\{([^}]*)\}", alert["expr"]):
            fail = selector[0] or 'status="fail"' in selector[1]
            named = re.search(r'check=~?"([^"]+)"', selector[1])
            for name in named[1].split("|") if fail and named else ():
                assert runbook_anchor(name) == anchor, name
    headings = {
        line[3:].strip().lower()
        for line in (ROOT / "docs" / "runbooks.md").read_text().splitlines()
        if line.startswith("## ")
    }
    assert set(RUNBOOK_ANCHORS.values()) | {runbook_anchor("mx")} <= headings
    assert RUNBOOK_BASE_URL.endswith("/docs/runbooks.md")


def test_account_enforcement_is_highlighted_with_its_runbook() -> None:
    snap = dataclasses.replace(
        snapshot([report("d.example")]),
        ses=MappingProxyType({"ses:prod:eu-west-1": account("PROBATION")}),
    )
    page = render_landing_page(snap)
    summary = page.split("<div id='summary'", 1)[1].split("</div>", 1)[0]
    assert summary.startswith(" class='fail'><span class='badge fail'>FAIL</span>")  # critical
    assert "enforcement status <strong>PROBATION</strong>" in summary
    assert "#sesaccountunderreview'>runbook</a>" in summary
    row = page.split("<table id='accounts'", 1)[1].split("</table>", 1)[0]
    assert "<tr class='fail'>" in row
    assert "<span class='badge fail'>PROBATION</span>" in row
    paused = dataclasses.replace(
        snap, ses=MappingProxyType({"ses:prod:eu-west-1": account("SHUTDOWN", sending=False)})
    )
    page = render_landing_page(paused)
    assert "<div id='summary' class='fail'>" in page
    assert "#sesaccountsendingpaused'>runbook</a>" in page
    assert "sending is <strong>disabled</strong>" in page
    healthy = dataclasses.replace(snap, ses=MappingProxyType({"ses:prod:eu-west-1": account()}))
    page = render_landing_page(healthy)
    assert "id='attention'" not in page
    assert "<span class='badge pass'>HEALTHY</span>" in page


def test_last_checked_times_flag_stale_and_failing_collectors_first() -> None:
    health = {
        "dns": CollectorHealth(interval_seconds=300, up=True, last_success=NOW - 120),
        "ses:prod:eu-west-1": CollectorHealth(
            interval_seconds=60, up=True, last_success=NOW - 3600
        ),
        "smtp:relay": CollectorHealth(
            interval_seconds=60, up=False, failures=3, last_error="<script>x</script>"
        ),
    }
    snap = dataclasses.replace(snapshot([report("d.example")]), health=MappingProxyType(health))
    page = render_landing_page(snap, now=NOW)
    table = page.split("<table id='freshness'", 1)[1].split("</table>", 1)[0]
    names = re.findall(r"<td><code>([^<]+)</code>", table)
    assert names == ["smtp:relay", "ses:prod:eu-west-1", "dns"]  # down, stale, fresh
    assert "<span class='badge fail'>DOWN</span>" in table
    assert "<span class='badge warn'>STALE</span>" in table
    assert "2 min ago (2027-01-15 07:58:00 UTC)" in table
    assert "&lt;script&gt;x&lt;/script&gt;" in table
    assert "<script>x" not in page
    summary = page.split("<ul id='attention'>", 1)[1].split("</ul>", 1)[0]
    assert "#deliverabilitycollectordown'>runbook" in summary
    assert "#deliverabilitycollectorstale'>runbook" in summary
    assert "No collector has run yet" in render_landing_page(Snapshot(config=Config()))


def test_event_windows_count_the_last_hour_and_day() -> None:
    clock = [NOW]
    current = [counts({})]
    windows = EventWindows(lambda: current[0], clock=lambda: clock[0])
    # 100 sends in the first two hours, then 5 per minute for an hour.
    current[0] = counts({"send": 100}, {"spf": 10})
    for minute in range(120, 181):
        clock[0] = NOW + minute * 60
        windows.sample()
        current[0] = counts({"send": 100 + 5 * (minute - 119)}, {"spf": 10})
    hour, day = windows.windows(current[0])
    assert (hour.seconds, day.seconds) == (HOUR, DAY)
    assert hour.counts.events == {"send": 305}  # the 61 increments since minute 120
    assert hour.counts.bounces == {"spf": 0}
    assert hour.covered == HOUR
    assert day.counts.events == {"send": 405}  # everything since the start
    assert day.covered == 180 * 60
    page = render_landing_page(
        snapshot([report("d.example")]), current[0], windows=[hour, day], now=clock[0]
    )
    table = page.split("<table id='event-types'>", 1)[1].split("</table>", 1)[0]
    assert "<th>last hour</th><th>last 24 h</th><th>since start</th>" in table
    assert "<tr><td>send</td><td>305</td><td>405</td><td>405</td></tr>" in table
    assert "The exporter started 3.0 h ago: the last 24 h column counts since then." in page


def test_event_windows_keep_a_bounded_ring() -> None:
    clock = [NOW]
    windows = EventWindows(lambda: counts({"send": 1}), clock=lambda: clock[0])
    for minute in range(3 * 24 * 60):
        clock[0] = NOW + minute * 60 + 30
        windows.sample()
        windows.sample()  # at most one sample a minute
    assert len(windows._samples) == 24 * 60 + 2  # noqa: SLF001 - the bound under test
    hour, day = windows.windows(counts({"send": 1}))
    assert hour.covered == HOUR
    assert day.covered == DAY


def test_the_app_serves_event_windows_on_the_page() -> None:
    """make_app with the pipeline's counters: the page has the windowed tables, counted since
    the app was made (the counters start at zero with the process)."""
    snap = snapshot([report("d.example")])
    events = counts({"send": 7, "bounce": 2}, {"recipient_unknown": 2})
    app = make_app(registry_for(snap), lambda: snap, lambda: events)
    status, _, body = call(app, "/")
    page = body.decode()
    assert status == "200 OK"
    assert "<tr><td>send</td><td>7</td><td>7</td><td>7</td></tr>" in page
    table = page.split("<table id='bounce-categories'>", 1)[1].split("</table>", 1)[0]
    assert "<tr><td>recipient_unknown</td><td>2</td><td>2</td><td>2</td></tr>" in table


def test_aws_and_collector_values_are_escaped() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    result = dataclasses.replace(account(hostile), account_id=hostile, region=hostile)
    health = {
        hostile: CollectorHealth(interval_seconds=60, up=False, failures=1, last_error=hostile)
    }
    snap = dataclasses.replace(
        snapshot([report("d.example")]),
        ses=MappingProxyType({"ses:x:y": result}),
        health=MappingProxyType(health),
    )
    events = counts({hostile: 1}, {hostile: 1})
    page = render_landing_page(snap, events, windows=[], now=NOW)
    assert "<img" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 6
