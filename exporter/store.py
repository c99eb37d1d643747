"""The latest results of every collector, published as one immutable snapshot.

Jobs replace the snapshot under a lock; scrapes and the landing page read it without
locking and without I/O, so a slow DNS cycle never slows a scrape.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from exporter.checks.ses import IdentityState, evaluate_identity
from exporter.config import Config
from exporter.jobs.dns import DnsCycleResult
from exporter.jobs.ses import SesRegionResult
from exporter.jobs.smtp import SmtpCredentialResult
from exporter.model import CheckResult

__all__ = ["CollectorHealth", "Snapshot", "Store"]

_V = TypeVar("_V")
_domain = operator.attrgetter("domain")
_checks = operator.attrgetter("checks")


@dataclass(frozen=True, slots=True)
class CollectorHealth:
    """How one collector's runs went; ``last_success`` is None until one succeeds."""

    interval_seconds: float
    up: bool = False
    last_success: float | None = None
    duration_seconds: float | None = None
    failures: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    config: Config
    dns: DnsCycleResult | None = None
    health: Mapping[str, CollectorHealth] = field(default_factory=lambda: MappingProxyType({}))
    config_reload_ok: bool = True
    config_loaded_at: float = 0.0
    ses: Mapping[str, SesRegionResult] = field(default_factory=lambda: MappingProxyType({}))
    smtp: Mapping[str, SmtpCredentialResult] = field(default_factory=lambda: MappingProxyType({}))
    notice: str = ""  # one line atop the landing page, e.g. that the demo's data is made up

    def identities(self) -> list[IdentityState]:
        """The domain identities every SES region's last discovery found."""
        return [i for result in self.ses.values() for i in (result.identities or ())]

    def verdicts(self) -> dict[str, tuple[CheckResult, ...]]:
        """Every monitored domain's checks: DNS verdicts, then SES's own, first region first.

        Monitored = configured plus discovered; a domain removed by a reload drops out at
        once, before the next cycle runs. The reports' own tuples are shared, not copied.
        """
        identities = self.identities()
        monitored = {d.name for d in self.config.domains} | {i.identity for i in identities}
        reports = self.dns.reports if self.dns is not None else ()
        by_domain = dict(zip(map(_domain, reports), map(_checks, reports), strict=True))
        if not by_domain.keys() <= monitored:
            for domain in by_domain.keys() - monitored:
                del by_domain[domain]
        for identity in identities:
            checks = by_domain.get(identity.identity, ())
            known = {c.check for c in checks}
            extra = tuple(c for c in evaluate_identity(identity) if c.check not in known)
            by_domain[identity.identity] = checks + extra
        return by_domain

    @property
    def ready(self) -> bool:
        """The first DNS cycle has finished (successfully or not); an events-only replica
        runs no DNS cycle and is ready at once."""
        if not self.config.cluster.runs_checks:
            return True
        return self.dns is not None or ("dns" in self.health and self.health["dns"].failures > 0)


class Store:
    """Holds the current snapshot; ``update`` swaps in a changed copy atomically."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._lock = threading.Lock()
        self._snapshot = snapshot

    def read(self) -> Snapshot:
        return self._snapshot

    def update(self, **changes: Any) -> Snapshot:
        with self._lock:
            self._snapshot = dataclasses.replace(self._snapshot, **changes)
            return self._snapshot

    def record_run(
        self,
        collector: str,
        *,
        ok: bool,
        finished: float,
        duration_seconds: float,
        error: str = "",
        **changes: Any,
    ) -> None:
        """Publish a collector run's outcome together with its results, in one swap."""
        with self._lock:
            self._snapshot = _with_run(
                self._snapshot,
                collector,
                ok=ok,
                finished=finished,
                duration_seconds=duration_seconds,
                error=error,
                **changes,
            )

    def record_ses(
        self, result: SesRegionResult, *, finished: float, duration_seconds: float
    ) -> None:
        """Publish one (account, region) run: its result and its collector health together."""
        error = ", ".join(f"{part}: {code}" for part, code in sorted(result.errors.items()))
        with self._lock:
            snap = self._snapshot
            self._snapshot = _with_run(
                snap,
                result.key,
                ok=result.ok,
                finished=finished,
                duration_seconds=duration_seconds,
                error=error,
                ses=MappingProxyType({**snap.ses, result.key: result}),
            )

    def record_smtp(self, result: SmtpCredentialResult, *, duration_seconds: float) -> None:
        """Publish one credential check; the collector is down when IAM or the endpoint failed."""
        probe_unknown = result.probe is not None and result.probe.status == "unknown"
        error = result.error or (result.probe.error if probe_unknown and result.probe else "")
        with self._lock:
            snap = self._snapshot
            self._snapshot = _with_run(
                snap,
                result.key,
                ok=not error,
                finished=result.checked_at,
                duration_seconds=duration_seconds,
                error=error,
                smtp=MappingProxyType({**snap.smtp, result.key: result}),
            )

    def forget(self, collectors: Collection[str]) -> None:
        """Drop collectors a reload removed, health and results in one swap: a removed
        credential or region neither looks stale forever nor keeps its identities monitored."""
        with self._lock:
            snap = self._snapshot
            self._snapshot = dataclasses.replace(
                snap,
                health=_without(snap.health, collectors),
                ses=_without(snap.ses, collectors),
                smtp=_without(snap.smtp, collectors),
            )

    def set_interval(self, collector: str, interval_seconds: float) -> None:
        with self._lock:
            snap = self._snapshot
            old = snap.health.get(collector) or CollectorHealth(interval_seconds=interval_seconds)
            health = dataclasses.replace(old, interval_seconds=interval_seconds)
            merged = MappingProxyType({**snap.health, collector: health})
            self._snapshot = dataclasses.replace(snap, health=merged)


def _without(mapping: Mapping[str, _V], keys: Collection[str]) -> Mapping[str, _V]:
    return MappingProxyType({k: v for k, v in mapping.items() if k not in keys})


def _with_run(
    snap: Snapshot,
    collector: str,
    *,
    ok: bool,
    finished: float,
    duration_seconds: float,
    error: str,
    **changes: Any,
) -> Snapshot:
    """``snap`` with one more run of ``collector`` counted, and ``changes`` applied."""
    old = snap.health.get(collector) or CollectorHealth(interval_seconds=0.0)
    health = dataclasses.replace(
        old,
        up=ok,
        last_success=finished if ok else old.last_success,
        duration_seconds=duration_seconds,
        failures=old.failures + (0 if ok else 1),
        last_error=error,
    )
    merged = MappingProxyType({**snap.health, collector: health})
    return dataclasses.replace(snap, health=merged, **changes)
