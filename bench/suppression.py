"""Benchmark SuppressionTracker's full count of a 300,000-entry suppression list.

The list is served over loopback HTTP by tests/fakes/sesv2_server.py in its **own process**
(so the client's CPU time and peak RSS are its own). The entries are generated lazily, per
page, from their index (nothing is stored), with a realistic shape: 90% BOUNCE / 10%
COMPLAINT, 60% of the addresses at 12 large mailbox providers and the rest spread over
20,000 company domains (some IDN), LastUpdateTime spread over two years with ~1% in the
last 24 hours.

Each measurement runs in a fresh process:
- ``plain``: one full count with ``max_requests_per_second`` high (1000 by default), to
  measure the client's cost rather than AWS's rate limit: wall time, CPU time, pages,
  peak RSS before/after (``resource.getrusage``), the tracker's own accounting
  (``memory_usage()``, sys.getsizeof-based);
- ``tracemalloc``: the same count under tracemalloc: bytes still held after the refresh
  (the aggregate) and the peak during it (the per-page runs before the merge, plus
  botocore's parsed page).
The driver also measures, for comparison, what a plain ``set[int]`` of the same 300,000
digests would hold. The wall time at the default 1 request/s is simply pages - 1 seconds.

Usage: .venv/bin/python bench/suppression.py [--entries 300000] [--rate 1000]
       [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from fakes.sesv2_server import Sesv2Fake, SuppressedEntry  # noqa: E402

from exporter.sources.suppression import SuppressionTracker  # noqa: E402

MEASURE_TIMEOUT_S = 600
NOW = 1_800_000_000.0
BIG_PROVIDERS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "gmx.de",
    "web.de",
    "orange.fr",
    "yandex.ru",
    "qq.com",
    "naver.com",
)
COMPANY_DOMAINS = 20_000


def synthetic_entry(i: int) -> SuppressedEntry:
    """Entry ``i`` of the synthetic list: deterministic, cheap, no storage."""
    h = int.from_bytes(hashlib.blake2b(i.to_bytes(8, "big"), digest_size=8).digest(), "big")
    if h % 100 < 60:
        domain = BIG_PROVIDERS[h % len(BIG_PROVIDERS)]
    elif h % 100 < 62:
        domain = f"bücher{h % 300}.example"  # IDN: the tracker IDNA-encodes these
    else:
        domain = f"corp{h % COMPANY_DOMAINS}.example"
    reason = "COMPLAINT" if h % 10 == 0 else "BOUNCE"
    age = 3600 * 12 if h % 100 == 99 else 86400 + (h >> 20) % (2 * 365 * 86400)
    return SuppressedEntry(f"user{i:07d}.{h % 9973}@{domain}", reason, NOW - age)


class SyntheticList(Sequence[SuppressedEntry]):
    """A Sequence the fake pages through by index; entries exist only while served."""

    def __init__(self, size: int) -> None:
        self._size = size

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> SuppressedEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[SuppressedEntry]: ...
    def __getitem__(self, index: int | slice) -> SuppressedEntry | Sequence[SuppressedEntry]:
        if isinstance(index, slice):
            return [synthetic_entry(i) for i in range(*index.indices(self._size))]
        if not 0 <= index < self._size:
            raise IndexError(index)
        return synthetic_entry(index)


# ---------------------------------------------------------------------- processes


def serve(entries: int) -> None:
    """Child: serve the synthetic list until stdin closes; report own CPU on stdout."""
    fake = Sesv2Fake(suppressed=SyntheticList(entries), keep_log=False).start()
    print(json.dumps({"port": fake.port}), flush=True)
    sys.stdin.read()
    fake.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"server_cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)


def measure(port: int, mode: str, rate: float) -> dict[str, Any]:
    """Child: one full count against the fake; returns the figures."""
    import boto3  # noqa: PLC0415 - imported here so the driver stays light
    from botocore.config import Config  # noqa: PLC0415 - same

    client = boto3.session.Session().client(
        "sesv2",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - dummy for the local fake
        config=Config(read_timeout=60, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    client.list_suppressed_destinations(PageSize=1)  # connection + model loaded beforehand
    origin = time.monotonic()  # the synthetic list's "now" is NOW: a clock that starts there
    tracker = SuppressionTracker(
        client, max_requests_per_second=rate, clock=lambda: NOW + time.monotonic() - origin
    )
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    if mode == "tracemalloc":
        tracemalloc.start()
    started = time.perf_counter()
    state = tracker.refresh()
    wall = time.perf_counter() - started
    result: dict[str, Any] = {
        "mode": mode,
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu_before,
        "pages": state.api_calls,
        "total": state.total,
        "by_reason": state.by_reason,
        "added_last_24h": state.added_last_24h,
        "top3": state.top_recipient_domains[:3],
        "rss_before_kib": rss_before,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "memory_usage": dict(tracker.memory_usage()),
    }
    if mode == "tracemalloc":
        del state
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["traced_retained_bytes"] = current
        result["traced_peak_bytes"] = peak
    return result


def set_of_digests_bytes(entries: int) -> int:
    """For comparison: a set[int] of ``entries`` 64-bit digests, as tracemalloc sees it."""
    gc.collect()
    tracemalloc.start()
    key = os.urandom(16)
    digests = {
        int.from_bytes(
            hashlib.blake2b(f"user{i}@x".encode(), digest_size=8, key=key).digest(), "big"
        )
        for i in range(entries)
    }
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del digests
    return current


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=MEASURE_TIMEOUT_S,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"measurement failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=2, metavar=("PORT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if args.measure:
        print(json.dumps(measure(int(args.measure[0]), args.measure[1], args.rate)))
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.entries)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None  # noqa: S101 - PIPE was asked for
    assert server.stdout is not None  # noqa: S101 - same
    try:
        port = json.loads(server.stdout.readline())["port"]
        rate = str(args.rate)
        plain = [
            run_child("--measure", str(port), "plain", "--rate", rate) for _ in range(args.repeat)
        ]
        traced = run_child("--measure", str(port), "tracemalloc", "--rate", rate)
    finally:
        server.stdin.close()
        server_report = server.stdout.read()
        server.wait(30)
    server_cpu = json.loads(server_report.splitlines()[-1])["server_cpu_s"]
    median = sorted(plain, key=lambda r: r["wall_s"])[len(plain) // 2]
    set_bytes = set_of_digests_bytes(args.entries)
    summary = {
        "entries": args.entries,
        "rate_per_s": args.rate,
        "pages": median["pages"],
        "wall_s_median": median["wall_s"],
        "wall_s_all": [round(r["wall_s"], 3) for r in plain],
        "client_cpu_s": median["cpu_s"],
        "server_cpu_s_all_runs": server_cpu,
        "rss_before_mib": median["rss_before_kib"] / 1024,
        "peak_rss_mib": median["peak_rss_kib"] / 1024,
        "peak_rss_growth_mib": (median["peak_rss_kib"] - median["rss_before_kib"]) / 1024,
        "tracker_memory_usage": median["memory_usage"],
        "traced_retained_mib": traced["traced_retained_bytes"] / 2**20,
        "traced_peak_mib": traced["traced_peak_bytes"] / 2**20,
        "set_of_int_digests_mib": set_bytes / 2**20,
        "default_rate_wall_s": median["pages"] - 1,  # 1 request/s, first call immediate
        "total": median["total"],
        "by_reason": median["by_reason"],
        "added_last_24h": median["added_last_24h"],
        "top3": median["top3"],
    }
    if summary["total"] != args.entries:
        raise RuntimeError(f"counted {summary['total']} of {args.entries} entries")
    print(json.dumps(summary, indent=2))
    print(
        f"\n{args.entries:,} entries, {median['pages']} pages: full count in "
        f"{statistics.median(r['wall_s'] for r in plain):.2f} s at {args.rate:g} req/s "
        f"(client CPU {median['cpu_s']:.2f} s); at the default 1 req/s: "
        f"{summary['default_rate_wall_s']} s.\n"
        f"peak RSS {summary['peak_rss_mib']:.1f} MiB "
        f"(+{summary['peak_rss_growth_mib']:.1f} MiB over the idle client); aggregate "
        f"{summary['traced_retained_mib']:.2f} MiB retained, {summary['traced_peak_mib']:.1f} MiB "
        f"peak (tracemalloc); digests {median['memory_usage']['digests'] / 2**20:.2f} MiB "
        f"vs {summary['set_of_int_digests_mib']:.1f} MiB as a set[int]."
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
