"""The demo's in-process sources: the archive fed again and again is counted again (fresh
ids and times), the made-up queue moves with it, and the loopback nameserver answers as
the internet would for the reserved ``example.`` names."""

from __future__ import annotations

import threading
import time
from collections import Counter

import dns.message
import dns.rcode
import dns.rdatatype

from exporter.config import Config, EventsConfig
from exporter.demo.daemon import DEMO_DIR
from exporter.demo.nameserver import answer
from exporter.demo.traffic import DEMO_QUEUE, DemoTraffic, load_messages
from exporter.events.pipeline import Outcome
from exporter.jobs.events import build_pipeline
from exporter.sources.sqs import SqsStats

ARCHIVE = DEMO_DIR / "events" / "demo-events.jsonl"


def _traffic(now: float) -> tuple[DemoTraffic, SqsStats]:
    pipeline = build_pipeline(Config(events=EventsConfig(provider_lookup=False)))
    stats = SqsStats()
    return DemoTraffic(pipeline, stats, threading.Event(), ARCHIVE, clock=lambda: now), stats


def test_every_pass_over_the_archive_is_counted_again() -> None:
    traffic, stats = _traffic(time.time())
    passes = [Counter(traffic.backfill()) for _ in range(3)]
    for outcomes in passes:
        assert outcomes[Outcome.COUNTED] > 300  # the archive's events, not duplicates
        assert outcomes[Outcome.MALFORMED] == 1  # its one unreadable line
        assert outcomes[Outcome.IGNORED] == 1  # its SNS subscription confirmation
    assert sum(p[Outcome.DUPLICATE] for p in passes) >= 3 * len(load_messages(ARCHIVE)) // 25 - 1
    queue = stats.snapshot()[DEMO_QUEUE]
    total = sum(p.total() for p in passes)
    assert queue.received == total
    assert queue.deleted == total - 3  # the malformed line is left for the dead-letter queue
    assert queue.up
    assert queue.has_redrive_policy


def test_a_tick_feeds_the_rate_and_the_queue_moves() -> None:
    now = time.time()
    traffic, stats = _traffic(now)
    outcomes = traffic.tick(2.0)
    assert 10 <= len(outcomes) <= 60  # 16 messages, one to three bodies each
    assert traffic.messages_fed == 16
    assert stats.snapshot()[DEMO_QUEUE].last_success == now


def test_the_nameserver_says_nxdomain_under_example_and_refuses_the_rest() -> None:
    reserved = dns.message.from_wire(
        answer(dns.message.make_query("_dmarc.example.", dns.rdatatype.TXT).to_wire()) or b""
    )
    assert reserved.rcode() == dns.rcode.NXDOMAIN
    assert reserved.authority  # the SOA a resolver caches the negative answer by
    other = dns.message.from_wire(
        answer(dns.message.make_query("gmail.com.", dns.rdatatype.MX).to_wire()) or b""
    )
    assert other.rcode() == dns.rcode.REFUSED
    assert answer(b"not dns") is None
