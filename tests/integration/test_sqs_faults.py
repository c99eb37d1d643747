"""SQS failing under the consumer, against moto in server mode behind a fault proxy.

moto has no fault injection, so `SqsFaultProxy` (helpers/moto_fixtures.py) sits between the
consumer and moto on loopback and fails chosen calls: errors, throttling, dropped
connections before and after moto did the work, and a DeleteMessageBatch that fails
half-way. The consumer's client has the daemon's retry settings, so a fault that the
retries absorb never reaches it, and the faults here last long enough that it does.

The invariants, whatever fails: nothing is deleted that was not counted (checked by the
proxy at the moment each DeleteMessageBatch goes to moto), every valid event is counted
exactly once after the redeliveries (the dedupe window absorbs them), and a malformed
body is counted once, never deleted, and ends in the dead-letter queue.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
from helpers.moto_fixtures import Moto, SqsFaultProxy, event, sns_envelope
from structlog.testing import capture_logs

from exporter.events.pipeline import EventPipeline, Outcome
from exporter.sources.sqs import SqsConsumer, SqsStats

pytestmark = pytest.mark.integration
SENDING = "example.com"
# exporter.jobs.events.EventService's client: "max_attempts" counts the retries,
# so one call is up to 4 attempts, and a fault must last 4 calls to reach the consumer.
DAEMON_RETRIES = {"mode": "standard", "max_attempts": 3}
ATTEMPTS = 4


class RecordingPipeline(EventPipeline):
    """An EventPipeline that remembers each SQS message's outcomes (the consumer counts
    a receive with handle_batch), in order."""

    def __init__(self) -> None:
        super().__init__(known_sending_domains=[SENDING])
        self.outcomes: dict[str, list[Outcome]] = {}
        self._record_lock = threading.Lock()

    def handle_batch(
        self,
        messages: Sequence[tuple[str | bytes, str | None]],
        *,
        received_at: float | None = None,
    ) -> list[Outcome]:
        outcomes = super().handle_batch(messages, received_at=received_at)
        with self._record_lock:
            for (_, message_id), outcome in zip(messages, outcomes, strict=True):
                self.outcomes.setdefault(str(message_id), []).append(outcome)
        return outcomes


@pytest.fixture(name="proxy")
def _proxy(moto: Moto) -> Iterator[SqsFaultProxy]:
    proxy = SqsFaultProxy(moto.endpoint).start()
    yield proxy
    proxy.stop()


def guard_deletes(proxy: SqsFaultProxy, pipeline: RecordingPipeline) -> list[str]:
    """Check every DeleteMessageBatch as it goes to moto; returns the violations found."""
    violations: list[str] = []

    def check(message_ids: list[str]) -> None:
        for message_id in message_ids:
            seen = pipeline.outcomes.get(message_id, [])
            if not seen:
                violations.append(f"{message_id}: deleted but never handled")
            elif Outcome.MALFORMED in seen:
                violations.append(f"{message_id}: malformed, deleted")

    proxy.on_delete = check
    return violations


def consumer_through(
    proxy: SqsFaultProxy, url: str, pipeline: EventPipeline, *, visibility: int
) -> tuple[SqsConsumer, SqsStats]:
    stats = SqsStats()
    client = Moto(proxy.endpoint).client("sqs", retries=DAEMON_RETRIES)
    consumer = SqsConsumer(
        client=client,
        queue_url=url,
        queue_name="ses-events",
        pipeline=pipeline,
        stats=stats,
        stop=threading.Event(),
        pollers=1,
        wait_time_seconds=0,
        visibility_timeout_seconds=visibility,
    )
    return consumer, stats


def drain_until(
    moto: Moto,
    consumer: SqsConsumer,
    stats: SqsStats,
    url: str,
    dlq: str,
    *,
    dead: int,
    max_polls: int = 400,
) -> None:
    """poll_once until the queue is empty and ``dead`` messages sit in the DLQ; bounded.
    A failed poll (SQS unreachable) is simply followed by the next one, as in the daemon;
    the depths are read only after a poll that received nothing."""
    for _ in range(max_polls):
        before = stats.snapshot()["ses-events"].received
        consumer.poll_once()
        if stats.snapshot()["ses-events"].received > before:
            continue
        if moto.depth(url) == (0, 0) and moto.depth(dlq) == (dead, 0):
            return
        time.sleep(0.05)  # nothing visible yet: 400 empty polls span 20 s of visibility timeouts
    pytest.fail(f"not drained after {max_polls} polls: {moto.depth(url)}, DLQ {moto.depth(dlq)}")


def valid_bodies(n: int) -> list[str]:
    """n distinct events: sends and deliveries, every third in an SNS envelope."""
    bodies = []
    for i in range(n):
        text = json.dumps(event("raw-event-send" if i % 2 else "raw-event-delivery"))
        bodies.append(sns_envelope(text) if i % 3 == 0 else text)
    return bodies


def malformed_bodies(per_reason: int) -> dict[str, list[str]]:
    """Distinct malformed bodies, ``per_reason`` of each reason the parser names."""
    teleport = event("raw-event-send")
    teleport["eventType"] = "Teleport"
    no_mail = event("raw-event-delivery")
    del no_mail["mail"]
    makers = {
        "not_json": lambda i: f"this is not JSON, #{i}",
        "not_an_object": lambda i: json.dumps(["a JSON array", i]),
        "unrecognised_shape": lambda i: json.dumps({"hello": "world", "n": i}),
        "sns_message_not_json": lambda i: sns_envelope(f"plain text, not an event #{i}"),
        "unknown_event_type": lambda i: json.dumps({**teleport, "n": i}),
        "mail_missing": lambda i: json.dumps({**no_mail, "n": i}),
    }
    return {reason: [make(i) for i in range(per_reason)] for reason, make in makers.items()}


def assert_invariants(
    moto: Moto,
    proxy: SqsFaultProxy,
    pipeline: RecordingPipeline,
    violations: list[str],
    *,
    valid: int,
    malformed: dict[str, list[str]],
    dlq: str,
) -> None:
    counts = pipeline.snapshot()
    assert violations == []
    assert sum(counts.events.values()) == valid  # each valid event exactly once
    assert counts.malformed == {reason: len(bodies) for reason, bodies in malformed.items()}
    handled = {m: o for m, o in pipeline.outcomes.items() if Outcome.MALFORMED not in o}
    assert len(handled) == valid
    assert {o[0] for o in handled.values()} == {Outcome.COUNTED}
    assert all(set(o[1:]) <= {Outcome.DUPLICATE} for o in handled.values())
    assert counts.duplicates == sum(len(o) - 1 for o in handled.values())
    bad = {m for m, o in pipeline.outcomes.items() if Outcome.MALFORMED in o}
    assert not bad & set(proxy.deleted)  # no malformed message was ever deleted
    assert set(handled) <= set(proxy.deleted)
    dead = sorted(m["Body"] for m in moto.take_all(dlq, max_polls=200))
    assert dead == sorted(b for bodies in malformed.values() for b in bodies)


# --------------------------------------------------------------------------- (a) errors


SCENARIOS = {
    # A receive that fails outright: nothing was received, the next poll goes on.
    "receive-throttled": ("ReceiveMessage", "throttle"),
    "receive-connection-dropped": ("ReceiveMessage", "drop_before"),
    # moto handed out a batch nobody saw: it reappears after the visibility timeout.
    "receive-response-lost": ("ReceiveMessage", "drop_after"),
    # Counted, not deleted: redelivered, and a duplicate the second time.
    "delete-500": ("DeleteMessageBatch", "error500"),
    # Deleted at moto, but the consumer cannot know: counted once, never redelivered.
    "delete-response-lost": ("DeleteMessageBatch", "drop_after"),
    # Half of the batch deleted, half in Failed (botocore does not retry entries).
    "delete-partial": ("DeleteMessageBatch", "partial_delete"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_sqs_errors_mid_stream_count_each_event_once_delete_nothing_uncounted(
    moto: Moto, proxy: SqsFaultProxy, scenario: str
) -> None:
    """100 valid events and 12 malformed bodies, one SQS fault mid-stream (the third call
    of its kind fails for every retry): nothing deleted that was not counted, every valid
    event counted once after redelivery, every malformed one counted once and in the DLQ."""
    action, fault = SCENARIOS[scenario]
    dlq, dlq_arn = moto.create_queue("ses-events-dlq")
    # Each lost receive counts as a receive at SQS too. botocore's backoff between the
    # retries (up to 1, 2, 4 s) outlasts the 1 s visibility timeout, so one batch can be
    # handed out and lost more than once; with maxReceiveCount 2 it would then go to the
    # DLQ unseen (as on real SQS). The queue allows every retry to lose it, and one more.
    lost_receives = ATTEMPTS if scenario == "receive-response-lost" else 0
    url, _ = moto.create_queue(
        "ses-events", dead_letter_arn=dlq_arn, max_receive_count=2 + lost_receives
    )
    malformed = malformed_bodies(2)
    bodies = valid_bodies(100) + [b for group in malformed.values() for b in group]
    random.Random(scenario).shuffle(bodies)  # noqa: S311 - a fixed order, not a secret
    moto.send_bodies(url, bodies)

    calls = [3] if fault == "partial_delete" else list(range(3, 3 + ATTEMPTS))
    proxy.fail(action, calls, fault)
    pipeline = RecordingPipeline()
    violations = guard_deletes(proxy, pipeline)
    consumer, stats = consumer_through(proxy, url, pipeline, visibility=1)
    drain_until(moto, consumer, stats, url, dlq, dead=12)

    assert [(a, n) for a, n, _ in proxy.injected] == [(action, n) for n in calls]
    assert_invariants(moto, proxy, pipeline, violations, valid=100, malformed=malformed, dlq=dlq)
    state = stats.snapshot()["ses-events"]
    counts = pipeline.snapshot()
    if action == "ReceiveMessage":
        assert state.receive_errors == 1
        assert state.delete_failures == 0
        assert counts.duplicates == 0
    else:
        assert state.receive_errors == 0
        assert state.delete_failures >= 1
        # Not deleted -> comes back once as a duplicate; deleted unbeknown -> never again.
        expected = 0 if fault == "drop_after" else state.delete_failures
        assert counts.duplicates == expected


def test_a_fault_the_retries_absorb_is_invisible(moto: Moto, proxy: SqsFaultProxy) -> None:
    """One failed attempt of each call (a 500 on a receive, a dropped connection on a
    delete, moto's answer lost on another delete) is retried by botocore: the consumer sees
    no error, and each event is counted once (the lost answer's retry deletes again)."""
    dlq, dlq_arn = moto.create_queue("ses-events-dlq")
    url, _ = moto.create_queue("ses-events", dead_letter_arn=dlq_arn)
    moto.send_bodies(url, valid_bodies(40))
    proxy.fail("ReceiveMessage", [2], "error500")
    proxy.fail("DeleteMessageBatch", [1], "drop_before")
    proxy.fail("DeleteMessageBatch", [3], "drop_after")
    pipeline = RecordingPipeline()
    violations = guard_deletes(proxy, pipeline)
    consumer, stats = consumer_through(proxy, url, pipeline, visibility=1)
    drain_until(moto, consumer, stats, url, dlq, dead=0)

    assert len(proxy.injected) == 3
    assert_invariants(moto, proxy, pipeline, violations, valid=40, malformed={}, dlq=dlq)
    state = stats.snapshot()["ses-events"]
    assert (state.receive_errors, state.delete_failures, state.deleted) == (0, 0, 40)
    assert pipeline.snapshot().duplicates == 0


# --------------------------------------------------------------------------- (b) storm


def test_storm_of_malformed_bodies_all_counted_none_deleted_valid_flow(
    moto: Moto, proxy: SqsFaultProxy
) -> None:
    """504 malformed bodies (84 of each of six reasons) mixed with 200 valid events, fed in
    rounds so moto's queue stays shallow: every malformed body is counted once by reason
    and logged once, none is deleted, all reach the DLQ (maxReceiveCount 2); every valid
    event is counted once and deleted, in the middle of the storm."""
    dlq, dlq_arn = moto.create_queue("ses-events-dlq")
    url, _ = moto.create_queue("ses-events", dead_letter_arn=dlq_arn, max_receive_count=2)
    malformed = malformed_bodies(84)
    bodies = valid_bodies(200) + [b for group in malformed.values() for b in group]
    random.Random(7).shuffle(bodies)  # noqa: S311 - a fixed order, not a secret
    pipeline = RecordingPipeline()
    violations = guard_deletes(proxy, pipeline)
    consumer, stats = consumer_through(proxy, url, pipeline, visibility=0)

    with capture_logs() as logs:
        for start in range(0, len(bodies), 80):  # rounds of 80: moto's cost grows with depth
            moto.send_bodies(url, bodies[start : start + 80])
            for polls in range(1, 61):  # then down to a few dozen before the next round
                consumer.poll_once()
                if polls % 4 == 0 and sum(moto.depth(url)) <= 30:
                    break
        drain_until(moto, consumer, stats, url, dlq, dead=504)

    assert_invariants(moto, proxy, pipeline, violations, valid=200, malformed=malformed, dlq=dlq)
    state = stats.snapshot()["ses-events"]
    assert (state.deleted, state.delete_failures, state.receive_errors) == (200, 0, 0)
    assert pipeline.snapshot().duplicates == 0
    logged = Counter(
        line["sqs_message_id"]
        for line in logs
        if line["event"] == "malformed event left for the dead-letter queue"
    )
    assert len(logged) == 504
    assert set(logged.values()) == {1}
