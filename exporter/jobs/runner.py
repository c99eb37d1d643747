"""One way to run a scheduled job: timed, its errors sorted, a failure always recorded.

Every job the daemon schedules is a row of a table (``Job``) and runs through
``JobRunner.run``, so a crash is reported the same way whichever collector it hits: a
collector that raises is down and its failure is counted, never silently stale.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import undefined

from exporter.sources.ses import Cancelled, SesApiError
from exporter.store import Store

__all__ = ["Job", "JobRunner", "Publish", "Work"]

log = structlog.get_logger("exporter")

Publish = Callable[[float], None]
"""Records a finished run's results, given its duration in seconds."""
Work = Callable[[], Publish | None]
"""Does the run's I/O; returns how to publish it (None: nothing to publish)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the daemon's job table.

    ``collector`` names the health entry a failed run counts against (None for the
    housekeeping jobs, which have no series of their own).
    """

    key: str
    interval_seconds: float
    work: Work
    collector: str | None = None
    executor: str = "default"
    jitter_seconds: float = 0.0
    start_now: bool = True  # the first run at once, not one interval after scheduling
    misfire_grace_seconds: int | None = None  # None: the scheduler's default


class JobRunner:
    """Runs jobs; never lets an exception reach the scheduler or the caller."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def run(self, key: str, work: Work, collector: str | None = None) -> None:
        """Run ``work`` and publish it. A shutdown's cancellation is logged as info, a
        source's expected error (an AWS error code) as a warning, anything else with its
        traceback; each of those but cancellation is a failed run of ``collector``."""
        started = time.monotonic()
        try:
            publish = work()
            if publish is not None:
                publish(time.monotonic() - started)
        except (Cancelled, asyncio.CancelledError):
            log.info("job cancelled by shutdown", job=key)
            return
        except SesApiError as exc:
            error = exc.code
            log.warning("job failed", job=key, error=error)
        except Exception as exc:
            error = type(exc).__name__
            log.exception("job crashed", job=key)
        else:
            return
        if collector is not None:
            self._store.record_run(
                collector,
                ok=False,
                finished=time.time(),
                duration_seconds=time.monotonic() - started,
                error=error,
            )

    def schedule(self, scheduler: BaseScheduler, jobs: Iterable[Job]) -> None:
        """Add (or replace) each job: every ``interval_seconds``, through ``run``."""
        for job in jobs:
            if job.collector is not None:
                self._store.set_interval(job.collector, job.interval_seconds)
            scheduler.add_job(
                self.run,
                IntervalTrigger(seconds=job.interval_seconds, jitter=job.jitter_seconds or None),
                args=(job.key, job.work, job.collector),
                id=job.key,
                replace_existing=True,
                executor=job.executor,
                next_run_time=datetime.now(UTC) if job.start_now else undefined,
                misfire_grace_time=(
                    undefined if job.misfire_grace_seconds is None else job.misfire_grace_seconds
                ),
            )
