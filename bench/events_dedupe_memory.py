"""Measure what the dedupe window keeps: bytes retained after N SNS envelopes.

The SNS ``MessageId`` is chosen by whoever publishes, so a hostile sender can make it
huge. Feeds ``--messages`` Delivery events in SNS envelopes whose MessageId is
``--id-bytes`` long (every id distinct, so every one enters the window) through
`EventPipeline.handle`, one body at a time (each body is dropped after use), and prints
the bytes still allocated afterwards (tracemalloc, after a garbage collection): what the
window and the counters retain. A second run with ordinary 36-character ids gives the
bytes per window slot.

Usage: .venv/bin/python bench/events_dedupe_memory.py [--messages 2000] [--id-bytes 200000]
       [--slots 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.events.pipeline import EventPipeline, Outcome  # noqa: E402

DELIVERY = json.loads((ROOT / "tests/data/ses-events/raw-event-delivery.json").read_text())


def body(sns_message_id: str, ses_message_id: str) -> str:
    """One SNS envelope around a Delivery event."""
    record = {**DELIVERY, "mail": {**DELIVERY["mail"], "messageId": ses_message_id}}
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": sns_message_id,
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
            "Message": json.dumps(record),
        }
    )


def retained(messages: int, id_bytes: int) -> int:
    """Bytes still allocated after ``messages`` envelopes with ``id_bytes``-long ids."""
    pipeline = EventPipeline(known_sending_domains=["example.com"], dedupe_window=10_000_000)
    pipeline.handle(body("warm-up", "warm-up"))  # first-use allocations are not the window's
    gc.collect()
    tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    for i in range(messages):
        filler = "x" * max(0, id_bytes - 12)
        outcome = pipeline.handle(body(f"{i:012d}{filler}", str(uuid.uuid4())))
        if outcome is not Outcome.COUNTED:
            raise SystemExit(f"message {i}: {outcome}")
    gc.collect()
    end, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return end - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--id-bytes", type=int, default=200_000)
    parser.add_argument("--slots", type=int, default=100_000)
    args = parser.parse_args()
    hostile = retained(args.messages, args.id_bytes)
    print(
        f"{args.messages} envelopes, {args.id_bytes}-byte MessageIds: "
        f"{hostile / 1e6:.1f} MB retained ({hostile / args.messages:.0f} B per message)"
    )
    ordinary = retained(args.slots, 36)
    print(
        f"{args.slots} envelopes, 36-byte MessageIds: "
        f"{ordinary / 1e6:.1f} MB retained ({ordinary / args.slots:.0f} B per window slot)"
    )


if __name__ == "__main__":
    main()
