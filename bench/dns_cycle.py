"""Benchmark one full DNS check cycle of the exporter against a local named.

Generates N synthetic SES sending domains (healthy and broken mixes, see dns_zonegen.py) in one
zone served by a BIND named on a free loopback port, then per N, each in a fresh process:

1. the exporter: ``check_domains`` over the N targets (domains/s, CPU, queries, peak RSS),
   with every verdict checked against the generated mix, so a broken run cannot pass;
2. the floor: the exact distinct questions the exporter's client asked, issued by a bare
   ``dns.asyncresolver`` loop at the same concurrency;
3. with ``--floor udp``, a leaner floor: the same questions as pre-built messages through
   ``dns.asyncquery.udp`` (the call the exporter's client makes), without the resolver layer.

Usage: .venv/bin/python bench/dns_cycle.py --domains 1000 --domains 10000 [--json out.json]
       [--floor resolver] [--floor udp] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dns_zonegen import generate, kind_counts, write_zones

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import NamedServer, start_named, stop_named  # noqa: E402

WORKER = BENCH / "_dns_cycle_worker.py"
WORKER_TIMEOUT_S = 300  # one measurement; 10,000 domains take 1-2 minutes on 2 shared cores
TARGET_RATIO = 0.5
PROFILE_LINES = 25
TARGET_PEAK_RSS_MB = 150


class BenchError(RuntimeError):
    """A measurement failed or measured a broken run."""


FLOORS = {"resolver": "floor-resolver", "udp": "floor-udp"}


@dataclass
class Row:
    """One N: every run of each measurement; the figures are the best run's (highest rate)."""

    domains: int
    runs: dict[str, list[dict[str, Any]]]  # "exporter", "floor-resolver", "floor-udp"

    def best(self, mode: str) -> dict[str, Any] | None:
        runs = self.runs.get(mode)
        return max(runs, key=lambda r: float(r["domains_per_s"])) if runs else None

    @property
    def exporter(self) -> dict[str, Any]:
        best = self.best("exporter")
        assert best is not None  # noqa: S101 - measure() always runs the exporter
        return best

    def ratio(self, mode: str) -> float | None:
        """Exporter domains/s over the floor's, both the best of their runs."""
        floor = self.best(mode)
        if floor is None:
            return None
        return float(self.exporter["domains_per_s"]) / float(floor["domains_per_s"])

    def cpu_ratio(self, mode: str) -> float | None:
        """The same by CPU seconds (least of the runs): steadier than wall time on a shared
        machine, as both sides are CPU-bound in the client process."""
        if not self.runs.get(mode):
            return None
        floor_cpu = min(float(r["cpu_s"]) for r in self.runs[mode])
        return floor_cpu / min(float(r["cpu_s"]) for r in self.runs["exporter"])

    def as_json(self) -> dict[str, Any]:
        e = self.exporter
        summary: dict[str, Any] = {
            "domains": self.domains,
            "exporter_domains_per_s": e["domains_per_s"],
            "exporter_queries_sent": e["queries_sent"],
            "exporter_wall_s": e["wall_s"],
            "exporter_cpu_s": e["cpu_s"],
            "exporter_gc_s": e["gc_s"],
            "exporter_rss_before_mib": e["rss_before_kib"] / 1024,
            "exporter_peak_rss_mib": e["peak_rss_kib"] / 1024,
        }
        for name, mode in FLOORS.items():
            floor = self.best(mode)
            if floor is not None:
                summary[f"floor_{name}_domains_per_s"] = floor["domains_per_s"]
                summary[f"floor_{name}_questions_per_s"] = floor["questions_per_s"]
                summary[f"ratio_vs_{name}_floor"] = self.ratio(mode)
                summary[f"cpu_ratio_vs_{name}_floor"] = self.cpu_ratio(mode)
        return {**summary, "runs": self.runs}


def run_worker(mode: str, out: Path, *args: str) -> dict[str, Any]:
    command = [sys.executable, str(WORKER), mode, "--out", str(out), *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"{mode} did not finish within {WORKER_TIMEOUT_S} s") from error
    if done.returncode != 0:
        raise BenchError(f"{mode} exited {done.returncode}:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def check_exporter_run(result: dict[str, Any]) -> None:
    """Refuse to report figures of a run whose verdicts do not match the generated mix."""
    if result["mismatch_count"]:
        shown = "\n  ".join(result["mismatches"])
        raise BenchError(
            f"{result['mismatch_count']} of {result['domains']} domains got unexpected "
            f"verdicts, e.g.:\n  {shown}"
        )
    if result["queries_sent"] != result["distinct_questions"]:
        print(
            f"  note: {result['queries_sent']:,} queries for {result['distinct_questions']:,} "
            f"distinct questions ({result['queries_sent'] - result['responses']} unanswered): "
            "retries are in the exporter's figure, not in the floors'"
        )


def check_floor_run(result: dict[str, Any]) -> None:
    errors = {k: v for k, v in result["outcomes"].items() if k.startswith("error")}
    if errors:
        raise BenchError(f"{result['mode']} had errors: {errors}")


def measure(server: NamedServer, n: int, args: argparse.Namespace, workdir: Path) -> Row:
    """Exporter, then the floors on the questions it asked; ``--repeat`` times, interleaved."""
    common = ["--port", str(server.port), "--domains", str(n), "--seed", str(args.seed)]
    common += ["--concurrency", str(args.concurrency)]
    questions = workdir / f"questions-{n}.json"
    floors = [FLOORS[name] for name in args.floors]
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in ["exporter", *floors]}
    for attempt in range(1, args.repeat + 1):
        exporter = run_worker(
            "exporter", workdir / "exporter.json", *common, "--questions-out", str(questions)
        )
        check_exporter_run(exporter)
        runs["exporter"].append(exporter)
        if attempt == 1:
            broken = {k: v for k, v in exporter["statuses"].items() if not k.endswith("=pass")}
            print(f"  N={n}: every verdict as generated; the non-pass ones: {broken}")
        print(
            f"  N={n} run {attempt}: exporter {exporter['domains_per_s']:,.0f} domains/s "
            f"({exporter['wall_s']:.2f} s wall, {exporter['cpu_s']:.2f} s CPU of which "
            f"{exporter['gc_s']:.2f} s GC, {exporter['queries_sent']:,} queries, peak RSS "
            f"{exporter['peak_rss_kib'] / 1024:.1f} MB)"
        )
        for mode in floors:
            floor = run_worker(
                mode, workdir / f"{mode}.json", *common, "--questions", str(questions)
            )
            check_floor_run(floor)
            runs[mode].append(floor)
            print(
                f"  N={n} run {attempt}: {mode} {floor['domains_per_s']:,.0f} domains/s "
                f"({floor['questions_per_s']:,.0f} q/s, {floor['wall_s']:.2f} s wall)"
            )
    if args.profile:
        profile(common, n, questions, workdir)
    return Row(n, runs)


def profile(common: list[str], n: int, questions: Path, workdir: Path) -> None:
    """Extra runs under cProfile (slower, so not the reported figures): where the time goes."""
    for mode, extra in (
        ("exporter", ["--questions-out", str(workdir / "profiled-questions.json")]),
        ("floor-udp", ["--questions", str(questions)]),
    ):
        stats = workdir / f"{mode}-{n}.prof"
        profiled = run_worker(
            mode, workdir / "profiled.json", *common, *extra, "--profile", str(stats)
        )
        print(f"\n### cProfile, {mode}, N={n} ({profiled['wall_s']:.2f} s under the profiler)")
        for sort in ("tottime", "cumulative"):
            pstats.Stats(str(stats), stream=sys.stdout).sort_stats(sort).print_stats(PROFILE_LINES)


HEADER = (
    "| N | exporter domains/s | floor domains/s (asyncresolver) | ratio (wall / CPU) "
    "| floor domains/s (asyncquery.udp) | ratio (wall / CPU) | exporter queries "
    "| exporter CPU s (GC) | RSS before cycle MB | peak RSS MB |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _floor_cells(row: Row, mode: str) -> str:
    floor, ratio, cpu_ratio = row.best(mode), row.ratio(mode), row.cpu_ratio(mode)
    if floor is None or ratio is None or cpu_ratio is None:
        return "n/a | n/a"
    return f"{floor['domains_per_s']:,.0f} | {ratio:.2f} / {cpu_ratio:.2f}"


def table_row(row: Row) -> str:
    e = row.exporter
    return (
        f"| {row.domains:,} | {e['domains_per_s']:,.0f} | "
        f"{_floor_cells(row, 'floor-resolver')} | {_floor_cells(row, 'floor-udp')} | "
        f"{e['queries_sent']:,} | {e['cpu_s']:.1f} ({e['gc_s']:.1f}) | "
        f"{e['rss_before_kib'] / 1024:.1f} | {e['peak_rss_kib'] / 1024:.1f} |"
    )


def named_rss_mib(server: NamedServer) -> float | None:
    try:
        status = Path(f"/proc/{server.process.pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def _meets(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--domains", type=int, action="append", help="N (repeatable); default 1000 and 10000"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1, help="runs per N; the best is reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--floor",
        dest="floors",
        choices=sorted(FLOORS),
        action="append",
        help="floor(s) to measure (repeatable): resolver = dns.asyncresolver (the default), "
        "udp = pre-built messages through dns.asyncquery.udp",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile stats of extra runs per N"
    )
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines show up when piped
    sizes = sorted(set(args.domains or [1000, 10000]))
    args.floors = list(dict.fromkeys(args.floors or ["resolver"]))
    if sizes[0] < 1 or args.concurrency < 1 or args.repeat < 1:
        parser.error("--domains, --concurrency and --repeat must be positive")

    load_before = "/".join(f"{x:.1f}" for x in os.getloadavg())
    domains = generate(sizes[-1], args.seed)
    rows: list[Row] = []
    named_rss: float | None = None
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp:
        workdir = Path(tmp)
        zones = write_zones(domains, workdir)
        started = time.perf_counter()
        server = start_named(workdir / "named", zones)
        try:
            print(
                f"named on 127.0.0.1:{server.port}, {len(domains):,} domains loaded and answering "
                f"after {time.perf_counter() - started:.2f} s"
            )
            for n in sizes:
                print(f"N={n:,}: mix {kind_counts(domains[:n])}")
                rows.append(measure(server, n, args, workdir))
            named_rss = named_rss_mib(server)
        except BenchError as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
        finally:
            stop_named(server)

    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nconcurrency {args.concurrency}, best of {args.repeat}; named RSS "
        f"{named_rss or 0:.0f} MB; load average {load_before} before, {load} after "
        f"({os.cpu_count()} CPUs)\n"
    )
    print(HEADER)
    for row in rows:
        print(table_row(row))
    print()
    for row in rows:
        rss = row.exporter["peak_rss_kib"] / 1024
        verdicts = [
            f"peak RSS {rss:.1f} MB {_meets(rss < TARGET_PEAK_RSS_MB)} < {TARGET_PEAK_RSS_MB} MB"
        ]
        for name, mode in FLOORS.items():
            ratio, cpu_ratio = row.ratio(mode), row.cpu_ratio(mode)
            if ratio is not None and cpu_ratio is not None:
                verdicts.append(
                    f"{ratio:.2f} of the {name} floor's rate (by CPU s {cpu_ratio:.2f}) "
                    f"{_meets(ratio >= TARGET_RATIO)} >= {TARGET_RATIO}"
                )
        print(f"N={row.domains:,}: " + "; ".join(verdicts))
    if args.json:
        payload = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "concurrency": args.concurrency,
            "repeat": args.repeat,
            "seed": args.seed,
            "named_rss_mib": named_rss,
            "load_average_before": load_before,
            "load_average_after": load,
            "cpus": os.cpu_count(),
            "rows": [row.as_json() for row in rows],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
