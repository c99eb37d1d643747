"""A storm of scrapes against the exporter's HTTP server: latency at concurrency 50.

The server runs in a child process (``--serve``): the real /metrics path, the WSGI app from
``exporter.web.make_app`` over a registry holding ``ExporterCollector`` and
``ProcessCollector`` (as the daemon's), behind ``exporter.http_server.HttpServer``, over a
synthetic snapshot of ``--domains`` checked domains (bench/metrics_render.py's mix), its
per-domain table built before the storm (as the daemon's warmer does). This process sends
``--scrapes`` scrapes from ``--concurrency`` threads, each a new connection asking the way
Prometheus asks (OpenMetrics, gzip), and reports the latency from connect to the last byte
(p50, p99, max), failures, the server's CPU time (from /proc) and its closed-connection
counter. ``--backlog 5`` runs the same storm with the standard library's listen backlog.
``--half-open N`` holds N connections that send nothing during the storm, and reports the
server's threads and open file descriptors at the end of the storm.

Usage: .venv/bin/python bench/http_storm.py [--scrapes 2000] [--concurrency 50]
       [--domains 1000] [--backlog 128] [--half-open 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from metrics_render import PROMETHEUS_ACCEPT, synthetic_snapshot  # noqa: E402
from prometheus_client import CollectorRegistry, ProcessCollector  # noqa: E402

from exporter import http_server  # noqa: E402
from exporter.collector import ExporterCollector  # noqa: E402
from exporter.exposition import domain_table  # noqa: E402
from exporter.sources.dns import DnsQueryStats  # noqa: E402
from exporter.web import make_app  # noqa: E402

CLIENT_TIMEOUT_S = 120.0  # per scrape; a storm that needs more has failed anyway
TICKS = os.sysconf("SC_CLK_TCK")


def serve(args: argparse.Namespace) -> int:
    """The child: serve until stdin closes."""
    snap, _ = synthetic_snapshot(args.domains)
    domain_table(snap).exposition()  # built before the storm, as the daemon's warmer does
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(lambda: snap, DnsQueryStats()))
    ProcessCollector(registry=registry)
    server_class = http_server._BoundedWSGIServer  # noqa: SLF001 - the backlog under test
    server_class.request_queue_size = args.backlog
    server = http_server.HttpServer(
        "127.0.0.1", 0, make_app(registry, lambda: snap), registry=registry
    )
    server.start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.shutdown()
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def threads_and_fds(pid: int) -> tuple[int, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    threads = next(int(line.split()[1]) for line in lines if line.startswith("Threads:"))
    return threads, sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def scrape(port: int) -> tuple[float, int, int]:
    """One scrape on a new connection: seconds from connect to the last byte, status, bytes."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
    try:
        connection.request(
            "GET", "/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return time.perf_counter() - started, response.status, len(body)


def closed_counts(port: int) -> dict[str, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    counts = {}
    for line in text.splitlines():
        if line.startswith("deliverability_http_connections_closed_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('"')[1]] = float(value)
    return counts


def storm(args: argparse.Namespace) -> dict[str, Any]:
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            f"--domains={args.domains}",
            f"--backlog={args.backlog}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None  # noqa: S101 - set by PIPE
        port = int(child.stdout.readline())
        scrape(port)  # one first scrape, not timed
        failures: list[str] = []
        lock = threading.Lock()

        def one(_: int) -> float | None:
            try:
                seconds, status, _size = scrape(port)
            except OSError as exc:
                with lock:
                    failures.append(type(exc).__name__)
                return None
            if status != 200:
                with lock:
                    failures.append(str(status))
            return seconds

        with ExitStack() as held:
            for _ in range(args.half_open):
                held.enter_context(socket.create_connection(("127.0.0.1", port), 30))
            cpu_before, client_before = cpu_seconds(child.pid), time.process_time()
            wall = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                latencies = [s for s in pool.map(one, range(args.scrapes)) if s is not None]
            wall = time.perf_counter() - wall
            server_cpu = cpu_seconds(child.pid) - cpu_before
            client_cpu = time.process_time() - client_before
            threads, fds = threads_and_fds(child.pid)
        _, _, size = scrape(port)
        closed = closed_counts(port)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)
    latencies.sort()
    return {
        "scrapes": args.scrapes,
        "concurrency": args.concurrency,
        "domains": args.domains,
        "backlog": args.backlog,
        "half_open": args.half_open,
        "server_threads_at_end": threads,
        "server_fds_at_end": fds,
        "body_bytes_gzip": size,
        "ok": len(latencies) - sum(1 for f in failures if f.isdigit()),
        "failures": failures,
        "p50_s": statistics.median(latencies),
        "p99_s": latencies[int(0.99 * (len(latencies) - 1))],
        "max_s": latencies[-1],
        "wall_s": wall,
        "scrapes_per_s": args.scrapes / wall,
        "server_cpu_s": server_cpu,
        "server_cpu_ms_per_scrape": 1000 * server_cpu / args.scrapes,
        "client_cpu_s": client_cpu,
        "closed_connections": closed,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--backlog", type=int, default=http_server.LISTEN_BACKLOG)
    parser.add_argument("--half-open", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    figures = storm(args)
    print(
        f"{figures['scrapes']} scrapes at concurrency {figures['concurrency']}, "
        f"{figures['domains']} domains ({figures['body_bytes_gzip']:,} bytes gzipped), "
        f"backlog {figures['backlog']}, {figures['half_open']} half-open connections held:\n"
        f"  latency p50 {figures['p50_s'] * 1000:.0f} ms, p99 {figures['p99_s'] * 1000:.0f} ms, "
        f"max {figures['max_s'] * 1000:.0f} ms; {figures['scrapes_per_s']:.0f} scrapes/s\n"
        f"  failures {len(figures['failures'])} {sorted(set(figures['failures']))}\n"
        f"  server CPU {figures['server_cpu_s']:.1f} s "
        f"({figures['server_cpu_ms_per_scrape']:.1f} ms per scrape), "
        f"client CPU {figures['client_cpu_s']:.1f} s\n"
        f"  server threads {figures['server_threads_at_end']}, open fds "
        f"{figures['server_fds_at_end']} at the end of the storm\n"
        f"  closed connections {figures['closed_connections']}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
