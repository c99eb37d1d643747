"""Benchmark the SES event pipeline on one core: EventPipeline.handle vs a json.loads floor.

Builds N realistic SQS message bodies from the real payloads in tests/data/ses-events/
(copied from the shared corpus): mostly Send + Delivery, ~5% bounces with varied real
diagnostic codes, some complaints, delays, opens and clicks; half in SNS envelopes
(raw message delivery off), half raw; every body a distinct SES message id (and SNS
MessageId), so the dedupe window never short-circuits. Then, pinned to one CPU, best of
``--repeat`` runs each (CPU time, process_time):

- floor: ``json.loads`` of every body, plus of the inner ``Message`` for envelopes;
- exporter: ``EventPipeline.handle`` of every body (fresh pipeline per run), with the
  daemon's defaults (top-100 recipient domains, a 2-domain watch-list, 5 known sending
  domains, dedupe window 100,000), no provider lookup.

Usage: .venv/bin/python bench/events_pipeline.py [--bodies 100000] [--repeat 3]
       [--profile] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import json
import os
import pstats
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = ROOT / "tests" / "data" / "ses-events"
sys.path.insert(0, str(ROOT))
from exporter.events.pipeline import EventPipeline, Outcome  # noqa: E402

TARGET_RATIO = 1 / 3
TARGET_EVENTS_PER_S = 20_000
SENDING_DOMAINS = [f"brand{i}.example" for i in range(5)]
WATCH = ["gmail.com", "yahoo.com"]
# Recipient domains: a few big mailbox providers carry most of the mail, then a long tail.
BIG = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"]
TAIL = [f"corp{i}.example" for i in range(2_000)]
# Real rejection strings (tab-separated corpus diagnostic_codes.tsv, /work/shared/corpus/):
# (bounceType, bounceSubType, status, diagnosticCode).
BOUNCES = [
    ("Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown"),
    (
        "Permanent",
        "General",
        "5.1.1",
        (
            "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
            "550-5.1.1 double-checking the recipient's email address for typos or\n"
            "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp"
        ),
    ),
    (
        "Permanent",
        "General",
        "5.1.8",
        (
            "smtp;550 5.1.8 <sender@example.com>: Sender address rejected: Domain not found "
            "(in reply to RCPT TO command)"
        ),
    ),
    (
        "Permanent",
        "General",
        "5.7.23",
        "550 5.7.23 The message was rejected because of Sender Policy Framework violation",
    ),
    (
        "Permanent",
        "General",
        "5.7.1",
        (
            "smtp;550 5.7.1 Service unavailable, MailFrom domain is listed in Spamhaus. To request "
            "removal from this list see https://www.spamhaus.org/query/lookup/ (S8002)"
        ),
    ),
    (
        "Permanent",
        "General",
        "5.7.1",
        "smtp;550 5.7.1 Email rejected per DMARC policy for zoho.com",
    ),
    (
        "Transient",
        "MailboxFull",
        "4.2.2",
        (
            "smtp;452 4.2.2 The email account that you tried to reach is over quota. Please direct "
            "the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp"
        ),
    ),
    (
        "Transient",
        "General",
        "4.7.1",
        "smtp;451 4.7.1 <email@example.com>: Recipient address rejected: Greylisted for 5 minutes",
    ),
    (
        "Transient",
        "General",
        "4.7.0",
        (
            "smtp;421 4.7.0 [TSS04] Messages from 0.0.0.0 temporarily deferred due to unexpected "
            "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"
        ),
    ),
    ("Permanent", "General", "5.3.4", "smtp; 552 5.3.4 Message too large"),
    ("Permanent", "General", "5.4.4", "smtp; 550 5.4.4 Invalid domain"),
    (
        "Permanent",
        "General",
        "5.7.1",
        "smtp; 554 5.7.1 <kijitora@example.com>: Relay access denied",
    ),
    (
        "Permanent",
        "OnAccountSuppressionList",
        "5.1.1",
        (
            "Amazon SES did not send the message to this address because it is on the suppression "
            "list for your account."
        ),
    ),
    ("Undetermined", "Undetermined", "", ""),
    (
        "Permanent",
        "General",
        "5.0.0",
        (
            "smtp; 554 4.4.7 Message expired: unable to deliver in "
            "840 minutes.<421 4.4.2 Connection timed out>"
        ),
    ),
    ("Transient", "General", "", "X-Postfix; unknown user"),
]
# Event mix, per 1,000 bodies.
MIX = {
    "send": 440,
    "delivery": 440,
    "bounce": 50,
    "complaint": 10,
    "delay": 30,
    "open": 20,
    "click": 10,
}
TEMPLATES = {
    "send": "raw-event-send",
    "delivery": "raw-event-delivery",
    "bounce": "raw-event-bounce-permanent-general",
    "complaint": "raw-event-complaint-abuse",
    "delay": "raw-event-deliverydelay-transientcommunicationfailure",
    "open": "raw-event-open",
    "click": "raw-event-click",
}
NOTIFICATION_TEMPLATES = {  # identity notifications (no tags) for a share of the feedback
    "delivery": "raw-notification-delivery",
    "bounce": "raw-notification-bounce-permanent-general-dsn",
    "complaint": "raw-notification-complaint-abuse-feedback-report",
}


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _recipient(rng: random.Random) -> str:
    domain = rng.choice(BIG) if rng.random() < 0.7 else rng.choice(TAIL)
    return f"user{rng.randrange(1_000_000)}@{domain}"


def build_bodies(n: int, seed: int = 1) -> tuple[list[str], Counter[str]]:
    """n distinct SQS bodies (one event each) and the count of each kind."""
    rng = random.Random(seed)
    templates = {k: _load(v) for k, v in TEMPLATES.items()}
    notifications = {k: _load(v) for k, v in NOTIFICATION_TEMPLATES.items()}
    kinds = [k for k, per_mille in MIX.items() for _ in range(per_mille)]
    bodies: list[str] = []
    made: Counter[str] = Counter()
    for _ in range(n):
        kind = rng.choice(kinds)
        use_notification = kind in notifications and rng.random() < 0.3
        document = copy.deepcopy(notifications[kind] if use_notification else templates[kind])
        sending = rng.choice(SENDING_DOMAINS)
        recipients = [_recipient(rng) for _ in range(1 if rng.random() < 0.9 else 3)]
        mail = document["mail"]
        mail["messageId"] = f"0100{uuid.UUID(int=rng.getrandbits(128))}-000000"
        mail["source"] = f"noreply@{sending}"
        mail["destination"] = recipients
        if "tags" in mail:
            mail["tags"]["ses:from-domain"] = [sending]
        if kind == "delivery":
            document["delivery"]["recipients"] = recipients
            document["delivery"]["processingTimeMillis"] = rng.randrange(200, 30_000)
        elif kind == "bounce":
            bounce_type, subtype, status, code = rng.choice(BOUNCES)
            section = document["bounce"]
            section["bounceType"], section["bounceSubType"] = bounce_type, subtype
            section["bouncedRecipients"] = [
                {"emailAddress": r, "action": "failed", "status": status, "diagnosticCode": code}
                for r in recipients
            ]
        elif kind == "complaint":
            document["complaint"]["complainedRecipients"] = [{"emailAddress": recipients[0]}]
        elif kind == "delay":
            template = document["deliveryDelay"]["delayedRecipients"][0]
            document["deliveryDelay"]["delayedRecipients"] = [
                {**template, "emailAddress": r} for r in recipients
            ]
        text = json.dumps(document, separators=(",", ":"))
        if rng.random() < 0.5:  # raw message delivery off: the SNS envelope, pretty-printed
            text = json.dumps(
                {
                    "Type": "Notification",
                    "MessageId": str(uuid.UUID(int=rng.getrandbits(128))),
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
                    "Subject": "Amazon SES Email Event Notification",
                    "Message": text + "\n",
                    "Timestamp": "2026-11-23T09:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "x" * 344,
                    "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0.pem",
                    "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                },
                indent=2,
                separators=(",", " : "),
            )
            made["enveloped"] += 1
        made[kind] += 1
        bodies.append(text)
    return bodies, made


def make_pipeline() -> EventPipeline:
    return EventPipeline(
        known_sending_domains=SENDING_DOMAINS,
        watch_recipient_domains=WATCH,
        max_recipient_domains=100,
        dedupe_window=100_000,
    )


def run_floor(bodies: list[str]) -> float:
    loads = json.loads
    started = time.process_time()
    for body in bodies:
        document = loads(body)
        if document.get("Type") == "Notification":
            loads(document["Message"])
    return time.process_time() - started


def run_pipeline(bodies: list[str]) -> tuple[float, Counter[Outcome]]:
    pipeline = make_pipeline()
    handle = pipeline.handle
    outcomes: Counter[Outcome] = Counter()
    now = time.time()
    started = time.process_time()
    for body in bodies:
        outcomes[handle(body, received_at=now)] += 1
    return time.process_time() - started, outcomes


def profile(bodies: list[str], top: int = 25) -> str:
    pipeline = make_pipeline()
    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies:
        pipeline.handle(body)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile one pipeline run")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    bodies, made = build_bodies(args.bodies, args.seed)
    size = sum(len(b) for b in bodies) / len(bodies)
    print(
        f"{len(bodies):,} bodies, mean {size:.0f} B; mix: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(made.items()))
    )
    gc.collect()
    floor_runs, pipeline_runs = [], []
    outcomes: Counter[Outcome] = Counter()
    for _ in range(args.repeat):  # interleaved, best of N each
        floor_runs.append(run_floor(bodies))
        seconds, outcomes = run_pipeline(bodies)
        pipeline_runs.append(seconds)
        gc.collect()
    if outcomes[Outcome.COUNTED] != len(bodies):
        print(f"BROKEN RUN: outcomes {dict(outcomes)}", file=sys.stderr)
        return 1
    floor, exporter = min(floor_runs), min(pipeline_runs)
    n = len(bodies)
    figures = {
        "bodies": n,
        "mean_body_bytes": round(size),
        "floor_events_per_s": round(n / floor),
        "floor_us_per_event": round(floor / n * 1e6, 2),
        "pipeline_events_per_s": round(n / exporter),
        "pipeline_us_per_event": round(exporter / n * 1e6, 2),
        "ratio": round(floor / exporter, 3),
        "floor_runs_s": [round(s, 3) for s in floor_runs],
        "pipeline_runs_s": [round(s, 3) for s in pipeline_runs],
        "python": sys.version.split()[0],
    }
    print(
        f"floor (json.loads):    {figures['floor_events_per_s']:>9,} events/s  "
        f"{figures['floor_us_per_event']:>6.2f} us CPU/event"
    )
    print(
        f"EventPipeline.handle:  {figures['pipeline_events_per_s']:>9,} events/s  "
        f"{figures['pipeline_us_per_event']:>6.2f} us CPU/event"
    )
    ok_ratio = figures["ratio"] >= TARGET_RATIO
    ok_rate = figures["pipeline_events_per_s"] >= TARGET_EVENTS_PER_S
    print(
        f"ratio {figures['ratio']:.3f} of the floor (target >= {TARGET_RATIO:.3f}: "
        f"{'PASS' if ok_ratio else 'MISS'}); target >= {TARGET_EVENTS_PER_S:,} events/s: "
        f"{'PASS' if ok_rate else 'MISS'}"
    )
    if args.profile or not (ok_ratio and ok_rate):
        print(profile(bodies[: min(n, 50_000)]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
