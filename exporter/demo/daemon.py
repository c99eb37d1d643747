"""The daemon `ses-deliverability-exporter demo` runs: the real one, plus the jobs that make
the bundled data look like a living system.

A made-up SES account and SMTP credential are published by scheduled jobs with a real
interval (so the staleness alerts see a collector that keeps succeeding), and `DemoTraffic`
feeds the archived events in again and again with fresh ids and times (so rates are not 0).
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from exporter.app import Daemon
from exporter.config import Config, Overrides
from exporter.demo import sample_ses_state, sample_smtp_state
from exporter.demo.nameserver import DemoNameserver
from exporter.demo.traffic import DemoTraffic
from exporter.jobs.runner import Job, Publish
from exporter.runtime import Runtime

__all__ = ["DEMO_DIR", "DemoDaemon"]

DEMO_DIR = Path(str(resources.files("exporter.demo")))
SES_INTERVAL_SECONDS = 60.0
SMTP_INTERVAL_SECONDS = 60.0
BASE_SENT_24H = 12_345.0  # the account's send count before the demo started
NOTICE = (
    "demo: events are generated in-process from the bundled archive; the SES account, the"
    " SMTP credential and the queue demo-in-process are made up; DNS answers come from the"
    " bundled zone files and a loopback stand-in"
)


class DemoDaemon(Daemon):
    """`Daemon` on the bundled config, with the demo's SES, SMTP and event sources."""

    def __init__(
        self,
        config_path: Path,
        runtime: Runtime,
        *,
        listen: tuple[str, int] | None = None,
        nameserver: DemoNameserver | None = None,
        flags: Overrides | None = None,
        messages_per_second: float = 8.0,
    ) -> None:
        super().__init__(config_path, runtime, listen=listen, flags=flags)
        self.nameserver = nameserver
        self.store.update(notice=NOTICE)
        self.traffic = DemoTraffic(
            self.pipeline,
            self.events.stats,
            self._stop,
            DEMO_DIR / "events" / "demo-events.jsonl",
            messages_per_second=messages_per_second,
        )

    def start(self) -> None:
        if self.nameserver is not None:
            self.nameserver.start()
        self.traffic.backfill()  # the last minutes of traffic, there at the first scrape
        super().start()
        self.traffic.start()

    def shutdown(self) -> None:
        self._stop.set()
        self.traffic.join(timeout=5)
        super().shutdown()
        if self.nameserver is not None:
            self.nameserver.stop()

    def _jobs(self, config: Config) -> list[Job]:
        """The configured jobs and the demo's two: rescheduled on every reload like them."""
        ses_key = sample_ses_state(0).key
        smtp_key = sample_smtp_state(0).key
        return [
            *super()._jobs(config),
            Job(ses_key, SES_INTERVAL_SECONDS, self._demo_ses, collector=ses_key),
            Job(smtp_key, SMTP_INTERVAL_SECONDS, self._demo_smtp, collector=smtp_key),
        ]

    def _demo_ses(self) -> Publish:
        sent = BASE_SENT_24H + self.traffic.messages_fed

        def publish(duration: float) -> None:
            result = sample_ses_state(time.time(), sent_last_24h=sent)
            self.store.record_ses(result, finished=time.time(), duration_seconds=duration)

        return publish

    def _demo_smtp(self) -> Publish:
        def publish(duration: float) -> None:
            self.store.record_smtp(sample_smtp_state(time.time()), duration_seconds=duration)

        return publish
