"""Which share of the work a replica does: its domains, and whether it polls SES or SQS.

Replicas never talk to each other. Each one hashes every domain name with the same stable
hash (not Python's ``hash()``, which is salted per process) and keeps the names that fall in
its shard, so n replicas with one configuration check every domain exactly once. SES account
state and SMTP probes are per account, not per domain: one shard (``cluster.ses_shard``) does
them. SQS consumers compete for messages, so any number of replicas may consume one queue.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from exporter.config import ClusterConfig, Config

__all__ = ["local_view", "owns", "shard_of"]


def shard_of(domain: str, count: int) -> int:
    """The shard (0..count-1) that checks ``domain`` (a normalized, lower-case name)."""
    digest = hashlib.blake2b(domain.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def owns(cluster: ClusterConfig, domain: str) -> bool:
    return cluster.shard_count == 1 or shard_of(domain, cluster.shard_count) == cluster.shard_index


def local_view(config: Config) -> Config:
    """The configuration as this replica's collectors and /metrics see it.

    A checks replica keeps its own domains and leaves the queues to the event consumers;
    an events replica keeps only the queues. The full configuration still names the sending
    domains the event pipeline labels (every replica's events are labelled alike).
    """
    cluster = config.cluster
    if not cluster.runs_checks:
        return replace(
            config, domains=(), aws=replace(config.aws, accounts=()), smtp_credentials=()
        )
    view = config
    if cluster.shard_count > 1:
        view = replace(view, domains=tuple(d for d in config.domains if owns(cluster, d.name)))
    if not cluster.polls_ses_account:
        view = replace(view, smtp_credentials=())
    if not cluster.runs_events:
        view = replace(view, events=replace(config.events, queues=()))
    return view
