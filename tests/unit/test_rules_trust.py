"""Alerts a sender can trust, proven with promtool on the shipped rules:

- `unknown` is not silence: a failing check that turns unknown keeps paging, a pass resolves
  it, a check unknown for hours warns with the reason;
- rates over windows that fit the volume: a small sender's bad complaint or bounce rate
  alerts, a short burst at low volume does not page;
- a recipient domain that rejects everything is visible, without a false 100% for a sender
  that routes only bounces and complaints;
- routing: the owner label joins every per-domain alert, and domains without one still alert.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers.promtool_rules import ROOT, job_only, load_rules, run_promtool, s

STATUS = "deliverability_check_status"
REASON = "deliverability_check_unknown_reason"
SENT = "deliverability_ses_sent_recipients_total"
DELIVERED = "deliverability_ses_delivered_recipients_total"
BOUNCED = "deliverability_ses_bounced_recipients_total"
COMPLAINED = "deliverability_ses_complained_recipients_total"
RCPT = {
    "recipient_domain": "gmail.com",
    "recipient_provider": "google",
    "sending_domain": "a.example",
}
PERM = {
    "bounce_type": "Permanent",
    "bounce_subtype": "General",
    "status_class": "5xx",
    "category": "recipient_unknown",
}
DKIM = {"domain": "a.example", "check": "dkim"}


def statuses(check: str, domain: str = "a.example", **values: str) -> list[dict[str, str]]:
    """The four status series of one check; ``values`` per status, the rest 0 throughout."""
    length = max(_length(v) for v in values.values())
    return [
        s(STATUS, values.get(status, f"0x{length}"), domain=domain, check=check, status=status)
        for status in ("pass", "warn", "fail", "unknown")
    ]


def _length(values: str) -> int:
    return sum(int(token.rpartition("x")[2]) + 1 for token in values.split()) - 1


def promtool_test(
    name: str, series: list[dict[str, str]], *checks: tuple[str, str, list[Any]]
) -> dict[str, Any]:
    return {
        "name": name,
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": at, "alertname": alert, "exp_alerts": [{"exp_labels": x} for x in exp]}
            for alert, at, exp in checks
        ],
    }


DKIM_FAILING = job_only(**DKIM, status="fail", severity="critical")
MAIL_FROM = {"domain": "a.example", "mail_from_domain": "mail.a.example"}
MAIL_FROM_FAILING = job_only(**MAIL_FROM, severity="critical")

UNKNOWN_TESTS = [
    promtool_test(
        "fail -> unknown keeps firing",
        statuses("dkim", fail="1x20 0x60", unknown="0x20 1x60"),
        ("DeliverabilityDkimBroken", "15m", [DKIM_FAILING]),
        ("DeliverabilityDkimBroken", "75m", [DKIM_FAILING]),
        # The failure is known: no second, vaguer warning for the same check.
        ("DeliverabilityCheckUnverifiable", "75m", []),
    ),
    promtool_test(
        "fail -> unknown -> pass resolves",
        statuses("dkim", fail="1x20 0x40", unknown="0x20 1x10 0x30", **{"pass": "0x30 1x30"}),
        ("DeliverabilityDkimBroken", "25m", [DKIM_FAILING]),
        ("DeliverabilityDkimBroken", "45m", []),
    ),
    promtool_test(
        "fail -> pass -> unknown stays quiet (the last known verdict is the pass)",
        statuses("dkim", fail="1x20 0x40", **{"pass": "0x20 1x5 0x35"}, unknown="0x25 1x35"),
        ("DeliverabilityDkimBroken", "15m", [DKIM_FAILING]),
        ("DeliverabilityDkimBroken", "50m", []),
    ),
    promtool_test(
        # The MAIL FROM gauge is absent while DNS cannot tell (its zone answers SERVFAIL).
        "MAIL FROM unresolvable -> SERVFAIL keeps paging, then resolves",
        [
            s("deliverability_mail_from_resolvable", "0x20 _x30 1x20", **MAIL_FROM),
            *statuses(
                "mail_from_resolvable",
                fail="1x20 0x50",
                unknown="0x20 1x30 0x20",
                **{"pass": "0x50 1x20"},
            ),
            s(
                REASON,
                "_x20 1x30",
                domain="a.example",
                check="mail_from_resolvable",
                reason="servfail",
            ),
        ],
        ("DeliverabilityMailFromUnresolvable", "15m", [MAIL_FROM_FAILING]),
        ("DeliverabilityMailFromUnresolvable", "45m", [MAIL_FROM_FAILING]),
        # Already paging for this domain: the zone alert stays out of the way.
        ("DeliverabilityMailFromZoneBroken", "45m", []),
        ("DeliverabilityMailFromUnresolvable", "65m", []),
    ),
    promtool_test(
        "unknown for 6 hours warns with the reason",
        [
            *statuses("dkim", unknown="1x400"),
            s(REASON, "1x400", **DKIM, reason="servfail"),
        ],
        ("DeliverabilityCheckUnverifiable", "20m", []),
        (
            "DeliverabilityCheckUnverifiable",
            "360m",
            [job_only(**DKIM, reason="servfail", severity="warning")],
        ),
        ("DeliverabilityDkimBroken", "360m", []),
    ),
]

REJECTING = {**RCPT, "recipient_domain": "corp.example", "recipient_provider": "other"}
FIVE_XX_TESTS = [
    promtool_test(
        # Deliveries are published (to gmail.com); corp.example rejects everything and has
        # no delivery series at all: zero deliveries, 100% 5xx.
        "a recipient domain that rejects everything fires",
        [
            s(DELIVERED, "0+100x120", **RCPT),
            s(BOUNCED, "0+3x120", **REJECTING, **PERM),
        ],
        (
            "DeliverabilityRecipientDomain5xxSpike",
            "100m",
            [job_only(recipient_domain="corp.example", severity="warning")],
        ),
    ),
    promtool_test(
        # Identity notifications by default route bounces and complaints only: no denominator.
        "a bounce-only sender gets no false 100%",
        [s(BOUNCED, "0+3x120", **REJECTING, **PERM)],
        ("DeliverabilityRecipientDomain5xxSpike", "100m", []),
    ),
    promtool_test(
        "too few recipients to judge stay quiet",
        [s(DELIVERED, "0+100x120", **RCPT), s(BOUNCED, "0+0.5x120", **REJECTING, **PERM)],
        ("DeliverabilityRecipientDomain5xxSpike", "100m", []),
    ),
]

INFO = "deliverability_domain_info"
ROUTING_TESTS = [
    promtool_test(
        "owner labels join per-domain alerts; a domain without info still alerts",
        [
            *statuses("dkim", fail="1x40"),
            *statuses("dkim", domain="b.example", fail="1x40"),
            s(
                INFO,
                "1x40",
                domain="a.example",
                mail_from_domain="",
                aws_region="",
                team="payments",
            ),
            # Its team changes: two info series for a while must not break the join (the alert
            # keeps one of them; which one is Prometheus's choice), then the new one is left (a
            # changed owner label is a new alert, whose `for:` starts again).
            s(INFO, "1x15", domain="c.example", mail_from_domain="", aws_region="", team="old"),
            s(
                INFO,
                "_x10 1x30",
                domain="c.example",
                mail_from_domain="",
                aws_region="",
                team="new",
            ),
            *statuses("dkim", domain="c.example", fail="1x40"),
        ],
        (
            "DeliverabilityDkimBroken",
            "35m",
            [
                {**DKIM_FAILING, "team": "payments"},
                {**DKIM_FAILING, "domain": "b.example"},
                {**DKIM_FAILING, "domain": "c.example", "team": "new"},
            ],
        ),
    ),
    promtool_test(
        "an address identity's domain is the domain",
        [
            s(
                "deliverability_ses_feedback_routed",
                "0x90",
                identity="alerts@a.example",
                feedback_type="bounce",
                path="email_only",
                aws_account_id="123456789012",
                aws_region="us-east-1",
            ),
            s(
                INFO,
                "1x90",
                domain="a.example",
                mail_from_domain="",
                aws_region="",
                team="payments",
            ),
        ],
        (
            "SESFeedbackNotRouted",
            "70m",
            [
                job_only(
                    identity="alerts@a.example",
                    domain="a.example",
                    team="payments",
                    feedback_type="bounce",
                    path="email_only",
                    aws_account_id="123456789012",
                    aws_region="us-east-1",
                    severity="warning",
                )
            ],
        ),
    ),
]


def long_test(
    name: str, series: list[dict[str, str]], *checks: tuple[str, str, list[Any]]
) -> dict[str, Any]:
    """Days of data at 10-minute steps (rules evaluated every 10 minutes: cheaper, same windows)."""
    return {**promtool_test(name, series, *checks), "interval": "10m"}


STEPS = 6 * 24 * 4  # four days at 10 minutes
RATE_TESTS = [
    long_test(
        # 12,000 recipients a day (500 an hour: below the hourly guard of 1,000), 0.3% complaints.
        "12k a day at 0.3% complaints alerts and pages",
        [
            s(SENT, f"0+83.4x{STEPS}", **RCPT),
            s(COMPLAINED, f"0+0.25x{STEPS}", **RCPT, feedback_type="abuse"),
        ],
        ("SESComplaintRateHigh", "20h", []),  # a day's window needs a day of data
        ("SESComplaintRateHigh", "30h", [job_only(severity="warning")]),
        ("SESComplaintRateCritical", "30h", [job_only(severity="critical")]),
    ),
    long_test(
        # 120 recipients an hour for two days; one hour with 10% bounces.
        "10% bounces at 120 an hour for one hour does not page",
        [
            s(SENT, "0+20x300", **RCPT),
            s(BOUNCED, "0x288 0+2x6 12x5", **RCPT, **PERM),
        ],
        ("SESBounceRateCritical", "49h", []),
        ("SESBounceRateHigh", "49h", []),
    ),
    long_test(
        # 12 recipients an hour, 3% hard bounces, for days: too little for an hour or a day.
        "3% bounces sustained for days at low volume warns",
        [
            s(SENT, f"0+2x{STEPS}", **RCPT),
            s(BOUNCED, f"0+0.06x{STEPS}", **RCPT, **PERM),
        ],
        ("SESBounceRateHigh", "60h", []),  # the week's window needs 3 days of data
        ("SESBounceRateHigh", "90h", [job_only(severity="warning")]),
        ("SESBounceRateCritical", "90h", []),
    ),
]


@pytest.fixture(name="promtool", scope="module")
def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run the README's test command")
    return path


@pytest.mark.parametrize(
    "tests",
    [UNKNOWN_TESTS, FIVE_XX_TESTS, ROUTING_TESTS],
    ids=["unknown is not silence", "rejecting recipient domain", "routing"],
)
def test_promtool(promtool: str, tmp_path: Path, tests: list[dict[str, Any]]) -> None:
    run_promtool(promtool, tmp_path, tests)


def test_rates_over_windows_that_fit_the_volume(promtool: str, tmp_path: Path) -> None:
    run_promtool(promtool, tmp_path, RATE_TESTS, evaluation_interval="10m")


def test_the_severity_rule_is_written_down_and_applied() -> None:
    """docs/runbooks.md lists the critical alerts by reason; the rules agree, alert by alert."""
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    (row,) = [line for line in runbooks.splitlines() if line.startswith("| `Deliverability")]
    lost_now, enforcement, _ = row.strip("|").split("|")
    listed = set(re.findall(r"`(\w+)`", lost_now + enforcement))
    rules = [r for g in load_rules()["groups"] for r in g["rules"] if "alert" in r]
    assert listed == {r["alert"] for r in rules if r["labels"]["severity"] == "critical"}
    assert {r["labels"]["severity"] for r in rules} == {"critical", "warning"}
    # One stray event trips nothing: every alert waits.
    assert all(r.get("for", "0m") not in {"0m", "0s"} for r in rules)
