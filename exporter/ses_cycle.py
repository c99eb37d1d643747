"""One SES collection run for one account and region, keeping the last good values.

Each part (account state, identities, suppression list, reputation, recommendations) fails
on its own: an AWS error marks the collector down and keeps that part's previous values
with their timestamp; access denied on an optional part (recommendations, suppression,
reputation) disables that part with one clear log line instead of failing every run. A
failed feedback-routing lookup is reported as part ``routing``: the identities are still
updated, with their routing unknown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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

__all__ = ["SesRegionCollector", "SesRegionResult", "build_region_collector"]

log = structlog.get_logger("exporter.ses")
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
    errors: dict[str, str] = field(default_factory=dict)  # part -> AWS error code, this run
    error_counts: dict[tuple[str, str], int] = field(default_factory=dict)  # since start
    disabled: frozenset[str] = frozenset()

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
        self.result = SesRegionResult(account_name, account_id, source.region)

    def run(self) -> SesRegionResult:
        """Every enabled part once; a failed part keeps its previous values.

        Raises `Cancelled` (from the pacing) when the daemon stops mid-run; the result is
        then left as the previous run published it.
        """
        now = time.time()
        run = _Run(set(self.result.disabled), self.result.account_name, self.result.region)
        changes: dict[str, Any] = {}
        settings = self._settings
        if (
            self._account_parts
            and (account := run.attempt("account", self._source.account)) is not None
        ):
            changes["account"] = account
        due = now - self.result.identities_at >= settings.discovery_interval_seconds
        if settings.discover_identities and (self.result.identities is None or due):
            identities = run.attempt(
                "identities",
                lambda: self._source.domain_identities(settings.identity_patterns, self._owns),
            )
            if identities is not None:
                changes["identities"], changes["identities_at"] = tuple(identities), now
                if codes := sorted({i.routing_error for i in identities if i.routing_error}):
                    run.errors["routing"] = codes[0]  # those identities' routing is unknown
        optional_parts = {
            "suppression": self._tracker.refresh if self._tracker is not None else None,
            "reputation": self._source.reputation
            if settings.reputation_metrics and self._account_parts
            else None,
            "recommendations": self._source.open_recommendations
            if settings.recommendations and self._account_parts
            else None,
        }
        for part, call in optional_parts.items():
            if call is not None and (value := run.attempt(part, call, optional=True)) is not None:
                if part == "reputation":
                    changes["bounce_ratio"], changes["complaint_ratio"] = value
                else:
                    changes[part] = value
        counts = dict(self.result.error_counts)
        for part, code in run.errors.items():
            counts[(part, code)] = counts.get((part, code), 0) + 1
        self.result = replace(
            self.result,
            errors=run.errors,
            error_counts=counts,
            disabled=frozenset(run.disabled),
            **changes,
        )
        return self.result


@dataclass(slots=True)
class _Run:
    """Errors and disabled parts of one run."""

    disabled: set[str]
    account_name: str
    region: str
    errors: dict[str, str] = field(default_factory=dict)

    def attempt(self, part: str, call: Callable[[], Any], *, optional: bool = False) -> Any:
        if part in self.disabled:
            return None
        try:
            return call()
        except (SesApiError, SuppressionUnavailable) as exc:
            code = exc.code if isinstance(exc, SesApiError) else exc.error_code
            if optional and code in _DENIED:
                self.disabled.add(part)
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
