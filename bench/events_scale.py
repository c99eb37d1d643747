"""The SES event pipeline at scale: throughput with concurrent pollers, and flat memory.

Three parts, each its own sub-command (``all`` runs them in turn):

- ``sqs``: ``SqsConsumer(pollers=N)`` feeding a real ``EventPipeline`` against
  ``moto_server`` (its own process, loopback HTTP). The producer is a third process that
  keeps at most ``--depth`` messages outstanding (moto costs O(queue depth) per call), so
  the bench process holds only the consumer: its CPU time is the consumer's own. The CPU
  of moto and of the producer is read from /proc and reported apart. Every run checks
  that exactly ``--messages`` events were counted.
- ``pipeline``: ``EventPipeline.handle`` alone at full speed on pre-built bodies, from 1
  thread and from ``--threads`` threads at once (one pipeline, as the pollers share it).
- ``memory``: ``--events`` (5,000,000) bodies through one pipeline, no SQS, each with a
  distinct SES message id and SNS MessageId, recipient domains spread over ``--domains``
  (1,000,000) distinct names; every ``--every`` events the RSS, the size of every internal
  table and (``--tracemalloc``) the traced Python heap are printed. The bodies are made
  on the fly from ~2,000 realistic templates (one ``str.replace`` per id), so the bench
  holds one body at a time and its RSS is the pipeline's.

Usage: .venv/bin/python bench/events_scale.py all
       .venv/bin/python bench/events_scale.py sqs [--pollers 4] [--messages 3000] [--depth 50]
       .venv/bin/python bench/events_scale.py pipeline [--bodies 100000] [--threads 4]
       .venv/bin/python bench/events_scale.py memory [--events 5000000] [--domains 1000000]
           [--every 250000] [--tracemalloc]
       (every sub-command takes --json out.json)
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from events_pipeline import BIG, build_bodies, make_pipeline
from events_sqs import aws_env, client, start_moto

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
from exporter.events.pipeline import EventPipeline, Outcome  # noqa: E402
from exporter.sources.sqs import SqsConsumer, SqsStats  # noqa: E402

DAY = 86_400
PER_DAY = 3_000_000  # "several million events a day per replica"
PEAK_FACTOR = 10  # assumed: a campaign hour can run at 10x the day's average rate
TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (moto, the producer)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def threads_cpu(threads: list[threading.Thread]) -> float:
    """CPU seconds of these threads of this process (Linux: /proc/self/task/<tid>/stat)."""
    total = 0.0
    for thread in threads:
        stat = Path(f"/proc/self/task/{thread.native_id}/stat")
        fields = stat.read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------- sqs


def produce(endpoint: str, url: str, n: int, *, seed: int, depth: int, shared: Any) -> None:
    """The producer process: send n bodies in batches of 10, at most ``depth`` outstanding.
    Ready once its bodies are built; sends after ``go``; reports its sending CPU time."""
    aws_env()
    bodies, _ = build_bodies(n, seed=seed)
    sqs = client(endpoint)
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])  # connect
    shared["ready"].set()
    shared["go"].wait()
    cpu = time.process_time()
    sent = 0
    while sent < n:
        if sent - shared["consumed"].value > depth - 10:
            time.sleep(0.002)
            continue
        chunk = bodies[sent : sent + 10]
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
        )
        sent += len(chunk)
    shared["cpu"].value = time.process_time() - cpu


def measure_sqs(
    endpoint: str, moto_pid: int, *, pollers: int, n: int, depth: int, seed: int
) -> dict[str, Any]:
    sqs = client(endpoint)
    url = sqs.create_queue(QueueName=f"scale-{pollers}-{time.monotonic_ns()}")["QueueUrl"]
    stats, stop = SqsStats(), threading.Event()
    pipeline = make_pipeline()
    calls: Counter[str] = Counter()
    consumer_client = client(endpoint)
    consumer_client.meta.events.register(
        "before-call.sqs", lambda model, **_: calls.update([model.name])
    )
    consumer = SqsConsumer(
        client=consumer_client,
        queue_url=url,
        queue_name="scale",
        pipeline=pipeline,
        stats=stats,
        stop=stop,
        pollers=pollers,
        wait_time_seconds=1,
    )
    spawn = multiprocessing.get_context("spawn")
    shared = {
        "consumed": spawn.Value("l", 0, lock=False),
        "cpu": spawn.Value("d", 0.0, lock=False),
        "ready": spawn.Event(),
        "go": spawn.Event(),
    }
    consumed = shared["consumed"]
    producer = spawn.Process(
        target=produce,
        args=(endpoint, url, n),
        kwargs={"seed": seed, "depth": depth, "shared": shared},
    )
    producer.start()
    if not shared["ready"].wait(120):  # its imports and bodies are not the consumer's time
        raise RuntimeError("the producer did not start")
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    moto_cpu = proc_cpu(moto_pid)
    consumer.start()
    shared["go"].set()
    deadline = time.monotonic() + 900
    checked = time.monotonic()
    while time.monotonic() < deadline:
        consumed.value = deleted = stats.snapshot()["scale"].deleted
        if deleted >= n and sum(pipeline.snapshot().events.values()) >= n:
            break
        # moto's SQS is not thread-safe: a delete racing a send can drop that message
        # (tests/helpers/moto_fixtures.py, serialize_moto_sqs). Do not wait for it.
        if time.monotonic() - checked > 2 and not producer.is_alive():
            checked = time.monotonic()
            depth = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if not any(int(v) for v in depth.values()):
                break
        time.sleep(0.005)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    moto_cpu = proc_cpu(moto_pid) - moto_cpu
    pollers_cpu = threads_cpu(consumer._threads)  # noqa: SLF001 - the poller threads
    stop.set()
    consumer.join(5)
    producer.join(30)
    producer_cpu = shared["cpu"].value
    counts = pipeline.snapshot()
    events = sum(counts.events.values())
    state = stats.snapshot()["scale"]
    sqs.delete_queue(QueueUrl=url)
    if events > n:
        raise RuntimeError(f"pollers={pollers}: counted {events} of {n} events")
    per_k = 1000 / events
    return {
        "pollers": pollers,
        "events": events,
        "lost_by_moto": n - events,
        "seconds": round(wall, 2),
        "events_per_s": round(events / wall, 1),
        "consumer_cpu_s_per_1000": round(cpu * per_k, 3),
        "consumer_cpu_share_of_a_core": round(cpu / wall, 2),
        "poller_threads_cpu_s_per_1000": round(pollers_cpu * per_k, 3),
        "moto_cpu_s_per_1000": round(moto_cpu * per_k, 3),
        "moto_cpu_share_of_a_core": round(moto_cpu / wall, 2),
        "producer_cpu_s_per_1000": round(producer_cpu * per_k, 3),
        "received": state.received,
        "messages_per_receive": round(state.received / max(1, calls["ReceiveMessage"]), 2),
        "sqs_calls_per_1000": round(sum(calls.values()) * per_k),
        "duplicates": counts.duplicates,
    }


def run_sqs(args: argparse.Namespace) -> list[dict[str, Any]]:
    aws_env()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoint = start_moto(Path(tmp))
        try:
            # Warm-up: imports, connection pools, moto's first requests.
            measure_sqs(endpoint, process.pid, pollers=2, n=200, depth=args.depth, seed=999)
            for round_ in range(args.repeat):
                for pollers in args.pollers:
                    row = measure_sqs(
                        endpoint,
                        process.pid,
                        pollers=pollers,
                        n=args.messages,
                        depth=args.depth,
                        seed=100 + round_ * 10 + pollers,
                    )
                    rows.append(row)
                    print(
                        f"sqs pollers={pollers}: {row['events_per_s']:7.1f} events/s "
                        f"({row['seconds']:.1f} s); consumer CPU "
                        f"{row['consumer_cpu_s_per_1000']:.3f} s/1,000 events "
                        f"({row['consumer_cpu_share_of_a_core']:.0%} of a core; poller threads "
                        f"{row['poller_threads_cpu_s_per_1000']:.3f}); moto CPU "
                        f"{row['moto_cpu_s_per_1000']:.3f} s/1,000 "
                        f"({row['moto_cpu_share_of_a_core']:.0%} of a core); producer "
                        f"{row['producer_cpu_s_per_1000']:.3f} s/1,000; "
                        f"{row['sqs_calls_per_1000']} SQS calls/1,000 "
                        f"({row['messages_per_receive']} messages per receive); "
                        f"duplicates {row['duplicates']}, lost by moto {row['lost_by_moto']}",
                        flush=True,
                    )
        finally:
            process.terminate()
            process.wait(timeout=10)
    return rows


# --------------------------------------------------------------------------- pipeline


def run_pipeline(args: argparse.Namespace) -> list[dict[str, Any]]:
    """handle() per body, and handle_batch() per 10 bodies as SqsConsumer does, 1 and N threads."""
    rows = []
    for round_ in range(args.repeat):
        bodies, _ = build_bodies(args.bodies, seed=round_ + 1)
        for mode in ("handle", "handle_batch"):
            for threads in sorted({1, args.threads}):
                rows.append(pipeline_run(bodies, mode, threads))
                row = rows[-1]
                print(
                    f"pipeline {mode:12} threads={threads}: {row['events_per_s']:>7,} events/s, "
                    f"{row['cpu_s_per_1000']:.4f} CPU s/1,000 events",
                    flush=True,
                )
    return rows


def pipeline_run(bodies: list[str], mode: str, threads: int) -> dict[str, Any]:
    pipeline = make_pipeline()
    shares = [bodies[i::threads] for i in range(threads)]
    outcomes: list[int] = []

    def work(share: list[str]) -> None:
        now = time.time()
        if mode == "handle":
            handle = pipeline.handle
            results = [handle(b, received_at=now) for b in share]
        else:
            batch = pipeline.handle_batch
            results = [
                outcome
                for start in range(0, len(share), 10)
                for outcome in batch(
                    [(b, f"m-{start + i}") for i, b in enumerate(share[start : start + 10])],
                    received_at=now,
                )
            ]
        outcomes.append(sum(r is Outcome.COUNTED for r in results))

    workers = [threading.Thread(target=work, args=(share,)) for share in shares]
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if sum(outcomes) != len(bodies):
        raise RuntimeError(f"{mode} threads={threads}: counted {sum(outcomes)} of {len(bodies)}")
    return {
        "mode": mode,
        "threads": threads,
        "events": len(bodies),
        "events_per_s": round(len(bodies) / wall),
        "cpu_s_per_1000": round(cpu / len(bodies) * 1000, 4),
    }


# --------------------------------------------------------------------------- memory

MID, ENV, DOM = "XMIDTOKENX", "XENVTOKENX", "xdomtokenx.example"


def templates(count: int, seed: int) -> list[str]:
    """Realistic bodies (events_pipeline's mix) with their ids and recipients as tokens."""
    result = []
    for body in build_bodies(count, seed=seed)[0]:
        document = json.loads(body)
        template = body
        if document.get("Type") == "Notification":
            template = template.replace(document["MessageId"], ENV)
            document = json.loads(document["Message"])
        mail = document["mail"]
        template = template.replace(mail["messageId"], MID)
        for address in mail["destination"]:
            template = template.replace(address, f"{address.split('@')[0]}@{DOM}")
        result.append(template)
    return result


def stream(n: int, domains: int, seed: int) -> Iterator[str]:
    """n bodies: distinct ids; 30 % big providers, 70 % over ``domains`` distinct names."""
    rng = random.Random(seed)
    bank = templates(2_000, seed)
    stride = 7_919  # prime, so (i * stride) % domains visits every tail domain per cycle
    for i in range(n):
        template = bank[i % len(bank)]
        domain = rng.choice(BIG) if rng.random() < 0.3 else f"d{(i * stride) % domains}.example"
        yield (
            template.replace(MID, f"0100{i:016x}-{seed:08x}-000000")
            .replace(ENV, f"00000000-0000-4000-8000-{i:012x}")
            .replace(DOM, domain)
        )


def tables(pipeline: EventPipeline) -> dict[str, int]:
    """Sizes of every table the pipeline keeps (private names: fine in a benchmark)."""
    limiter = pipeline._limiter  # noqa: SLF001
    return {
        "dedupe": len(pipeline._seen),  # noqa: SLF001
        "sketch": len(limiter._counts),  # noqa: SLF001
        "admitted": len(limiter._admitted),  # noqa: SLF001
        "series": sum(
            len(t)
            for t in (
                pipeline._events,  # noqa: SLF001
                pipeline._sent,  # noqa: SLF001
                pipeline._delivered,  # noqa: SLF001
                pipeline._bounced,  # noqa: SLF001
                pipeline._complained,  # noqa: SLF001
                pipeline._delayed,  # noqa: SLF001
            )
        ),
        "config_sets": len(pipeline._config_sets),  # noqa: SLF001
    }


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    pipeline = make_pipeline()  # the daemon's defaults: top-100, dedupe window 100,000
    handle = pipeline.handle
    samples: list[dict[str, Any]] = []
    bodies = stream(args.events, args.domains, args.seed)
    gc.collect()
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    cpu = time.process_time()
    counted = 0
    header = f"{'events':>10} {'RSS MB':>7} {'traced MB':>9} {'gc objs':>9} " + " ".join(
        f"{k:>11}" for k in tables(pipeline)
    )
    print(header, flush=True)

    def sample(done: int) -> None:
        row = {
            "events": done,
            "rss_mb": round(rss_mb(), 1),
            "traced_mb": (
                round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
                if tracemalloc.is_tracing()
                else None
            ),
            "gc_objects": len(gc.get_objects()),
            **tables(pipeline),
        }
        samples.append(row)
        traced = "-" if row["traced_mb"] is None else f"{row['traced_mb']:.1f}"
        print(
            f"{done:>10,} {row['rss_mb']:>7.1f} {traced:>9} {row['gc_objects']:>9,} "
            + " ".join(f"{row[k]:>11,}" for k in tables(pipeline)),
            flush=True,
        )

    sample(0)
    now = time.time()
    for done, body in enumerate(bodies, start=1):
        if handle(body, received_at=now) is Outcome.COUNTED:
            counted += 1
        if done % args.every == 0:
            sample(done)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    if counted != args.events:
        raise RuntimeError(f"counted {counted} of {args.events} events")
    # Flat = after the dedupe window has filled (100,000 keys), RSS no longer grows.
    filled = [s for s in samples if s["events"] >= 2 * 100_000]
    first, last = filled[0], filled[-1]
    peak = max(filled, key=lambda s: s["rss_mb"])
    summary = {
        "events": args.events,
        "distinct_recipient_domains": args.domains,
        "seconds": round(wall, 1),
        "events_per_s": round(args.events / wall),
        "cpu_s_per_1000": round(cpu / args.events * 1000, 4),
        "rss_mb_first_after_fill": first["rss_mb"],
        "rss_mb_last": last["rss_mb"],
        "rss_mb_max_after_fill": peak["rss_mb"],
        "rss_growth_mb_after_fill": round(last["rss_mb"] - first["rss_mb"], 1),
        "tracked_recipient_domains": pipeline.snapshot().tracked_recipient_domains,
        "samples": samples,
    }
    print(
        f"{args.events:,} events over {args.domains:,} recipient domains in {wall:.0f} s "
        f"({summary['events_per_s']:,} events/s, {summary['cpu_s_per_1000']:.4f} CPU s/1,000); "
        f"RSS after the dedupe window filled: first {first['rss_mb']} MB (at "
        f"{first['events']:,}), last {last['rss_mb']} MB, max {peak['rss_mb']} MB "
        f"(at {peak['events']:,})",
        flush=True,
    )
    return summary


# --------------------------------------------------------------------------- main


def budget(pipeline_rows: list[dict[str, Any]], sqs_rows: list[dict[str, Any]]) -> None:
    average = PER_DAY / DAY
    peak = average * PEAK_FACTOR
    print(
        f"\n{PER_DAY:,} events/day = {average:.1f} events/s on average; "
        f"at a {PEAK_FACTOR}x peak, {peak:.0f} events/s"
    )
    for row in pipeline_rows:
        print(
            f"  pipeline alone, {row['mode']}, {row['threads']} thread(s): "
            f"{row['events_per_s']:,} events/s = "
            f"{row['events_per_s'] / peak:,.0f}x the peak; one core at the average rate: "
            f"{row['cpu_s_per_1000'] * average / 1000:.2%}"
        )
    for row in sqs_rows:
        print(
            f"  SqsConsumer pollers={row['pollers']} via moto: {row['events_per_s']:.0f} events/s "
            f"= {row['events_per_s'] / peak:.1f}x the peak (moto at "
            f"{row['moto_cpu_share_of_a_core']:.0%} of a core is the bound); consumer CPU at "
            f"the average rate: {row['consumer_cpu_s_per_1000'] * average / 1000:.1%} of a core"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["all", "sqs", "pipeline", "memory"])
    parser.add_argument("--pollers", type=int, nargs="+", default=[4])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--depth", type=int, default=50, help="max outstanding SQS messages")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bodies", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    out: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    if args.part in ("all", "pipeline"):
        out["pipeline"] = run_pipeline(args)
    if args.part in ("all", "sqs"):
        out["sqs"] = run_sqs(args)
    if args.part in ("all", "pipeline", "sqs"):
        budget(out.get("pipeline", []), out.get("sqs", []))
    if args.part in ("all", "memory"):
        out["memory"] = run_memory(args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
