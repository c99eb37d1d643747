"""deliverability_check_unknown_reason: why a check is unknown, so an alert can say whether
the domain's zone (SERVFAIL, REFUSED) or the path to it (timeout, network) is at fault."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.fleet import FLEET, SERIES_PER_DOMAIN, exposition, samples, snapshot

from exporter.exposition import unknown_reason
from exporter.model import CheckResult, Status


@pytest.mark.parametrize(
    ("summary", "reason"),
    [
        ("A/AAAA mail.a.example lookup failed: servfail", "servfail"),
        ("MX a.example lookup failed: refused", "refused"),
        ("DKIM lookup failed: CNAME x._domainkey.a.example: timeout", "timeout"),
        ("SPF lookup failed: network", "network"),
        ("pending", "other"),
        ("feedback routing of a.example is unknown: SES answered AccessDenied", "other"),
    ],
)
def test_reason_is_read_from_the_summary(summary: str, reason: str) -> None:
    assert unknown_reason(summary) == reason


def _with_summary(summary: str) -> list[object]:
    """FLEET with e-unknown.example's unknown check given ``summary``."""
    fleet = []
    for report in FLEET:
        checks = tuple(
            CheckResult(c.check, c.status, summary, c.remedy, c.records)
            if c.status is Status.UNKNOWN
            else c
            for c in report.checks
        )
        fleet.append(dataclasses.replace(report, checks=checks))
    return fleet


def reasons(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (dict(labels)["domain"], dict(labels)["check"], dict(labels)["reason"]): value
        for (name, labels), value in samples(text).items()
        if name == "deliverability_check_unknown_reason"
    }


def test_one_series_per_unknown_check() -> None:
    text = exposition(snapshot(_with_summary("MX mail.e-unknown.example lookup failed: servfail")))
    assert reasons(text) == {("e-unknown.example", "mail_from_mx", "servfail"): 1.0}


def test_exported_for_the_domains_whose_status_series_fit_the_budget() -> None:
    """Only the worst domain (fail) fits: the unknown one's reason is withheld with its status."""
    fleet = _with_summary("lookup failed: timeout")
    assert reasons(exposition(snapshot(fleet, budget=SERIES_PER_DOMAIN))) == {}
    wide = exposition(snapshot(fleet, budget=2 * SERIES_PER_DOMAIN + 1))  # + its reason
    assert reasons(wide) == {("e-unknown.example", "mail_from_mx", "timeout"): 1.0}


def test_no_unknown_check_no_series() -> None:
    text = exposition(snapshot(FLEET[:4]))
    assert reasons(text) == {}
    assert "# TYPE deliverability_check_unknown_reason gauge" in text
