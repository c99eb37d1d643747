"""Bundled zone files, events and config for `ses-deliverability-exporter demo` (no AWS, no
internet), and the made-up SES account and SMTP credential the demo's jobs publish."""

from __future__ import annotations

import time

from exporter.checks.ses import AccountState, IdentityState
from exporter.jobs.ses import SesRegionResult
from exporter.jobs.smtp import SmtpCredentialResult
from exporter.sources.iam_keys import AccessKeyState
from exporter.sources.smtp_probe import SmtpProbeResult
from exporter.sources.suppression import SuppressionState

__all__ = ["sample_ses_state", "sample_smtp_state"]

_DAY = 86_400.0


def sample_ses_state(now: float | None = None, sent_last_24h: float = 12_345.0) -> SesRegionResult:
    """A made-up SES account for the demo (no AWS): under review, one identity whose
    feedback reaches only email, as in the first field report. Everything a real account
    shows is there (suppression list, reputation, a recommendation, one throttled call), so
    every account panel has a value."""
    now = time.time() if now is None else now
    return SesRegionResult(
        account_name="demo",
        account_id="000000000000",
        region="us-east-1",
        account=AccountState(
            sending_enabled=True,
            production_access_enabled=True,
            enforcement_status="PROBATION",
            max_24_hour_send=50_000.0,
            max_send_rate=14.0,
            sent_last_24_hours=sent_last_24h,
        ),
        identities=(
            IdentityState(
                identity="gateway553.example",
                region="us-east-1",
                verification_status="Success",
                dkim_enabled=True,
                dkim_status="Success",
                dkim_tokens=(
                    "g1gatewayaaaaaaaaaaaaaaaaaaaaaaa",
                    "g2gatewaybbbbbbbbbbbbbbbbbbbbbbb",
                    "g3gatewayccccccccccccccccccccccc",
                ),
                mail_from_domain="mail.gateway553.example",
                mail_from_status="Success",
                behavior_on_mx_failure="UseDefaultValue",
            ),
        ),
        identities_at=now,
        suppression=SuppressionState(
            by_reason={"BOUNCE": 412, "COMPLAINT": 9},
            added_last_24h=37,
            top_recipient_domains=(("globex.corp.example", 180), ("gmail.com", 97)),
            total=421,
            full_recount_at=now,
            api_calls=5,
        ),
        bounce_ratio=0.031,
        complaint_ratio=0.0009,
        recommendations={("DMARC", "HIGH"): 1},
        error_counts={("recommendations", "TooManyRequestsException"): 1},
    )


def sample_smtp_state(now: float | None = None) -> SmtpCredentialResult:
    """A made-up SMTP credential for the demo: its IAM key is active and AUTH succeeds."""
    now = time.time() if now is None else now
    return SmtpCredentialResult(
        name="demo-relay",
        iam_user="ses-smtp-demo",
        keys=(
            AccessKeyState(
                access_key_id="AKIADEMO000000000001",
                active=True,
                created=now - 90 * _DAY,
                last_used=now - 120.0,
            ),
        ),
        probe=SmtpProbeResult(status="ok", smtp_code=235, error="", duration_seconds=0.05),
        checked_at=now,
    )
