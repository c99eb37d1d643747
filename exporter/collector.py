"""Turns the latest snapshot into metric families at scrape time, with no I/O."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from exporter import __version__, metrics
from exporter.model import Status
from exporter.sources.dns import DnsQueryStats
from exporter.store import Snapshot

__all__ = ["ExporterCollector"]


class ExporterCollector(Collector):
    """A custom collector over the store's snapshot (series of removed domains vanish)."""

    def __init__(self, read_snapshot: Callable[[], Snapshot], dns_stats: DnsQueryStats) -> None:
        self._read = read_snapshot
        self._dns_stats = dns_stats

    def describe(self) -> list[Metric]:
        return []  # names are known from the catalogue; no collect() at registration

    def collect(self) -> Iterator[Metric]:
        snap = self._read()
        yield from _domain_metrics(snap)
        yield from _health_metrics(snap)
        queries = metrics.DNS_QUERIES.counter()
        for (rdtype, outcome), count in sorted(self._dns_stats.snapshot().items()):
            queries.add_metric([rdtype, outcome], count)
        yield queries
        build = metrics.BUILD_INFO.info()
        build.add_metric([__version__, platform.python_version()], {})
        yield build


def _domain_metrics(snap: Snapshot) -> Iterator[Metric]:
    config = snap.config
    owner_labels = config.owner_label_names
    info = metrics.DOMAIN_INFO.info(owner_labels)
    for domain in config.domains:
        owners = dict(domain.labels)
        info.add_metric(
            [
                domain.name,
                domain.mail_from or "",
                domain.region or "",
                *(owners.get(k, "") for k in owner_labels),
            ],
            {},
        )
    yield info

    status = metrics.CHECK_STATUS.gauge()
    resolvable = metrics.MAIL_FROM_RESOLVABLE.gauge()
    dmarc = metrics.DMARC_POLICY_LEVEL.gauge()
    spf_lookups = metrics.SPF_DNS_LOOKUPS.gauge()
    configured = {d.name for d in config.domains}
    reports = snap.dns.reports if snap.dns is not None else ()
    for report in reports:
        if report.domain not in configured:
            continue  # removed by a reload; gone before the next cycle runs
        for check in report.checks:
            for value in Status:
                status.add_metric(
                    [report.domain, check.check, value.value], float(check.status is value)
                )
        if report.mail_from is not None and report.mail_from_resolvable is not None:
            resolvable.add_metric(
                [report.domain, report.mail_from], float(report.mail_from_resolvable)
            )
        if report.dmarc_policy_level is not None:
            dmarc.add_metric([report.domain], float(report.dmarc_policy_level))
        if report.spf_dns_lookups is not None:
            spf_lookups.add_metric([report.domain], float(report.spf_dns_lookups))
    yield from (status, resolvable, dmarc, spf_lookups)


def _health_metrics(snap: Snapshot) -> Iterator[Metric]:
    up = metrics.COLLECTOR_UP.gauge()
    last_success = metrics.COLLECTOR_LAST_SUCCESS.gauge()
    duration = metrics.COLLECTOR_DURATION.gauge()
    interval = metrics.COLLECTOR_INTERVAL.gauge()
    failures = metrics.COLLECTOR_FAILURES.counter()
    for name, health in sorted(snap.health.items()):
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
