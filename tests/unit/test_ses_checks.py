"""SES's own view of an identity, judged; configured and discovered domains, merged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exporter.checks.ses import (
    IdentityState,
    check_dkim_status,
    check_feedback_routing,
    check_identity_verified,
    check_mail_from_status,
    dns_dkim_tokens,
    evaluate_identity,
    feedback_path,
)
from exporter.config import DomainConfig
from exporter.jobs.discovery import merge_targets
from exporter.model import DomainTarget, Status

GOOD = IdentityState(
    identity="shop.example",
    region="eu-west-1",
    verification_status="Success",
    dkim_enabled=True,
    dkim_status="Success",
    dkim_tokens=("t1", "t2", "t3"),
    mail_from_domain="mail.shop.example",
    mail_from_status="Success",
    behavior_on_mx_failure="UseDefaultValue",
    bounce_topic="arn:aws:sns:eu-west-1:1:b",
    complaint_topic="arn:aws:sns:eu-west-1:1:c",
)


def with_(**changes: object) -> IdentityState:
    return replace(GOOD, **changes)


def test_healthy_identity_passes_everything() -> None:
    assert {c.check: c.status for c in evaluate_identity(GOOD)} == {
        "ses_identity_verified": Status.PASS,
        "ses_dkim_status": Status.PASS,
        "ses_mail_from_status": Status.PASS,
        "ses_feedback_routing": Status.PASS,
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Success", Status.PASS),
        ("Pending", Status.WARN),
        ("Failed", Status.FAIL),
        (None, Status.FAIL),
    ],
)
def test_verification(status: str | None, expected: Status) -> None:
    assert check_identity_verified(with_(verification_status=status)).status is expected


@pytest.mark.parametrize(
    ("enabled", "status", "expected"),
    [
        (True, "Success", Status.PASS),
        (True, "Pending", Status.WARN),
        (True, "Failed", Status.FAIL),
        (True, "TemporaryFailure", Status.FAIL),
        (False, "Success", Status.FAIL),
    ],
)
def test_dkim_status(enabled: bool, status: str, expected: Status) -> None:
    assert check_dkim_status(with_(dkim_enabled=enabled, dkim_status=status)).status is expected


def test_failed_mail_from_with_use_default_value_names_the_silent_fallback() -> None:
    """USE_DEFAULT_VALUE falls back to amazonses.com: SPF no longer aligns (the first report)."""
    result = check_mail_from_status(with_(mail_from_status="Failed"))
    assert result.status is Status.FAIL
    assert "amazonses.com" in result.summary
    assert "feedback-smtp.eu-west-1.amazonses.com" in result.remedy
    rejecting = check_mail_from_status(
        with_(mail_from_status="Failed", behavior_on_mx_failure="RejectMessage")
    )
    assert "rejects every send" in rejecting.summary
    assert check_mail_from_status(with_(mail_from_status="Pending")).status is Status.WARN


def test_mail_from_check_only_with_a_custom_mail_from() -> None:
    checks = [c.check for c in evaluate_identity(with_(mail_from_domain=None))]
    assert "ses_mail_from_status" not in checks


@pytest.mark.parametrize(
    ("changes", "paths", "expected"),
    [
        ({}, ("identity_topic", "identity_topic"), Status.PASS),
        (
            {
                "bounce_topic": None,
                "complaint_topic": None,
                "event_destination_feedback": frozenset({"bounce", "complaint"}),
            },
            ("event_destination", "event_destination"),
            Status.PASS,
        ),
        ({"complaint_topic": None}, ("identity_topic", "email_only"), Status.FAIL),
        (
            {"bounce_topic": None, "complaint_topic": None},
            ("email_only", "email_only"),
            Status.FAIL,
        ),
        (
            {"bounce_topic": None, "complaint_topic": None, "forwarding_enabled": False},
            ("none", "none"),
            Status.FAIL,
        ),
        # an AWS error on the routing lookups: unknown, never a false fail
        (
            {"bounce_topic": None, "complaint_topic": None, "routing_error": "Throttling"},
            ("unknown", "unknown"),
            Status.UNKNOWN,
        ),
        (
            {"complaint_topic": None, "routing_error": "AccessDeniedException"},
            ("identity_topic", "unknown"),
            Status.UNKNOWN,
        ),
        # topics need no lookup: a lookup error does not matter then
        (
            {"routing_error": "AccessDeniedException"},
            ("identity_topic", "identity_topic"),
            Status.PASS,
        ),
    ],
)
def test_feedback_routing(changes: dict, paths: tuple[str, str], expected: Status) -> None:
    state = with_(**changes)
    assert (feedback_path(state, "bounce"), feedback_path(state, "complaint")) == paths
    result = check_feedback_routing(state)
    assert result.status is expected
    assert f"bounce: {paths[0]}" in result.summary


def test_merge_prefers_ses_tokens_and_keeps_configured_domains() -> None:
    configured = [
        DomainConfig(name="shop.example", dkim_tokens=("old",), region="us-east-1"),
        DomainConfig(name="only-config.example"),
    ]
    discovered = [
        GOOD,
        with_(region="us-east-1", dkim_tokens=("u1", "t1", "u2")),
        with_(identity="only-ses.example", mail_from_domain=None, dkim_enabled=False),
    ]
    targets = {t.name: t for t in merge_targets(configured, discovered)}
    assert targets["shop.example"] == DomainTarget(
        name="shop.example",
        mail_from="mail.shop.example",
        dkim_tokens=("t1", "t2", "t3", "u1", "u2"),
        region="eu-west-1",
    )
    assert targets["only-config.example"].dkim_tokens == ()
    assert targets["only-ses.example"] == DomainTarget(name="only-ses.example", region="eu-west-1")
    assert len(targets) == 3


EASY = with_(dkim_origin="AWS_SES", dkim_signing_zone="dkim.amazonses.com")
BYODKIM = with_(dkim_origin="EXTERNAL", dkim_tokens=("sel2024",), dkim_signing_zone=None)
DEED = with_(
    region="eu-west-1",
    dkim_origin="AWS_SES_AF_SOUTH_1",
    dkim_signing_zone="dkim.af-south-1.amazonses.com.",
)


@pytest.mark.parametrize(
    ("state", "tokens"),
    [
        (GOOD, ("t1", "t2", "t3")),  # origin not read yet: Easy DKIM's three tokens, as before
        (with_(dkim_tokens=("sel2024",)), ()),  # not read yet, a lone selector: left out
        (EASY, ("t1", "t2", "t3")),
        (DEED, ("t1", "t2", "t3")),
        (BYODKIM, ()),  # never the selector as an Easy DKIM CNAME
        (with_(dkim_enabled=False), ()),
    ],
    ids=["unknown-easy", "unknown-selector", "easy", "deed", "byodkim", "disabled"],
)
def test_dns_dkim_tokens_never_hand_on_a_byodkim_selector(
    state: IdentityState, tokens: tuple[str, ...]
) -> None:
    assert dns_dkim_tokens(state) == tokens


def test_merge_passes_signing_hosted_zone_and_drops_byodkim_tokens() -> None:
    """SigningHostedZone reaches DomainTarget.dkim_signing_zone (the DNS check then expects
    exactly <token>.<zone>); a BYODKIM identity hands no tokens on, even configured ones."""
    configured = [DomainConfig(name="byo.example", dkim_tokens=("sel2024",))]
    discovered = [
        replace(DEED, identity="deed.example"),
        replace(EASY, identity="easy.example"),
        replace(BYODKIM, identity="byo.example"),
        replace(GOOD, identity="unread.example"),
        # the same domain in two regions signing from two zones: no single zone to expect
        replace(EASY, identity="two.example"),
        replace(DEED, identity="two.example", region="eu-south-1"),
    ]
    targets = {t.name: t for t in merge_targets(configured, discovered)}
    assert targets["deed.example"].dkim_signing_zone == "dkim.af-south-1.amazonses.com"
    assert targets["deed.example"].dkim_tokens == ("t1", "t2", "t3")
    assert targets["easy.example"].dkim_signing_zone == "dkim.amazonses.com"
    assert targets["byo.example"].dkim_tokens == ()
    assert targets["byo.example"].dkim_signing_zone is None
    assert targets["unread.example"].dkim_signing_zone is None
    assert targets["unread.example"].dkim_tokens == ("t1", "t2", "t3")
    assert targets["two.example"].dkim_signing_zone is None


def test_byodkim_dkim_status_remedy_names_the_txt_key() -> None:
    failed = check_dkim_status(replace(BYODKIM, dkim_status="Failed"))
    assert failed.status is Status.FAIL
    assert "TXT record at sel2024._domainkey.shop.example" in failed.remedy
    assert "CNAME" not in failed.remedy
