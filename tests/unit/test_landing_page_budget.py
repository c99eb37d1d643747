"""The landing page (exporter/web.py) of a large fleet: paginated worst first, the aggregates
on top, one domain found by name, the series budget stated."""

from __future__ import annotations

from dataclasses import replace

from helpers.fleet import FAIL, SERIES_PER_DOMAIN, WARN, call, registry_for, report, snapshot

from exporter.config import Config, DomainConfig
from exporter.model import CheckResult, DomainReport, RecordAction, RecordChange
from exporter.store import Snapshot
from exporter.web import PAGE_SIZE, make_app, render_landing_page


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
    assert (
        "<span class='n-fail'>25 failing</span>, 0 unknown, "
        "<span class='n-warn'>25 warning</span>, <span class='n-pass'>200 passing</span>"
    ) in first
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
    dkim = (
        "<tr><td><code>dkim</code></td><td class='n-fail'>25</td><td>0</td><td>0</td><td>225</td>"
    )
    dmarc = "<tr><td><code>dmarc</code></td><td>0</td><td>0</td><td class='n-warn'>25</td>"
    assert dkim in table
    assert dmarc in table
    assert table.index(dkim) < table.index(dmarc) < table.index("<code>mx</code>")  # worst first
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


def test_each_remedy_record_is_its_own_copyable_line() -> None:
    """A remedy's records are separate elements, each a full zone-file line (never two
    DKIM CNAMEs joined with ';'), and their text is escaped like every DNS value."""
    records = [
        RecordChange(RecordAction.REPLACE, f"t{i}._domainkey.d.example", "CNAME", f"t{i}.x.")
        for i in range(3)
    ]
    records.append(RecordChange(RecordAction.ADD, "d.example", "TXT", '"<b>v=spf1 ~all</b>"'))
    base = report("d.example", {"dkim": FAIL})
    checks = tuple(
        CheckResult(c.check, c.status, c.summary, "publish these", tuple(records))
        if c.check == "dkim"
        else c
        for c in base.checks
    )
    page = render_landing_page(snapshot([replace(base, checks=checks)]))
    lines = [part.split("</code>", 1)[0] for part in page.split("<div class='record'><code>")[1:]]
    assert lines[:3] == [f"t{i}._domainkey.d.example. 3600 IN CNAME t{i}.x." for i in range(3)]
    assert lines[3] == "d.example. 3600 IN TXT &quot;&lt;b&gt;v=spf1 ~all&lt;/b&gt;&quot;"
