"""Benchmark end-to-end SQS consumption against moto in server mode (loopback HTTP).

moto's SQS costs O(queue depth) per call, so a backlog benchmark measures moto, not the
consumer. This one keeps the queue in a steady state instead: a producer thread sends
batches of 10 realistic bodies (half SNS envelopes, half raw, see events_pipeline.py)
whenever fewer than ``--depth`` messages are outstanding, until ``--messages`` were sent.
Each consumer drains the same number of messages from a fresh queue:

- bare:   a boto3 loop of receive_message(10, WaitTimeSeconds=1) + delete_message_batch,
          with 1 and 4 threads (no parsing at all: the ceiling for this moto);
- SqsConsumer(pollers=1) and SqsConsumer(pollers=4): the exporter's consumer feeding a
  real EventPipeline (parse, classify, dedupe, count), then delete.

moto runs as its own process (`moto_server`), so it does not share the GIL with the
consumer. After a 200-message warm-up, modes are interleaved, ``--repeat`` rounds; the
median messages/s is reported.

Usage: .venv/bin/python bench/events_sqs.py [--messages 2000] [--depth 50] [--repeat 3]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from events_pipeline import build_bodies, make_pipeline

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
from exporter.sources.sqs import SqsConsumer, SqsStats  # noqa: E402

TARGET_RATIO = 0.8
REGION = "us-east-1"


def aws_env() -> None:
    """Dummy credentials for moto, and no instance-metadata lookups."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        os.environ[key] = value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    moto_server = Path(sys.executable).parent / "moto_server"
    log = (workdir / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback
                return process, endpoint
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError(f"moto_server did not start: {(workdir / 'moto.log').read_text()[-2000:]}")


def client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        config=BotoConfig(connect_timeout=5, read_timeout=30, max_pool_connections=16),
    )


class Producer(threading.Thread):
    """Keeps (sent - consumed) below ``depth`` until ``total`` messages were sent."""

    def __init__(
        self, endpoint: str, url: str, bodies: list[str], depth: int, consumed: Callable[[], int]
    ) -> None:
        super().__init__(name="producer", daemon=True)
        self._sqs = client(endpoint)
        self._url = url
        self._bodies = bodies
        self._depth = depth
        self._consumed = consumed
        self.sent = 0
        self.max_outstanding = 0

    def run(self) -> None:
        while self.sent < len(self._bodies):
            outstanding = self.sent - self._consumed()
            self.max_outstanding = max(self.max_outstanding, outstanding)
            if outstanding > self._depth - 10:
                time.sleep(0.001)
                continue
            chunk = self._bodies[self.sent : self.sent + 10]
            self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)],
            )
            self.sent += len(chunk)


def run_bare(endpoint: str, url: str, threads: int, stop: threading.Event) -> Any:
    done = {"n": 0}
    lock = threading.Lock()

    def loop() -> None:
        sqs = client(endpoint)
        while not stop.is_set():
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not messages:
                continue
            response = sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
            with lock:
                done["n"] += len(response.get("Successful", []))

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return (lambda: done["n"]), (lambda: [w.join(5) for w in workers]), None


def run_consumer(endpoint: str, url: str, pollers: int, stop: threading.Event) -> Any:
    stats = SqsStats()
    pipeline = make_pipeline()
    consumer = SqsConsumer(
        client=client(endpoint),
        queue_url=url,
        queue_name="bench",
        pipeline=pipeline,
        stats=stats,
        stop=stop,
        pollers=pollers,
        wait_time_seconds=1,
    )
    consumer.start()
    return (lambda: stats.snapshot()["bench"].deleted), (lambda: consumer.join(5)), pipeline


def measure(
    endpoint: str, name: str, bodies: list[str], depth: int, start: Callable[..., Any]
) -> dict[str, Any]:
    sqs = client(endpoint)
    queue = f"bench-{name}-{time.monotonic_ns()}"
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    stop = threading.Event()
    consumed, join, pipeline = start(endpoint, url, stop)
    producer = Producer(endpoint, url, bodies, depth, consumed)
    started = time.perf_counter()
    cpu = time.process_time()
    producer.start()
    deadline = time.monotonic() + 600
    while consumed() < len(bodies) and time.monotonic() < deadline:
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    stop.set()
    join()
    producer.join(5)
    if consumed() < len(bodies):
        raise RuntimeError(f"{name}: only {consumed()} of {len(bodies)} consumed in 600 s")
    row = {
        "mode": name,
        "messages": len(bodies),
        "seconds": round(seconds, 3),
        "messages_per_s": round(len(bodies) / seconds, 1),
        "bench_process_cpu_s": round(cpu_seconds, 3),
        "max_outstanding": producer.max_outstanding,
    }
    if pipeline is not None:
        counts = pipeline.snapshot()
        row["events_counted"] = sum(counts.events.values())
        row["duplicates"] = counts.duplicates
        if row["events_counted"] != len(bodies):
            raise RuntimeError(f"{name}: counted {row['events_counted']} of {len(bodies)}")
    sqs.delete_queue(QueueUrl=url)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=50, help="max outstanding messages")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    aws_env()
    modes: dict[str, Callable[..., Any]] = {
        "bare-1": lambda e, u, s: run_bare(e, u, 1, s),
        "consumer-1": lambda e, u, s: run_consumer(e, u, 1, s),
        "bare-4": lambda e, u, s: run_bare(e, u, 4, s),
        "consumer-4": lambda e, u, s: run_consumer(e, u, 4, s),
    }
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in modes}
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoint = start_moto(Path(tmp))
        try:
            # Warm-up (not reported): imports, connection pools, moto's first requests.
            measure(endpoint, "warmup", build_bodies(200, seed=999)[0], args.depth, modes["bare-1"])
            for round_ in range(args.repeat):
                for name, start in modes.items():
                    # distinct ids per run: a fresh pipeline per run anyway
                    bodies, _ = build_bodies(args.messages, seed=round_ * 10 + len(rows[name]))
                    row = measure(endpoint, name, bodies, args.depth, start)
                    rows[name].append(row)
                    print(
                        f"round {round_ + 1} {name:11} {row['messages_per_s']:7.1f} msg/s "
                        f"({row['seconds']:.2f} s, max outstanding {row['max_outstanding']}"
                        + (f", duplicates {row['duplicates']}" if "duplicates" in row else "")
                        + ")",
                        flush=True,
                    )
        finally:
            process.terminate()
            process.wait(timeout=10)

    median = {
        name: statistics.median(r["messages_per_s"] for r in runs) for name, runs in rows.items()
    }
    print(f"\nmedian of {args.repeat}, {args.messages} messages each, depth <= {args.depth}:")
    for name, rate in median.items():
        print(f"  {name:11} {rate:7.1f} msg/s")
    ratios = {
        "consumer-1 / bare-1": median["consumer-1"] / median["bare-1"],
        "consumer-4 / bare-4": median["consumer-4"] / median["bare-4"],
        "consumer-4 / bare-1": median["consumer-4"] / median["bare-1"],
    }
    for label, ratio in ratios.items():
        verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
        print(f"  {label:20} {ratio:.3f} (target >= {TARGET_RATIO}: {verdict})")
    if args.json:
        args.json.write_text(
            json.dumps({"median_messages_per_s": median, "ratios": ratios, "runs": rows}, indent=2)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
