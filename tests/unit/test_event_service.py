"""Which sending domains label their events: configured, plus discovered where that is safe."""

from __future__ import annotations

from exporter.config import parse_config
from exporter.event_service import known_sending_domains

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
