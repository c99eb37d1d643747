"""Which sending domains label their events (configured, plus discovered where that is safe),
and how the resolver's query rate is shared between the check cycle and provider lookups."""

from __future__ import annotations

import json

import pytest

from exporter.config import parse_config
from exporter.events.pipeline import Outcome
from exporter.jobs.events import (
    build_pipeline,
    check_cycle_query_rate,
    known_sending_domains,
    provider_query_rate,
)

BASE = {
    "domains": [{"name": "configured.example"}],
    "aws": {"accounts": [{"name": "prod", "regions": ["us-east-1"]}]},
    "events": {"queues": [{"url": "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"}]},
}
DISCOVERED = ["Discovered.example", "configured.example"]


def test_one_replica_labels_configured_and_discovered_domains() -> None:
    config = parse_config(BASE)
    assert known_sending_domains(config) == {"configured.example"}
    assert known_sending_domains(config, DISCOVERED) == {
        "configured.example",
        "discovered.example",
    }


def test_split_deployments_label_configured_domains_only() -> None:
    """A sharded replica discovers only its shard's identities and an events replica none:
    every replica keeps to the configured domains, so all of them label one event alike."""
    for cluster in (
        {"role": "all", "shard_count": 2, "shard_index": 0},
        {"role": "events", "shard_count": 1, "shard_index": 0},
        {"role": "events", "shard_count": 3, "shard_index": 1},
    ):
        config = parse_config({**BASE, "cluster": cluster})
        assert known_sending_domains(config, DISCOVERED) == {"configured.example"}, cluster


def test_discovery_off_labels_configured_domains_only() -> None:
    config = parse_config({**BASE, "aws": {**BASE["aws"], "discover_identities": False}})
    assert known_sending_domains(config, DISCOVERED) == {"configured.example"}


@pytest.mark.parametrize(
    ("limit", "provider", "cycle"),
    [(500.0, 50.0, 450.0), (5.0, 1.0, 4.0), (1.0, 0.5, 0.5), (0.0, 0.0, 0.0)],  # 0: no limit
)
def test_the_query_rate_is_shared_with_provider_lookups(
    limit: float, provider: float, cycle: float
) -> None:
    """Provider lookups and the check cycle together stay at resolver.max_queries_per_second."""
    config = parse_config({**BASE, "resolver": {"max_queries_per_second": limit}})
    assert provider_query_rate(limit) == provider
    assert check_cycle_query_rate(config) == cycle


def test_the_cycle_keeps_the_whole_rate_without_provider_lookups() -> None:
    raw = {**BASE, "resolver": {"max_queries_per_second": 500}}
    for extra in (
        {"events": {**BASE["events"], "provider_lookup": False}},
        {"events": {}},  # no queue
        {"cluster": {"role": "checks"}},  # the events run elsewhere
    ):
        assert check_cycle_query_rate(parse_config({**raw, **extra})) == 500


def test_the_pipeline_refuses_topics_outside_events_allowed_topic_arns() -> None:
    ours = "arn:aws:sns:us-east-1:123456789012:ses-events"
    events = {**BASE["events"], "provider_lookup": False, "allowed_topic_arns": [ours]}
    pipeline = build_pipeline(parse_config({**BASE, "events": events}))
    send = {"eventType": "Send", "mail": {"messageId": "m-1", "destination": ["a@b.example"]}}

    def envelope(topic: str) -> str:
        return json.dumps({"Type": "Notification", "TopicArn": topic, "Message": send})

    assert pipeline.handle(envelope(ours.replace("123456789012", "999999999999"))) is (
        Outcome.REFUSED
    )
    assert pipeline.handle(envelope(ours)) is Outcome.COUNTED
