"""Forged SNS envelopes against moto in server mode: with ``events.allowed_topic_arns``
set, an envelope from another topic is refused (counted under its own reason, never as
an event), left in the queue and moved to the dead-letter queue by the redrive policy,
while the real topic's events, and raw-delivery bodies, are counted."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from helpers.moto_fixtures import Moto, event, sns_envelope
from structlog.testing import capture_logs

from exporter.events.pipeline import EventPipeline
from exporter.sources.sqs import SqsConsumer, SqsStats

integration = pytest.mark.integration
SENDING = "example.com"
FOREIGN_TOPIC = "arn:aws:sns:us-east-1:999999999999:ses-events"
MAX_RECEIVES = 3


def consumer_for(moto: Moto, url: str, pipeline: EventPipeline) -> tuple[SqsConsumer, SqsStats]:
    stats = SqsStats()
    consumer = SqsConsumer(
        client=moto.client("sqs"),
        queue_url=url,
        queue_name="ses-events",
        pipeline=pipeline,
        stats=stats,
        stop=threading.Event(),
        pollers=1,
        wait_time_seconds=0,
        visibility_timeout_seconds=0,
    )
    return consumer, stats


def forged_envelope() -> str:
    """What anyone allowed to send to the queue can write: a well-formed SNS envelope
    around a real-looking bounce, from another account's topic, with a junk signature."""
    envelope = json.loads(sns_envelope(json.dumps(event("raw-event-bounce-permanent-general"))))
    envelope["TopicArn"] = FOREIGN_TOPIC
    envelope["Signature"] = "Zm9yZ2Vk"
    return json.dumps(envelope)


@integration
def test_forged_envelope_is_refused_counted_once_and_left_for_the_dlq(moto: Moto) -> None:
    dlq_url, dlq_arn = moto.create_queue("ses-events-dlq")
    url, arn = moto.create_queue(
        "ses-events", dead_letter_arn=dlq_arn, max_receive_count=MAX_RECEIVES, visibility_timeout=0
    )
    topic_arn = moto.sns_topic_to_queue("ses-events", arn, raw=False)
    assert topic_arn != FOREIGN_TOPIC
    moto.client("sns").publish(TopicArn=topic_arn, Message=json.dumps(event("raw-event-send")))
    forged = forged_envelope()
    moto.send_bodies(url, [forged])

    pipeline = EventPipeline(known_sending_domains=[SENDING], allowed_topic_arns=[topic_arn])
    consumer, stats = consumer_for(moto, url, pipeline)
    with capture_logs() as logs:
        assert consumer.poll_once()
        # The genuine event is counted and deleted; the forged one is back in the queue.
        assert moto.depth(url) == (1, 0)
        for _ in range(2 * MAX_RECEIVES):  # bounded: the redrive policy takes it away
            if moto.depth(url) == (0, 0):
                break
            assert consumer.poll_once()
    assert moto.depth(url) == (0, 0)

    counts = pipeline.snapshot()
    assert counts.refused == {"topic_not_allowed": 1}  # however often it was received
    assert counts.malformed == {}
    assert counts.events == {("send", SENDING, "ConfigSet"): 1}  # the genuine one only
    assert counts.bounced == {}
    state = stats.snapshot()["ses-events"]
    assert state.received == 1 + MAX_RECEIVES
    assert (state.deleted, state.delete_failures) == (1, 0)
    logged = Counter(
        line["sqs_message_id"]
        for line in logs
        if line["event"].startswith("message from a topic not in events.allowed_topic_arns")
    )
    assert list(logged.values()) == [1]  # logged once, with its SQS message id

    (dead,) = moto.take_all(dlq_url)
    assert dead["Body"] == forged
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVES


@integration
def test_raw_delivery_carries_no_topic_and_is_counted_with_an_allow_list(moto: Moto) -> None:
    """Raw message delivery has no envelope to check: the queue policy is its only
    control, and the allow-list must not drop the real stream."""
    url, arn = moto.create_queue("ses-events", visibility_timeout=0)
    topic_arn = moto.sns_topic_to_queue("ses-events", arn, raw=True)
    moto.client("sns").publish(TopicArn=topic_arn, Message=json.dumps(event("raw-event-send")))

    pipeline = EventPipeline(known_sending_domains=[SENDING], allowed_topic_arns=[topic_arn])
    consumer, stats = consumer_for(moto, url, pipeline)
    assert consumer.poll_once()
    assert moto.depth(url) == (0, 0)
    assert pipeline.snapshot().events == {("send", SENDING, "ConfigSet"): 1}
    assert stats.snapshot()["ses-events"].deleted == 1
