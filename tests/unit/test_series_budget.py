"""The series budget: which domains keep their per-domain check series, in which order, what
is counted as withheld, the aggregates that are always exported, the pre-rendered exposition
(byte for byte what prometheus_client writes, and promtool-clean), the paginated landing page,
and the background warmer."""

from __future__ import annotations

import dataclasses
import gzip
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from exporter.checks.ses import IdentityState
from exporter.collector import ExporterCollector
from exporter.config import Config, ConfigError, DomainConfig, MetricsConfig, parse_config
from exporter.exposition import domain_table
from exporter.jobs.dns import DnsCycleResult
from exporter.jobs.ses import SesRegionResult
from exporter.model import CheckResult, DomainReport, Status
from exporter.sources.dns import DnsQueryStats
from exporter.store import CollectorHealth, Snapshot
from exporter.web import PAGE_SIZE, HttpServer, make_app, render_landing_page, render_metrics

PASS, WARN, FAIL, UNKNOWN = Status.PASS, Status.WARN, Status.FAIL, Status.UNKNOWN
CHECKS = (
    "mx",
    "spf",
    "dkim",
    "dmarc",
    "dmarc_reports",
    "mail_from_resolvable",
    "mail_from_mx",
    "mail_from_spf",
)
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
Labels = tuple[tuple[str, str], ...]


def report(name: str, bad: dict[str, Status] | None = None, checks: Sequence[str] = CHECKS):
    """A domain whose checks pass except those in ``bad``."""
    bad = bad or {}
    results = tuple(
        CheckResult(check, bad.get(check, PASS), f"{check} of {name}", "remedy") for check in checks
    )
    return DomainReport(
        name,
        results,
        mail_from=f"mail.{name}",
        mail_from_resolvable=bad.get("mail_from_resolvable") is not FAIL,
        dmarc_policy_level=0 if bad.get("dmarc") is WARN else 2,
        spf_dns_lookups=3,
    )


def snapshot(
    reports: Iterable[DomainReport],
    *,
    budget: int = 0,
    watch: Sequence[str] = (),
    labels: dict[str, Labels] | None = None,
    ses: dict[str, SesRegionResult] | None = None,
) -> Snapshot:
    reports = tuple(reports)
    labels = labels or {}
    config = Config(
        domains=tuple(
            DomainConfig(
                name=r.domain,
                mail_from=r.mail_from,
                region="us-east-1",
                labels=labels.get(r.domain, ()),
            )
            for r in reports
        ),
        metrics=MetricsConfig(series_budget=budget, watch_domains=tuple(watch)),
    )
    return Snapshot(
        config=config,
        dns=DnsCycleResult(reports, 0.0, 1.0, 1, 1),
        ses=MappingProxyType(ses or {}),
    )


def registry_for(snap: Snapshot) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(lambda: snap, DnsQueryStats()))
    return registry


def exposition(snap: Snapshot) -> str:
    body, _ = render_metrics(registry_for(snap))
    return body.decode()


def samples(text: str) -> dict[tuple[str, Labels], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def status_domains(text: str) -> list[str]:
    """Domains with deliverability_check_status series, in the order they are exported."""
    seen: dict[str, None] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "deliverability_check_status":
            for sample in family.samples:
                seen.setdefault(sample.labels["domain"], None)
    return list(seen)


def withheld(text: str) -> dict[str, float]:
    return {
        dict(labels)["worst_status"]: value
        for (name, labels), value in samples(text).items()
        if name == "deliverability_check_status_withheld_series"
    }


def domains_gauge(text: str) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["check"], dict(labels)["status"]): value
        for (name, labels), value in samples(text).items()
        if name == "deliverability_domains"
    }


# A fleet: two passing domains, one of each other worst status, a passing watched one.
FLEET = [
    report("a-pass.example"),
    report("b-pass.example"),
    report("c-fail.example", {"mail_from_resolvable": FAIL, "dmarc": WARN}),
    report("d-warn.example", {"dmarc": WARN, "dmarc_reports": WARN}),
    report("e-unknown.example", {"mail_from_mx": UNKNOWN}),
    report("z-watched.example"),
]
SERIES_PER_DOMAIN = 4 * len(CHECKS)


# --- configuration --------------------------------------------------------------------------


def test_metrics_config_defaults_to_no_budget() -> None:
    """Without [metrics] every domain x check x status is exported, as before."""
    assert parse_config({}).metrics == MetricsConfig(series_budget=0, watch_domains=())


def test_metrics_config_normalises_the_watch_list() -> None:
    config = parse_config(
        {
            "metrics": {
                "series_budget": 200000,
                "watch_domains": ["Shop.Example.", "bücher.example", "shop.example"],
            }
        }
    )
    assert config.metrics.series_budget == 200000
    assert config.metrics.watch_domains == ("shop.example", "xn--bcher-kva.example")


def test_metrics_config_reports_every_problem() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(
            {"metrics": {"series_budget": -1, "watch_domains": ["ok.example", "nodot"], "x": 1}}
        )
    problems = "\n".join(error.value.problems)
    assert "metrics.series_budget: must be between 0 and" in problems
    assert "metrics.watch_domains[1]: 'nodot'" in problems
    assert "metrics.x: unknown key" in problems
    with pytest.raises(ConfigError, match=r"metrics\.series_budget: must be a whole number"):
        parse_config({"metrics": {"series_budget": 1.5}})


# --- which series -----------------------------------------------------------------------------


def test_without_a_budget_every_domain_check_and_status_is_exported() -> None:
    text = exposition(snapshot(FLEET))
    values = samples(text)
    status = [k for k in values if k[0] == "deliverability_check_status"]
    assert len(status) == len(FLEET) * SERIES_PER_DOMAIN
    assert status_domains(text) == [r.domain for r in FLEET]  # the report order, as before
    assert withheld(text) == {"pass": 0, "warn": 0, "fail": 0, "unknown": 0}


def test_budget_keeps_watch_list_and_domains_not_passing() -> None:
    """Passing domains lose their check series unless watched; every check of a kept domain
    keeps all four status series, exactly one of them 1."""
    text = exposition(snapshot(FLEET, budget=1000, watch=["z-watched.example"]))
    assert status_domains(text) == [
        "z-watched.example",  # the watch-list first
        "c-fail.example",  # then fail, unknown, warn
        "e-unknown.example",
        "d-warn.example",
    ]
    values = samples(text)
    for domain in status_domains(text):
        for check in CHECKS:
            per_status = {
                dict(labels)["status"]: value
                for (name, labels), value in values.items()
                if name == "deliverability_check_status"
                and dict(labels)["domain"] == domain
                and dict(labels)["check"] == check
            }
            assert sorted(per_status) == ["fail", "pass", "unknown", "warn"]
            assert sorted(per_status.values()) == [0, 0, 0, 1]
    key = (("check", "mail_from_resolvable"), ("domain", "c-fail.example"), ("status", "fail"))
    assert values[("deliverability_check_status", key)] == 1
    assert withheld(text) == {"pass": 2 * SERIES_PER_DOMAIN, "warn": 0, "fail": 0, "unknown": 0}


def test_budget_order_is_sorted_within_each_priority() -> None:
    fleet = [
        report("m-warn.example", {"dmarc": WARN}),
        report("b-fail.example", {"dkim": FAIL}),
        report("a-warn.example", {"dmarc": WARN}),
        report("z-fail.example", {"spf": FAIL}),
        report("k-unknown.example", {"mx": UNKNOWN}),
        report("y-watched.example", {"dkim": FAIL}),  # watched: first, whatever its status
        report("x-watched.example"),
    ]
    text = exposition(
        snapshot(fleet, budget=10**6, watch=["y-watched.example", "x-watched.example"])
    )
    assert status_domains(text) == [
        "x-watched.example",
        "y-watched.example",
        "b-fail.example",
        "z-fail.example",
        "k-unknown.example",
        "a-warn.example",
        "m-warn.example",
    ]


def test_the_first_domain_that_does_not_fit_ends_the_list() -> None:
    """Strict priority: a smaller warn domain that would still fit is not exported once an
    unknown domain did not fit; the withheld series are counted by worst status."""
    fleet = [
        report("w.example"),
        report("f1.example", {"mx": FAIL}),
        report("f2.example", {"spf": FAIL}),
        report("u.example", {"dkim": UNKNOWN}),
        report("x-warn.example", {"dmarc": WARN}, checks=CHECKS[:4]),  # 16 series
        report("p.example"),
    ]
    budget = 3 * SERIES_PER_DOMAIN + 20  # room for w, f1, f2 and 20 more series
    text = exposition(snapshot(fleet, budget=budget, watch=["w.example"]))
    assert status_domains(text) == ["w.example", "f1.example", "f2.example"]
    assert withheld(text) == {
        "pass": SERIES_PER_DOMAIN,  # p.example
        "warn": 16,
        "fail": 0,
        "unknown": SERIES_PER_DOMAIN,
    }
    exported = sum(1 for k in samples(text) if k[0] == "deliverability_check_status")
    assert exported == 3 * SERIES_PER_DOMAIN <= budget
    total = sum(4 * len(r.checks) for r in fleet)
    assert exported + sum(withheld(text).values()) == total


def test_a_budget_smaller_than_the_watch_list_cuts_the_watch_list_too() -> None:
    text = exposition(
        snapshot(FLEET, budget=SERIES_PER_DOMAIN + 1, watch=["z-watched.example", "b-pass.example"])
    )
    assert status_domains(text) == ["b-pass.example"]  # sorted: b before z; z does not fit


def test_watch_list_names_that_are_not_monitored_are_ignored() -> None:
    text = exposition(snapshot(FLEET[:2], budget=1000, watch=["elsewhere.example"]))
    assert status_domains(text) == []
    assert withheld(text)["pass"] == 2 * SERIES_PER_DOMAIN


def test_aggregates_count_every_domain_and_are_zero_initialised() -> None:
    """deliverability_domains: every check seen x every status, the same in both modes."""
    off = domains_gauge(exposition(snapshot(FLEET)))
    budget = domains_gauge(exposition(snapshot(FLEET, budget=SERIES_PER_DOMAIN)))
    assert off == budget
    assert set(off) == {(c, s.value) for c in CHECKS for s in Status}
    assert off[("mx", "pass")] == len(FLEET)
    assert off[("mx", "fail")] == 0  # zero-initialised
    assert off[("dmarc", "warn")] == 2
    assert off[("mail_from_resolvable", "fail")] == 1
    assert off[("mail_from_mx", "unknown")] == 1
    for check in CHECKS:
        assert sum(v for (c, _), v in off.items() if c == check) == len(FLEET)


def test_aggregates_include_ses_verdicts_of_discovered_identities() -> None:
    identity = IdentityState(identity='odd"name.example', region="us-east-1")
    ses = {
        "ses:prod:us-east-1": SesRegionResult(
            account_name="prod", account_id="1", region="us-east-1", identities=(identity,)
        )
    }
    text = exposition(snapshot(FLEET[:1], budget=1000, ses=ses))
    counts = domains_gauge(text)
    assert counts[("ses_identity_verified", "fail")] == 1  # verification status unknown to SES
    assert counts[("ses_identity_verified", "pass")] == 0
    assert 'domain="odd\\"name.example"' in text  # a name not from the config is escaped
    assert status_domains(text) == ['odd"name.example']


def test_compact_gauges_stay_per_domain_in_budget_mode() -> None:
    """The DMARC, SPF and MAIL FROM gauges and the info metric (what the DMARC-weakened and
    MAIL FROM alerts and owner routing need) keep one series per domain."""
    values = samples(exposition(snapshot(FLEET, budget=SERIES_PER_DOMAIN)))
    for name in (
        "deliverability_dmarc_policy_level",
        "deliverability_spf_dns_lookups",
        "deliverability_mail_from_resolvable",
        "deliverability_domain_info",
    ):
        domains = {dict(labels)["domain"] for n, labels in values if n == name}
        assert domains == {r.domain for r in FLEET}, name
    key = (("domain", "d-warn.example"),)
    assert values[("deliverability_dmarc_policy_level", key)] == 0


# --- the exposition itself ----------------------------------------------------------------------

ODD_OWNERS = {
    "a-pass.example": (("team", 'pay"ments\\eu'), ("tier", "1")),
    "c-fail.example": (("team", "line\nbreak"),),
}


@pytest.mark.parametrize("budget", [0, 2 * SERIES_PER_DOMAIN], ids=["off", "budget"])
def test_fast_path_is_byte_identical_to_the_client_library(budget: int) -> None:
    """render_metrics writes exactly what generate_latest (text) and the OpenMetrics encoder
    write from the families' samples, owner label values that need escaping included."""
    registry = registry_for(
        snapshot(FLEET, budget=budget, watch=["a-pass.example"], labels=ODD_OWNERS)
    )
    text, content_type = render_metrics(registry)
    assert text == generate_latest(registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    openmetrics, content_type = render_metrics(registry, PROMETHEUS_ACCEPT)
    assert openmetrics == generate_openmetrics(registry)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    utf8, _ = render_metrics(registry, "text/plain;version=1.0.0;escaping=allow-utf-8")
    assert utf8 == generate_latest(registry, escaping="allow-utf-8")
    dots, _ = render_metrics(registry, "text/plain;version=1.0.0;escaping=dots")
    assert dots == generate_latest(registry, escaping="dots")  # the library's path
    assert b'team="pay\\"ments\\\\eu"' in text
    assert b'team="line\\nbreak"' in text


@pytest.mark.parametrize("budget", [0, 2 * SERIES_PER_DOMAIN], ids=["off", "budget"])
def test_promtool_check_metrics(budget: int) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run the README's test command")
    text = exposition(snapshot(FLEET, budget=budget, labels=ODD_OWNERS))
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_no_domains_yet() -> None:
    """Before the first cycle: empty families, the withheld gauge zero-initialised."""
    snap = Snapshot(config=Config(metrics=MetricsConfig(series_budget=10)))
    text = exposition(snap)
    assert text == generate_latest(registry_for(snap)).decode()
    assert withheld(text) == {"pass": 0, "warn": 0, "fail": 0, "unknown": 0}
    assert domains_gauge(text) == {}


def test_per_domain_work_is_cached_per_config_dns_and_ses() -> None:
    """Health and SMTP updates reuse the table; a new DNS cycle, SES result or config does not."""
    snap = snapshot(FLEET)
    table = domain_table(snap)
    health = MappingProxyType({"dns": CollectorHealth(interval_seconds=60.0, up=True)})
    assert domain_table(dataclasses.replace(snap, health=health)) is table
    assert table.exposition() is table.exposition()
    assert (
        domain_table(dataclasses.replace(snap, dns=DnsCycleResult(tuple(FLEET), 0, 1, 1, 1)))
        is not table
    )
    new_config = dataclasses.replace(snap.config)
    assert domain_table(dataclasses.replace(snap, config=new_config)) is not table


def test_ses_polls_between_discoveries_reuse_the_table() -> None:
    """An SES poll publishes a new result but keeps the identities tuple until the next
    discovery: the verdicts are the same, so is the table."""
    identities = (IdentityState(identity="a-pass.example", region="us-east-1"),)
    result = SesRegionResult(
        account_name="prod", account_id="1", region="us-east-1", identities=identities
    )
    snap = snapshot(FLEET, ses={result.key: result})
    table = domain_table(snap)
    polled = dataclasses.replace(result, bounce_ratio=0.01)
    assert (
        domain_table(dataclasses.replace(snap, ses=MappingProxyType({result.key: polled}))) is table
    )
    rediscovered = dataclasses.replace(result, identities=tuple(iter(identities)))
    assert rediscovered.identities is not identities
    assert (
        domain_table(dataclasses.replace(snap, ses=MappingProxyType({result.key: rediscovered})))
        is not table
    )
    other = {
        result.key: result,
        "ses:prod:eu-west-1": dataclasses.replace(result, region="eu-west-1"),
    }
    assert domain_table(dataclasses.replace(snap, ses=MappingProxyType(other))) is not table


def test_a_removed_domain_vanishes_in_both_modes() -> None:
    """A reload that drops a domain drops its series at the next scrape (before the next cycle)."""
    for budget in (0, 1000):
        snap = snapshot(FLEET, budget=budget)
        kept = tuple(d for d in snap.config.domains if d.name != "c-fail.example")
        text = exposition(
            dataclasses.replace(snap, config=dataclasses.replace(snap.config, domains=kept))
        )
        assert "c-fail.example" not in text
        assert domains_gauge(text)[("mail_from_resolvable", "fail")] == 0


# --- /metrics over WSGI -------------------------------------------------------------------------


def call(
    app: Any, path: str, method: str = "GET", **headers: str
) -> tuple[str, dict[str, str], bytes]:
    path, _, query = path.partition("?")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, **headers}
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        answer.update(status=status, headers=dict(response_headers))

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def test_metrics_endpoint_negotiates_like_the_client_library() -> None:
    snap = snapshot(FLEET, budget=1000)
    registry = registry_for(snap)
    app = make_app(registry, lambda: snap)
    status, headers, body = call(
        app, "/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT, HTTP_ACCEPT_ENCODING="gzip"
    )
    assert status == "200 OK"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert gzip.decompress(body) == generate_openmetrics(registry)
    _, headers, body = call(app, "/metrics")
    assert "Content-Encoding" not in headers
    assert body == generate_latest(registry)
    query = "/metrics?name[]=deliverability_dmarc_policy_level"
    assert call(app, query) == call(make_wsgi_app(registry), query)  # name[] filters as before
    assert call(app, "/metrics", "POST")[0].startswith("405")
    assert call(app, "/metrics", "OPTIONS")[0] == "200 OK"


def test_the_http_server_runs_the_warmer() -> None:
    """Started with the server, the warmer builds a newly published snapshot's table and
    exposition before any scrape asks; stopped with it."""
    current = [snapshot(FLEET, budget=1000)]
    app = make_app(registry_for(current[0]), lambda: current[0])
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    try:
        current[0] = snapshot(FLEET[:3], budget=1000)
        deadline = time.monotonic() + 10
        while domain_table(current[0])._exposition is None:  # noqa: SLF001 - what the warmer fills
            assert time.monotonic() < deadline, "the warmer did not build the new snapshot"
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            assert b'domain="c-fail.example"' in r.read()
    finally:
        server.shutdown()
    assert not app.warmer._thread.is_alive()  # noqa: SLF001 - stopped with the server


# --- the landing page ---------------------------------------------------------------------------


def big_fleet(n: int) -> list[DomainReport]:
    """n domains; every 10th fails, every 10th (offset 5) warns."""
    fleet = []
    for i in range(n):
        bad = {"dkim": FAIL} if i % 10 == 0 else {"dmarc": WARN} if i % 10 == 5 else {}
        fleet.append(report(f"d{i:04d}.example", bad))
    return fleet


def domains_on(page: str) -> list[str]:
    return [part.split("'", 1)[0] for part in page.split("<h2 id='")[1:]]


def test_landing_page_is_paginated_worst_first() -> None:
    fleet = big_fleet(250)
    snap = snapshot(fleet)
    first = render_landing_page(snap)
    on_first = domains_on(first)
    assert len(on_first) == PAGE_SIZE == 100
    assert on_first[:25] == [f"d{i:04d}.example" for i in range(0, 250, 10)]  # 25 failing
    assert on_first[25:50] == [f"d{i:04d}.example" for i in range(5, 250, 10)]  # 25 warning
    assert "250 domain(s) checked, <strong>25 with a failing check</strong>" in first
    assert "25 failing, 0 unknown, 25 warning, 200 passing" in first
    assert "Domains 1-100 of 250, worst first · page 1 of 3" in first
    assert "href='/?page=2'>next" in first
    assert "previous" not in first
    last = render_landing_page(snap, page=3)
    assert len(domains_on(last)) == 50
    assert "Domains 201-250 of 250" in last
    assert "href='/?page=2'>previous" in last
    assert "next" not in last
    assert domains_on(render_landing_page(snap, page=99)) == domains_on(last)  # clamped
    assert domains_on(render_landing_page(snap, page=0)) == on_first
    every = [d for p in (1, 2, 3) for d in domains_on(render_landing_page(snap, page=p))]
    assert sorted(every) == sorted(r.domain for r in fleet)


def test_landing_page_shows_the_aggregates_on_top() -> None:
    page = render_landing_page(snapshot(big_fleet(250)))
    table = page.split("<table id='check-counts'>", 1)[1].split("</table>", 1)[0]
    assert "<th>check</th><th>fail</th><th>unknown</th><th>warn</th><th>pass</th>" in table
    assert "<tr><td><code>dkim</code></td><td>25</td><td>0</td><td>0</td><td>225</td></tr>" in table
    assert page.index("id='check-counts'") < page.index("<h2 id=")


def test_landing_page_finds_one_domain() -> None:
    snap = snapshot(big_fleet(250))
    page = render_landing_page(snap, find="D0123.Example.")
    assert domains_on(page) == ["d0123.example"]
    assert "<a href='/'>All domains</a>" in page
    missing = render_landing_page(snap, find="nope.example")
    assert domains_on(missing) == []
    assert "nope.example is not a monitored domain" in missing


def test_landing_page_over_wsgi_reads_page_and_domain() -> None:
    snap = snapshot(big_fleet(250))
    app = make_app(registry_for(snap), lambda: snap)
    _, _, body = call(app, "/", QUERY_STRING="")
    assert len(domains_on(body.decode())) == 100
    for query, expected in (("page=3", 50), ("page=x", 100), ("domain=d0001.example", 1)):
        _, _, body = call(app, f"/?{query}")
        assert len(domains_on(body.decode())) == expected, query


def test_landing_page_states_the_budget() -> None:
    fleet = big_fleet(250)
    page = render_landing_page(snapshot(fleet, budget=10 * SERIES_PER_DOMAIN))
    assert "Series budget 320: check series of 10 domain(s) exported" in page
    assert "series of domains that are not passing are withheld" in page
    roomy = render_landing_page(snapshot(fleet, budget=10**6))
    assert "check series of 50 domain(s) exported, 6400 withheld." in roomy
    assert "not passing are withheld" not in roomy
    assert "Series budget" not in render_landing_page(snapshot(fleet))


def test_landing_page_caps_the_list_of_domains_not_checked_yet() -> None:
    config = Config(domains=tuple(DomainConfig(name=f"p{i:04d}.example") for i in range(250)))
    page = render_landing_page(Snapshot(config=config))
    assert "Not checked yet: p0000.example, p0001.example" in page
    assert "p0099.example and 150 more" in page
    assert "p0100.example" not in page
