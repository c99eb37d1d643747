"""The SQS consumer: long-polls the exporter's own queue and feeds the event pipeline.

At-least-once, nothing lost: a message is deleted only after it was counted (or ignored
as a non-event); a malformed one, or an SNS envelope from a topic outside
``events.allowed_topic_arns``, is counted once, logged once with its SQS message id and
left in the queue, so the queue's redrive policy moves it to the dead-letter queue.
Several poller threads per queue (competing consumers). On stop, polls end within
``wait_time_seconds``, the batch in hand is finished and deleted, and the rest reappears
after the visibility timeout.

The one remaining edge: a crash between counting a batch and deleting it counts that
batch again after the restart (the dedupe window lives in memory).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws import aws_error_code
from exporter.events.pipeline import EventPipeline, Outcome

__all__ = ["QueueState", "SqsConsumer", "SqsStats", "refresh_queue_attributes"]

log = structlog.get_logger("exporter.sqs")
_LOGGED_WINDOW = 10_000  # ids of messages already logged as left for the dead-letter queue
_LEFT_FOR_DLQ = {
    Outcome.MALFORMED: "malformed event left for the dead-letter queue",
    Outcome.REFUSED: "message from a topic not in events.allowed_topic_arns left for the "
    "dead-letter queue",
}


@dataclass(frozen=True, slots=True)
class QueueState:
    """Per queue: counters and the last poll's outcome, copied for a scrape."""

    received: int = 0
    deleted: int = 0
    delete_failures: int = 0
    receive_errors: int = 0
    up: bool = False
    last_success: float | None = None
    last_error: str = ""
    has_redrive_policy: bool | None = None
    visible_messages: int | None = None
    in_flight_messages: int | None = None


class SqsStats:
    """Thread-safe per-queue state shared by the pollers and the collector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, QueueState] = {}

    def update(self, queue: str, **changes: Any) -> None:
        with self._lock:
            current = self._queues.get(queue, QueueState())
            values = {k: getattr(current, k) for k in QueueState.__slots__}
            for key, delta in changes.items():
                values[key] = values[key] + delta if key in _COUNTERS else delta
            self._queues[queue] = QueueState(**values)

    def snapshot(self) -> dict[str, QueueState]:
        with self._lock:
            return dict(self._queues)


_COUNTERS = frozenset({"received", "deleted", "delete_failures", "receive_errors"})


class SqsConsumer:
    """Polls one queue with ``pollers`` threads until ``stop`` is set."""

    def __init__(
        self,
        *,
        client: Any,
        queue_url: str,
        queue_name: str,
        pipeline: EventPipeline,
        stats: SqsStats,
        stop: threading.Event,
        pollers: int = 2,
        wait_time_seconds: int = 5,
        visibility_timeout_seconds: int | None = None,
    ) -> None:
        self._client = client
        self._url = queue_url
        self._name = queue_name
        self._pipeline = pipeline
        self._stats = stats
        self._stop = stop
        self._wait = wait_time_seconds
        self._visibility = visibility_timeout_seconds
        self._logged: OrderedDict[str, None] = OrderedDict()
        self._logged_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"sqs-{queue_name}-{i}", daemon=True)
            for i in range(pollers)
        ]
        stats.update(queue_name)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                ok = self.poll_once()
            except Exception:
                log.exception("sqs poller failed; retrying", queue=self._name)
                self._stats.update(self._name, up=False, last_error="internal_error")
                ok = False
            if ok:
                backoff = 1.0
            else:
                self._stop.wait(backoff)  # an AWS error: back off, up to a minute
                backoff = min(backoff * 2, 60.0)

    def poll_once(self) -> bool:
        """One receive, count, delete round; False if SQS could not be reached."""
        request: dict[str, Any] = {
            "QueueUrl": self._url,
            "MaxNumberOfMessages": 10,
            "WaitTimeSeconds": self._wait,
            "MessageSystemAttributeNames": ["SentTimestamp", "ApproximateReceiveCount"],
        }
        if self._visibility is not None:
            request["VisibilityTimeout"] = self._visibility
        try:
            response = self._client.receive_message(**request)
        except (BotoCoreError, ClientError) as exc:
            error = aws_error_code(exc)
            self._stats.update(self._name, receive_errors=1, up=False, last_error=error)
            log.warning("sqs receive failed", queue=self._name, error=error)
            return False
        messages = response.get("Messages", [])
        self._stats.update(
            self._name, received=len(messages), up=True, last_success=time.time(), last_error=""
        )
        done = []
        outcomes = self._pipeline.handle_batch(
            [(m.get("Body", ""), m.get("MessageId")) for m in messages], received_at=time.time()
        )
        for message, outcome in zip(messages, outcomes, strict=True):
            if not outcome.deletable:
                self._log_left(message, outcome)
                continue
            done.append(message)
        if done:
            self._delete(done)
        return True

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        try:
            response = self._client.delete_message_batch(QueueUrl=self._url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            # Counted but not deleted: they come back and the dedupe window absorbs them.
            self._stats.update(self._name, delete_failures=len(entries))
            log.warning(
                "sqs delete failed",
                queue=self._name,
                error=aws_error_code(exc),
                messages=len(entries),
            )
            return
        failed = response.get("Failed", [])
        self._stats.update(
            self._name, deleted=len(response.get("Successful", [])), delete_failures=len(failed)
        )
        if failed:
            log.warning("sqs delete partly failed", queue=self._name, failed=len(failed))

    def _log_left(self, message: dict[str, Any], outcome: Outcome) -> None:
        message_id = str(message.get("MessageId", "?"))
        with self._logged_lock:
            if message_id in self._logged:
                return
            self._logged[message_id] = None
            if len(self._logged) > _LOGGED_WINDOW:
                self._logged.popitem(last=False)
        receive_count = message.get("Attributes", {}).get("ApproximateReceiveCount")
        log.warning(
            _LEFT_FOR_DLQ[outcome],
            queue=self._name,
            sqs_message_id=message_id,
            receive_count=receive_count,
        )


def refresh_queue_attributes(client: Any, queue_url: str, queue_name: str, stats: SqsStats) -> None:
    """Depth and redrive policy: without a DLQ, a malformed message would loop forever."""
    try:
        attributes = client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "RedrivePolicy",
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        ).get("Attributes", {})
    except (BotoCoreError, ClientError) as exc:
        log.warning("sqs queue attributes unavailable", queue=queue_name, error=aws_error_code(exc))
        return
    has_redrive = "RedrivePolicy" in attributes
    if not has_redrive:
        log.warning(
            "sqs queue has no redrive policy: malformed messages will loop", queue=queue_name
        )
    stats.update(
        queue_name,
        has_redrive_policy=has_redrive,
        visible_messages=_int(attributes.get("ApproximateNumberOfMessages")),
        in_flight_messages=_int(attributes.get("ApproximateNumberOfMessagesNotVisible")),
    )


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
