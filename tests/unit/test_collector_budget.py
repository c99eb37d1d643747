"""The series budget as the collector exports it: which domains keep their per-domain check
series, in which order, what is counted as withheld, and the aggregates and compact gauges that
are always exported."""

from __future__ import annotations

from helpers.fleet import (
    CHECKS,
    FAIL,
    FLEET,
    SERIES_PER_DOMAIN,
    UNKNOWN,
    WARN,
    domains_gauge,
    exposition,
    report,
    samples,
    snapshot,
    status_domains,
    withheld,
)

from exporter.checks.ses import IdentityState
from exporter.jobs.ses import SesRegionResult
from exporter.model import Status


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


def test_the_budget_counts_the_unknown_reason_series_too() -> None:
    """A budget that fits two domains' status series exactly does not fit the second once
    its unknown check also exports a reason: every per-domain series is within the budget."""
    fleet = [
        report("a-unknown.example", {"dkim": UNKNOWN}),
        report("b-unknown.example", {"dkim": UNKNOWN}),
    ]
    text = exposition(snapshot(fleet, budget=2 * SERIES_PER_DOMAIN))
    assert status_domains(text) == ["a-unknown.example"]
    per_domain = [
        k
        for k in samples(text)
        if k[0] in ("deliverability_check_status", "deliverability_check_unknown_reason")
    ]
    assert len(per_domain) <= 2 * SERIES_PER_DOMAIN
    assert withheld(text)["unknown"] == SERIES_PER_DOMAIN
