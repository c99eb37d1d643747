"""One SES collection run for one account and region, keeping the last good values.

Each part (account state, identities, suppression list, reputation, recommendations) fails
on its own: an AWS error marks the collector down and keeps that part's previous values
with their timestamp; access denied on an optional part (recommendations, suppression,
reputation) disables that part with one clear log line instead of failing every run, and
it is tried again once per discovery interval, so a fixed IAM policy is noticed. A
failed feedback-routing lookup is reported as part ``routing``: the identities are still
updated, with their routing unknown; a failed DKIM signing read (GetEmailIdentity) as part
``dkim_origin``, those identities keeping their DNS DKIM expectations of before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws import CLIENT_CONFIG, account_session, aws_error_code
from exporter.checks.ses import AccountState, IdentityState
from exporter.config import AwsAccountConfig, AwsConfig, ClusterConfig
from exporter.sharding import owns
from exporter.sources.ses import Pacer, SesApiError, SesRegionSource
from exporter.sources.suppression import (
    SuppressionState,
    SuppressionTracker,
    SuppressionUnavailable,
)

__all__ = [
    "ACCOUNT_JOB",
    "IDENTITIES_JOB",
    "JOBS",
    "SUPPRESSION_JOB",
    "SesRegionCollector",
    "SesRegionResult",
    "build_region_collector",
]

log = structlog.get_logger("exporter.ses")
# The daemon's jobs per (account, region), each on its own schedule: account state (with
# reputation and recommendations: a few calls), identity discovery (hundreds of calls at
# tens of thousands of identities) and the suppression list (a full recount: one call per
# 1,000 entries).
ACCOUNT_JOB, IDENTITIES_JOB, SUPPRESSION_JOB = "account", "identities", "suppression"
JOBS = (ACCOUNT_JOB, IDENTITIES_JOB, SUPPRESSION_JOB)
# The parts a discovery reports on: the identities, and its per-identity lookups.
_DISCOVERY_PARTS = ("identities", "routing", "dkim_origin")
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "NotFoundException",
    "404",
    "UnauthorizedOperation",
}


@dataclass(frozen=True, slots=True)
class SesRegionResult:
    """The latest values of every part; None until that part first succeeds."""

    account_name: str
    account_id: str
    region: str
    account: AccountState | None = None
    identities: tuple[IdentityState, ...] | None = None
    identities_at: float = 0.0
    suppression: SuppressionState | None = None
    bounce_ratio: float | None = None
    complaint_ratio: float | None = None
    recommendations: dict[tuple[str, str], int] | None = None
    errors: dict[str, str] = field(default_factory=dict)  # part -> AWS error code, last try
    error_counts: dict[tuple[str, str], int] = field(default_factory=dict)  # since start
    disabled: dict[str, float] = field(default_factory=dict)  # optional part -> denied at
    optional_parts: tuple[str, ...] = ()  # the optional parts configured on, in this process

    @property
    def key(self) -> str:
        return f"ses:{self.account_name}:{self.region}"

    @property
    def ok(self) -> bool:
        return not self.errors


class SesRegionCollector:
    """Owns the state of one (account, region) across runs."""

    def __init__(
        self,
        *,
        account_name: str,
        account_id: str,
        source: SesRegionSource,
        settings: AwsConfig,
        sesv2_client: Any,
        account_parts: bool = True,
        owns: Callable[[str], bool] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._source = source
        self._settings = settings
        self._account_parts = account_parts  # False on the shards that only discover
        self._owns = owns
        self._tracker = (
            SuppressionTracker(
                sesv2_client,
                max_requests_per_second=settings.api_calls_per_second,
                full_recount_seconds=settings.suppression_full_recount_seconds,
                stop=stop,
            )
            if settings.suppression_list and account_parts
            else None
        )
        self._lock = threading.Lock()
        # The optional parts configured on in this process: part -> (its job, the call).
        self._optional: dict[str, tuple[str, Callable[[], Any]]] = {}
        if self._tracker is not None:
            self._optional["suppression"] = (SUPPRESSION_JOB, self._tracker.refresh)
        if settings.reputation_metrics and account_parts:
            self._optional["reputation"] = (ACCOUNT_JOB, source.reputation)
        if settings.recommendations and account_parts:
            self._optional["recommendations"] = (ACCOUNT_JOB, source.open_recommendations)
        self.result = SesRegionResult(
            account_name, account_id, source.region, optional_parts=tuple(self._optional)
        )

    def run(self, jobs: Collection[str] = JOBS) -> SesRegionResult:
        """The enabled parts of ``jobs`` once; a failed part keeps its previous values.

        The daemon runs each job on its own schedule (`JOBS`): account state is never
        queued behind a long discovery or suppression recount. ``errors`` holds the latest
        outcome of every part, whichever job ran it. Thread-safe: jobs may run at once.
        Raises `Cancelled` (from the pacing) when the daemon stops mid-run; the result is
        then left as the previous run published it.
        """
        now = time.time()
        previous = self.result
        run = _Run(
            dict(previous.disabled),
            previous.account_name,
            previous.region,
            now=now,
            retry_after=self._settings.discovery_interval_seconds,
        )
        attempted: set[str] = set()
        changes: dict[str, Any] = {}
        settings = self._settings
        if ACCOUNT_JOB in jobs and self._account_parts:
            attempted.add("account")
            if (account := run.attempt("account", self._source.account)) is not None:
                changes["account"] = account
        if IDENTITIES_JOB in jobs and self._discovery_due(previous, now):
            attempted.update(_DISCOVERY_PARTS)
            identities = run.attempt(
                "identities",
                lambda: self._source.domain_identities(settings.identity_patterns, self._owns),
            )
            if identities is not None:
                changes["identities"], changes["identities_at"] = tuple(identities), now
                run.lookup_errors(identities)
        for part, (job, call) in self._optional.items():
            if job not in jobs:
                continue
            attempted.add(part)
            if (value := run.attempt(part, call, optional=True)) is not None:
                if part == "reputation":
                    changes["bounce_ratio"], changes["complaint_ratio"] = value
                else:
                    changes[part] = value
        return self._publish(run, attempted, changes)

    def _discovery_due(self, previous: SesRegionResult, now: float) -> bool:
        settings = self._settings
        return settings.discover_identities and (
            previous.identities is None
            # A failed discovery, or one whose routing or DKIM lookups failed, is retried
            # next run: the collector would otherwise stay down for a discovery interval.
            or not previous.errors.keys().isdisjoint(_DISCOVERY_PARTS)
            or now - previous.identities_at >= settings.discovery_interval_seconds
        )

    def _publish(self, run: _Run, attempted: set[str], changes: dict[str, Any]) -> SesRegionResult:
        with self._lock:  # another job may have published since this one started
            current = self.result
            counts = dict(current.error_counts)
            for part, code in run.errors.items():
                counts[(part, code)] = counts.get((part, code), 0) + 1
            errors = {p: c for p, c in current.errors.items() if p not in attempted}
            disabled = {p: t for p, t in current.disabled.items() if p not in attempted}
            disabled.update((p, t) for p, t in run.disabled.items() if p in attempted)
            self.result = replace(
                current,
                errors=errors | run.errors,
                error_counts=counts,
                disabled=disabled,
                **changes,
            )
            return self.result


@dataclass(slots=True)
class _Run:
    """Errors and disabled parts of one run."""

    disabled: dict[str, float]  # optional part -> when access was denied
    account_name: str
    region: str
    now: float
    retry_after: float  # a disabled part is tried again this long after the denial
    errors: dict[str, str] = field(default_factory=dict)

    def lookup_errors(self, identities: list[IdentityState]) -> None:
        """Per-identity lookups that failed while discovery itself succeeded: part
        ``routing`` (that routing is unknown) and ``dkim_origin`` (that origin stays
        unknown, the DNS DKIM check keeps its expectations of before)."""
        for part, codes in (
            ("routing", {i.routing_error for i in identities if i.routing_error}),
            ("dkim_origin", {i.dkim_origin_error for i in identities if i.dkim_origin_error}),
        ):
            if codes:
                self.errors[part] = min(codes)

    def attempt(self, part: str, call: Callable[[], Any], *, optional: bool = False) -> Any:
        denied_at = self.disabled.get(part)
        if denied_at is not None and self.now - denied_at < self.retry_after:
            return None
        try:
            value = call()
        except (SesApiError, SuppressionUnavailable) as exc:
            code = exc.code if isinstance(exc, SesApiError) else exc.error_code
            if optional and code in _DENIED:
                self.disabled[part] = self.now
                if denied_at is None:  # said once, not at every retry
                    log.warning(
                        "optional SES part disabled",
                        part=part,
                        error=code,
                        account=self.account_name,
                        region=self.region,
                    )
                return None
            self.errors[part] = code
            return None
        if self.disabled.pop(part, None) is not None:
            log.info(
                "optional SES part enabled again",
                part=part,
                account=self.account_name,
                region=self.region,
            )
        return value


def build_region_collector(
    account: AwsAccountConfig,
    region: str,
    settings: AwsConfig,
    cluster: ClusterConfig | None = None,
    stop: threading.Event | None = None,
) -> SesRegionCollector:
    """Sessions, clients and the account id for one (account, region); raises SesApiError.

    ``stop`` (the daemon's stop event) interrupts the paced waits: see `Cancelled`.
    """
    cluster = cluster or ClusterConfig()
    session = account_session(account)
    try:
        identity = session.client(
            "sts", region_name=region, config=CLIENT_CONFIG
        ).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise SesApiError("get_caller_identity", aws_error_code(exc)) from exc
    sesv2 = session.client("sesv2", region_name=region, config=CLIENT_CONFIG)
    source = SesRegionSource(
        region=region,
        sesv2=sesv2,
        ses=session.client("ses", region_name=region, config=CLIENT_CONFIG),
        cloudwatch=session.client("cloudwatch", region_name=region, config=CLIENT_CONFIG)
        if settings.reputation_metrics and cluster.polls_ses_account
        else None,
        pacer=Pacer(settings.api_calls_per_second, stop),
    )
    return SesRegionCollector(
        account_name=account.name,
        account_id=str(identity.get("Account", "unknown")),
        source=source,
        settings=settings,
        sesv2_client=sesv2,
        account_parts=cluster.polls_ses_account,
        owns=partial(owns, cluster) if cluster.shard_count > 1 else None,
        stop=stop,
    )
