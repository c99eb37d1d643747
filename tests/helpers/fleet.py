"""A fleet of domain reports and the snapshot, registry and exposition built from it, with
parsers for what the per-domain exposition exports: shared by the series-budget tests of the
configuration, the collector, the exposition, /metrics and the landing page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter.checks import CHECK_IDS
from exporter.collector import ExporterCollector
from exporter.config import Config, DomainConfig, MetricsConfig
from exporter.jobs.dns import DnsCycleResult
from exporter.jobs.ses import SesRegionResult
from exporter.model import CheckResult, DomainReport, Status
from exporter.sources.dns import DnsQueryStats
from exporter.store import Snapshot
from exporter.web import render_metrics

PASS, WARN, FAIL, UNKNOWN = Status.PASS, Status.WARN, Status.FAIL, Status.UNKNOWN
CHECKS = CHECK_IDS  # a fleet domain reports every DNS check
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
Labels = tuple[tuple[str, str], ...]


def report(name: str, bad: dict[str, Status] | None = None, checks: Sequence[str] = CHECKS):
    """A domain whose checks pass except those in ``bad``."""
    bad = bad or {}
    results = tuple(
        CheckResult(check, bad.get(check, PASS), f"{check} of {name}", "remedy") for check in checks
    )
    return DomainReport(
        name,
        results,
        mail_from=f"mail.{name}",
        mail_from_resolvable=bad.get("mail_from_resolvable") is not FAIL,
        dmarc_policy_level=0 if bad.get("dmarc") is WARN else 2,
        spf_dns_lookups=3,
    )


def snapshot(
    reports: Iterable[DomainReport],
    *,
    budget: int = 0,
    watch: Sequence[str] = (),
    labels: dict[str, Labels] | None = None,
    ses: dict[str, SesRegionResult] | None = None,
) -> Snapshot:
    reports = tuple(reports)
    labels = labels or {}
    config = Config(
        domains=tuple(
            DomainConfig(
                name=r.domain,
                mail_from=r.mail_from,
                region="us-east-1",
                labels=labels.get(r.domain, ()),
            )
            for r in reports
        ),
        metrics=MetricsConfig(series_budget=budget, watch_domains=tuple(watch)),
    )
    return Snapshot(
        config=config,
        dns=DnsCycleResult(reports, 0.0, 1.0, 1, 1),
        ses=MappingProxyType(ses or {}),
    )


def registry_for(snap: Snapshot) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(lambda: snap, DnsQueryStats()))
    return registry


def exposition(snap: Snapshot) -> str:
    body, _ = render_metrics(registry_for(snap))
    return body.decode()


def samples(text: str) -> dict[tuple[str, Labels], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def status_domains(text: str) -> list[str]:
    """Domains with deliverability_check_status series, in the order they are exported."""
    seen: dict[str, None] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "deliverability_check_status":
            for sample in family.samples:
                seen.setdefault(sample.labels["domain"], None)
    return list(seen)


def withheld(text: str) -> dict[str, float]:
    return {
        dict(labels)["worst_status"]: value
        for (name, labels), value in samples(text).items()
        if name == "deliverability_check_status_withheld_series"
    }


def domains_gauge(text: str) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["check"], dict(labels)["status"]): value
        for (name, labels), value in samples(text).items()
        if name == "deliverability_domains"
    }


# A fleet: two passing domains, one of each other worst status, a passing watched one.
FLEET = [
    report("a-pass.example"),
    report("b-pass.example"),
    report("c-fail.example", {"mail_from_resolvable": FAIL, "dmarc": WARN}),
    report("d-warn.example", {"dmarc": WARN, "dmarc_reports": WARN}),
    report("e-unknown.example", {"mail_from_mx": UNKNOWN}),
    report("z-watched.example"),
]
SERIES_PER_DOMAIN = 4 * len(CHECKS)


def call(
    app: Any, path: str, method: str = "GET", **headers: str
) -> tuple[str, dict[str, str], bytes]:
    path, _, query = path.partition("?")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, **headers}
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        answer.update(status=status, headers=dict(response_headers))

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body
