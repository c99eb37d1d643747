"""SES event bodies, as they reach a queue or an archive, parsed into plain records.

Pure: text or decoded JSON in, `Parsed` out; nothing here raises on bad input. Shapes
accepted (see the corpus quirks list): the SNS envelope (``Message`` a JSON string, or an
object as moto sends it, or plain text), raw message delivery (the SES record itself),
EventBridge (``detail-type``/``detail``), and the Lambda/SQS ``Records`` wrappers found in
archives. Both SES formats: identity notifications (``notificationType``) and
configuration-set event publishing (``eventType``).

With an allow-list of topics, an SNS envelope from any other topic is `Refused` before
its message is read: bodies from a queue may be forged, and the envelope's topic is the
one thing to check (raw delivery and EventBridge bodies carry none).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "EVENT_TYPES",
    "Ignored",
    "Malformed",
    "Parsed",
    "Recipient",
    "Refused",
    "SesEvent",
    "parse_body",
    "parse_document",
    "parse_timestamp",
    "recipient_domain",
]

# Normalised event types (metric label values), keyed by the SES spelling.
_EVENT_TYPES = {
    "send": "send",
    "delivery": "delivery",
    "bounce": "bounce",
    "complaint": "complaint",
    "reject": "reject",
    "open": "open",
    "click": "click",
    "rendering failure": "rendering_failure",
    "renderingfailure": "rendering_failure",
    "deliverydelay": "delivery_delay",
    "subscription": "subscription",
}
EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(_EVENT_TYPES.values()))
# EventBridge detail-types of SES email events; the record itself is in `detail`.
_EVENTBRIDGE_EMAIL = {
    "Email Sent",
    "Email Delivered",
    "Email Bounced",
    "Email Complaint Received",
    "Email Rejected",
    "Email Opened",
    "Email Clicked",
    "Email Rendering Failed",
    "Email Delivery Delayed",
    "Email Subscribed",
}
_DETAILED_KEYS = {
    "bounce": "bouncedRecipients",
    "complaint": "complainedRecipients",
    "delivery_delay": "delayedRecipients",
}
_MAX_RECIPIENTS = 1000  # SES allows 50 per message; a bigger list is not SES's


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient an event speaks of; ``domain`` is normalised (lower case, IDNA)."""

    domain: str
    status: str | None = None
    diagnostic_code: str | None = None


@dataclass(frozen=True, slots=True)
class SesEvent:
    """The fields the counters need, from either SES format."""

    event_type: str
    message_id: str
    timestamp: float | None  # the event's own time (bounce/delivery/...), else the send time
    timestamp_text: str
    sending_domain: str | None
    configuration_set: str | None
    recipients: tuple[Recipient, ...]
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    feedback_type: str | None = None
    delay_type: str | None = None
    processing_seconds: float | None = None
    envelope_id: str | None = None  # the SNS MessageId, when the body had an envelope
    feedback_id: str | None = None  # bounces and complaints: SES's id of that feedback
    recipients_digest: str = ""  # a short hash of the addresses (never the addresses)
    # The domain of the envelope sender SES reports (``mail.source``): the bounce classifier
    # names it in the remedy for a sender-side failure.
    mail_from_domain: str | None = None

    @property
    def dedupe_key(self) -> str:
        """Same event redelivered -> same key; a genuine repeat (a second Open) differs."""
        if self.envelope_id:
            return f"sns:{self.envelope_id}"
        feedback = self.feedback_id or ""
        return (
            f"ses:{self.message_id}:{self.event_type}:{feedback}:"
            f"{self.recipients_digest}:{self.timestamp_text}"
        )


@dataclass(frozen=True, slots=True)
class Ignored:
    """A body that is valid but not an email event: counted, then deleted."""

    reason: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A body that cannot be read as an SES event: counted and left for the redrive policy."""

    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Refused:
    """An SNS envelope from a topic outside the allow-list: counted, never an event, and
    left for the redrive policy (it may be forged)."""

    reason: str
    detail: str = ""


Parsed = list[SesEvent] | Ignored | Malformed | Refused


def parse_body(body: str | bytes, *, allowed_topics: Collection[str] = ()) -> Parsed:
    """Parse one SQS message body (or one archived document); ``allowed_topics``, when
    not empty, are the only SNS topics whose envelopes are read."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        if _is_setup_text(body):  # raw message delivery of SES's topic validation
            return Ignored("ses_setup_notification")
        return Malformed("not_json", str(exc)[:200])
    except RecursionError:
        return Malformed("not_json", "nested too deeply")
    return parse_document(document, allowed_topics=allowed_topics)


def parse_document(
    document: Any,
    *,
    envelope_id: str | None = None,
    depth: int = 0,
    allowed_topics: Collection[str] = (),
) -> Parsed:
    """Parse a decoded JSON document of any accepted shape."""
    if depth > 3:  # noqa: PLR2004 - wrappers nest at most envelope -> record
        return Malformed("too_deeply_wrapped")
    if not isinstance(document, dict):
        return Malformed("not_an_object", type(document).__name__)
    if "Type" in document and ("TopicArn" in document or "Message" in document):
        return _sns_envelope(document, depth, allowed_topics)
    if "Records" in document:
        return _records(document, depth, allowed_topics)
    if "detail-type" in document:
        return _eventbridge(document, envelope_id, depth, allowed_topics)
    if "eventType" in document or "notificationType" in document:
        return _ses_record(document, envelope_id)
    return Malformed("unrecognised_shape", ",".join(sorted(map(str, document))[:10]))


def _sns_envelope(envelope: dict[str, Any], depth: int, allowed_topics: Collection[str]) -> Parsed:
    topic = envelope.get("TopicArn")
    if allowed_topics and topic not in allowed_topics:
        return Refused("topic_not_allowed", str(topic)[:200])
    kind = envelope.get("Type")
    if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return Ignored("sns_subscription")
    if kind != "Notification":
        return Malformed("unknown_sns_type", str(kind)[:50])
    message = envelope.get("Message")
    message_id = envelope.get("MessageId")
    envelope_id = message_id if isinstance(message_id, str) and message_id else None
    if isinstance(message, dict):  # moto publishes the object itself
        return parse_document(
            message, envelope_id=envelope_id, depth=depth + 1, allowed_topics=allowed_topics
        )
    if not isinstance(message, str):
        return Malformed("sns_message_missing")
    text = message.strip()
    if not text.startswith("{"):
        if _is_setup_text(text):
            return Ignored("ses_setup_notification")
        return Malformed("sns_message_not_json", text[:100])
    try:
        inner = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return Malformed("sns_message_not_json", str(exc)[:200])
    return parse_document(
        inner, envelope_id=envelope_id, depth=depth + 1, allowed_topics=allowed_topics
    )


def _is_setup_text(body: str | bytes) -> bool:
    """SES's first message on a new event-publishing topic, with or without an envelope."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return "Successfully validated SNS topic" in text or "AMAZON_SES_SETUP_NOTIFICATION" in text


def _records(document: dict[str, Any], depth: int, allowed_topics: Collection[str]) -> Parsed:
    """Lambda SNS/SQS wrappers from archives: every record's body, flattened."""
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        return Malformed("records_empty")
    events: list[SesEvent] = []
    for record in records:
        if not isinstance(record, dict):
            return Malformed("record_not_object")
        if isinstance(record.get("Sns"), dict):
            parsed = _sns_envelope(record["Sns"], depth + 1, allowed_topics)
        elif isinstance(record.get("body"), str):
            parsed = parse_body(record["body"], allowed_topics=allowed_topics)
        else:
            return Malformed("record_without_body")
        if isinstance(parsed, Malformed | Refused):
            return parsed
        if isinstance(parsed, list):
            events.extend(parsed)
    return events or Ignored("no_email_events")


def _eventbridge(
    document: dict[str, Any],
    envelope_id: str | None,
    depth: int,
    allowed_topics: Collection[str],
) -> Parsed:
    if document.get("source") != "aws.ses":
        return Ignored("eventbridge_not_ses")
    detail_type = document.get("detail-type")
    if not isinstance(detail_type, str):
        return Malformed("eventbridge_detail_type_not_string")
    if detail_type not in _EVENTBRIDGE_EMAIL:
        return Ignored("eventbridge_not_email_event")
    detail = document.get("detail")
    if not isinstance(detail, dict):
        return Malformed("eventbridge_detail_missing")
    event_id = document.get("id")
    return parse_document(
        detail,
        envelope_id=envelope_id or (event_id if isinstance(event_id, str) else None),
        depth=depth + 1,
        allowed_topics=allowed_topics,
    )


def _ses_record(record: dict[str, Any], envelope_id: str | None) -> Parsed:
    raw_type = record.get("eventType") or record.get("notificationType")
    if not isinstance(raw_type, str):
        return Malformed("event_type_not_string")
    if raw_type in ("Received", "AmazonSnsSubscriptionSucceeded"):
        return Ignored("inbound_or_setup")
    event_type = _EVENT_TYPES.get(raw_type.lower())
    if event_type is None:
        return Malformed("unknown_event_type", raw_type[:50])
    mail = record.get("mail")
    if not isinstance(mail, dict):
        return Malformed("mail_missing")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return Malformed("message_id_missing")
    try:
        return [_build_event(event_type, record, mail, message_id, envelope_id)]
    except _BadFieldError as exc:
        return Malformed("bad_field", str(exc))


class _BadFieldError(Exception):
    """A field of the wrong type: the whole body is malformed."""


def _build_event(
    event_type: str,
    record: dict[str, Any],
    mail: dict[str, Any],
    message_id: str,
    envelope_id: str | None,
) -> SesEvent:
    section_key = {"rendering_failure": "failure", "delivery_delay": "deliveryDelay"}.get(
        event_type, event_type
    )
    section = record.get(section_key)
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise _BadFieldError(f"{section_key} is not an object")
    timestamp_text = section.get("timestamp") or mail.get("timestamp") or ""
    if not isinstance(timestamp_text, str):
        raise _BadFieldError("timestamp is not a string")
    raw_tags = mail.get("tags")
    tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
    return SesEvent(
        event_type=event_type,
        message_id=message_id,
        timestamp=parse_timestamp(timestamp_text),
        timestamp_text=timestamp_text,
        sending_domain=_sending_domain(mail, tags),
        mail_from_domain=_source_domain(mail),
        configuration_set=_first_tag(tags, "ses:configuration-set"),
        recipients=_recipients(event_type, section, mail),
        envelope_id=envelope_id,
        feedback_id=_str(section, "feedbackId"),
        recipients_digest=_addresses_digest(event_type, section, mail),
        bounce_type=_str(section, "bounceType") if event_type == "bounce" else None,
        bounce_subtype=_str(section, "bounceSubType") if event_type == "bounce" else None,
        feedback_type=(
            _str(section, "complaintFeedbackType") if event_type == "complaint" else None
        ),
        delay_type=_str(section, "delayType") if event_type == "delivery_delay" else None,
        processing_seconds=_processing_seconds(section) if event_type == "delivery" else None,
    )


def _processing_seconds(section: dict[str, Any]) -> float | None:
    millis = section.get("processingTimeMillis")
    if isinstance(millis, int | float) and not isinstance(millis, bool) and millis >= 0:
        return millis / 1000.0
    return None


def _str(section: dict[str, Any], key: str) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadFieldError(f"{key} is not a string")
    return value


def _recipients(
    event_type: str, section: dict[str, Any], mail: dict[str, Any]
) -> tuple[Recipient, ...]:
    """Who this event is about: the section's own list where it has one, else the envelope."""
    detailed_key = _DETAILED_KEYS.get(event_type)
    if detailed_key is not None:
        items = section.get(detailed_key)
        if not isinstance(items, list):
            raise _BadFieldError(f"{detailed_key} is not a list")
        return tuple(_detailed_recipient(item) for item in items[:_MAX_RECIPIENTS])
    addresses = section.get("recipients") if event_type == "delivery" else mail.get("destination")
    if addresses is None and event_type == "delivery":
        addresses = mail.get("destination")
    if not isinstance(addresses, list):
        raise _BadFieldError("recipients is not a list")
    return tuple(
        Recipient(recipient_domain(a)) for a in addresses[:_MAX_RECIPIENTS] if isinstance(a, str)
    )


def _addresses_digest(event_type: str, section: dict[str, Any], mail: dict[str, Any]) -> str:
    """Tells two events about different recipients of one message apart, keeping no address."""
    key = _DETAILED_KEYS.get(event_type)
    if key is not None:
        items = section.get(key) or []
        addresses = [i.get("emailAddress", "") for i in items if isinstance(i, dict)]
    else:
        raw = section.get("recipients") if event_type == "delivery" else None
        addresses = raw if isinstance(raw, list) else mail.get("destination") or []
    text = "\n".join(sorted(str(a).lower() for a in addresses))
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()


def _detailed_recipient(item: Any) -> Recipient:
    if not isinstance(item, dict) or not isinstance(item.get("emailAddress"), str):
        raise _BadFieldError("recipient without emailAddress")
    status = item.get("status")
    code = item.get("diagnosticCode")
    return Recipient(
        domain=recipient_domain(item["emailAddress"]),
        status=status if isinstance(status, str) else None,
        diagnostic_code=code if isinstance(code, str) else None,
    )


def recipient_domain(address: str) -> str:
    """The domain of an address as a label value: a hostname (lower case, IDNA) or an
    address literal (``[192.0.2.1]``, ``[ipv6:2001:db8::1]``), else ``invalid``.

    Whatever the sender wrote after the ``@`` (a comment with a person's name, quotes,
    spaces) must never reach a label, so nothing but those two forms is passed through.
    """
    text = address.strip()
    if text.endswith(">") and "<" in text:  # Name <local@domain>
        text = text[text.rindex("<") + 1 : -1]
    _, at, domain = text.rpartition("@")
    if not at:
        return "invalid"
    if domain.startswith("[") and domain.endswith("]"):
        return _address_literal(domain[1:-1])
    domain = domain.rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return "invalid"
    if len(domain) > _MAX_HOSTNAME or not all(map(_HOST_LABEL.fullmatch, domain.split("."))):
        return "invalid"
    return domain


_MAX_HOSTNAME = 253
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _address_literal(text: str) -> str:
    """``192.0.2.1`` or ``IPv6:2001:db8::1`` (RFC 5321), normalised; else ``invalid``."""
    try:
        if text[:5].lower() == "ipv6:":
            return f"[ipv6:{ipaddress.IPv6Address(text[5:]).compressed}]"
        return f"[{ipaddress.IPv4Address(text)}]"
    except ValueError:
        return "invalid"


def _sending_domain(mail: dict[str, Any], tags: dict[str, Any]) -> str | None:
    tagged = _first_tag(tags, "ses:from-domain")
    if tagged:
        return tagged.lower()
    return _source_domain(mail)


def _source_domain(mail: dict[str, Any]) -> str | None:
    source = mail.get("source")
    if isinstance(source, str):
        domain = recipient_domain(source)
        return None if domain == "invalid" else domain
    return None


def _first_tag(tags: dict[str, Any], name: str) -> str | None:
    value = tags.get(name)
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def parse_timestamp(text: str) -> float | None:
    """ISO-8601 in the forms SES uses (Z, offsets, no millis, ' +0000'); None if unreadable."""
    candidate = text.strip().replace(" +", "+").replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()
