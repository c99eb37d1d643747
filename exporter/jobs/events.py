"""Wires the SES event pipeline to its inputs: SQS queues in the daemon, files in `replay`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import boto3
import structlog
from botocore.config import Config as BotoConfig

from exporter.config import Config
from exporter.events.pipeline import EventPipeline
from exporter.sources.archive import replay_files
from exporter.sources.dns import DnsQueryStats, system_nameservers
from exporter.sources.mx_provider import MxProviderResolver
from exporter.sources.sqs import SqsConsumer, SqsStats, refresh_queue_attributes
from exporter.sources.zones import ZoneOverrides

__all__ = [
    "EventService",
    "build_pipeline",
    "check_cycle_query_rate",
    "known_sending_domains",
    "provider_query_rate",
    "replay_paths",
]

log = structlog.get_logger("exporter.events")

# Provider lookups run next to the check cycle's questions, under their own rate limit: a
# tenth of resolver.max_queries_per_second (at least 1/s, at most half; the cycle paces at
# the rest, see check_cycle_query_rate). A batch spends at most 5 s on them, far below a
# visibility timeout (at least 10 s) and SIGTERM's 10 s.
MX_SHARE_OF_QUERY_RATE = 0.1
MX_BATCH_BUDGET_SECONDS = 5.0


def provider_query_rate(limit: float) -> float:
    """The provider lookups' share of resolver.max_queries_per_second (0: no limit)."""
    return min(max(1.0, limit * MX_SHARE_OF_QUERY_RATE), limit / 2) if limit > 0 else 0.0


def check_cycle_query_rate(config: Config) -> float:
    """What the DNS check cycle may ask per second: resolver.max_queries_per_second, less
    the provider lookups' share where this process consumes events with them, so that the
    two together keep below the resolver's limit."""
    limit = config.resolver.max_queries_per_second
    events = config.events
    if limit > 0 and events.provider_lookup and events.queues and config.cluster.runs_events:
        return limit - provider_query_rate(limit)
    return limit


def known_sending_domains(config: Config, discovered: Iterable[str] = ()) -> frozenset[str]:
    """The sending domains whose events get a ``sending_domain`` label value of their own.

    The configured domains, plus the domain identities SES discovery found, but only where
    this replica's discovery sees every identity (one shard that runs the checks). A
    sharded replica discovers its own shard's identities only, and an events replica none,
    so there the set would differ from replica to replica and one domain's events would be
    labelled on one pod and ``other`` on the next: split deployments label the configured
    domains only. Bounded either way, by the configuration and the account's identities.
    ``config`` is the full configuration, not this replica's local view.
    """
    configured = {d.name.lower() for d in config.domains}
    cluster = config.cluster
    if cluster.shard_count == 1 and cluster.runs_checks and config.aws.discover_identities:
        configured.update(name.lower() for name in discovered)
    return frozenset(configured)


def build_pipeline(
    config: Config,
    overrides: ZoneOverrides | None = None,
    *,
    dns_stats: DnsQueryStats | None = None,
    stop: threading.Event | None = None,
) -> EventPipeline:
    """A pipeline whose sending-domain labels are the configured domains (the daemon adds
    discovered identities with `known_sending_domains` after each discovery).

    Provider lookups count their questions in ``dns_stats`` (the check cycle's) and stop
    asking when ``stop`` is set."""
    events = config.events
    providers_for: Callable[[Collection[str]], Mapping[str, str]] | None = None
    if events.provider_lookup:
        resolver = config.resolver
        nameservers = (
            resolver.nameservers if resolver.nameservers is not None else system_nameservers()
        )
        providers_for = MxProviderResolver(
            nameservers=nameservers,
            timeout=min(1.0, resolver.timeout_seconds),
            overrides=overrides,
            stats=dns_stats,
            max_queries_per_second=provider_query_rate(resolver.max_queries_per_second),
            batch_budget=MX_BATCH_BUDGET_SECONDS,
            stop=stop,
        ).many
    return EventPipeline(
        known_sending_domains=known_sending_domains(config),
        watch_recipient_domains=events.watch_recipient_domains,
        max_recipient_domains=events.max_recipient_domains,
        dedupe_window=events.dedupe_window,
        providers_for=providers_for,
        allowed_topic_arns=events.allowed_topic_arns,
    )


class EventService:
    """One SqsConsumer per configured queue, sharing one pipeline and one stop event."""

    def __init__(self, config: Config, pipeline: EventPipeline, stop: threading.Event) -> None:
        self.stats = SqsStats()
        self._clients: dict[str, tuple[Any, str]] = {}
        self._consumers: list[SqsConsumer] = []
        events = config.events
        for queue in events.queues:
            client = boto3.session.Session().client(
                "sqs",
                region_name=queue.aws_region,
                config=BotoConfig(
                    connect_timeout=5,
                    read_timeout=events.wait_time_seconds + 10,
                    retries={"mode": "standard", "max_attempts": 3},
                ),
            )
            self._clients[queue.name] = (client, queue.url)
            self._consumers.append(
                SqsConsumer(
                    client=client,
                    queue_url=queue.url,
                    queue_name=queue.name,
                    pipeline=pipeline,
                    stats=self.stats,
                    stop=stop,
                    pollers=events.pollers,
                    wait_time_seconds=events.wait_time_seconds,
                    visibility_timeout_seconds=events.visibility_timeout_seconds,
                )
            )

    def start(self) -> None:
        for consumer in self._consumers:
            consumer.start()

    def join(self, timeout: float) -> None:
        for consumer in self._consumers:
            consumer.join(timeout)

    def poll_once(self) -> None:
        """One receive round per queue, and its attributes (for `collect`)."""
        for consumer in self._consumers:
            consumer.poll_once()
        self.refresh_queue_attributes()

    def refresh_queue_attributes(self) -> None:
        for name, (client, url) in self._clients.items():
            refresh_queue_attributes(client, url, name, self.stats)


def replay_paths(paths: Iterable[Path], pipeline: EventPipeline) -> int:
    """Feed archived events (files or directories) through the pipeline; returns bodies read."""
    return replay_files(paths, pipeline).outcomes.total()
