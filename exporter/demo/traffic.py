"""The demo's event source: the bundled archive played in a loop, in-process, so the rate
and ratio panels move and the alerts built on `rate()` can fire.

Each pass gives every archived message a fresh message id and fresh timestamps, so the
pipeline counts it again instead of dropping it as a duplicate. The bodies go through
`EventPipeline.handle_batch`, as an SQS receive would, and the counters of a made-up queue
(`DEMO_QUEUE`) move with them: the SQS panels have a queue to show, and the landing page
says that the events are generated in-process. No AWS, no network.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from exporter.events.pipeline import EventPipeline, Outcome
from exporter.sources.sqs import SqsStats

__all__ = ["DEMO_QUEUE", "DemoTraffic", "load_messages"]

log = structlog.get_logger("exporter.demo")

DEMO_QUEUE = "demo-in-process"
"""The name the SQS series carry: there is no queue, the events are generated in-process."""
TICK_SECONDS = 1.0
DUPLICATE_EVERY = 25  # one message in this many is delivered twice, as SQS may
_SECTIONS = ("bounce", "delivery", "complaint", "deliveryDelay", "reject", "failure", "send")

Body = str | dict[str, Any]
"""An archived queue body kept as text (unreadable, or not an SES event), or an SES event."""


def load_messages(path: Path) -> list[list[Body]]:
    """The archive's lines grouped by SES message (its Send, then its outcome events), in
    order; a line that is not an SES event stays text and is a message of its own."""
    messages: list[list[Body]] = []
    by_id: dict[str, list[Body]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        mail = document.get("mail") if isinstance(document, dict) else None
        message_id = mail.get("messageId") if isinstance(mail, dict) else None
        if not isinstance(document, dict) or not isinstance(message_id, str):
            messages.append([line])
            continue
        group = by_id.get(message_id)
        if group is None:
            group = by_id[message_id] = []
            messages.append(group)
        group.append(document)
    return messages


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def refresh(message: Sequence[Body], now: float, rng: random.Random) -> list[str]:
    """The message's bodies with a new message id, sent a few seconds before ``now``, each
    event a little later (SES reports bounces and deliveries seconds after the send)."""
    message_id = f"0100demo{uuid.uuid4().hex[:16]}-{uuid.uuid4()}-000000"
    sent = now - rng.uniform(2.0, 20.0)
    bodies = []
    for body in message:
        if isinstance(body, str):
            bodies.append(body)
            continue
        document = copy.deepcopy(body)
        document["mail"]["messageId"] = message_id
        document["mail"]["timestamp"] = _iso(sent)
        for name in _SECTIONS:
            section = document.get(name)
            if isinstance(section, dict) and "timestamp" in section:
                section["timestamp"] = _iso(min(now, sent + rng.uniform(0.5, 10.0)))
            if isinstance(section, dict) and "feedbackId" in section:
                section["feedbackId"] = f"demo-{uuid.uuid4()}"
        bodies.append(json.dumps(document))
    return bodies


class DemoTraffic:
    """Feeds ``pipeline`` about ``messages_per_second`` archived messages a second, on a
    daemon thread, until ``stop`` is set."""

    def __init__(
        self,
        pipeline: EventPipeline,
        stats: SqsStats,
        stop: threading.Event,
        archive: Path,
        *,
        messages_per_second: float = 8.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pipeline = pipeline
        self._stats = stats
        self._stop = stop
        self._messages = load_messages(archive)
        self._rate = messages_per_second
        self._clock = clock
        self._rng = random.Random()  # noqa: S311 - made-up traffic, not a secret
        self._next = 0
        self._owed = 0.0
        self._fed = 0
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)
        stats.update(DEMO_QUEUE, has_redrive_policy=True, visible_messages=0, in_flight_messages=0)

    @property
    def messages_fed(self) -> int:
        """Messages sent since the start (the demo account's 24-hour send count grows)."""
        return self._fed

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def backfill(self) -> list[Outcome]:
        """Every archived message once, at once: what a queue holds when a consumer starts."""
        return self.tick(len(self._messages) / self._rate) if self._rate > 0 else []

    def tick(self, seconds: float = TICK_SECONDS) -> list[Outcome]:
        """Feed the messages ``seconds`` of traffic make (at least one); their outcomes."""
        if not self._messages:
            return []
        self._owed += self._rate * seconds
        count = max(1, int(self._owed))
        self._owed -= count
        now = self._clock()
        batch: list[tuple[str | bytes, str | None]] = []
        for _ in range(count):
            message = self._messages[self._next % len(self._messages)]
            self._next += 1
            bodies = refresh(message, now, self._rng)
            batch.extend((body, str(uuid.uuid4())) for body in bodies)
            self._fed += 1
            if self._fed % DUPLICATE_EVERY == 0 and not isinstance(message[0], str):
                batch.append((bodies[0], str(uuid.uuid4())))  # delivered twice
        outcomes = self._pipeline.handle_batch(batch, received_at=now)
        deleted = sum(1 for outcome in outcomes if outcome.deletable)
        self._stats.update(
            DEMO_QUEUE,
            received=len(batch),
            deleted=deleted,
            up=True,
            last_success=now,
            visible_messages=self._rng.randint(0, 40),
            in_flight_messages=len(batch),
        )
        return outcomes

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
            except Exception:  # a demo thread must not die silently: log and go on
                log.exception("demo traffic failed")
