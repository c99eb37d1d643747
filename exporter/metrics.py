"""The catalogue: every metric this exporter exposes, with its help text and labels.

Nothing else in the code base makes up a metric name. The collector builds fresh metric
families from these specs on every scrape; a test walks the catalogue and checks the
Prometheus naming rules, and the README's metric table is checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
)

__all__ = ["CATALOGUE", "MetricSpec"]

Kind = Literal["gauge", "counter", "info"]
_CACHED = "Refreshed by a background job every deliverability_collector_interval_seconds."


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: its exposed name, type, HELP text and label names."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]

    def gauge(self) -> GaugeMetricFamily:
        """A new, empty gauge family for one scrape."""
        self._expect("gauge")
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)

    def counter(self) -> CounterMetricFamily:
        self._expect("counter")
        return CounterMetricFamily(self.name.removesuffix("_total"), self.help, labels=self.labels)

    def info(self, extra_labels: tuple[str, ...] = ()) -> InfoMetricFamily:
        """An info family; ``extra_labels`` (e.g. configured owner labels) follow the fixed ones."""
        self._expect("info")
        labels = [*self.labels, *extra_labels]
        return InfoMetricFamily(self.name.removesuffix("_info"), self.help, labels=labels)

    def _expect(self, kind: Kind) -> None:
        if self.kind != kind:
            raise TypeError(f"{self.name} is a {self.kind}, not a {kind}")


CHECK_STATUS = MetricSpec(
    "deliverability_check_status",
    "gauge",
    "Verdict of a mail-DNS check on a sending domain: 1 for the current status "
    f"(pass, warn, fail, unknown), 0 for the others. {_CACHED}",
    ("domain", "check", "status"),
)
MAIL_FROM_RESOLVABLE = MetricSpec(
    "deliverability_mail_from_resolvable",
    "gauge",
    "1 if the custom MAIL FROM domain has an A or AAAA record, 0 if it has neither "
    f"(strict gateways reject with 553 5.1.8); absent while DNS cannot tell. {_CACHED}",
    ("domain", "mail_from_domain"),
)
DMARC_POLICY_LEVEL = MetricSpec(
    "deliverability_dmarc_policy_level",
    "gauge",
    "Effective DMARC policy of the domain: -1 no valid record, 0 none, 1 quarantine, "
    f"2 reject; absent while DNS cannot tell. {_CACHED}",
    ("domain",),
)
SPF_DNS_LOOKUPS = MetricSpec(
    "deliverability_spf_dns_lookups",
    "gauge",
    "DNS-querying terms in the domain's SPF include/redirect tree (RFC 7208 limit: 10); "
    f"absent when there is no SPF record or DNS cannot tell. {_CACHED}",
    ("domain",),
)
DOMAIN_INFO = MetricSpec(
    "deliverability_domain_info",
    "info",
    "A monitored sending domain, with its MAIL FROM domain, region and the owner labels "
    "from the configuration, for routing alerts to the team that owns it.",
    ("domain", "mail_from_domain", "aws_region"),
)
COLLECTOR_UP = MetricSpec(
    "deliverability_collector_up",
    "gauge",
    "1 if the collector's last run succeeded, 0 if it failed (for dns: the resolver did "
    "not answer at all). Other collectors keep serving their last results.",
    ("collector",),
)
COLLECTOR_LAST_SUCCESS = MetricSpec(
    "deliverability_collector_last_success_timestamp_seconds",
    "gauge",
    "Unix time at which the collector's last successful run finished.",
    ("collector",),
)
COLLECTOR_DURATION = MetricSpec(
    "deliverability_collector_duration_seconds",
    "gauge",
    "How long the collector's last run took.",
    ("collector",),
)
COLLECTOR_INTERVAL = MetricSpec(
    "deliverability_collector_interval_seconds",
    "gauge",
    "Configured interval between the collector's runs, so staleness alerts need not hard-code it.",
    ("collector",),
)
COLLECTOR_FAILURES = MetricSpec(
    "deliverability_collector_failures_total",
    "counter",
    "Collector runs that failed since the exporter started.",
    ("collector",),
)
DNS_QUERIES = MetricSpec(
    "deliverability_dns_queries_total",
    "counter",
    "DNS questions sent to the resolver, by record type and outcome (the response code, "
    "or timeout, network, malformed_response). Each distinct question is asked once per cycle.",
    ("record_type", "outcome"),
)
CONFIG_RELOAD_SUCCESS = MetricSpec(
    "deliverability_config_last_reload_successful",
    "gauge",
    "1 if the last configuration load or reload succeeded, 0 if the new file was invalid "
    "and the previous configuration is still in use.",
    (),
)
CONFIG_RELOAD_TIMESTAMP = MetricSpec(
    "deliverability_config_last_reload_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful configuration load.",
    (),
)
BUILD_INFO = MetricSpec(
    "deliverability_build_info",
    "info",
    "Version of the exporter and of the Python that runs it.",
    ("version", "python_version"),
)

CATALOGUE: tuple[MetricSpec, ...] = (
    CHECK_STATUS,
    MAIL_FROM_RESOLVABLE,
    DMARC_POLICY_LEVEL,
    SPF_DNS_LOOKUPS,
    DOMAIN_INFO,
    COLLECTOR_UP,
    COLLECTOR_LAST_SUCCESS,
    COLLECTOR_DURATION,
    COLLECTOR_INTERVAL,
    COLLECTOR_FAILURES,
    DNS_QUERIES,
    CONFIG_RELOAD_SUCCESS,
    CONFIG_RELOAD_TIMESTAMP,
    BUILD_INFO,
)
