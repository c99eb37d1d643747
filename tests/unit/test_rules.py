"""The shipped alert and recording rules, proven with promtool: each alert fires where it
should and stays quiet where it must not.

Every case runs again with its series spread over two pods (SHARDED_CASES: the Helm chart's
sharding) and must give the same alerts; SCALED_OUT_CASES pin what only several pods show.
The cases are a table here; the test writes promtool's unit-test file from it and runs
`promtool test rules` against a copy of the rules whose annotations are dropped (promtool
compares annotations verbatim, and the expressions and `for:` are what the table pins).
The annotations themselves are checked statically below, and one case renders them for real.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.promtool_rules import (
    JOB,
    ROOT,
    RULES,
    Case,
    case_tests,
    job_only,
    load_rules,
    run_promtool,
    s,
    with_job,
)

RUNBOOKS = ROOT / "docs" / "runbooks.md"


STATUS = "deliverability_check_status"
REASON = "deliverability_check_unknown_reason"
COMPLAINED = "deliverability_ses_complained_recipients_total"
REP_BOUNCE = "deliverability_ses_reputation_bounce_ratio"
REP_COMPLAINT = "deliverability_ses_reputation_complaint_ratio"
BOUNCED = "deliverability_ses_bounced_recipients_total"
SENT = "deliverability_ses_sent_recipients_total"
ACCT = {"aws_account_id": "123456789012", "aws_region": "us-east-1"}
RCPT = {"recipient_provider": "google", "sending_domain": "shop.example"}
MAIL_FROM_SERVFAIL = {"domain": "a.example", "check": "mail_from_resolvable", "reason": "servfail"}
PERM = {
    "bounce_type": "Permanent",
    "bounce_subtype": "General",
    "status_class": "5xx",
    "category": "recipient_unknown",
}

# (alert, eval time, series that fire it, labels it fires with, series where it must not fire)
CASES: list[Case] = [
    (
        "DeliverabilityMailFromUnresolvable",
        "20m",
        [
            s(
                "deliverability_mail_from_resolvable",
                "0x30",
                domain="a.example",
                mail_from_domain="mail.a.example",
            )
        ],
        job_only(domain="a.example", mail_from_domain="mail.a.example", severity="critical"),
        [
            s(
                "deliverability_mail_from_resolvable",
                "1x10 0x5 1x15",
                domain="a.example",
                mail_from_domain="mail.a.example",
            )
        ],
    ),
    (
        "DeliverabilityDkimBroken",
        "20m",
        [s(STATUS, "1x30", domain="a.example", check="dkim", status="fail")],
        job_only(domain="a.example", check="dkim", status="fail", severity="critical"),
        [
            s(STATUS, "0x30", domain="a.example", check="dkim", status="fail"),
            s(STATUS, "1x30", domain="a.example", check="dkim", status="unknown"),
        ],
    ),
    (
        "DeliverabilityDmarcMissingOrInvalid",
        "20m",
        [s(STATUS, "1x30", domain="a.example", check="dmarc", status="fail")],
        job_only(domain="a.example", check="dmarc", status="fail", severity="warning"),
        [s(STATUS, "1x30", domain="a.example", check="dmarc", status="warn")],
    ),
    (
        "DeliverabilityDmarcPolicyWeakened",
        "140m",
        [s("deliverability_dmarc_policy_level", "2x100 0x60", domain="a.example")],
        job_only(domain="a.example", severity="warning"),
        [s("deliverability_dmarc_policy_level", "0x100 2x60", domain="a.example")],
    ),
    (
        "DeliverabilitySpfPermerror",
        "20m",
        [s(STATUS, "1x30", domain="a.example", check="mail_from_spf", status="fail")],
        job_only(domain="a.example", check="mail_from_spf", status="fail", severity="critical"),
        [s(STATUS, "1x30", domain="a.example", check="spf", status="unknown")],
    ),
    (
        "DeliverabilityCheckFailing",
        "30m",
        [s(STATUS, "1x40", domain="a.example", check="mx", status="fail")],
        job_only(domain="a.example", check="mx", status="fail", severity="warning"),
        [s(STATUS, "1x40", domain="a.example", check="dkim", status="fail")],
    ),
    (
        # Unknown for 30 minutes, never known to fail: the warning says why.
        "DeliverabilityCheckUnverifiable",
        "35m",
        [s(REASON, "1x40", domain="a.example", check="dkim", reason="timeout")],
        job_only(domain="a.example", check="dkim", reason="timeout", severity="warning"),
        [s(REASON, "1x25", domain="a.example", check="dkim", reason="timeout")],  # then known
    ),
    (
        # SERVFAIL for the MAIL FROM while the other checks of the cycle get answers: the zone.
        "DeliverabilityMailFromZoneBroken",
        "20m",
        [
            s(REASON, "1x30", **MAIL_FROM_SERVFAIL),
            s("deliverability_domains", "1x30", check="mail_from_resolvable", status="unknown"),
            s("deliverability_domains", "9x30", check="dkim", status="pass"),
        ],
        job_only(**MAIL_FROM_SERVFAIL, severity="critical"),
        [  # most checks unknown: the resolver is broken, not the zone (a monitoring problem)
            s(REASON, "1x30", **MAIL_FROM_SERVFAIL),
            s("deliverability_domains", "1x30", check="mail_from_resolvable", status="unknown"),
            s("deliverability_domains", "9x30", check="dkim", status="unknown"),
            s(REASON, "1x30", **{**MAIL_FROM_SERVFAIL, "domain": "b.example", "reason": "timeout"}),
        ],
    ),
    (
        "SESAccountUnderReview",
        "10m",
        [s("deliverability_ses_enforcement_status", "1x20", status="PROBATION", **ACCT)],
        job_only(status="PROBATION", severity="critical", **ACCT),
        [s("deliverability_ses_enforcement_status", "0x20", status="PROBATION", **ACCT)],
    ),
    (
        "SESAccountSendingPaused",
        "10m",
        [s("deliverability_ses_enforcement_status", "1x15", status="SHUTDOWN", **ACCT)],
        job_only(status="SHUTDOWN", severity="critical", **ACCT),
        [s("deliverability_ses_enforcement_status", "1x15", status="HEALTHY", **ACCT)],
    ),
    (
        "SESSendingDisabled",
        "20m",
        [s("deliverability_ses_sending_enabled", "0x30", **ACCT)],
        job_only(severity="critical", **ACCT),
        [s("deliverability_ses_sending_enabled", "1x30", **ACCT)],
    ),
    (
        "SESProductionAccessLost",
        "90m",
        [s("deliverability_ses_production_access_enabled", "1x60 0x40", **ACCT)],
        job_only(severity="critical", **ACCT),
        [s("deliverability_ses_production_access_enabled", "0x100", **ACCT)],  # always sandbox
    ),
    (
        "SESBounceRateHigh",
        "100m",
        [
            s(SENT, "0+100x120", recipient_domain="gmail.com", **RCPT),
            s(BOUNCED, "0+3x120", recipient_domain="gmail.com", **RCPT, **PERM),
        ],
        job_only(severity="warning"),
        [
            s(SENT, "0+100x120", recipient_domain="gmail.com", **RCPT),
            s(BOUNCED, "0+1x120", recipient_domain="gmail.com", **RCPT, **PERM),
            # On-account suppression-list bounces do not count toward SES's bounce rate.
            s(
                BOUNCED,
                "0+5x120",
                recipient_domain="gmail.com",
                **RCPT,
                **{**PERM, "bounce_subtype": "OnAccountSuppressionList"},
            ),
        ],
    ),
    (
        "SESBounceRateCritical",
        "100m",
        [
            s(SENT, "0+100x120", recipient_domain="gmail.com", **RCPT),
            s(BOUNCED, "0+5x120", recipient_domain="gmail.com", **RCPT, **PERM),
        ],
        job_only(severity="critical"),
        [
            s(SENT, "0+100x120", recipient_domain="gmail.com", **RCPT),
            s(BOUNCED, "0+3x120", recipient_domain="gmail.com", **RCPT, **PERM),
        ],
    ),
    (
        "SESComplaintRateHigh",
        "100m",
        [
            s(SENT, "0+100x120", recipient_domain="yahoo.com", **RCPT),
            s(
                "deliverability_ses_complained_recipients_total",
                "0+0.1x120",
                recipient_domain="yahoo.com",
                feedback_type="abuse",
                **RCPT,
            ),
        ],
        job_only(severity="warning"),
        [
            # The same ratio on too little volume stays quiet (minimum-volume guard).
            s(SENT, "0+10x120", recipient_domain="yahoo.com", **RCPT),
            s(
                "deliverability_ses_complained_recipients_total",
                "0+0.01x120",
                recipient_domain="yahoo.com",
                feedback_type="abuse",
                **RCPT,
            ),
        ],
    ),
    (
        "SESComplaintRateCritical",
        "100m",
        [
            s(SENT, "0+100x120", recipient_domain="yahoo.com", **RCPT),
            s(COMPLAINED, "0+0.1x120", recipient_domain="yahoo.com", feedback_type="abuse", **RCPT),
        ],
        job_only(severity="critical"),
        [  # 0.05%: the warning's level, not the page's
            s(SENT, "0+100x120", recipient_domain="yahoo.com", **RCPT),
            s(
                COMPLAINED,
                "0+0.05x120",
                recipient_domain="yahoo.com",
                feedback_type="abuse",
                **RCPT,
            ),
        ],
    ),
    *(
        (
            alert,
            "40m",
            [s(gauge, f"{bad}x60", **ACCT)],
            job_only(severity=severity, **ACCT),
            [s(gauge, f"{good}x60", **ACCT)],
        )
        for alert, gauge, severity, bad, good in (
            ("SESReputationBounceRateHigh", REP_BOUNCE, "warning", 0.03, 0.02),
            ("SESReputationBounceRateCritical", REP_BOUNCE, "critical", 0.05, 0.04),
            ("SESReputationComplaintRateHigh", REP_COMPLAINT, "warning", 0.0006, 0.0004),
            # SES's own figure at 0.2% pages, whatever the events say.
            ("SESReputationComplaintRateCritical", REP_COMPLAINT, "critical", 0.002, 0.0009),
        )
    ),
    (
        # SES counts sends, the queue receives nothing for 6 hours: the rate alerts are blind.
        "SESEventsMissing",
        "400m",
        [
            s("deliverability_ses_send_quota_sent_last_24h", "0+1x420", **ACCT),
            s("deliverability_sqs_messages_received_total", "5x420", queue="ses-events"),
        ],
        job_only(queue="ses-events", severity="warning"),
        [  # SES counted no new send for 7 hours (a daily batch long ago): nothing is missing
            s("deliverability_ses_send_quota_sent_last_24h", "500x420", **ACCT),
            s("deliverability_sqs_messages_received_total", "5x420", queue="ses-events"),
        ],
    ),
    (
        "SESSuppressionListGrowingFast",
        "40m",
        [s("deliverability_ses_suppressed_destinations_recent", "600x60", **ACCT)],
        job_only(severity="warning", **ACCT),
        [s("deliverability_ses_suppressed_destinations_recent", "100x60", **ACCT)],
    ),
    (
        "SESFeedbackNotRouted",
        "70m",
        [
            s(
                "deliverability_ses_feedback_routed",
                "0x90",
                identity="a.example",
                feedback_type="bounce",
                path="email_only",
                **ACCT,
            )
        ],
        job_only(
            identity="a.example",
            domain="a.example",
            feedback_type="bounce",
            path="email_only",
            severity="warning",
            **ACCT,
        ),
        [
            s(
                "deliverability_ses_feedback_routed",
                "1x90",
                identity="a.example",
                feedback_type="bounce",
                path="identity_topic",
                **ACCT,
            )
        ],
    ),
    (
        "SESSmtpCredentialRejected",
        "10m",
        [s("deliverability_smtp_auth_probe_success", "0x20", credential="relay")],
        job_only(credential="relay", severity="critical"),
        [s("deliverability_smtp_auth_probe_success", "1x20", credential="relay")],
    ),
    (
        "SESSmtpAccessKeyInactive",
        "20m",
        [
            s(
                "deliverability_iam_access_key_active",
                "0x30",
                credential="relay",
                iam_user="smtp",
                access_key_id="AKIAOLD",
            ),
            s(
                "deliverability_iam_access_key_active",
                "0x30",
                credential="relay",
                iam_user="smtp",
                access_key_id="AKIANEW",
            ),
        ],
        job_only(credential="relay", iam_user="smtp", severity="critical"),
        [
            # After a rotation the old key is inactive: fine while the new one is active.
            s(
                "deliverability_iam_access_key_active",
                "0x30",
                credential="relay",
                iam_user="smtp",
                access_key_id="AKIAOLD",
            ),
            s(
                "deliverability_iam_access_key_active",
                "1x30",
                credential="relay",
                iam_user="smtp",
                access_key_id="AKIANEW",
            ),
        ],
    ),
    (
        "DeliverabilityRecipientDomain5xxSpike",
        "1560m",
        [
            s(SENT, "0+10x1600", recipient_domain="corp.example", **RCPT),
            s(BOUNCED, "0x1500 0+3x100", recipient_domain="corp.example", **RCPT, **PERM),
        ],
        job_only(recipient_domain="corp.example", severity="warning"),
        # As bad yesterday: a known-bad domain, not a jump.
        [
            s(SENT, "0+10x1600", recipient_domain="corp.example", **RCPT),
            s(BOUNCED, "0+3x1600", recipient_domain="corp.example", **RCPT, **PERM),
        ],
    ),
    (
        # `domain`, not `sending_domain`: one label for the sending domain on every alert.
        "DeliverabilityAuthenticationBounces",
        "45m",
        [
            s(
                BOUNCED,
                "0+1x60",
                recipient_domain="corp.example",
                **RCPT,
                **{**PERM, "category": "sender_domain_dns"},
            )
        ],
        job_only(category="sender_domain_dns", domain="shop.example", severity="critical"),
        [
            s(BOUNCED, "0+1x60", recipient_domain="corp.example", **RCPT, **PERM),
            s(
                BOUNCED,
                "5x60",
                recipient_domain="corp.example",
                **RCPT,
                **{**PERM, "category": "dkim"},
            ),  # old, flat
            s(
                BOUNCED,
                "0x40 1x20",
                recipient_domain="corp.example",
                **RCPT,
                **{**PERM, "category": "spf"},
            ),  # one stray classified bounce pages nobody
        ],
    ),
    (
        "DeliverabilityEventConsumerStalled",
        "40m",
        [
            s("deliverability_sqs_queue_visible_messages", "500x60", queue="ses-events"),
            s("deliverability_sqs_messages_received_total", "100x60", queue="ses-events"),
        ],
        job_only(queue="ses-events", severity="warning"),
        [
            s("deliverability_sqs_queue_visible_messages", "500x60", queue="ses-events"),
            s("deliverability_sqs_messages_received_total", "0+10x60", queue="ses-events"),
        ],
    ),
    (
        "DeliverabilityMalformedEvents",
        "55m",
        [s("deliverability_ses_events_malformed_total", "0x40 3x20", reason="not_json")],
        job_only(reason="not_json", severity="warning"),
        [s("deliverability_ses_events_malformed_total", "0x40 1x20", reason="not_json")],  # stray
    ),
    (
        # Sustained: a refused envelope every minute. One alone stays pending, never fires.
        "DeliverabilityEventsFromForeignTopic",
        "50m",
        [s("deliverability_ses_events_refused_total", "0+1x60", reason="topic_not_allowed")],
        job_only(reason="topic_not_allowed", severity="warning"),
        [s("deliverability_ses_events_refused_total", "0x40 1x20", reason="topic_not_allowed")],
    ),
    (
        "DeliverabilityTemplateRenderingFailures",
        "50m",
        [
            s(
                "deliverability_ses_rendering_failed_recipients_total",
                "0x40 3x20",
                recipient_domain="gmail.com",
                **RCPT,
            )
        ],
        job_only(domain="shop.example", severity="warning"),
        [  # failures an hour ago, none since; one stray failure
            s(
                "deliverability_ses_rendering_failed_recipients_total",
                "4x60",
                recipient_domain="gmail.com",
                **RCPT,
            ),
            s(
                "deliverability_ses_rendering_failed_recipients_total",
                "0x40 1x20",
                recipient_domain="yahoo.com",
                **RCPT,
            ),
        ],
    ),
    (
        "DeliverabilityQueueWithoutRedrivePolicy",
        "70m",
        [s("deliverability_sqs_queue_redrive_policy", "0x90", queue="ses-events")],
        job_only(queue="ses-events", severity="warning"),
        [s("deliverability_sqs_queue_redrive_policy", "1x90", queue="ses-events")],
    ),
    (
        "DeliverabilityCollectorDown",
        "20m",
        [s("deliverability_collector_up", "0x30", collector="dns")],
        with_job(collector="dns", severity="warning"),
        [s("deliverability_collector_up", "1x5 0x5 1x20", collector="dns")],
    ),
    (
        "DeliverabilityCollectorStale",
        "20m",
        [
            s("deliverability_collector_last_success_timestamp_seconds", "0x30", collector="dns"),
            s("deliverability_collector_interval_seconds", "300x30", collector="dns"),
        ],
        with_job(collector="dns", severity="warning"),
        [
            s(
                "deliverability_collector_last_success_timestamp_seconds",
                "0+60x30",
                collector="dns",
            ),
            s("deliverability_collector_interval_seconds", "300x30", collector="dns"),
        ],
    ),
    (
        "DeliverabilityFailingChecksWithheld",
        "30m",
        [s("deliverability_check_status_withheld_series", "16x40", worst_status="fail")],
        job_only(worst_status="fail", severity="warning"),
        # Passing domains withheld on purpose are not a problem.
        [s("deliverability_check_status_withheld_series", "30000x40", worst_status="pass")],
    ),
    (
        "DeliverabilityConfigReloadFailed",
        "20m",
        [s("deliverability_config_last_reload_successful", "0x30")],
        with_job(severity="warning"),
        [s("deliverability_config_last_reload_successful", "1x30")],
    ),
    (
        "DeliverabilityExporterAbsent",
        "20m",
        [s("up", "0x30")],
        {"severity": "warning"},  # absent() of a comparison carries no labels
        [s("up", "1x30")],
    ),
]


# Series-budget mode ([metrics] series_budget): a domain has deliverability_check_status series
# only while one of its checks is not passing (or it is watched), so a regression makes the
# series appear, already at 1, and a recovery makes them vanish. The per-domain alerts on
# them must fire on series that appear late and stay quiet on series that come and go.
# (The DMARC, SPF and MAIL FROM gauges stay per-domain in that mode: the cases above apply.)
DELIVERED = "deliverability_ses_delivered_recipients_total"
# Identity notifications only (no configuration set, so no Send events): delivered plus
# bounced recipients are the denominator. Without deliveries there is none, and no ratio:
# bounces over bounces would read 100% and page falsely.
NOTIFICATION_ONLY_CASES: list[Case] = [
    (
        "SESBounceRateHigh",
        "100m",
        [
            s(DELIVERED, "0+97x120", recipient_domain="gmail.com", **RCPT),
            s(BOUNCED, "0+3x120", recipient_domain="gmail.com", **RCPT, **PERM),
        ],
        job_only(severity="warning"),
        [s(BOUNCED, "0+3x120", recipient_domain="gmail.com", **RCPT, **PERM)],
    ),
    (
        # One sending domain publishes Send events, another has notifications only: each
        # keeps its own denominator (the Send-event one is not mixed with deliveries).
        "SESBounceRateCritical",
        "100m",
        [
            s(SENT, "0+100x120", recipient_domain="gmail.com", **RCPT),
            s(DELIVERED, "0+95x120", recipient_domain="gmail.com", **RCPT),
            s(BOUNCED, "0+5x120", recipient_domain="gmail.com", **RCPT, **PERM),
            s(
                DELIVERED,
                "0+95x120",
                recipient_domain="gmail.com",
                **{**RCPT, "sending_domain": "news.example"},
            ),
            s(
                BOUNCED,
                "0+5x120",
                recipient_domain="gmail.com",
                **{**RCPT, "sending_domain": "news.example"},
                **PERM,
            ),
        ],
        job_only(severity="critical"),
        [
            s(DELIVERED, "0+98x120", recipient_domain="gmail.com", **RCPT),
            s(BOUNCED, "0+2x120", recipient_domain="gmail.com", **RCPT, **PERM),
        ],
    ),
    (
        "DeliverabilityRecipientDomain5xxSpike",
        "1560m",
        [
            s(DELIVERED, "0+10x1500 0+7x100", recipient_domain="corp.example", **RCPT),
            s(BOUNCED, "0x1500 0+3x100", recipient_domain="corp.example", **RCPT, **PERM),
        ],
        job_only(recipient_domain="corp.example", severity="warning"),
        [s(BOUNCED, "0x1500 0+3x100", recipient_domain="corp.example", **RCPT, **PERM)],
    ),
]

APPEARS_FAILING = "_x10 1x30"  # absent for 10 minutes, then failing
FAILS_BRIEFLY = "_x10 1x5"  # failing for 5 minutes (under `for:`), then withheld again
BUDGET_CASES: list[Case] = [
    (
        alert,
        "35m",
        [s(STATUS, APPEARS_FAILING, domain="a.example", check=check, status="fail")],
        job_only(domain="a.example", check=check, status="fail", severity=severity),
        [s(STATUS, FAILS_BRIEFLY, domain="a.example", check=check, status="fail")],
    )
    for alert, check, severity in (
        ("DeliverabilityDkimBroken", "dkim", "critical"),
        ("DeliverabilityDmarcMissingOrInvalid", "dmarc", "warning"),
        ("DeliverabilitySpfPermerror", "spf", "critical"),
        ("DeliverabilityCheckFailing", "mx", "warning"),
    )
]


# Scaled out (the Helm chart's sharding): the same data spread over two pods, each a target
# with its own `instance` and `pod`. Counters and per-shard counts are split between them (each
# event is counted by one consumer, each domain by one shard); state gauges are reported by
# both (several event consumers export the same queue gauges; two shards report the same
# domain for a moment after a reshard). Every alert must then give what one pod gives: the
# same alerts with the same labels, none naming a pod. Exporter-health alerts are per pod on
# purpose: a failing pod beside a healthy one fires once, with the failing pod's labels.
PODS = (
    {"instance": "10.0.0.11:10190", "pod": "ses-deliverability-exporter-checks-0"},
    {"instance": "10.0.0.12:10190", "pod": "ses-deliverability-exporter-checks-1"},
)
PER_POD_ALERTS = {
    "DeliverabilityCollectorDown",
    "DeliverabilityCollectorStale",
    "DeliverabilityConfigReloadFailed",
}
SPLIT_FRACTIONS = (0.625, 0.375)  # exact in binary: the split sums back to the whole
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _is_split(series: str) -> bool:
    name = series.split("{", 1)[0]
    return name.endswith("_total") or name == "deliverability_check_status_withheld_series"


def _scaled(values: str, fraction: float) -> str:
    """promtool's `a+bxN` notation with a and b (never N) multiplied by fraction."""

    def scale_token(token: str) -> str:
        head, times, count = token.partition("x")
        head = _NUMBER.sub(lambda m: repr(float(m.group()) * fraction), head)
        return head + times + count

    return " ".join(scale_token(token) for token in values.split())


def _on_pod(series: dict[str, str], pod: dict[str, str], fraction: float | None) -> dict[str, str]:
    target = ",".join(f'{k}="{v}"' for k, v in pod.items())
    text = series["series"].replace(f'instance="{JOB["instance"]}"', target)
    values = series["values"] if fraction is None else _scaled(series["values"], fraction)
    return {"series": text, "values": values}


def sharded(series: list[dict[str, str]]) -> list[dict[str, str]]:
    """The series as two pods export them: split series shared, the others on both pods."""
    result = []
    for one in series:
        split = _is_split(one["series"])
        for pod, fraction in zip(PODS, SPLIT_FRACTIONS, strict=True):
            result.append(_on_pod(one, pod, fraction if split else None))
    return result


def sharded_case(
    case: Case,
) -> Case:
    alert, eval_time, fire, labels, quiet = case
    if alert in PER_POD_ALERTS:  # one failing pod beside a healthy one
        bad, good = PODS
        fire = [_on_pod(x, bad, None) for x in fire] + [_on_pod(x, good, None) for x in quiet]
        labels = {**{k: v for k, v in labels.items() if k != "instance"}, **bad}
        return alert, eval_time, fire, labels, sharded(quiet)
    return alert, eval_time, sharded(fire), labels, sharded(quiet)


SHARDED_CASES = [sharded_case(case) for case in CASES + BUDGET_CASES + NOTIFICATION_ONLY_CASES]


def on(pod: dict[str, str], name: str, values: str, **labels: str) -> dict[str, str]:
    return _on_pod(s(name, values, **labels), pod, None)


DKIM_FAIL = {"domain": "a.example", "check": "dkim", "status": "fail"}
# What only a scaled-out setup shows (same table shape as CASES).
SCALED_OUT_CASES: list[Case] = [
    (
        # A reshard moves a failing domain from pod 0 to pod 1 after 12 minutes: the alert
        # is the domain's, so its `for: 10m` does not start again on the new pod.
        "DeliverabilityDkimBroken",
        "20m",
        [on(PODS[0], STATUS, "1x12", **DKIM_FAIL), on(PODS[1], STATUS, "_x12 1x20", **DKIM_FAIL)],
        job_only(**DKIM_FAIL, severity="critical"),
        [on(PODS[0], STATUS, "0x12", **DKIM_FAIL), on(PODS[1], STATUS, "_x12 0x20", **DKIM_FAIL)],
    ),
    (
        # One shard down, the other up: its domains are unchecked, which must alert.
        "DeliverabilityExporterAbsent",
        "20m",
        [on(PODS[0], "up", "1x30"), on(PODS[1], "up", "0x30")],
        {"severity": "warning"},
        [on(PODS[0], "up", "1x30"), on(PODS[1], "up", "1x5 0x5 1x20")],  # a restart
    ),
    (
        # Competing consumers: one replica idle while another drains the queue is fine...
        "DeliverabilityEventConsumerStalled",
        "40m",
        [
            on(pod, name, values, queue="ses-events")
            for pod in PODS
            for name, values in (
                ("deliverability_sqs_queue_visible_messages", "500x60"),
                ("deliverability_sqs_messages_received_total", "100x60"),
            )
        ],
        job_only(queue="ses-events", severity="warning"),
        [
            on(PODS[0], "deliverability_sqs_queue_visible_messages", "500x60", queue="ses-events"),
            on(PODS[1], "deliverability_sqs_queue_visible_messages", "500x60", queue="ses-events"),
            on(PODS[0], "deliverability_sqs_messages_received_total", "100x60", queue="ses-events"),
            on(
                PODS[1], "deliverability_sqs_messages_received_total", "0+10x60", queue="ses-events"
            ),
        ],
    ),
]


def alerts() -> list[dict[str, Any]]:
    return [r for g in load_rules()["groups"] for r in g["rules"] if "alert" in r]


@pytest.fixture(name="promtool", scope="module")
def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: run the README's test command (it apt-installs prometheus)"
        )
    return path


def test_promtool_check_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case() -> None:
    """Every alert in the file is pinned by a firing and a quiet case, and nothing else is."""
    assert sorted(a["alert"] for a in alerts()) == sorted(c[0] for c in CASES)


def test_every_check_status_alert_has_a_budget_case() -> None:
    """Alerts on deliverability_check_status are pinned on the series shape budget mode makes."""
    on_status = {a["alert"] for a in alerts() if re.search(STATUS + r"(?![a-z_])", a["expr"])}
    # These read deliverability_check_unknown_reason, which exists only while a check is
    # unknown: every case of theirs is already a series that appears and goes.
    on_status -= {"DeliverabilityCheckUnverifiable", "DeliverabilityMailFromZoneBroken"}
    assert on_status == {case[0] for case in BUDGET_CASES}


MODES: dict[str, list[Case]] = {
    "": CASES,
    " (series budget)": BUDGET_CASES,
    " (identity notifications only)": NOTIFICATION_ONLY_CASES,
    " (two pods)": SHARDED_CASES,
    " (scaled out)": SCALED_OUT_CASES,
}


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.strip(" ()") or "one pod")
def test_promtool_unit_tests(promtool: str, tmp_path: Path, mode: str) -> None:
    run_promtool(promtool, tmp_path, case_tests([(mode, case) for case in MODES[mode]]))


def test_annotations_render(promtool: str, tmp_path: Path) -> None:
    """The real file, annotations included: the MAIL FROM alert's text names the domain."""
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": CASES[0][2],
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "DeliverabilityMailFromUnresolvable",
                        "exp_alerts": [
                            {
                                "exp_labels": CASES[0][3],
                                "exp_annotations": _rendered_mail_from_annotations(),
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "t.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "t.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _rendered_mail_from_annotations() -> dict[str, str]:
    (rule,) = [a for a in alerts() if a["alert"] == "DeliverabilityMailFromUnresolvable"]
    rendered = {}
    for key, value in rule["annotations"].items():
        text = value.replace("{{ $labels.mail_from_domain }}", "mail.a.example").replace(
            "{{ $labels.domain }}", "a.example"
        )
        assert "{{" not in text
        rendered[key] = text
    return rendered


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_style(rule: dict[str, Any]) -> None:
    """Mixin style: name prefix, severity, for:, static summary, templated description, runbook."""
    name = rule["alert"]
    assert name.startswith(("Deliverability", "SES"))
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert "for" in rule
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert "{{" not in annotations["summary"]
    assert "{{" in annotations["description"] or name == "DeliverabilityExporterAbsent"
    assert annotations["runbook_url"].endswith("/docs/runbooks.md#" + name.lower())
    anchors = {
        m.lower() for m in re.findall(r"^## (\w+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    }
    assert name.lower() in anchors, f"docs/runbooks.md has no section ## {name}"


def test_readme_lists_every_alert() -> None:
    """The alert tables of the README and docs/alerts.md say what the rule says: severity,
    for: and summary."""
    readme, reference = (ROOT / "README.md").read_text(), (ROOT / "docs" / "alerts.md").read_text()
    for rule in alerts():
        row = (
            f"| `{rule['alert']}` | {rule['labels']['severity']} | {rule.get('for', '0m')} "
            f"| {rule['annotations']['summary']} |"
        )
        assert row in readme, f"README.md should have the row:\n{row}"
        assert row in reference, f"docs/alerts.md should have the row:\n{row}"
