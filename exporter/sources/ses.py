"""The SES adapter for one account and region: account state, domain identities, reputation.

Calls are paced (``api_calls_per_second``, default 1): SES's per-second limits are shared
with the team's own tooling. Identity attributes use the batched SES v1 calls (100
identities per call), so an account with tens of thousands of identities costs hundreds of
calls, not tens of thousands. Every AWS failure is raised as `SesApiError` with the AWS
error code; the caller marks that part down and keeps its last good values.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws import aws_error_code
from exporter.checks.ses import AccountState, IdentityState

__all__ = ["Cancelled", "Pacer", "SesApiError", "SesRegionSource", "interruptible_sleep"]

_BATCH = 100  # SES v1 attribute calls take at most 100 identities
_FEEDBACK_TYPES = ("bounce", "complaint")


class SesApiError(Exception):
    """An AWS call failed; ``code`` is the AWS error code (AccessDeniedException, ...)."""

    def __init__(self, operation: str, code: str) -> None:
        self.operation = operation
        self.code = code
        super().__init__(f"{operation}: {code}")


class Cancelled(Exception):  # noqa: N818 - what the caller catches: not an error
    """The daemon is stopping: a paced SES run gave up before its next call.

    Raised from the pacing waits only, so nothing of the run has been published yet; the
    caller drops the run (not a failure) and keeps the previous values.
    """


def interruptible_sleep(stop: threading.Event | None) -> Callable[[float], None]:
    """``time.sleep`` that returns early and raises `Cancelled` once ``stop`` is set."""
    if stop is None:
        return time.sleep

    def sleep(seconds: float) -> None:
        if stop.wait(max(0.0, seconds)):
            raise Cancelled

    return sleep


class Pacer:
    """At most ``rate`` calls per second across threads; ``rate`` 0 disables pacing.

    With ``stop``, every wait (even an unpaced one) raises `Cancelled` once it is set, so
    a run of hundreds of paced calls ends within one call of a SIGTERM.
    """

    def __init__(self, rate: float, stop: threading.Event | None = None) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._stop = stop
        self._sleep = interruptible_sleep(stop)

    def wait(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Cancelled
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


class SesRegionSource:
    """Reads one region of one account through injected boto3 clients."""

    def __init__(
        self,
        *,
        region: str,
        sesv2: Any,
        ses: Any,
        cloudwatch: Any | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.region = region
        self._sesv2 = sesv2
        self._ses = ses
        self._cloudwatch = cloudwatch
        self._pacer = pacer or Pacer(0)

    def _call(self, client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
        self._pacer.wait()
        try:
            response: dict[str, Any] = getattr(client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise SesApiError(operation, aws_error_code(exc)) from exc
        return response

    def account(self) -> AccountState:
        """SESv2 GetAccount: sending, sandbox, enforcement and quota in one call."""
        response = self._call(self._sesv2, "get_account")
        quota = response.get("SendQuota", {})
        return AccountState(
            sending_enabled=bool(response.get("SendingEnabled", False)),
            production_access_enabled=bool(response.get("ProductionAccessEnabled", False)),
            enforcement_status=str(response.get("EnforcementStatus", "UNKNOWN")),
            max_24_hour_send=float(quota.get("Max24HourSend", 0.0)),
            max_send_rate=float(quota.get("MaxSendRate", 0.0)),
            sent_last_24_hours=float(quota.get("SentLast24Hours", 0.0)),
        )

    def domain_identities(
        self, patterns: Sequence[str] = (), owns: Callable[[str], bool] | None = None
    ) -> list[IdentityState]:
        """Every domain identity (matching ``patterns``, and in this replica's shard when
        ``owns`` is given) with its attributes; other shards' identities cost no calls.

        A failed routing lookup (configuration sets, their event destinations, an
        identity's default configuration set) does not fail discovery: the identities it
        concerns carry ``routing_error`` and their feedback routing is unknown.
        """
        names = sorted(
            n
            for n in self._list_domain_identities()
            if _matches(n, patterns) and (owns is None or owns(n))
        )
        routing = _Routing()
        if names:
            try:
                routing.destinations = self._configuration_set_feedback()
            except SesApiError as exc:
                routing.error = exc.code
        states = []
        for start in range(0, len(names), _BATCH):
            states.extend(self._attributes(names[start : start + _BATCH], routing))
        return states

    def _list_domain_identities(self) -> Iterator[str]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"IdentityType": "Domain", "MaxItems": 1000}
            if token:
                kwargs["NextToken"] = token
            response = self._call(self._ses, "list_identities", **kwargs)
            yield from (str(name).lower() for name in response.get("Identities", []))
            token = response.get("NextToken")
            if not token:
                return

    def _configuration_set_feedback(self) -> dict[str, frozenset[str]]:
        """Configuration set -> the feedback types an enabled event destination publishes
        to a machine-readable destination.

        SESv2 ``GetConfigurationSetEventDestinations``: the v1 DescribeConfigurationSet
        model has no EventBridge or Pinpoint destination, so botocore would drop them.
        """
        result: dict[str, frozenset[str]] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"PageSize": 1000}
            if token:
                kwargs["NextToken"] = token
            response = self._call(self._sesv2, "list_configuration_sets", **kwargs)
            for name in response.get("ConfigurationSets", []):
                described = self._call(
                    self._sesv2,
                    "get_configuration_set_event_destinations",
                    ConfigurationSetName=name,
                )
                covered: set[str] = set()
                for destination in described.get("EventDestinations", []):
                    if destination.get("Enabled") and _machine_readable(destination):
                        covered.update(t.lower() for t in destination.get("MatchingEventTypes", []))
                result[str(name)] = frozenset(covered & set(_FEEDBACK_TYPES))
            token = response.get("NextToken")
            if not token:
                return result

    def _attributes(self, names: list[str], routing: _Routing) -> list[IdentityState]:
        verification = self._call(
            self._ses, "get_identity_verification_attributes", Identities=names
        )
        dkim = self._call(self._ses, "get_identity_dkim_attributes", Identities=names)
        mail_from = self._call(
            self._ses, "get_identity_mail_from_domain_attributes", Identities=names
        )
        notification = self._call(
            self._ses, "get_identity_notification_attributes", Identities=names
        )
        states = []
        for name in names:
            v = verification.get("VerificationAttributes", {}).get(name, {})
            d = dkim.get("DkimAttributes", {}).get(name, {})
            m = mail_from.get("MailFromDomainAttributes", {}).get(name, {})
            n = notification.get("NotificationAttributes", {}).get(name, {})
            bounce_topic, complaint_topic = n.get("BounceTopic"), n.get("ComplaintTopic")
            untopiced = {
                kind
                for kind, topic in zip(
                    _FEEDBACK_TYPES, (bounce_topic, complaint_topic), strict=True
                )
                if not topic
            }
            feedback, routing_error = self._event_destination_feedback(name, untopiced, routing)
            states.append(
                IdentityState(
                    identity=name,
                    region=self.region,
                    verification_status=v.get("VerificationStatus"),
                    dkim_enabled=bool(d.get("DkimEnabled", False)),
                    dkim_status=d.get("DkimVerificationStatus"),
                    dkim_tokens=tuple(str(t).lower() for t in d.get("DkimTokens", [])),
                    mail_from_domain=(m.get("MailFromDomain") or "").lower() or None,
                    mail_from_status=m.get("MailFromDomainStatus"),
                    behavior_on_mx_failure=m.get("BehaviorOnMXFailure"),
                    bounce_topic=bounce_topic,
                    complaint_topic=complaint_topic,
                    forwarding_enabled=bool(n.get("ForwardingEnabled", True)),
                    event_destination_feedback=feedback,
                    routing_error=routing_error,
                )
            )
        return states

    def _event_destination_feedback(
        self, identity: str, untopiced: set[str], routing: _Routing
    ) -> tuple[frozenset[str], str | None]:
        """The feedback types the identity's default configuration set routes, and the AWS
        error code when that cannot be told.

        GetEmailIdentity (one call per identity) is asked only when its answer can change
        the verdict: the identity lacks a topic for a feedback type that some
        configuration set routes. Otherwise no call is made.
        """
        if not untopiced:
            return frozenset(), None
        if routing.error is not None:
            return frozenset(), routing.error
        if not any(untopiced & covered for covered in routing.destinations.values()):
            return frozenset(), None
        try:
            response = self._call(self._sesv2, "get_email_identity", EmailIdentity=identity)
        except SesApiError as exc:
            return frozenset(), exc.code
        name = response.get("ConfigurationSetName")
        return routing.destinations.get(str(name), frozenset()) if name else frozenset(), None

    def reputation(self) -> tuple[float | None, float | None]:
        """The bounce and complaint rates SES itself computes (CloudWatch; costs money)."""
        if self._cloudwatch is None:
            return None, None
        end = datetime.now(UTC)
        queries = [
            {
                "Id": metric_id,
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SES", "MetricName": name},
                    "Period": 3600,
                    "Stat": "Average",
                },
                "ReturnData": True,
            }
            for metric_id, name in (
                ("bounce", "Reputation.BounceRate"),
                ("complaint", "Reputation.ComplaintRate"),
            )
        ]
        response = self._call(
            self._cloudwatch,
            "get_metric_data",
            MetricDataQueries=queries,
            StartTime=end - timedelta(hours=6),
            EndTime=end,
            ScanBy="TimestampDescending",
        )
        latest = {
            r["Id"]: (r.get("Values") or [None])[0] for r in response.get("MetricDataResults", [])
        }
        return _ratio(latest.get("bounce")), _ratio(latest.get("complaint"))

    def open_recommendations(self) -> dict[tuple[str, str], int]:
        """Open Deliverability Manager recommendations by (type, impact)."""
        counts: dict[tuple[str, str], int] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Filter": {"STATUS": "OPEN"}, "PageSize": 100}
            if token:
                kwargs["NextToken"] = token
            response = self._call(self._sesv2, "list_recommendations", **kwargs)
            for item in response.get("Recommendations", []):
                key = (str(item.get("Type", "UNKNOWN")), str(item.get("Impact", "UNKNOWN")))
                counts[key] = counts.get(key, 0) + 1
            token = response.get("NextToken")
            if not token:
                return counts


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatchcase(name, p.lower()) for p in patterns)


@dataclass(slots=True)
class _Routing:
    """What decides feedback routing for one discovery: configuration set -> feedback
    types routed, or the AWS error code that kept it from being read."""

    destinations: dict[str, frozenset[str]] = field(default_factory=dict)
    error: str | None = None


def _machine_readable(destination: dict[str, Any]) -> bool:
    """An event destination a program can consume (not only CloudWatch dimensions);
    the member names of SESv2's EventDestination."""
    keys = (
        "SnsDestination",
        "KinesisFirehoseDestination",
        "EventBridgeDestination",
        "PinpointDestination",
    )
    return any(destination.get(key) for key in keys)


def _ratio(value: object) -> float | None:
    if isinstance(value, int | float) and 0.0 <= float(value) <= 1.0:
        return float(value)
    return None
