"""From parsed SES events to bounded counters: classify, dedupe, count.

No I/O: the SQS consumer and `replay` feed bodies in; the collector reads `snapshot()`.
Every label value is bounded: recipient domains by the top-K limiter, sending domains by
the known identities, SES enumerations by their documented values (anything else is
``other``), and never an address, message id or free text.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import structlog

from exporter.checks.bounce import classify_bounce
from exporter.events.cardinality import OTHER, DomainLimiter
from exporter.events.dedupe import DedupeWindow
from exporter.events.parse import (
    Ignored,
    Malformed,
    Parsed,
    Refused,
    SesEvent,
    parse_body,
    parse_document,
)

__all__ = [
    "DELAY_BUCKETS",
    "LAG_BUCKETS",
    "EventCounts",
    "EventPipeline",
    "Histogram",
    "Outcome",
]

log = structlog.get_logger("exporter.events")
_K = TypeVar("_K")
_BOUNCE_TYPES = frozenset({"Permanent", "Transient", "Undetermined"})
_BOUNCE_SUBTYPES = frozenset(
    {
        "General",
        "NoEmail",
        "Suppressed",
        "OnAccountSuppressionList",
        "MailboxFull",
        "MessageTooLarge",
        "ContentRejected",
        "AttachmentRejected",
        "Undetermined",
    }
)
_FEEDBACK_TYPES = frozenset({"abuse", "auth-failure", "fraud", "not-spam", "other", "virus"})
_DELAY_TYPES = frozenset(
    {
        "InternalFailure",
        "General",
        "MailboxFull",
        "SpamDetected",
        "RecipientServerError",
        "IPFailure",
        "TransientCommunicationFailure",
        "BYOIPHostNameLookupUnavailable",
        "Undetermined",
        "SendingDeferral",
    }
)
# What SES accepts as a configuration set name; any other text in the tag is forged.
_CONFIG_SET_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
LAG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)


class Outcome(StrEnum):
    """What became of one body: all but MALFORMED and REFUSED may be deleted from the queue."""

    COUNTED = "counted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    MALFORMED = "malformed"
    REFUSED = "refused"

    @property
    def deletable(self) -> bool:
        """False for what the queue's redrive policy should move to the dead-letter queue."""
        return self not in (Outcome.MALFORMED, Outcome.REFUSED)


@dataclass
class Histogram:
    """Cumulative-bucket histogram data, exported as a Prometheus histogram."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * len(self.bounds)

    def observe(self, value: float) -> None:
        index = bisect_left(self.bounds, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.count += 1

    def copy(self) -> Histogram:
        return Histogram(self.bounds, list(self.counts), self.total, self.count)

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative (le, count) pairs ending in +Inf, as the exposition wants them."""
        running, result = 0, []
        for bound, count in zip(self.bounds, self.counts, strict=True):
            running += count
            result.append((repr(bound), float(running)))
        result.append(("+Inf", float(self.count)))
        return result


@dataclass(frozen=True, slots=True)
class EventCounts:
    """An immutable copy of every counter, for one scrape."""

    events: dict[tuple[str, str, str], int]
    sent: dict[tuple[str, str, str], int]
    delivered: dict[tuple[str, str, str], int]
    bounced: dict[tuple[str, str, str, str, str, str, str], int]
    complained: dict[tuple[str, str, str, str], int]
    delayed: dict[tuple[str, str, str], int]
    rejected: dict[tuple[str, str, str], int]
    rendering_failed: dict[tuple[str, str, str], int]
    malformed: dict[str, int]
    ignored: dict[str, int]
    refused: dict[str, int]
    duplicates: int
    processing: Histogram
    lag: Histogram
    last_event_timestamp: float | None
    tracked_recipient_domains: int


class EventPipeline:
    """Thread-safe: several SQS pollers call `handle` at once; parsing runs outside the lock."""

    def __init__(
        self,
        *,
        known_sending_domains: Iterable[str] = (),
        watch_recipient_domains: Iterable[str] = (),
        max_recipient_domains: int = 100,
        max_configuration_sets: int = 50,
        dedupe_window: int = 100_000,
        providers_for: Callable[[Collection[str]], Mapping[str, str]] | None = None,
        allowed_topic_arns: Iterable[str] = (),
    ) -> None:
        """``providers_for`` tells a whole batch's recipient domains' providers at once (so a
        DNS-backed lookup can bound the batch's time); without it they are ``unknown``.
        ``allowed_topic_arns``, when given, refuses SNS envelopes from any other topic."""
        self._lock = threading.Lock()
        self._known = frozenset(known_sending_domains)
        self._limiter = DomainLimiter(top_k=max_recipient_domains, watch=watch_recipient_domains)
        self._max_config_sets = max_configuration_sets
        self._config_sets: set[str] = set()
        self._seen = DedupeWindow(dedupe_window)
        self._allowed_topics = frozenset(allowed_topic_arns)
        self._providers_for = providers_for
        self._events: dict[tuple[str, str, str], int] = {}
        self._sent: dict[tuple[str, str, str], int] = {}
        self._delivered: dict[tuple[str, str, str], int] = {}
        self._bounced: dict[tuple[str, str, str, str, str, str, str], int] = {}
        self._complained: dict[tuple[str, str, str, str], int] = {}
        self._delayed: dict[tuple[str, str, str], int] = {}
        self._rejected: dict[tuple[str, str, str], int] = {}
        self._rendering_failed: dict[tuple[str, str, str], int] = {}
        self._malformed: dict[str, int] = {}
        self._ignored: dict[str, int] = {}
        self._refused: dict[str, int] = {}
        self._duplicates = 0
        self._processing = Histogram(DELAY_BUCKETS)
        self._lag = Histogram(LAG_BUCKETS)
        self._last_event: float | None = None

    def set_known_sending_domains(self, domains: Iterable[str]) -> None:
        """After a discovery or a config reload: which sending domains get a label value
        of their own (configured and discovered identities, see event_service)."""
        with self._lock:
            self._known = frozenset(domains)

    def handle(
        self, body: str | bytes, *, received_at: float | None = None, message_id: str | None = None
    ) -> Outcome:
        """Parse and count one queue message body.

        ``message_id`` (the SQS one) makes a malformed or refused body count once however
        often the queue redelivers it before the redrive policy moves it away.
        """
        return self.handle_parsed(self._parse(body), received_at=received_at, message_id=message_id)

    def handle_document(self, document: object) -> Outcome:
        """Parse and count one decoded JSON document (an archived event, for `replay`)."""
        return self.handle_parsed(parse_document(document, allowed_topics=self._allowed_topics))

    def handle_batch(
        self,
        messages: Sequence[tuple[str | bytes, str | None]],
        *,
        received_at: float | None = None,
    ) -> list[Outcome]:
        """Parse and count one receive's messages, (body, SQS message id) each, in order.

        The same as `handle` per message, but the lock is taken once per batch, not once
        per message: when pollers parse at full speed on busy cores, a thread descheduled
        while holding the lock makes the others queue on it, and every release then costs
        a GIL hand-over (bench/README.md, "Events at scale": 4 threads at a third of one
        thread's rate on a loaded 2-core box with one lock round per message).
        """
        parsed = [self._parse(body) for body, _ in messages]
        providers = self._providers(parsed)
        with self._lock:
            return [
                self._apply(p, providers, received_at, message_id)
                for p, (_, message_id) in zip(parsed, messages, strict=True)
            ]

    def handle_parsed(
        self, parsed: Parsed, *, received_at: float | None = None, message_id: str | None = None
    ) -> Outcome:
        providers = self._providers([parsed])
        with self._lock:
            return self._apply(parsed, providers, received_at, message_id)

    def _parse(self, body: str | bytes) -> Parsed:
        try:
            return parse_body(body, allowed_topics=self._allowed_topics)
        except Exception:
            log.exception("event parser failed; the message is left for the dead-letter queue")
            return Malformed("parser_error")

    def _providers(self, batch: Sequence[Parsed]) -> Mapping[str, str]:
        """Providers may need DNS: looked up before the lock is taken, once per domain.
        Without a lookup every provider is counted as ``unknown``."""
        if self._providers_for is None:
            return {}
        domains = {
            r.domain
            for parsed in batch
            if isinstance(parsed, list)
            for e in parsed
            for r in e.recipients
        }
        return self._providers_for(domains) if domains else {}

    def _apply(
        self,
        parsed: Parsed,
        providers: Mapping[str, str],
        received_at: float | None,
        message_id: str | None,
    ) -> Outcome:
        """Count one parsed body; the caller holds the lock."""
        if isinstance(parsed, Malformed):
            if message_id is None or not self._seen.seen(f"malformed:{message_id}"):
                _inc(self._malformed, parsed.reason)
            return Outcome.MALFORMED
        if isinstance(parsed, Refused):
            if message_id is None or not self._seen.seen(f"refused:{message_id}"):
                _inc(self._refused, parsed.reason)
            return Outcome.REFUSED
        if isinstance(parsed, Ignored):
            self._ignored[parsed.reason] = self._ignored.get(parsed.reason, 0) + 1
            return Outcome.IGNORED
        counted = False
        for event in parsed:
            if self._seen.seen(event.dedupe_key):
                self._duplicates += 1
                continue
            self._count(event, providers, received_at)
            counted = True
        return Outcome.COUNTED if counted else Outcome.DUPLICATE

    def _count(
        self, event: SesEvent, providers: Mapping[str, str], received_at: float | None
    ) -> None:
        sending = event.sending_domain if event.sending_domain in self._known else OTHER
        _inc(
            self._events,
            (event.event_type, sending, self._config_set_label(event.configuration_set)),
        )
        if event.timestamp is not None:
            self._last_event = max(self._last_event or 0.0, event.timestamp)
            if received_at is not None:
                self._lag.observe(max(0.0, received_at - event.timestamp))
        if event.processing_seconds is not None:
            self._processing.observe(event.processing_seconds)
        # Reject and Rendering Failure: reject.reason, failure.errorMessage and templateName
        # are free text (or user-chosen names), so they are no label.
        plain = {
            "send": self._sent,
            "delivery": self._delivered,
            "reject": self._rejected,
            "rendering_failure": self._rendering_failed,
        }.get(event.event_type)
        for recipient in event.recipients:
            domain = self._domain_label(recipient.domain)
            provider = providers.get(recipient.domain, "unknown")
            if plain is not None:
                _inc(plain, (domain, provider, sending))
            elif event.event_type == "bounce":
                diagnosis = classify_bounce(
                    event.bounce_type,
                    event.bounce_subtype,
                    recipient.status,
                    recipient.diagnostic_code,
                    mail_from_domain=event.mail_from_domain,
                )
                key = (
                    domain,
                    provider,
                    _bounded(event.bounce_type, _BOUNCE_TYPES),
                    _bounded(event.bounce_subtype, _BOUNCE_SUBTYPES),
                    diagnosis.status_class,
                    diagnosis.category,
                    sending,
                )
                _inc(self._bounced, key)
            elif event.event_type == "complaint":
                feedback = _bounded(event.feedback_type, _FEEDBACK_TYPES)
                _inc(self._complained, (domain, provider, feedback, sending))
            elif event.event_type == "delivery_delay":
                _inc(self._delayed, (domain, provider, _bounded(event.delay_type, _DELAY_TYPES)))

    def _domain_label(self, domain: str) -> str:
        label = self._limiter.label(domain)
        if self._limiter.evicted:
            self._drop_series(set(self._limiter.evicted))
            self._limiter.evicted.clear()
        return label

    def _drop_series(self, domains: set[str]) -> None:
        """An evicted domain's series go away; its future events count as ``other``."""
        tables: tuple[dict[Any, int], ...] = (
            self._sent,
            self._delivered,
            self._bounced,
            self._complained,
            self._delayed,
            self._rejected,
            self._rendering_failed,
        )
        for table in tables:
            for key in [k for k in table if k[0] in domains]:
                del table[key]

    def _config_set_label(self, name: str | None) -> str:
        if not name:
            return "none"
        if not _CONFIG_SET_NAME.fullmatch(name):
            return "invalid"
        if name in self._config_sets:
            return name
        if len(self._config_sets) < self._max_config_sets:
            self._config_sets.add(name)
            return name
        return OTHER

    def snapshot(self) -> EventCounts:
        with self._lock:
            return EventCounts(
                events=dict(self._events),
                sent=dict(self._sent),
                delivered=dict(self._delivered),
                bounced=dict(self._bounced),
                complained=dict(self._complained),
                delayed=dict(self._delayed),
                rejected=dict(self._rejected),
                rendering_failed=dict(self._rendering_failed),
                malformed=dict(self._malformed),
                ignored=dict(self._ignored),
                refused=dict(self._refused),
                duplicates=self._duplicates,
                processing=self._processing.copy(),
                lag=self._lag.copy(),
                last_event_timestamp=self._last_event,
                tracked_recipient_domains=len(self._limiter.admitted),
            )


def _inc(table: dict[_K, int], key: _K) -> None:
    table[key] = table.get(key, 0) + 1


def _bounded(value: str | None, known: frozenset[str]) -> str:
    if value is None:
        return "none"
    return value if value in known else OTHER
