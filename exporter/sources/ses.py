"""The SES adapter for one account and region: account state, domain identities, reputation.

Calls are paced (``api_calls_per_second``, default 1): SES's per-second limits are shared
with the team's own tooling. Identity attributes use the batched SES v1 calls (100
identities per call), so an account with tens of thousands of identities costs hundreds of
calls, not tens of thousands. The one thing no batched call tells is how an identity signs
(SESv2 ``DkimAttributes``: origin, SigningHostedZone, BYODKIM selector): it is read with
one GetEmailIdentity per DKIM-enabled identity, at most `DKIM_LOOKUPS_PER_DISCOVERY` per
discovery, and kept until the identity's v1 DKIM attributes change. Every AWS failure is
raised as `SesApiError` with the AWS error code; the caller marks that part down and keeps
its last good values.
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
from exporter.checks.ses import BYODKIM_ORIGIN, EASY_DKIM_TOKENS, AccountState, IdentityState

__all__ = [
    "DKIM_LOOKUPS_PER_DISCOVERY",
    "Cancelled",
    "Pacer",
    "SesApiError",
    "SesRegionSource",
    "interruptible_sleep",
]

_BATCH = 100  # SES v1 attribute calls take at most 100 identities
# GetEmailIdentity calls one discovery spends on DKIM signing attributes not known yet:
# about 8 minutes at 1 call/s. An account with tens of thousands of identities learns them
# over several discoveries instead of holding its first discovery for hours.
DKIM_LOOKUPS_PER_DISCOVERY = 500
_GONE = "NotFoundException"  # the identity was deleted between ListIdentities and the call
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
        dkim_lookups_per_discovery: int = DKIM_LOOKUPS_PER_DISCOVERY,
    ) -> None:
        self.region = region
        self._sesv2 = sesv2
        self._ses = ses
        self._cloudwatch = cloudwatch
        self._pacer = pacer or Pacer(0)
        self._dkim_lookups_per_discovery = dkim_lookups_per_discovery
        # identity -> (its v1 DKIM attributes when read, SESv2 DKIM signing attributes)
        self._signing: dict[str, tuple[_DkimKey, _Signing]] = {}

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
        routing = _Routing(dkim_budget=self._dkim_lookups_per_discovery)
        if names:
            try:
                routing.destinations = self._configuration_set_feedback()
            except SesApiError as exc:
                routing.error = exc.code
        states = []
        for start in range(0, len(names), _BATCH):
            states.extend(self._attributes(names[start : start + _BATCH], routing))
        self._signing = {n: v for n, v in self._signing.items() if n in routing.seen}
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
        keys = {name: _dkim_key(dkim.get("DkimAttributes", {}).get(name, {})) for name in names}
        topics = {
            name: notification.get("NotificationAttributes", {}).get(name, {}) for name in names
        }
        untopiced = {
            name: {
                kind
                for kind, member in zip(
                    _FEEDBACK_TYPES, ("BounceTopic", "ComplaintTopic"), strict=True
                )
                if not n.get(member)
            }
            for name, n in topics.items()
        }
        routing.seen.update(names)
        self._want_signing(names, keys, untopiced, routing)
        states = []
        for name in names:
            v = verification.get("VerificationAttributes", {}).get(name, {})
            m = mail_from.get("MailFromDomainAttributes", {}).get(name, {})
            n = topics[name]
            feedback, routing_error, signing_error = self._identity_details(
                name, keys[name], untopiced[name], routing
            )
            signing = self._known_signing(name, keys[name])
            enabled, v1_tokens = keys[name]
            states.append(
                IdentityState(
                    identity=name,
                    region=self.region,
                    verification_status=v.get("VerificationStatus"),
                    dkim_enabled=enabled,
                    dkim_status=dkim.get("DkimAttributes", {})
                    .get(name, {})
                    .get("DkimVerificationStatus"),
                    dkim_tokens=signing.tokens or v1_tokens if signing else v1_tokens,
                    mail_from_domain=(m.get("MailFromDomain") or "").lower() or None,
                    mail_from_status=m.get("MailFromDomainStatus"),
                    behavior_on_mx_failure=m.get("BehaviorOnMXFailure"),
                    bounce_topic=n.get("BounceTopic"),
                    complaint_topic=n.get("ComplaintTopic"),
                    forwarding_enabled=bool(n.get("ForwardingEnabled", True)),
                    event_destination_feedback=feedback,
                    routing_error=routing_error,
                    dkim_origin=signing.origin if signing else None,
                    dkim_signing_zone=signing.zone if signing else None,
                    dkim_origin_error=signing_error,
                )
            )
        return states

    def _want_signing(
        self,
        names: list[str],
        keys: dict[str, _DkimKey],
        untopiced: dict[str, set[str]],
        routing: _Routing,
    ) -> None:
        """Pick the identities whose DKIM signing attributes this batch reads, within the
        discovery's budget: DKIM on, not read since its v1 attributes last changed, and not
        asked for anyway for routing (that answer is used for free). Identities without
        the three Easy DKIM tokens (likely BYODKIM) first: their DNS check waits for it."""
        wanted = sorted(
            (
                name
                for name in names
                if keys[name][0]
                and self._known_signing(name, keys[name]) is None
                and not _routing_lookup(untopiced[name], routing)
            ),
            key=lambda name: len(keys[name][1]) == EASY_DKIM_TOKENS,
        )
        taken = wanted[: max(0, routing.dkim_budget)]
        routing.dkim_wanted.update(taken)
        routing.dkim_budget -= len(taken)

    def _known_signing(self, identity: str, key: _DkimKey) -> _Signing | None:
        """The signing attributes read while the v1 DKIM attributes were what they are."""
        cached = self._signing.get(identity)
        return cached[1] if cached is not None and cached[0] == key else None

    def _identity_details(
        self, identity: str, key: _DkimKey, untopiced: set[str], routing: _Routing
    ) -> tuple[frozenset[str], str | None, str | None]:
        """(feedback types the identity's default configuration set routes, the AWS error
        code when that cannot be told, the AWS error code of a failed DKIM signing read).

        GetEmailIdentity (one call per identity) is asked only when its answer can change
        something: the identity lacks a topic for a feedback type that some configuration
        set routes, or its DKIM signing attributes are wanted (`_want_signing`). One answer
        serves both. A failed read keeps what was known before.
        """
        routing_lookup = _routing_lookup(untopiced, routing)
        routing_error = routing.error if untopiced else None
        signing_lookup = identity in routing.dkim_wanted
        if not routing_lookup and not signing_lookup:
            return frozenset(), routing_error, None
        try:
            response = self._call(self._sesv2, "get_email_identity", EmailIdentity=identity)
        except SesApiError as exc:
            # NotFoundException: deleted since ListIdentities, gone from the next discovery
            signing_error = exc.code if signing_lookup and exc.code != _GONE else None
            return frozenset(), exc.code if routing_lookup else routing_error, signing_error
        if key[0] and (signing := _signing(response.get("DkimAttributes") or {})) is not None:
            self._signing[identity] = (key, signing)
        if not routing_lookup:
            return frozenset(), routing_error, None
        name = response.get("ConfigurationSetName")
        return routing.destinations.get(str(name), frozenset()) if name else frozenset(), None, None

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
    """One discovery's lookups: configuration set -> feedback types routed (or the AWS
    error code that kept it from being read), the identities seen, and those whose DKIM
    signing attributes are read (within ``dkim_budget``)."""

    destinations: dict[str, frozenset[str]] = field(default_factory=dict)
    error: str | None = None
    dkim_budget: int = DKIM_LOOKUPS_PER_DISCOVERY
    dkim_wanted: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)


_DkimKey = tuple[bool, tuple[str, ...]]  # v1 DkimEnabled and DkimTokens


def _dkim_key(attributes: dict[str, Any]) -> _DkimKey:
    tokens = tuple(str(t).lower() for t in attributes.get("DkimTokens", []))
    return bool(attributes.get("DkimEnabled", False)), tokens


@dataclass(frozen=True, slots=True)
class _Signing:
    """SESv2 DkimAttributes: how the identity signs."""

    origin: str  # SigningAttributesOrigin
    zone: str | None  # SigningHostedZone
    tokens: tuple[str, ...]  # Easy DKIM tokens, or the BYODKIM selector


def _signing(attributes: dict[str, Any]) -> _Signing | None:
    """SESv2 DkimAttributes; None without SigningAttributesOrigin (nothing settled)."""
    origin = str(attributes.get("SigningAttributesOrigin") or "")
    if not origin:
        return None
    zone = str(attributes.get("SigningHostedZone") or "").lower().removesuffix(".")
    return _Signing(
        origin=origin,
        zone=zone if zone and origin != BYODKIM_ORIGIN else None,
        tokens=tuple(str(t).lower() for t in attributes.get("Tokens", [])),
    )


def _routing_lookup(untopiced: set[str], routing: _Routing) -> bool:
    """Whether the identity's default configuration set can change its routing verdict:
    it lacks a topic for a feedback type that some configuration set routes."""
    return (
        bool(untopiced)
        and routing.error is None
        and any(untopiced & covered for covered in routing.destinations.values())
    )


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
