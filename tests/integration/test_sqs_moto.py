"""The SES event consumer against moto in server mode (real HTTP, real SNS envelopes).

SNS topic -> SQS queue (raw delivery off and on) -> SqsConsumer.poll_once -> EventPipeline,
then exact counters, queue depths and dead-letter queues. The last tests are in-process
properties of the pipeline (hostile bodies, label cardinality) and need no peer.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from helpers.moto_fixtures import (
    BOUNCE_452_422,
    DATA,
    SES_SETUP_TEXT,
    Moto,
    bounce,
    bounce_553_518,
    corpus_text,
    event,
    new_message_id,
    sns_envelope,
    wait_until,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from exporter.events.pipeline import EventCounts, EventPipeline, Outcome
from exporter.sources.sqs import SqsConsumer, SqsStats, refresh_queue_attributes

integration = pytest.mark.integration
SENDING = "example.com"
UNKNOWN = "unknown"  # recipient_provider without provider lookup


def make_pipeline(**kwargs: Any) -> EventPipeline:
    return EventPipeline(known_sending_domains=[SENDING], **kwargs)


def make_consumer(
    client: Any,
    url: str,
    pipeline: EventPipeline,
    *,
    visibility: int | None = None,
    pollers: int = 1,
    wait: int = 0,
    stop: threading.Event | None = None,
) -> tuple[SqsConsumer, SqsStats]:
    stats = SqsStats()
    consumer = SqsConsumer(
        client=client,
        queue_url=url,
        queue_name=url.rsplit("/", 1)[-1],
        pipeline=pipeline,
        stats=stats,
        stop=stop or threading.Event(),
        pollers=pollers,
        wait_time_seconds=wait,
        visibility_timeout_seconds=visibility,
    )
    return consumer, stats


def drain(moto: Moto, consumer: SqsConsumer, url: str, *, max_polls: int = 40) -> int:
    """poll_once until the queue holds nothing (visible or in flight); bounded."""
    for polls in range(1, max_polls + 1):
        assert consumer.poll_once(), "SQS unreachable"
        if moto.depth(url) == (0, 0):
            return polls
    pytest.fail(f"queue not empty after {max_polls} polls: {moto.depth(url)}")


def events_by_type(counts: EventCounts) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for (event_type, _sending, _config_set), value in counts.events.items():
        totals[event_type] += value
    return dict(totals)


# --------------------------------------------------------------------------- 1. SNS -> SQS


def realistic_mix() -> list[dict[str, Any]]:
    """Eleven SES events in both formats: sends, deliveries, bounces (a 553 5.1.8 among
    them), complaints, a "Rendering Failure" and a DeliveryDelay."""
    return [
        event("raw-event-send"),
        event("raw-event-send", recipients=["a@example.com", "b@gmail.com"]),
        event("raw-event-delivery"),
        event("raw-notification-delivery"),
        event("raw-event-bounce-permanent-general"),  # 550 5.1.1 user unknown
        bounce_553_518("raw-notification-bounce-permanent-general-dsn"),
        bounce(
            bounce_type="Transient",
            bounce_subtype="MailboxFull",
            status="4.2.2",
            diagnostic_code=BOUNCE_452_422,
            recipients=["user@gmail.com"],
        ),
        event("raw-event-complaint-abuse"),
        event("raw-notification-complaint-abuse-feedback-report"),
        event("raw-event-rendering-failure"),
        event("raw-event-deliverydelay-transientcommunicationfailure"),
    ]


def assert_mix_counted(counts: EventCounts) -> None:
    """The exact counters `realistic_mix()` must produce (recipient provider unknown)."""
    assert events_by_type(counts) == {
        "send": 2,
        "delivery": 2,
        "bounce": 3,
        "complaint": 2,
        "rendering_failure": 1,
        "delivery_delay": 1,
    }
    assert counts.events == {
        ("send", SENDING, "ConfigSet"): 2,
        ("delivery", SENDING, "ConfigSet"): 1,
        ("delivery", SENDING, "none"): 1,
        ("bounce", SENDING, "ConfigSet"): 2,
        ("bounce", SENDING, "none"): 1,
        ("complaint", SENDING, "ConfigSet"): 1,
        ("complaint", SENDING, "none"): 1,
        ("rendering_failure", SENDING, "ConfigSet"): 1,
        ("delivery_delay", SENDING, "ConfigSet"): 1,
    }
    assert counts.sent == {
        ("example.com", UNKNOWN, SENDING): 2,
        ("gmail.com", UNKNOWN, SENDING): 1,
    }
    assert counts.delivered == {("example.com", UNKNOWN, SENDING): 2}
    assert counts.bounced == {
        ("example.com", UNKNOWN, "Permanent", "General", "5xx", "recipient_unknown", SENDING): 1,
        ("example.com", UNKNOWN, "Permanent", "General", "5xx", "sender_domain_dns", SENDING): 1,
        ("gmail.com", UNKNOWN, "Transient", "MailboxFull", "4xx", "mailbox_full", SENDING): 1,
    }
    assert counts.complained == {("example.com", UNKNOWN, "abuse", SENDING): 2}
    assert counts.delayed == {("example.com", UNKNOWN, "TransientCommunicationFailure"): 1}
    assert counts.processing.count == 2  # both deliveries carry processingTimeMillis
    assert counts.malformed == {}
    assert counts.duplicates == 0


@integration
@pytest.mark.parametrize("raw", [False, True], ids=["envelope", "raw-delivery"])
def test_sns_to_sqs_counts_each_event_once_and_deletes_it(moto: Moto, raw: bool) -> None:
    """Real SNS->SQS delivery (envelope, or raw with RawMessageDelivery=true): every SES
    event is counted exactly once by type, recipient, bounce category and status class;
    every counted or ignored message is deleted; a SubscriptionConfirmation (and, in an
    envelope, SES's topic-validation text) is counted as ignored, not malformed."""
    url, arn = moto.create_queue("ses-events")
    topic = moto.sns_topic_to_queue("ses-events", arn, raw=raw)
    sns = moto.client("sns")
    mix = realistic_mix()
    for document in mix:
        sns.publish(TopicArn=topic, Message=json.dumps(document))
    expected_ignored = {"sns_subscription": 1}
    moto.send_bodies(url, [corpus_text("sns-subscription-confirmation")])
    if not raw:
        sns.publish(TopicArn=topic, Message=SES_SETUP_TEXT)
        expected_ignored["ses_setup_notification"] = 1
    total = len(mix) + sum(expected_ignored.values())
    wait_until(lambda: moto.depth(url) == (total, 0), f"{total} messages in the queue")

    pipeline = make_pipeline()
    consumer, stats = make_consumer(moto.client("sqs"), url, pipeline)
    drain(moto, consumer, url)

    counts = pipeline.snapshot()
    assert_mix_counted(counts)
    assert counts.ignored == expected_ignored
    state = stats.snapshot()["ses-events"]
    assert (state.received, state.deleted, state.delete_failures) == (total, total, 0)
    assert state.up
    assert moto.depth(url) == (0, 0)


@integration
def test_raw_delivery_ses_setup_text_is_ignored_and_deleted(moto: Moto) -> None:
    """With raw message delivery the first message SES publishes to a new event topic,
    "Successfully validated SNS topic for Amazon SES event publishing.", reaches SQS as a
    plain-text body: it is a known non-event, so it is ignored and deleted, not malformed."""
    url, arn = moto.create_queue("ses-events-raw")
    topic = moto.sns_topic_to_queue("ses-events-raw", arn, raw=True)
    moto.client("sns").publish(TopicArn=topic, Message=SES_SETUP_TEXT)
    wait_until(lambda: moto.depth(url) == (1, 0), "the setup message")
    assert (
        moto.client("sqs").receive_message(
            QueueUrl=url, VisibilityTimeout=0, MaxNumberOfMessages=1
        )["Messages"][0]["Body"]
        == SES_SETUP_TEXT
    )

    pipeline = make_pipeline()
    consumer, stats = make_consumer(moto.client("sqs"), url, pipeline, visibility=0)
    consumer.poll_once()
    counts = pipeline.snapshot()
    assert counts.malformed == {}
    assert counts.ignored == {"ses_setup_notification": 1}
    assert stats.snapshot()["ses-events-raw"].deleted == 1
    assert moto.depth(url) == (0, 0)


# --------------------------------------------------------------------------- 2. DLQ


@integration
def test_malformed_bodies_reach_the_dlq_counted_once_never_deleted(moto: Moto) -> None:
    """Against a queue with a redrive policy (maxReceiveCount 2, visibility 0): each
    malformed body is received twice, counted ONCE by reason, logged once with its SQS
    message id, never deleted by the consumer, and ends up in the dead-letter queue;
    valid events are counted once."""
    dlq_url, dlq_arn = moto.create_queue("ses-events-dlq")
    url, _ = moto.create_queue(
        "ses-events", dead_letter_arn=dlq_arn, max_receive_count=2, visibility_timeout=0
    )
    valid = [
        json.dumps(event("raw-event-send")),
        json.dumps(event("raw-event-delivery")),
        sns_envelope(json.dumps(event("raw-event-bounce-permanent-general"))),
    ]
    unknown_type = event("raw-event-send")
    unknown_type["eventType"] = "Teleport"
    malformed = {
        "not_json": "this is not JSON at all",
        "not_an_object": '["a JSON array", 1]',
        "unrecognised_shape": '{"hello": "world"}',
        "sns_message_not_json": corpus_text(
            "sns-notification-plaintext-message-raw-delivery-disabled"
        ),
        "unknown_event_type": json.dumps(unknown_type),
    }
    moto.send_bodies(url, valid + list(malformed.values()))

    pipeline = make_pipeline()
    consumer, stats = make_consumer(moto.client("sqs"), url, pipeline, visibility=0)
    with capture_logs() as logs:
        polls = drain(moto, consumer, url, max_polls=10)
    assert polls >= 3  # received, redelivered once, then moved by the redrive policy
    logged = Counter(
        line["sqs_message_id"]
        for line in logs
        if line["event"] == "malformed event left for the dead-letter queue"
    )
    assert len(logged) == len(malformed)
    assert set(logged.values()) == {1}  # logged once each, with its SQS message id

    counts = pipeline.snapshot()
    assert counts.malformed == dict.fromkeys(malformed, 1)
    assert events_by_type(counts) == {"send": 1, "delivery": 1, "bounce": 1}
    assert counts.duplicates == 0
    state = stats.snapshot()["ses-events"]
    assert state.received == len(valid) + 2 * len(malformed)
    assert (state.deleted, state.delete_failures) == (len(valid), 0)

    dead = moto.take_all(dlq_url)
    assert sorted(m["Body"] for m in dead) == sorted(malformed.values())
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= 2 for m in dead)


@integration
def test_body_that_breaks_the_parser_goes_to_the_dlq_like_any_malformed(moto: Moto) -> None:
    """A body the parser chokes on is just another malformed body: poll_once never raises,
    the valid events of the same batch are counted and deleted, and the bad one is left
    for the redrive policy."""
    dlq_url, dlq_arn = moto.create_queue("ses-events-dlq")
    url, _ = moto.create_queue("ses-events", dead_letter_arn=dlq_arn, visibility_timeout=0)
    poison = '{"source": "aws.ses", "detail-type": ["Email Bounced"], "detail": {}}'
    moto.send_bodies(url, [json.dumps(event("raw-event-send")), poison])

    pipeline = make_pipeline()
    consumer, _ = make_consumer(moto.client("sqs"), url, pipeline, visibility=0)
    drain(moto, consumer, url, max_polls=10)

    counts = pipeline.snapshot()
    assert events_by_type(counts) == {"send": 1}
    assert sum(counts.malformed.values()) == 1
    assert [m["Body"] for m in moto.take_all(dlq_url)] == [poison]


# --------------------------------------------------------------------------- 3. redelivery


@integration
def test_same_sns_message_delivered_twice_counts_once(moto: Moto) -> None:
    """SQS at-least-once: the same SNS envelope (same SNS MessageId) arriving twice is one
    event; the second copy is a duplicate, and both copies are deleted."""
    url, _ = moto.create_queue("ses-events")
    body = corpus_text("sns-notification-bounce-permanent-onaccountsuppressionlist")
    moto.send_bodies(url, [body])
    moto.send_bodies(url, [body])

    pipeline = make_pipeline()
    consumer, stats = make_consumer(moto.client("sqs"), url, pipeline)
    drain(moto, consumer, url)

    counts = pipeline.snapshot()
    assert events_by_type(counts) == {"bounce": 1}
    assert sum(counts.bounced.values()) == 1
    assert counts.duplicates == 1
    assert stats.snapshot()["ses-events"].deleted == 2


class FailFirstDelete:
    """A boto3 SQS client whose first DeleteMessageBatch fails (as on a network error)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failed = 0

    def receive_message(self, **kwargs: Any) -> Any:
        return self._client.receive_message(**kwargs)

    def delete_message_batch(self, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed += 1
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected"}}, "DeleteMessageBatch"
            )
        return self._client.delete_message_batch(**kwargs)


@integration
def test_redelivery_after_failed_delete_counts_once(moto: Moto) -> None:
    """A message counted but not deleted (DeleteMessageBatch failed) comes back after the
    visibility timeout: the dedupe window makes it a duplicate, and this time it is
    deleted. Raw delivery: the dedupe key is the SES message id, type, recipients, time."""
    url, _ = moto.create_queue("ses-events")
    moto.send_bodies(url, [json.dumps(event("raw-event-delivery"))])
    client = FailFirstDelete(moto.client("sqs"))

    pipeline = make_pipeline()
    consumer, stats = make_consumer(client, url, pipeline, visibility=0)
    polls = drain(moto, consumer, url)

    assert polls == 2
    assert client.failed == 1
    counts = pipeline.snapshot()
    assert events_by_type(counts) == {"delivery": 1}
    assert counts.delivered == {("example.com", UNKNOWN, SENDING): 1}
    assert counts.duplicates == 1
    state = stats.snapshot()["ses-events"]
    assert (state.received, state.deleted, state.delete_failures) == (2, 1, 1)


@integration
def test_genuine_repeat_opens_both_count(moto: Moto) -> None:
    """Two Open events of the same message at different times are two opens (raw and in
    envelopes); only an exact repeat of one of them is a duplicate."""
    url, _ = moto.create_queue("ses-events")
    message_id = new_message_id()
    first = event("raw-event-open", message_id=message_id)
    second = copy.deepcopy(first)
    second["open"]["timestamp"] = "2017-08-09T22:05:31.118Z"
    bodies = [json.dumps(first), json.dumps(second), json.dumps(first)]
    bodies += [sns_envelope(json.dumps(first)), sns_envelope(json.dumps(second))]
    moto.send_bodies(url, bodies)

    pipeline = make_pipeline()
    consumer, _ = make_consumer(moto.client("sqs"), url, pipeline)
    drain(moto, consumer, url)

    counts = pipeline.snapshot()
    # Raw: 2 opens + 1 exact repeat. Envelopes: distinct SNS MessageIds, so 2 more opens.
    assert events_by_type(counts) == {"open": 4}
    assert counts.duplicates == 1


@integration
def test_two_bounces_same_second_same_domain_both_count(moto: Moto) -> None:
    """Raw delivery: two distinct Bounce notifications (own feedbackId, own recipient) of
    one message, both at corp.example and stamped the same second, are two bounced
    recipients, not one event and a duplicate."""
    url, _ = moto.create_queue("ses-events")
    message_id = new_message_id()
    bodies = []
    for n, address in enumerate(["ann@corp.example", "bob@corp.example"]):
        document = event(
            "raw-notification-bounce-permanent-general-dsn",
            message_id=message_id,
            recipients=[address],
        )
        document["bounce"]["feedbackId"] = f"0100018e-feedback-{n}-000000"
        document["bounce"]["timestamp"] = "2026-11-23T09:00:01.000Z"
        bodies.append(json.dumps(document))
    moto.send_bodies(url, bodies)

    pipeline = make_pipeline()
    consumer, _ = make_consumer(moto.client("sqs"), url, pipeline)
    drain(moto, consumer, url)

    counts = pipeline.snapshot()
    assert counts.duplicates == 0
    assert events_by_type(counts) == {"bounce": 2}
    assert sum(counts.bounced.values()) == 2


# --------------------------------------------------------------------------- consumer threads


@integration
def test_competing_pollers_count_each_message_once_and_stop(moto: Moto) -> None:
    """Four poller threads on one queue (competing consumers): 120 events published via
    SNS are each counted exactly once (a message SQS hands to two pollers is a duplicate,
    not a second event) and the queue ends empty; after `stop` the threads end within
    wait_time_seconds."""
    url, arn = moto.create_queue("ses-events")
    topic = moto.sns_topic_to_queue("ses-events", arn, raw=False)
    sns = moto.client("sns")
    for i in range(120):
        kind = "raw-event-send" if i % 2 else "raw-event-delivery"
        sns.publish(TopicArn=topic, Message=json.dumps(event(kind)))
    wait_until(lambda: moto.depth(url) == (120, 0), "120 messages in the queue")
    stop = threading.Event()
    pipeline = make_pipeline()
    consumer, stats = make_consumer(moto.client("sqs"), url, pipeline, pollers=4, wait=1, stop=stop)
    consumer.start()
    try:
        wait_until(
            lambda: sum(pipeline.snapshot().events.values()) >= 120 and moto.depth(url) == (0, 0),
            "120 events counted and an empty queue",
            timeout=60,
        )
    finally:
        stop.set()
        started = time.monotonic()
        consumer.join(timeout=5)
    assert time.monotonic() - started < 3
    assert not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("sqs-"))
    counts = pipeline.snapshot()
    assert events_by_type(counts) == {"send": 60, "delivery": 60}
    state = stats.snapshot()["ses-events"]
    # moto (like SQS, at least once) may hand one message to two pollers at once.
    assert counts.duplicates == state.received - 120
    assert state.deleted >= 120
    assert state.delete_failures == 0


@integration
def test_refresh_queue_attributes_reports_redrive_policy_and_depth(moto: Moto) -> None:
    """refresh_queue_attributes: a queue with a redrive policy -> True, without -> False,
    plus the visible backlog and the messages in flight; an unknown queue leaves the state
    untouched."""
    _, dlq_arn = moto.create_queue("dlq")
    with_dlq, _ = moto.create_queue("with-dlq", dead_letter_arn=dlq_arn)
    without, _ = moto.create_queue("without-dlq")
    moto.send_bodies(without, ["x", "y", "z"])
    stats = SqsStats()
    client = moto.client("sqs", retries={"max_attempts": 1})
    held = client.receive_message(QueueUrl=without, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert len(held["Messages"]) == 1  # received, not deleted: in flight for 60 s
    refresh_queue_attributes(client, with_dlq, "with-dlq", stats)
    refresh_queue_attributes(client, without, "without-dlq", stats)
    refresh_queue_attributes(client, without.replace("without-dlq", "nope"), "nope", stats)
    state = stats.snapshot()
    assert state["with-dlq"].has_redrive_policy is True
    assert state["with-dlq"].visible_messages == 0
    assert state["without-dlq"].has_redrive_policy is False
    assert state["without-dlq"].visible_messages == 2
    assert (state["with-dlq"].in_flight_messages, state["without-dlq"].in_flight_messages) == (0, 1)
    assert "nope" not in state


# --------------------------------------------------------------------------- 7. hostile bodies

CORPUS_DOCS = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DATA.glob("*.json"))]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["", "@", "a@", "@b", "x@\u00e9xample.com", "x@" + "a" * 70 + ".com"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _slots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key/index) in a JSON document, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _slots(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from _slots(value)


_WRAPPED = ("Message", "body")  # SNS envelope / Lambda SQS record: JSON inside a string


def _unwrap_messages(node: Any) -> Any:
    """Decode JSON `Message`/`body` strings so their inside can be mutated too."""
    for container, key in list(_slots(node)):
        value = container[key]
        if key in _WRAPPED and isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                container[key] = _unwrap_messages(json.loads(value))
            except (ValueError, RecursionError):
                continue  # not JSON: stays a string
    return node


def _rewrap_messages(node: Any) -> Any:
    for container, key in reversed(list(_slots(node))):
        if key in _WRAPPED and isinstance(container[key], dict | list):
            container[key] = json.dumps(container[key])
    return node


@st.composite
def mutated_corpus_bodies(draw: st.DrawFn) -> str | bytes:
    """A corpus payload with keys deleted, values swapped for other types, SNS Message
    strings mutated inside, optionally wrapped in an envelope and/or truncated."""
    document = _unwrap_messages(copy.deepcopy(draw(st.sampled_from(CORPUS_DOCS))))
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        slots = list(_slots(document))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["delete", "replace", "empty", "type"]))
        if action == "delete":
            del container[key]
        elif action == "replace":
            container[key] = draw(JSON_VALUES)
        elif action == "empty":
            container[key] = draw(st.sampled_from([None, "", [], {}, 0]))
        else:  # the same value as another type
            value = container[key]
            container[key] = [value] if not isinstance(value, list) else (value[0] if value else "")
    if draw(st.booleans()):
        document = _rewrap_messages(document)
    text = json.dumps(document)
    if draw(st.booleans()):
        text = sns_envelope(text)
    if draw(st.booleans()):
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text.encode() if draw(st.booleans()) else text


HOSTILE_BODIES = (
    st.text()
    | st.binary()
    | mutated_corpus_bodies()
    | JSON_VALUES.map(json.dumps)
    | JSON_VALUES.map(lambda value: sns_envelope(json.dumps(value)))
)


@pytest.mark.parametrize(
    "body",
    [
        '{"source": "aws.ses", "detail-type": [], "detail": {}}',
        sns_envelope('{"source": "aws.ses", "detail-type": {"a": 1}, "detail": {}}'),
    ],
    ids=["raw", "in-envelope"],
)
def test_eventbridge_detail_type_of_wrong_type_is_malformed(body: str) -> None:
    """An EventBridge-shaped body whose detail-type is not a string is a bad body, like
    any other wrong-typed field: handle returns an Outcome (not an exception)."""
    assert make_pipeline().handle(body, message_id="m-1") in (Outcome.MALFORMED, Outcome.IGNORED)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=HOSTILE_BODIES)
@example(body="[" * 100_000)
@example(body=sns_envelope("[" * 100_000))
@example(body=b"\xff\xfe{")
@example(body='{"Records": [{"body": "{\\"Records\\": []}"}]}')
@example(body=json.dumps({"Type": "Notification", "Message": {"eventType": "Bounce"}}))
def test_hostile_bodies_never_raise_and_always_count_somewhere(body: str | bytes) -> None:
    """Whatever the body (random text/bytes, JSON of any shape, mutated real payloads,
    truncated envelopes), EventPipeline.handle returns an Outcome without raising, and
    the outcome is visible in exactly the counter it names."""
    pipeline = make_pipeline()
    outcome = pipeline.handle(body, received_at=time.time(), message_id="m-1")
    assert isinstance(outcome, Outcome)
    counts = pipeline.snapshot()
    if outcome is Outcome.MALFORMED:
        assert sum(counts.malformed.values()) == 1
        assert not counts.events
    elif outcome is Outcome.IGNORED:
        assert sum(counts.ignored.values()) == 1
        assert not counts.events
    elif outcome is Outcome.COUNTED:
        assert sum(counts.events.values()) >= 1
    else:
        assert counts.duplicates >= 1


# --------------------------------------------------------------------------- 8. cardinality


def test_recipient_domain_labels_stay_bounded_under_100k_domains() -> None:
    """100,000 distinct recipient domains (every event type with a recipient table) through
    a pipeline with max_recipient_domains=50 and a watch-list of 2: at most 50 + 2 + 1
    ("other") recipient_domain values exist in any snapshot; frequent domains and the
    watch-list keep their own label."""
    watch = ["gmail.com", "yahoo.com"]
    heavy = [f"heavy{i}.example" for i in range(5)]
    pipeline = make_pipeline(max_recipient_domains=50, watch_recipient_domains=watch)
    templates = [
        "raw-event-send",
        "raw-event-delivery",
        "raw-event-send",
        "raw-event-delivery",
        "raw-event-complaint-abuse",
        "raw-event-deliverydelay-transientcommunicationfailure",
        "raw-event-bounce-permanent-general",
    ]
    per_body = 45  # + 5 heavy: SES's 50 recipients per message
    bodies = []
    for n in range(100_000 // per_body + 1):
        domains = [f"d{n * per_body + i}.example" for i in range(per_body)]
        recipients = [f"u@{d}" for d in domains + heavy]
        if n % 10 == 0:
            recipients += [f"someone@{w}" for w in watch]
        bodies.append(json.dumps(event(templates[n % len(templates)], recipients=recipients)))
    for body in bodies:
        assert pipeline.handle(body) is Outcome.COUNTED
    counts = pipeline.snapshot()

    tables = {
        "sent": counts.sent,
        "delivered": counts.delivered,
        "bounced": counts.bounced,
        "complained": counts.complained,
        "delayed": counts.delayed,
    }
    labels = {key[0] for table in tables.values() for key in table}
    assert len(labels) <= 50 + 2 + 1, sorted(labels)
    for name, table in tables.items():
        assert table, f"{name} is empty"
        assert len({key[0] for key in table}) <= 53, name
    assert "other" in labels
    assert set(watch) <= labels
    assert set(heavy) <= labels
    assert counts.tracked_recipient_domains <= 50
    assert events_by_type(counts)["send"] == sum(1 for n in range(len(bodies)) if n % 7 in (0, 2))
