"""The job runner: every way a job can end is logged at its level and, but for a shutdown's
cancellation, recorded against its collector, so a crashing collector shows as down."""

from __future__ import annotations

import asyncio
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from exporter.collector import ExporterCollector
from exporter.config import Config
from exporter.jobs.runner import Job, JobRunner, Publish
from exporter.jobs.ses import SesRegionResult
from exporter.jobs.smtp import SmtpCredentialResult
from exporter.sources.dns import DnsQueryStats
from exporter.sources.ses import Cancelled, SesApiError
from exporter.store import Snapshot, Store

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(store: Store) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(store.read, DnsQueryStats()))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def health(store: Store, collector: str) -> tuple[float, float]:
    """(up, failures) of one collector, as /metrics shows them."""
    got = samples(store)
    labels = (("collector", collector),)
    return (
        got[("deliverability_collector_up", labels)],
        got[("deliverability_collector_failures_total", labels)],
    )


def succeeds(store: Store) -> Publish:
    def publish(duration: float) -> None:
        store.record_run("smtp:relay", ok=True, finished=time.time(), duration_seconds=duration)

    return publish


def crashes() -> Publish:
    raise ZeroDivisionError


def test_a_job_that_crashes_after_a_success_is_down_with_a_failure_counted() -> None:
    store = Store(Snapshot(config=Config()))
    runner = JobRunner(store)
    runner.run("smtp:relay", lambda: succeeds(store), "smtp:relay")
    assert health(store, "smtp:relay") == (1.0, 0.0)
    with capture_logs() as logs:
        runner.run("smtp:relay", crashes, "smtp:relay")
    assert health(store, "smtp:relay") == (0.0, 1.0)
    assert store.read().health["smtp:relay"].last_error == "ZeroDivisionError"
    assert [(e["event"], e["log_level"], e.get("exc_info")) for e in logs] == [
        ("job crashed", "error", True)
    ]


def test_an_aws_error_is_a_warning_and_a_failure() -> None:
    store = Store(Snapshot(config=Config()))

    def denied() -> Publish:
        raise SesApiError("GetAccount", "AccessDeniedException")

    with capture_logs() as logs:
        JobRunner(store).run("ses:prod:us-east-1", denied, "ses:prod:us-east-1")
    assert health(store, "ses:prod:us-east-1") == (0.0, 1.0)
    assert store.read().health["ses:prod:us-east-1"].last_error == "AccessDeniedException"
    assert [(e["event"], e["log_level"], e["error"]) for e in logs] == [
        ("job failed", "warning", "AccessDeniedException")
    ]


@pytest.mark.parametrize("cancelled", [Cancelled, asyncio.CancelledError])
def test_a_shutdown_cancelling_a_run_is_not_a_failure(cancelled: type[BaseException]) -> None:
    store = Store(Snapshot(config=Config()))
    runner = JobRunner(store)
    runner.run("dns", lambda: succeeds(store), "smtp:relay")

    def stopped() -> Publish:
        raise cancelled

    with capture_logs() as logs:
        runner.run("dns", stopped, "smtp:relay")
    assert health(store, "smtp:relay") == (1.0, 0.0)
    assert [(e["event"], e["log_level"]) for e in logs] == [("job cancelled by shutdown", "info")]


def test_a_housekeeping_job_that_crashes_records_no_collector() -> None:
    store = Store(Snapshot(config=Config()))
    with capture_logs() as logs:
        JobRunner(store).run("config-watch", crashes)
    assert store.read().health == {}
    assert [e["event"] for e in logs] == ["job crashed"]


def test_a_scheduled_job_that_crashes_shows_down_with_its_interval() -> None:
    """Through the real scheduler, as the daemon runs its job table."""
    store = Store(Snapshot(config=Config()))
    scheduler = BackgroundScheduler()
    JobRunner(store).schedule(scheduler, [Job("smtp:relay", 3600, crashes, "smtp:relay")])
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while "smtp:relay" not in store.read().health or not health(store, "smtp:relay")[1]:
            assert time.monotonic() < deadline, "the job did not run"
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert health(store, "smtp:relay") == (0.0, 1.0)
    labels = (("collector", "smtp:relay"),)
    assert samples(store)[("deliverability_collector_interval_seconds", labels)] == 3600


class _Swaps(Store):
    """Remembers every snapshot the store published."""

    published: list[Snapshot]

    @property
    def _snapshot(self) -> Snapshot:
        return self.published[-1]

    @_snapshot.setter
    def _snapshot(self, snap: Snapshot) -> None:
        if not hasattr(self, "published"):
            self.published = []
        self.published.append(snap)


def test_an_ses_result_and_its_health_are_published_in_one_swap() -> None:
    """A scrape between two swaps would see the new result with the old health."""
    store = _Swaps(Snapshot(config=Config()))
    result = SesRegionResult("prod", "123456789012", "us-east-1", errors={"account": "Throttling"})
    store.record_ses(result, finished=time.time(), duration_seconds=0.1)
    assert len(store.published) == 2  # the initial snapshot, then one swap
    assert store.read().ses[result.key] is result
    assert store.read().health[result.key].failures == 1


def test_an_smtp_result_and_its_health_are_published_in_one_swap() -> None:
    store = _Swaps(Snapshot(config=Config()))
    result = SmtpCredentialResult("relay", None, checked_at=time.time())
    store.record_smtp(result, duration_seconds=0.1)
    assert len(store.published) == 2
    assert store.read().smtp[result.key] is result
    assert store.read().health[result.key].up
