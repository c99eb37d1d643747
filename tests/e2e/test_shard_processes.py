"""Three exporter processes as shards against the same BIND zones and the same moto queue.

Each process is started as a user starts a StatefulSet replica (`run --shard-count 3
--shard-index i`); a fourth, unsharded process reads the same domains and a copy of the
same events from its own queue. Shown: every domain checked by exactly one shard (the one
its stable hash names), with the verdicts the single process reaches (a verdict left
`unknown` by a DNS timeout on a CPU-starved machine is allowed on a few pairs, only where that
process counted timeouts); every event counted exactly once across the shards; every counter
summed over the shards equal to the single process's.

moto's SQS is not thread-safe: two concurrent receivers can both take a message (seen at
0-4 per 1,000 with 4 pollers), a race SQS itself prevents with the visibility timeout.
Within one process the dedupe window absorbs it; across processes it would count a message
twice and make this test measure moto. `serialize_moto_sqs` makes the in-process moto's
queue operations one at a time, which gives moto SQS's own guarantees and nothing more.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from exposition import Samples
from helpers.daemon import WriteConfig, reap
from helpers.moto_fixtures import Moto, bounce_553_518, event, serialize_moto_sqs, sns_envelope
from integration.test_checks_named import CASES
from test_events_daemon import Daemon, launch, promtool_check, total

from exporter.sharding import shard_of

pytestmark = pytest.mark.e2e

SHARDS = 3
SENDING = "healthy.example"
CHECK_FAMILY = "deliverability_check_status"
EVENTS = "deliverability_ses_events_total"
# Families whose series differ by design between a shard and the single process: per-queue
# SQS consumer state (two queues), per-process health, DNS query counts (shared names such
# as amazonses.com are asked once per shard), build and process metrics.
PER_PROCESS = (
    "deliverability_sqs_",
    "deliverability_collector_",
    "deliverability_dns_queries",
    "deliverability_build_info",
    "deliverability_config_",
    "deliverability_ses_events_dedupe",
    "process_",
    "python_",
)


def domain_tables() -> tuple[list[str], str]:
    """The named verdict-table domains (one target per name) as [[domains]] TOML."""
    seen: dict[str, Any] = {}
    for param in CASES:
        target = param.values[0].target
        seen.setdefault(target.name.lower().rstrip("."), target)
    tables = []
    for name, target in seen.items():
        lines = ["[[domains]]", f'name = "{name}"']
        if target.mail_from:
            lines.append(f'mail_from = "{target.mail_from}"')
        if target.region:
            lines.append(f'region = "{target.region}"')
        if target.dkim_tokens:
            lines.append(f"dkim_tokens = {json.dumps(list(target.dkim_tokens))}")
        tables.append("\n".join(lines))
    return list(seen), "\n\n".join(tables)


def event_bodies() -> list[str]:
    """240 distinct events: sends, deliveries and 5xx bounces to six recipient domains."""
    bodies = []
    for i in range(240):
        recipient = [f"user{i}@rcpt{i % 6}.example"]
        if i % 4 == 3:
            document = bounce_553_518(recipients=recipient, from_domain=SENDING)
        else:
            kind = "raw-event-send" if i % 2 else "raw-event-delivery"
            document = event(kind, recipients=recipient, from_domain=SENDING)
        text = json.dumps(document)
        bodies.append(sns_envelope(text) if i % 3 == 0 else text)
    return bodies


@pytest.fixture(name="atomic_receive")
def _atomic_receive(monkeypatch: pytest.MonkeyPatch) -> None:
    serialize_moto_sqs(monkeypatch)


@pytest.fixture(name="start")
def _start(
    tmp_path: Path, moto: Moto, exporter_config: WriteConfig
) -> Iterator[Callable[..., Daemon]]:
    """start(domains, queue, *flags): an exporter checking ``domains`` (TOML) at `named` (no
    second DNS cycle during the test) and consuming ``queue``."""
    processes: list[subprocess.Popen[str]] = []

    def start(domains: str, queue: str, *flags: str) -> Daemon:
        workdir = tmp_path / f"exporter{len(processes)}"
        config = exporter_config(
            domains,
            path=workdir / "config.toml",
            interval_seconds=600,
            queues=[queue],
            events={"pollers": 2},
        )
        args = ("run", "--config", str(config.path), *flags)
        daemon = launch(workdir, config.port, moto.endpoint, ["-m", "exporter"], *args)
        processes.append(daemon.process)
        return daemon

    yield start
    for process in processes:
        reap(process)


def checked(samples: Samples) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (name, labels), v in samples.items() if name == CHECK_FAMILY}


Verdicts = dict[tuple[str, str], str]


def verdicts(samples: Samples) -> Verdicts:
    """(domain, check) -> the status whose series is 1."""
    return {
        (d["domain"], d["check"]): d["status"]
        for labels, v in checked(samples).items()
        if v == 1 and (d := dict(labels))
    }


def dns_timeouts(samples: Samples) -> float:
    return total(samples, "deliverability_dns_queries_total", outcome="timeout")


def assert_same_verdicts(got: Verdicts, want: Verdicts, timeouts: dict[str, float]) -> None:
    """The same (domain, check) pairs with the same verdicts, except where one side is
    `unknown` because that process's DNS queries timed out (a loaded machine: the resolver
    timeout is generous, but a CPU-starved process can still miss it). Such pairs must be
    few, and only a side whose process saw timeouts may be the unknown one; ``timeouts``
    maps "shards" and "single" to their DNS timeout counts."""
    assert got.keys() == want.keys()
    differ = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
    explained = {
        key: pair
        for key, pair in differ.items()
        if (pair[0] == "unknown" and timeouts["shards"] > 0)
        or (pair[1] == "unknown" and timeouts["single"] > 0)
    }
    assert differ == explained, f"verdicts differ (DNS timeouts {timeouts}): {differ}"
    assert len(differ) <= len(want) // 10, f"too many unknown through timeouts: {differ}"


def shared_counters(samples: Samples) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Event-derived samples that must add up across shards (no per-process families)."""
    return {
        key: v
        for key, v in samples.items()
        if key[0].startswith("deliverability_ses_")
        and key[0].endswith("_total")
        and not key[0].startswith(PER_PROCESS)
    }


def test_three_shards_check_each_domain_once_and_count_each_event_once(
    moto: Moto, atomic_receive: None, start: Callable[..., Daemon]
) -> None:
    names, domains = domain_tables()
    bodies = event_bodies()
    shared_queue, _ = moto.create_queue("ses-events")
    single_queue, _ = moto.create_queue("ses-events-single")
    moto.send_bodies(shared_queue, bodies)
    moto.send_bodies(single_queue, bodies)

    shards = [
        start(domains, shared_queue, "--shard-count", str(SHARDS), "--shard-index", str(i))
        for i in range(SHARDS)
    ]
    single = start(domains, single_queue)

    def dns_done(samples: Samples) -> bool:
        return any(
            n == "deliverability_collector_last_success_timestamp_seconds"
            and dict(labels).get("collector") == "dns"
            for n, labels in samples
        )

    def single_done(samples: Samples) -> bool:
        return dns_done(samples) and total(samples, EVENTS) >= len(bodies)

    _, single_samples = single.wait_for(single_done, "the single process", 90)
    deadline = time.monotonic() + 60
    while True:  # the shards share one queue: wait (bounded) until together they drained it
        scrapes = [
            shard.wait_for(dns_done, f"shard {i}'s DNS cycle", 90) for i, shard in enumerate(shards)
        ]
        counted = sum(total(samples, EVENTS) for _, samples in scrapes)
        if counted >= len(bodies) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert moto.depth(shared_queue) == (0, 0)
    assert moto.depth(single_queue) == (0, 0)

    # Every domain exactly once, by the shard its hash names, with the single run's verdict.
    expected = verdicts(single_samples)
    assert {domain for domain, _ in expected} == set(names)
    seen: Verdicts = {}
    for index, (body, samples) in enumerate(scrapes):
        mine = verdicts(samples)
        assert {domain for domain, _ in mine} == {n for n in names if shard_of(n, SHARDS) == index}
        assert not seen.keys() & mine.keys(), "a domain was checked by two shards"
        seen.update(mine)
        promtool_check(body)
    timeouts = {
        "shards": sum(dns_timeouts(samples) for _, samples in scrapes),
        "single": dns_timeouts(single_samples),
    }
    assert_same_verdicts(seen, expected, timeouts)

    # Every event once: the shards' counters add up to the single process's.
    summed: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
    for _, samples in scrapes:
        for key, v in shared_counters(samples).items():
            summed[key] += v
    want = shared_counters(single_samples)
    assert total(single_samples, EVENTS) == len(bodies)
    assert {k: v for k, v in summed.items() if v} == {k: v for k, v in want.items() if v}
    received = sum(total(s, "deliverability_sqs_messages_received_total") for _, s in scrapes)
    deleted = sum(total(s, "deliverability_sqs_messages_deleted_total") for _, s in scrapes)
    assert received == deleted == len(bodies)


def test_checks_and_events_roles_split_the_work(
    moto: Moto, atomic_receive: None, start: Callable[..., Daemon]
) -> None:
    """The chart's sharded mode: a `checks` replica checks its shard and leaves the queue
    alone; an `events` replica consumes every event, is ready at once (no DNS cycle to wait
    for) and exports no domain or DNS-collector series that would double the checks'."""
    names, domains = domain_tables()
    bodies = event_bodies()[:60]
    queue, _ = moto.create_queue("ses-events")
    checks = start(domains, queue, "--role", "checks", "--shard-count", "2", "--shard-index", "1")
    _, samples = checks.wait_for(
        lambda s: any(n == "deliverability_collector_last_success_timestamp_seconds" for n, _ in s),
        "the checks replica's DNS cycle",
        90,
    )
    assert {dict(labels)["domain"] for labels in checked(samples)} == {
        n for n in names if shard_of(n, 2) == 1
    }
    moto.send_bodies(queue, bodies)
    events = start(domains, queue, "--role", "events")
    _, samples = events.wait_for(
        lambda s: total(s, EVENTS) >= len(bodies), "the events replica to count every event", 60
    )
    assert events.get("/readyz")[0] == 200
    assert not checked(samples)
    assert not any(
        n.startswith("deliverability_collector_") and ("collector", "dns") in labels
        for n, labels in samples
    )
    assert moto.depth(queue) == (0, 0)
    _, samples = checks.scrape()
    assert total(samples, EVENTS) == 0
    assert total(samples, "deliverability_sqs_messages_received_total") == 0
