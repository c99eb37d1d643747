"""The suppression list's counts say as of when they are exact: removals from the list are
seen only by a full recount, so a user needs that time next to the counts."""

from __future__ import annotations

from helpers.fleet import exposition, samples, snapshot

from exporter.jobs.ses import SesRegionResult
from exporter.sources.suppression import SuppressionState


def test_the_last_full_recount_time_is_exported_with_the_counts() -> None:
    state = SuppressionState(
        by_reason={"BOUNCE": 5, "COMPLAINT": 1},
        added_last_24h=2,
        top_recipient_domains=(("example.net", 4),),
        total=6,
        full_recount_at=1_796_000_000.0,
        api_calls=3,
    )
    ses = {"ses:prod:us-east-1": SesRegionResult("prod", "123", "us-east-1", suppression=state)}
    found = samples(exposition(snapshot([], ses=ses)))
    acct = (("aws_account_id", "123"), ("aws_region", "us-east-1"))
    name = "deliverability_ses_suppressed_destinations_last_recount_timestamp_seconds"
    assert found[(name, acct)] == 1_796_000_000.0
