"""Bundled zone files and config for `ses-deliverability-exporter demo` (no AWS, no internet)."""

from __future__ import annotations

from exporter.checks.ses import AccountState, IdentityState
from exporter.jobs.ses import SesRegionResult

__all__ = ["sample_ses_state"]


def sample_ses_state() -> SesRegionResult:
    """A made-up SES account for the demo (no AWS): under review, one identity whose
    feedback reaches only email, as in the first field report."""
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
            sent_last_24_hours=12_345.0,
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
    )
