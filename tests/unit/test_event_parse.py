"""Every corpus payload shape parses into the right event type, recipients and fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.events.parse import (
    Ignored,
    Malformed,
    Refused,
    SesEvent,
    parse_body,
    parse_document,
    parse_timestamp,
    recipient_domain,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "ses-events"
DATA = Path(__file__).resolve().parents[1] / "data" / "ses-events"


def corpus_file(name: str) -> str:
    for base in (DATA, CORPUS):
        if (base / name).exists():
            return (base / name).read_text()
    pytest.fail(f"corpus file {name} not found in {DATA} or {CORPUS}")


@pytest.mark.parametrize(
    ("name", "event_type", "recipient_domains", "extra"),
    [
        (
            "raw-event-bounce-permanent-general.json",
            "bounce",
            ["example.com"],
            {"bounce_type": "Permanent", "bounce_subtype": "General"},
        ),
        ("raw-event-click.json", "click", ["example.com"], {}),
        (
            "raw-event-complaint-abuse.json",
            "complaint",
            ["example.com"],
            {"feedback_type": "abuse"},
        ),
        ("raw-event-delivery.json", "delivery", ["example.com"], {"processing_seconds": 11.893}),
        (
            "raw-event-deliverydelay-transientcommunicationfailure.json",
            "delivery_delay",
            ["example.com"],
            {"delay_type": "TransientCommunicationFailure"},
        ),
        ("raw-event-open.json", "open", ["example.com"], {}),
        ("raw-event-reject-bad-content.json", "reject", ["example.com"], {}),
        ("raw-event-rendering-failure.json", "rendering_failure", ["example.com"], {}),
        (
            "raw-event-send.json",
            "send",
            ["example.com"],
            {"configuration_set": "ConfigSet", "sending_domain": "example.com"},
        ),
        ("raw-event-subscription.json", "subscription", ["example.com"], {}),
        (
            "raw-notification-bounce-permanent-general-no-dsn.json",
            "bounce",
            ["example.com", "example.com"],
            {},
        ),
        (
            "raw-notification-bounce-transient-general-ooto-simulator.json",
            "bounce",
            ["simulator.amazonses.com"],
            {"bounce_type": "Transient"},
        ),
        (
            "raw-notification-complaint-no-feedback-report.json",
            "complaint",
            ["example.com"],
            {"feedback_type": None},
        ),
        ("raw-notification-delivery.json", "delivery", ["example.com"], {}),
        (
            "sns-notification-bounce-permanent-general-simulator.json",
            "bounce",
            ["simulator.amazonses.com"],
            {},
        ),
        (
            "sns-notification-bounce-permanent-onaccountsuppressionlist.json",
            "bounce",
            ["test.com"],
            {"bounce_subtype": "OnAccountSuppressionList"},
        ),
        (
            "lambda-sns-record-event-send.json",
            "send",
            ["simulator.amazonses.com"],
            {"configuration_set": "my-first-configuration-set"},
        ),
        ("lambda-sns-record-notification-delivery.json", "delivery", ["amazon.com"], {}),
    ],
)
def test_corpus_events(
    name: str, event_type: str, recipient_domains: list[str], extra: dict
) -> None:
    parsed = parse_body(corpus_file(name))
    assert isinstance(parsed, list), parsed
    (event,) = parsed
    assert event.event_type == event_type
    assert [r.domain for r in event.recipients] == recipient_domains
    assert event.message_id
    for key, value in extra.items():
        assert getattr(event, key) == value


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("sns-subscription-confirmation.json", "sns_subscription"),
        ("raw-notification-received-s3-action.json", "inbound_or_setup"),
        ("raw-notification-received-sns-action.json", "inbound_or_setup"),
        ("eventbridge-ses-sending-status-disabled.json", "eventbridge_not_email_event"),
        ("eventbridge-ses-advisor-recommendation-status-open.json", "eventbridge_not_email_event"),
    ],
)
def test_corpus_non_events_are_ignored(name: str, reason: str) -> None:
    assert parse_body(corpus_file(name)) == Ignored(reason)


def test_bounce_recipient_details_survive() -> None:
    (event,) = parse_body(corpus_file("raw-event-bounce-permanent-general.json"))  # type: ignore[misc]
    assert event.recipients[0].status == "5.1.1"
    assert event.recipients[0].diagnostic_code == "smtp; 550 5.1.1 user unknown"


def test_envelope_id_drives_dedupe_key() -> None:
    """SQS redelivers the same SNS envelope: its MessageId is the key."""
    (event,) = parse_body(corpus_file("sns-notification-bounce-permanent-general-simulator.json"))  # type: ignore[misc]
    assert event.dedupe_key == "sns:02f86d9b-eecf-573d-b47d-3d1850750c30"


def test_raw_events_key_on_content_so_repeat_opens_count() -> None:
    body = json.loads(corpus_file("raw-event-open.json"))
    (first,) = parse_document(body)  # type: ignore[misc]
    body["open"]["timestamp"] = "2030-01-01T00:00:00.000Z"
    (second,) = parse_document(body)  # type: ignore[misc]
    assert first.dedupe_key != second.dedupe_key
    (again,) = parse_document(json.loads(corpus_file("raw-event-open.json")))  # type: ignore[misc]
    assert again.dedupe_key == first.dedupe_key


def test_eventbridge_email_event() -> None:
    detail = json.loads(corpus_file("raw-event-delivery.json"))
    document = {
        "detail-type": "Email Delivered",
        "source": "aws.ses",
        "id": "eb-1",
        "detail": detail,
    }
    (event,) = parse_document(document)  # type: ignore[misc]
    assert event.event_type == "delivery"
    assert event.dedupe_key == "sns:eb-1"


def test_moto_envelope_with_object_message() -> None:
    """moto puts the SES object itself in `Message`; accept it rather than drop it."""
    inner = json.loads(corpus_file("raw-event-send.json"))
    envelope = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn", "Message": inner}
    (event,) = parse_document(envelope)  # type: ignore[misc]
    assert event.event_type == "send"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not_json"),
        ("[1, 2]", "not_an_object"),
        ('{"hello": 1}', "unrecognised_shape"),
        ('{"eventType": "Teleport", "mail": {"messageId": "x"}}', "unknown_event_type"),
        ('{"eventType": "Bounce"}', "mail_missing"),
        (
            '{"eventType": "Bounce", "mail": {"messageId": "x"}, "bounce": {"bouncedRecipients": "no"}}',
            "bad_field",
        ),
        (
            '{"Type": "Notification", "MessageId": "1", "TopicArn": "a", "Message": "plain words"}',
            "sns_message_not_json",
        ),
        (
            '{"Type": "Notification", "MessageId": "1", "TopicArn": "a", "Message": "{broken"}',
            "sns_message_not_json",
        ),
        ("[" * 100000, "not_json"),
    ],
)
def test_malformed_bodies_name_a_reason(body: str, reason: str) -> None:
    parsed = parse_body(body)
    assert isinstance(parsed, Malformed)
    assert parsed.reason == reason


def test_ses_setup_message_is_ignored() -> None:
    body = json.dumps(
        {
            "Type": "Notification",
            "MessageId": "1",
            "TopicArn": "a",
            "Message": "Successfully validated SNS topic for Amazon SES event publishing.",
        }
    )
    assert parse_body(body) == Ignored("ses_setup_notification")


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("User@Example.COM", "example.com"),
        ("Name <a@b.example>", "b.example"),
        ("x@bücher.example", "xn--bcher-kva.example"),
        ("no-at-sign", "invalid"),
        ("trailing@dot.example.", "dot.example"),
        ('"Alice Smith" <alice@corp.example>', "corp.example"),
        ('"alice smith"@corp.example', "corp.example"),
        ('"a@b"@corp.example', "corp.example"),
        ("a@[192.0.2.1]", "[192.0.2.1]"),
        ("a@[IPv6:2001:DB8:0:0::1]", "[ipv6:2001:db8::1]"),
        ("x@BÜCHER.example", "xn--bcher-kva.example"),
        ("x@xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_recipient_domain(address: str, domain: str) -> None:
    assert recipient_domain(address) == domain


@pytest.mark.parametrize(
    "address",
    [
        "alice@corp.example (Alice Smith)",  # a comment: a person's name after the domain
        "alice@corp.example(Alice)",
        'alice@"corp.example"',
        "alice@corp example",
        "alice@corp.example\nX-Header: 1",
        "a@[192.0.2.300]",
        "a@[IPv6:not-an-address]",
        "a@[Alice Smith]",
        "a@-corp.example",
        "a@corp-.example",
        "a@corp..example",
        "a@corp_mail.example",
        "a@" + "x" * 64 + ".example",  # a label longer than 63
        "a@" + "abcdefgh." * 32 + "example",  # a name longer than 253
        "a@",
        "a@.",
        "a@\u2603\u2603 \u2603.example",
    ],
)
def test_recipient_domain_is_invalid_unless_a_hostname_or_address_literal(address: str) -> None:
    """Only a valid hostname or an address literal may become a label value."""
    assert recipient_domain(address) == "invalid"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-08-05T00:41:02.669Z", 1501893662.669),
        ("2012-05-25T14:59:38.623-07:00", 1337983178.623),
        ("2018-10-08T14:05:45 +0000", 1539007545.0),
        ("2023-11-15T17:00:59Z", 1700067659.0),
        ("2018-10-08T14:05:45", None),
        ("yesterday", None),
    ],
)
def test_parse_timestamp(text: str, expected: float | None) -> None:
    result = parse_timestamp(text)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


OURS = "arn:aws:sns:us-east-1:123456789012:ses-events"
FOREIGN = "arn:aws:sns:us-east-1:999999999999:attacker"


def envelope(topic: str | None, message: str, kind: str = "Notification") -> str:
    document = {"Type": kind, "MessageId": "m-1", "Message": message, "Signature": "junk"}
    if topic is not None:
        document["TopicArn"] = topic
    return json.dumps(document)


SEND = corpus_file("raw-event-send.json")


def test_envelope_from_an_allowed_topic_is_read() -> None:
    parsed = parse_body(envelope(OURS, SEND), allowed_topics={OURS})
    assert isinstance(parsed, list)
    assert [e.event_type for e in parsed] == ["send"]


def test_without_an_allow_list_every_topic_is_read() -> None:
    parsed = parse_body(envelope(FOREIGN, SEND))
    assert isinstance(parsed, list)
    assert [e.event_type for e in parsed] == ["send"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (envelope(FOREIGN, SEND), FOREIGN),
        (envelope(None, SEND), "None"),  # an envelope without a topic
        (envelope(FOREIGN, "{broken"), FOREIGN),  # refused, not malformed
        (envelope(FOREIGN, "", kind="SubscriptionConfirmation"), FOREIGN),  # not ignored
        (envelope(FOREIGN, "Successfully validated SNS topic for Amazon SES"), FOREIGN),
        (json.dumps({"Records": [{"Sns": json.loads(envelope(FOREIGN, SEND))}]}), FOREIGN),
        (json.dumps({"Records": [{"body": envelope(FOREIGN, SEND)}]}), FOREIGN),
        (envelope(OURS, envelope(FOREIGN, SEND)), FOREIGN),  # an envelope in an envelope
    ],
)
def test_envelope_from_another_topic_is_refused(body: str, detail: str) -> None:
    """A forged or misrouted envelope is refused before its message is read."""
    assert parse_body(body, allowed_topics={OURS}) == Refused("topic_not_allowed", detail)


@pytest.mark.parametrize(
    "body",
    [
        SEND,  # raw message delivery
        json.dumps({"detail-type": "Email Sent", "source": "aws.ses", "detail": json.loads(SEND)}),
    ],
)
def test_bodies_without_an_envelope_carry_no_topic_and_are_read(body: str) -> None:
    """Raw delivery and EventBridge: only the queue policy decides who may send them."""
    parsed = parse_body(body, allowed_topics={OURS})
    assert isinstance(parsed, list)
    assert all(isinstance(e, SesEvent) for e in parsed)


def test_mail_from_domain_is_the_source_domain_not_the_from_tag() -> None:
    """The envelope sender (``mail.source``) is what a receiver resolves for MAIL FROM; the
    ``ses:from-domain`` tag is the header From and may differ."""
    document = json.loads(corpus_file("raw-event-bounce-permanent-general.json"))
    document["mail"]["source"] = "Shop <bounces@Mail.Shop.Example>"
    document["mail"]["tags"] = {"ses:from-domain": ["shop.example"]}
    (event,) = parse_body(json.dumps(document))  # type: ignore[misc]
    assert event.mail_from_domain == "mail.shop.example"
    assert event.sending_domain == "shop.example"
    document["mail"]["source"] = "not an address"
    (event,) = parse_body(json.dumps(document))  # type: ignore[misc]
    assert event.mail_from_domain is None
