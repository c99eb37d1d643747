"""Turns the latest snapshot into metric families at scrape time, with no I/O."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from exporter import __version__, metrics
from exporter.checks.bounce import CLASSIFIER_VERSION
from exporter.checks.ses import BYODKIM_ORIGIN, ENFORCEMENT_STATUSES, feedback_path
from exporter.compiled import compiled
from exporter.events.pipeline import EventPipeline
from exporter.exposition import domain_table
from exporter.jobs.ses import SesRegionResult
from exporter.sources.dns import DnsQueryStats
from exporter.sources.sqs import QueueState, SqsStats
from exporter.store import CollectorHealth, Snapshot
from exporter.version import revision

__all__ = ["EventsCollector", "ExporterCollector"]


class ExporterCollector(Collector):
    """A custom collector over the store's snapshot (series of removed domains vanish)."""

    def __init__(
        self,
        read_snapshot: Callable[[], Snapshot],
        dns_stats: DnsQueryStats,
        sqs_stats: SqsStats | None = None,
    ) -> None:
        self._read = read_snapshot
        self._dns_stats = dns_stats
        self._sqs_stats = sqs_stats

    def describe(self) -> list[Metric]:
        return []  # names are known from the catalogue; no collect() at registration

    def collect(self) -> Iterator[Metric]:
        snap = self._read()
        yield from _domain_metrics(snap)
        health = dict(snap.health)
        if self._sqs_stats is not None:
            wait = float(snap.config.events.wait_time_seconds)
            for queue, state in self._sqs_stats.snapshot().items():
                health[f"sqs:{queue}"] = CollectorHealth(
                    interval_seconds=wait,
                    up=state.up,
                    last_success=state.last_success,
                    failures=state.receive_errors,
                    last_error=state.last_error,
                )
        yield from _health_metrics(snap, health)
        yield from _ses_metrics(snap)
        yield from _smtp_metrics(snap)
        queries = metrics.DNS_QUERIES.counter()
        for (rdtype, outcome), count in sorted(self._dns_stats.snapshot().items()):
            queries.add_metric([rdtype, outcome], count)
        yield queries
        build = metrics.BUILD_INFO.info()
        build.add_metric(
            [
                __version__,
                revision(),
                platform.python_version(),
                CLASSIFIER_VERSION,
                str(compiled()).lower(),
            ],
            {},
        )
        yield build


def _domain_metrics(snap: Snapshot) -> Iterator[Metric]:
    exposition = domain_table(snap).exposition()
    yield exposition.info
    yield exposition.check_status
    yield exposition.unknown_reason
    domains = metrics.DOMAINS.gauge()
    for (check, status), count in exposition.counts:
        domains.add_metric([check, status], count)
    yield domains
    withheld = metrics.CHECK_STATUS_WITHHELD.gauge()
    for status, count in exposition.withheld.items():
        withheld.add_metric([status.value], count)
    yield withheld
    yield from (exposition.resolvable, exposition.dmarc, exposition.spf_lookups)


def _ses_metrics(snap: Snapshot) -> Iterator[Metric]:
    gauges = {
        spec.name: spec.gauge()
        for spec in (
            metrics.SES_SENDING_ENABLED,
            metrics.SES_PRODUCTION_ACCESS,
            metrics.SES_ENFORCEMENT,
            metrics.SES_QUOTA_MAX_24H,
            metrics.SES_QUOTA_MAX_RATE,
            metrics.SES_QUOTA_SENT_24H,
            metrics.SES_IDENTITIES,
            metrics.SES_FEEDBACK_ROUTED,
            metrics.SES_REPUTATION_BOUNCE,
            metrics.SES_REPUTATION_COMPLAINT,
            metrics.SES_RECOMMENDATIONS,
            metrics.SES_OPTIONAL_PART_ENABLED,
            metrics.SES_SUPPRESSED,
            metrics.SES_SUPPRESSED_RECENT,
            metrics.SES_SUPPRESSED_RECOUNT,
            metrics.SES_SUPPRESSED_DOMAINS,
        )
    }

    api_errors = metrics.SES_API_ERRORS.counter()
    for result in sorted(snap.ses.values(), key=lambda r: r.key):
        for (part, code), count in sorted(result.error_counts.items()):
            api_errors.add_metric([result.account_id, result.region, part, code], count)
    yield api_errors
    dkim = metrics.SES_IDENTITY_DKIM.info()
    for result in sorted(snap.ses.values(), key=lambda r: r.key):
        _ses_region_metrics(
            result, lambda spec, labels, value: gauges[spec.name].add_metric(labels, value)
        )
        for part in result.optional_parts:
            gauges[metrics.SES_OPTIONAL_PART_ENABLED.name].add_metric(
                [result.account_id, result.region, part], float(part not in result.disabled)
            )
        for identity in result.identities or ():
            origin = identity.dkim_origin if identity.dkim_enabled else None
            selector = " ".join(identity.dkim_tokens) if origin == BYODKIM_ORIGIN else ""
            dkim.add_metric(
                [
                    result.account_id,
                    result.region,
                    identity.identity,
                    origin or "unknown",
                    (identity.dkim_signing_zone or "") if origin else "",
                    selector,
                ],
                {},
            )
    yield from gauges.values()
    yield dkim


def _smtp_metrics(snap: Snapshot) -> Iterator[Metric]:
    active = metrics.IAM_KEY_ACTIVE.gauge()
    created = metrics.IAM_KEY_CREATED.gauge()
    last_used = metrics.IAM_KEY_LAST_USED.gauge()
    success = metrics.SMTP_PROBE_SUCCESS.gauge()
    code = metrics.SMTP_PROBE_CODE.gauge()
    for result in sorted(snap.smtp.values(), key=lambda r: r.name):
        for key in result.keys or ():
            labels = [result.name, result.iam_user or "", key.access_key_id]
            active.add_metric(labels, float(key.active))
            created.add_metric(labels, key.created)
            if key.last_used is not None:
                last_used.add_metric(labels, key.last_used)
        probe = result.probe
        if probe is not None and probe.status != "unknown":
            success.add_metric([result.name], float(probe.status == "ok"))
        if probe is not None and probe.smtp_code is not None:
            code.add_metric([result.name], probe.smtp_code)
    yield from (active, created, last_used, success, code)


_Put = Callable[[metrics.MetricSpec, list[str], float], None]


def _ses_region_metrics(result: SesRegionResult, put: _Put) -> None:  # noqa: C901 - one flat branch per optional part
    acct = [result.account_id, result.region]
    if (account := result.account) is not None:
        put(metrics.SES_SENDING_ENABLED, acct, float(account.sending_enabled))
        put(metrics.SES_PRODUCTION_ACCESS, acct, float(account.production_access_enabled))
        for value in ENFORCEMENT_STATUSES:
            put(metrics.SES_ENFORCEMENT, [*acct, value], float(account.enforcement_status == value))
        put(metrics.SES_QUOTA_MAX_24H, acct, account.max_24_hour_send)
        put(metrics.SES_QUOTA_MAX_RATE, acct, account.max_send_rate)
        put(metrics.SES_QUOTA_SENT_24H, acct, account.sent_last_24_hours)
    if result.identities is not None:
        put(metrics.SES_IDENTITIES, acct, len(result.identities))
        for identity in result.identities:
            for kind in ("bounce", "complaint"):
                path = feedback_path(identity, kind)
                if path == "unknown":  # an AWS error: no series rather than a false 0
                    continue
                routed = path in ("identity_topic", "event_destination")
                put(
                    metrics.SES_FEEDBACK_ROUTED,
                    [*acct, identity.identity, kind, path],
                    float(routed),
                )
    if result.bounce_ratio is not None:
        put(metrics.SES_REPUTATION_BOUNCE, acct, result.bounce_ratio)
    if result.complaint_ratio is not None:
        put(metrics.SES_REPUTATION_COMPLAINT, acct, result.complaint_ratio)
    for (kind, impact), count in sorted((result.recommendations or {}).items()):
        put(metrics.SES_RECOMMENDATIONS, [*acct, kind, impact], count)
    if (suppression := result.suppression) is not None:
        for reason in ("BOUNCE", "COMPLAINT"):
            put(metrics.SES_SUPPRESSED, [*acct, reason], suppression.by_reason.get(reason, 0))
        put(metrics.SES_SUPPRESSED_RECENT, acct, suppression.added_last_24h)
        put(metrics.SES_SUPPRESSED_RECOUNT, acct, suppression.full_recount_at)
        for domain, count in suppression.top_recipient_domains:
            put(metrics.SES_SUPPRESSED_DOMAINS, [*acct, domain], count)


def _health_metrics(
    snap: Snapshot, health_by_collector: Mapping[str, CollectorHealth]
) -> Iterator[Metric]:
    up = metrics.COLLECTOR_UP.gauge()
    last_success = metrics.COLLECTOR_LAST_SUCCESS.gauge()
    duration = metrics.COLLECTOR_DURATION.gauge()
    interval = metrics.COLLECTOR_INTERVAL.gauge()
    failures = metrics.COLLECTOR_FAILURES.counter()
    for name, health in sorted(health_by_collector.items()):
        up.add_metric([name], float(health.up))
        interval.add_metric([name], health.interval_seconds)
        failures.add_metric([name], health.failures)
        if health.last_success is not None:
            last_success.add_metric([name], health.last_success)
        if health.duration_seconds is not None:
            duration.add_metric([name], health.duration_seconds)
    yield from (up, last_success, duration, interval, failures)

    reload_ok = metrics.CONFIG_RELOAD_SUCCESS.gauge()
    reload_ok.add_metric([], float(snap.config_reload_ok))
    reload_ts = metrics.CONFIG_RELOAD_TIMESTAMP.gauge()
    reload_ts.add_metric([], snap.config_loaded_at)
    yield from (reload_ok, reload_ts)


class EventsCollector(Collector):
    """SES event counters and SQS consumer health, read from the pipeline at scrape time."""

    def __init__(self, pipeline: EventPipeline, sqs_stats: SqsStats | None = None) -> None:
        self._pipeline = pipeline
        self._sqs_stats = sqs_stats

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        counts = self._pipeline.snapshot()
        tables: list[tuple[metrics.MetricSpec, Mapping[Any, int]]] = [
            (metrics.SES_EVENTS, counts.events),
            (metrics.SES_SENT, counts.sent),
            (metrics.SES_DELIVERED, counts.delivered),
            (metrics.SES_BOUNCED, counts.bounced),
            (metrics.SES_COMPLAINED, counts.complained),
            (metrics.SES_DELAYED, counts.delayed),
            (metrics.SES_REJECTED, counts.rejected),
            (metrics.SES_RENDERING_FAILED, counts.rendering_failed),
        ]
        for spec, table in tables:
            family = spec.counter()
            for labels, value in sorted(table.items()):
                family.add_metric(list(labels), value)
            yield family
        for spec, by_reason in (
            (metrics.SES_MALFORMED, counts.malformed),
            (metrics.SES_IGNORED, counts.ignored),
            (metrics.SES_REFUSED, counts.refused),
        ):
            family = spec.counter()
            for reason, value in sorted(by_reason.items()):
                family.add_metric([reason], value)
            yield family
        duplicates = metrics.SES_DUPLICATES.counter()
        duplicates.add_metric([], counts.duplicates)
        yield duplicates
        for spec, histogram in (
            (metrics.SES_PROCESSING, counts.processing),
            (metrics.SES_LAG, counts.lag),
        ):
            histogram_family = spec.histogram()
            histogram_family.add_metric([], histogram.buckets(), histogram.total)
            yield histogram_family
        last_event = metrics.SES_LAST_EVENT.gauge()
        if counts.last_event_timestamp is not None:
            last_event.add_metric([], counts.last_event_timestamp)
        yield last_event
        tracked = metrics.SES_TRACKED_DOMAINS.gauge()
        tracked.add_metric([], counts.tracked_recipient_domains)
        yield tracked
        if self._sqs_stats is not None:
            yield from _sqs_metrics(self._sqs_stats.snapshot())


def _sqs_metrics(queues: Mapping[str, QueueState]) -> Iterator[Metric]:
    received = metrics.SQS_RECEIVED.counter()
    deleted = metrics.SQS_DELETED.counter()
    delete_failures = metrics.SQS_DELETE_FAILURES.counter()
    receive_errors = metrics.SQS_RECEIVE_ERRORS.counter()
    redrive = metrics.SQS_REDRIVE.gauge()
    visible = metrics.SQS_VISIBLE.gauge()
    in_flight = metrics.SQS_IN_FLIGHT.gauge()
    for name, state in sorted(queues.items()):
        received.add_metric([name], state.received)
        deleted.add_metric([name], state.deleted)
        delete_failures.add_metric([name], state.delete_failures)
        receive_errors.add_metric([name], state.receive_errors)
        if state.has_redrive_policy is not None:
            redrive.add_metric([name], float(state.has_redrive_policy))
        if state.visible_messages is not None:
            visible.add_metric([name], state.visible_messages)
        if state.in_flight_messages is not None:
            in_flight.add_metric([name], state.in_flight_messages)
    yield from (received, deleted, delete_failures, receive_errors, redrive, visible, in_flight)
