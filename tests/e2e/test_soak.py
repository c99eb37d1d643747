"""Soak: the daemon consumes a continuous SES event stream while it is scraped every second.

moto (server mode, loopback) holds the queue and its dead-letter queue; the daemon runs
as a subprocess with four pollers, started by test_events_daemon's `spawn` fixture. For
SOAK_SECONDS the test sends ~30 bodies a second (one in ten malformed) and scrapes
/metrics once a second. Bounded by that constant, and no assertion is about time: the
daemon's RSS and open file descriptors (its own process_* metrics) must stay flat after
warm-up, every valid event is counted exactly once, every malformed one is counted once
and sits in the DLQ (so it was never deleted), and the daemon logs no error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from helpers.moto_fixtures import Moto, event, serialize_moto_sqs, sns_envelope
from test_events_daemon import (
    SENDING,
    Daemon,
    _spawn,  # noqa: F401 - a fixture, requested by name
    total,
    value,
)

pytestmark = pytest.mark.e2e

SOAK_SECONDS = 120  # the whole test takes about this plus ~20 s of start and drain
BATCHES_PER_SECOND = 3  # of 10 bodies: 9 valid, 1 malformed
EARLY = (0.2, 0.4)  # the early window (fractions of the run), after warm-up
LATE = (0.8, 1.0)
RSS_SLACK_BYTES = 20 * 2**20
FDS_SLACK = 5


def bodies(batch: int) -> tuple[list[str], list[str]]:
    """Batch n: 9 distinct events (sends, deliveries, bounces; raw and in envelopes) and
    1 malformed body of a reason that changes with n."""
    valid = []
    for i in range(9):
        kind = ("raw-event-send", "raw-event-delivery", "raw-event-bounce-permanent-general")[i % 3]
        text = json.dumps(event(kind, from_domain=SENDING))
        valid.append(sns_envelope(text) if (batch + i) % 2 else text)
    malformed = [
        f"not an event, batch {batch}",
        json.dumps({"hello": "world", "batch": batch}),
        sns_envelope(f"plain text in an envelope, batch {batch}"),
    ][batch % 3]
    return valid, [malformed]


def window(samples: list[dict[str, float]], key: str, span: tuple[float, float]) -> float:
    start, end = (round(len(samples) * f) for f in span)
    return max(s[key] for s in samples[start:end])


def test_soak_rss_and_fds_flat_every_event_once_no_errors(
    moto: Moto, spawn: Callable[..., Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SOAK_SECONDS of streaming with a scrape every second: the late window's max RSS is
    within 20 MB and its max open fds within 5 of the early window's; afterwards every
    valid event is counted once, every malformed body counted once and in the DLQ, the
    main queue is empty, no scrape failed, and no log line is at level error/critical."""
    serialize_moto_sqs(monkeypatch)  # four pollers and a producer: moto's races otherwise
    dlq_url, dlq_arn = moto.create_queue("ses-events-dlq")
    url, _ = moto.create_queue(
        "ses-events", dead_letter_arn=dlq_arn, max_receive_count=2, visibility_timeout=3
    )
    daemon = spawn(queues=[url], endpoint=moto.endpoint, pollers=4)
    daemon.wait_for(
        lambda s: value(s, "deliverability_collector_up", collector="sqs:ses-events") == 1,
        "the SQS collector up",
    )

    sent_valid, sent_malformed = 0, []
    samples: list[dict[str, float]] = []
    batch = 0
    started = time.monotonic()
    while time.monotonic() - started < SOAK_SECONDS:
        tick = time.monotonic()
        if sum(moto.depth(url)) < 200:  # a slow box must not pile up a backlog for moto
            for _ in range(BATCHES_PER_SECOND):
                valid, malformed = bodies(batch)
                moto.send_bodies(url, valid + malformed)
                sent_valid += len(valid)
                sent_malformed += malformed
                batch += 1
        _, scraped = daemon.scrape()
        samples.append(
            {
                "rss": scraped[("process_resident_memory_bytes", ())],
                "fds": scraped[("process_open_fds", ())],
                "events": total(scraped, "deliverability_ses_events_total"),
            }
        )
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    _, final = daemon.wait_for(
        lambda s: (
            total(s, "deliverability_ses_events_total") >= sent_valid
            and total(s, "deliverability_ses_events_malformed_total") >= len(sent_malformed)
        ),
        f"{sent_valid} events and {len(sent_malformed)} malformed bodies counted",
        timeout=90,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        moto.depth(url) != (0, 0) or moto.depth(dlq_url)[0] < len(sent_malformed)
    ):
        time.sleep(0.5)
    _, final = daemon.scrape()
    code, _ = daemon.sigterm()

    early_rss, late_rss = window(samples, "rss", EARLY), window(samples, "rss", LATE)
    early_fds, late_fds = window(samples, "fds", EARLY), window(samples, "fds", LATE)
    print(
        f"\nsoak: {len(samples)} scrapes, {sent_valid} valid + {len(sent_malformed)} malformed "
        f"bodies; RSS MB first {samples[0]['rss'] / 2**20:.1f}, early max "
        f"{early_rss / 2**20:.1f}, late max {late_rss / 2**20:.1f}, last "
        f"{samples[-1]['rss'] / 2**20:.1f}; open fds early max {early_fds:.0f}, late max "
        f"{late_fds:.0f}"
    )
    assert late_rss <= early_rss + RSS_SLACK_BYTES
    assert late_fds <= early_fds + FDS_SLACK
    assert samples[-1]["events"] > samples[len(samples) // 2]["events"] > 0  # it did stream

    assert total(final, "deliverability_ses_events_total") == sent_valid  # each exactly once
    malformed_counted = total(final, "deliverability_ses_events_malformed_total")
    assert malformed_counted == len(sent_malformed)
    assert moto.depth(url) == (0, 0)
    dead = moto.take_all(dlq_url, max_polls=len(sent_malformed) // 10 + 20)
    assert sorted(m["Body"] for m in dead) == sorted(sent_malformed)  # none was deleted
    deleted = value(final, "deliverability_sqs_messages_deleted_total", queue="ses-events")
    assert deleted is not None
    assert deleted >= sent_valid

    assert code == 0
    lines = [line for line in daemon.log.read_text().splitlines() if line.strip()]
    levels = [json.loads(line).get("level") for line in lines]  # every line is JSON
    assert "error" not in levels
    assert "critical" not in levels
    assert "warning" in levels  # the malformed bodies were logged (once per message)
