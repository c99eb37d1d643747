"""Benchmark one full DNS check cycle of the exporter against a local named.

Generates N synthetic SES sending domains (healthy and broken mixes, see dns_zonegen.py) in one
zone served by a BIND named on a free loopback port, then per N, each in a fresh process:

1. the exporter: ``check_domains`` over the N targets in one process (as the daemon runs it)
   and split across 2 (``--processes``): domains/s, queries/s, CPU and peak RSS of every
   process, with every verdict checked against the generated mix, so a broken run cannot pass;
2. the floor: the exact distinct questions the exporter asks (of the first ``--floor-max``
   domains above that N), issued by a bare ``dns.asyncresolver`` loop at the same concurrency;
3. with ``--floor udp``, a leaner floor: the same questions as pre-built messages through
   ``dns.asyncquery.udp``, without the resolver layer;
4. with ``--floor pycares``, the same questions through a pycares (c-ares) Channel driven by its
   sockets with epoll: what a C resolver's transport and parser would cost per question
   (``.venv/bin/pip install pycares``, not a project dependency; imported only in that mode).

Usage: .venv/bin/python bench/dns_cycle.py [--domains 1000 --domains 10000 --domains 100000]
       [--processes 1 --processes 2] [--json out.json] [--floor resolver] [--floor udp]
       [--floor pycares]
       [--repeat 3] [--profile] [--cycles 2]

``--cycles N`` runs N cycles in the exporter's process sharing one verdict memo, as the
daemon does, and reports each cycle's CPU per domain: the first is cold, the later ones
reuse the verdicts of domains whose answers did not change (all of them here).
"""

from __future__ import annotations

import argparse
import contextlib
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

import dns.exception
import dns.rcode
from dns_zonegen import generate, kind_counts, write_zones

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import NamedServer, start_named, stop_named  # noqa: E402

WORKER = BENCH / "_dns_cycle_worker.py"
WORKER_TIMEOUT_S = 900  # one measurement; a one-process 100,000-domain cycle takes minutes
PROFILE_LINES = 25
TARGET_RATE = 1500  # domains/s at 100,000 domains (issue 6)
TARGET_PEAK_RSS_MB = 300  # at 100,000 domains
TARGET_AT = 100_000


class BenchError(RuntimeError):
    """A measurement failed or measured a broken run."""


FLOORS = {"resolver": "floor-resolver", "udp": "floor-udp", "pycares": "floor-pycares"}


@dataclass
class Row:
    """One N and exporter mode: the best exporter run (highest rate) and each floor's."""

    domains: int
    processes: str
    runs: dict[str, list[dict[str, Any]]]  # "exporter", "floor-resolver", "floor-udp"

    def best(self, mode: str) -> dict[str, Any] | None:
        runs = self.runs.get(mode)
        return max(runs, key=lambda r: float(r["domains_per_s"])) if runs else None

    @property
    def exporter(self) -> dict[str, Any]:
        best = self.best("exporter")
        assert best is not None  # noqa: S101 - measure() always runs the exporter
        return best

    @property
    def parts(self) -> int:
        return int(self.exporter["parts"])

    @property
    def peak_rss_total_mib(self) -> float:
        """The exporter process plus every worker at the largest worker's peak: an upper
        bound on what the cycle held at once."""
        e = self.exporter
        return (e["peak_rss_kib"] + (self.parts - 1) * e["workers_peak_rss_kib"]) / 1024

    def ratio(self, mode: str) -> float | None:
        """Exporter domains/s over the floor's."""
        floor = self.best(mode)
        if floor is None:
            return None
        return float(self.exporter["domains_per_s"]) / float(floor["domains_per_s"])

    def as_json(self) -> dict[str, Any]:
        return {
            "domains": self.domains,
            "processes": self.processes,
            "peak_rss_total_mib": self.peak_rss_total_mib,
            **{f"ratio_vs_{name}_floor": self.ratio(mode) for name, mode in FLOORS.items()},
            "runs": self.runs,
        }


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


def check_floor_run(result: dict[str, Any]) -> None:
    errors = {k: v for k, v in result["outcomes"].items() if k.startswith("error")}
    if errors:
        raise BenchError(f"{result['mode']} had errors: {errors}")


def _cpu_per(cpu_s: float, questions: int, domains: int) -> str:
    return (
        f"{1000 * cpu_s / questions:.3f} s CPU per 1,000 questions, "
        f"{1000 * cpu_s / domains:.3f} ms per domain"
    )


def questions_for(server: NamedServer, n: int, args: argparse.Namespace, workdir: Path) -> Path:
    """The distinct questions of the first ``n`` domains (recorded once per n, unmeasured)."""
    path = workdir / f"questions-{n}.json"
    if not path.exists():
        common = ["--port", str(server.port), "--domains", str(n), "--seed", str(args.seed)]
        run_worker("questions", workdir / "questions.json", *common, "--questions-out", str(path))
    return path


def measure(
    server: NamedServer, n: int, processes: str, args: argparse.Namespace, workdir: Path
) -> Row:
    """The exporter, then the floors on the questions it asks (of a sample above
    ``--floor-max``); ``--repeat`` times, interleaved."""
    common = ["--port", str(server.port), "--domains", str(n), "--seed", str(args.seed)]
    common += ["--concurrency", str(args.concurrency)]
    cycles = ["--cycles", str(args.cycles)]
    floors = [FLOORS[name] for name in args.floors]
    sample = min(n, args.floor_max)
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in ["exporter", *floors]}
    for attempt in range(1, args.repeat + 1):
        exporter = run_worker(
            "exporter", workdir / "exporter.json", *common, *cycles, "--processes", processes
        )
        check_exporter_run(exporter)
        runs["exporter"].append(exporter)
        if attempt == 1:
            broken = {k: v for k, v in exporter["statuses"].items() if not k.endswith("=pass")}
            print(f"  N={n}: every verdict as generated; the non-pass ones: {broken}")
        print(
            f"  N={n} processes={processes} ({exporter['parts']}) run {attempt}: exporter "
            f"{exporter['domains_per_s']:,.0f} domains/s ({exporter['wall_s']:.2f} s wall, "
            f"{exporter['cpu_s']:.2f} s CPU of which {exporter['workers_cpu_s']:.2f} s in "
            f"workers, {exporter['queries_sent']:,} queries, peak RSS "
            f"{exporter['peak_rss_kib'] / 1024:.1f} MB + worker "
            f"{exporter['workers_peak_rss_kib'] / 1024:.1f} MB, "
            f"{_cpu_per(exporter['cpu_s'], exporter['queries_sent'], n)}, "
            f"load {exporter['load_average']:.1f}, compiled {exporter.get('compiled')})"
        )
        for index, each in enumerate(exporter["cycles"] if args.cycles > 1 else [], 1):
            print(
                f"    cycle {index}: {each['cpu_ms_per_domain']:.3f} ms CPU per domain "
                f"({each['cpu_s']:.2f} s CPU, {each['wall_s']:.2f} s wall, "
                f"{each['queries_sent']:,} queries, {each['memo_hits']:,} verdicts reused, "
                f"peak RSS {each['peak_rss_kib'] / 1024:.1f} MB, load {each['load_average']:.1f})"
            )
        if args.cycles > 1:
            print(
                f"    verdict memo: {exporter['memo_entries']:,} entries, "
                f"{exporter['memo_kib'] / 1024:.1f} MB (digests and question names)"
            )
        for mode in floors if processes == args.processes[0] else []:
            questions = questions_for(server, sample, args, workdir)
            cache = (
                ["--query-cache"] if mode == "floor-pycares" and args.pycares_query_cache else []
            )
            floor = run_worker(
                mode,
                workdir / f"{mode}.json",
                *common,
                "--questions",
                str(questions),
                "--sample-domains",
                str(sample),
                *cache,
            )
            check_floor_run(floor)
            runs[mode].append(floor)
            print(
                f"  N={n} run {attempt}: {mode} on {sample:,} domains' questions "
                f"{floor['domains_per_s']:,.0f} domains/s ({floor['questions_per_s']:,.0f} q/s, "
                f"{floor['wall_s']:.2f} s wall, {floor['cpu_s']:.2f} s CPU: "
                f"{_cpu_per(floor['cpu_s'], floor['questions'], sample)}, "
                f"load {floor['load_average']:.1f}; {floor['outcomes']})"
            )
    if args.profile:
        profile(server, common, n, args, workdir)
    return Row(n, processes, runs)


def profile(
    server: NamedServer, common: list[str], n: int, args: argparse.Namespace, workdir: Path
) -> None:
    """Extra runs under cProfile (slower, so not the reported figures): where the time goes.
    The exporter runs in one process here, as cProfile sees only its own process."""
    modes: list[tuple[str, list[str]]] = [("exporter", ["--processes", "1"])]
    if args.floors:  # --floor none: the exporter alone
        questions = questions_for(server, min(n, args.floor_max), args, workdir)
        modes.append(("floor-udp", ["--questions", str(questions), "--sample-domains", str(n)]))
    for mode, extra in modes:
        stats = workdir / f"{mode}-{n}.prof"
        profiled = run_worker(
            mode, workdir / "profiled.json", *common, *extra, "--profile", str(stats)
        )
        print(f"\n### cProfile, {mode}, N={n} ({profiled['wall_s']:.2f} s under the profiler)")
        for sort in ("tottime", "cumulative"):
            pstats.Stats(str(stats), stream=sys.stdout).sort_stats(sort).print_stats(PROFILE_LINES)


HEADER = (
    "| N | processes | exporter domains/s | queries/s | CPU s, all processes (GC s) "
    "| peak RSS MB: exporter process / largest worker / total | load "
    "| floor domains/s (asyncresolver) | floor q/s | floor CPU s | floor peak RSS MB | load "
    "| exporter / floor |\n"
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(row: Row) -> str:
    e, floor, ratio = row.exporter, row.best("floor-resolver"), row.ratio("floor-resolver")
    cells = [
        f"{row.domains:,}",
        f"{row.processes} ({row.parts})",
        f"{e['domains_per_s']:,.0f}",
        f"{e['questions_per_s']:,.0f}",
        f"{e['cpu_s']:.1f} ({e['gc_s']:.1f})",
        (
            f"{e['peak_rss_kib'] / 1024:.0f} / {e['workers_peak_rss_kib'] / 1024:.0f} / "
            f"{row.peak_rss_total_mib:.0f}"
        ),
        f"{e['load_average']:.1f}",
    ]
    if floor is None or ratio is None:
        cells += ["n/a"] * 6
    else:
        sample = "" if floor["domains"] == row.domains else f" (sample: {floor['domains']:,})"
        cells += [
            f"{floor['domains_per_s']:,.0f}{sample}",
            f"{floor['questions_per_s']:,.0f}",
            f"{floor['cpu_s']:.1f}",
            f"{floor['peak_rss_kib'] / 1024:.0f}",
            f"{floor['load_average']:.1f}",
            f"{ratio:.2f}",
        ]
    return "| " + " | ".join(cells) + " |"


def named_rss_mib(server: NamedServer) -> float | None:
    try:
        status = Path(f"/proc/{server.process.pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def wait_for_zone(server: NamedServer, name: str, timeout_s: float = 180) -> None:
    """start_named returns once named answers for a small demo zone; a 100,000-domain zone
    loads for longer on a busy box, and named answers SERVFAIL for it until then."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(dns.exception.Timeout, OSError):
            if server.ask(name, "MX").rcode() == dns.rcode.NOERROR:
                return
        time.sleep(0.2)
    raise BenchError(f"named did not serve {name} within {timeout_s:.0f} s")


def print_table(rows: list[Row]) -> None:
    print(HEADER)
    for row in rows:
        print(table_row(row))
    print()
    for line in filter(None, map(pycares_reading, rows)):
        print(line)


def pycares_reading(row: Row) -> str | None:
    """The exporter's CPU per question against pycares' for the same questions: how much of
    the transport a C resolver could remove (the checks' CPU stays with the exporter)."""
    floor = row.best("floor-pycares")
    if floor is None:
        return None
    e = row.exporter
    exporter_ms = 1000 * e["cpu_s"] / e["queries_sent"]
    pycares_ms = 1000 * floor["cpu_s"] / floor["questions"]
    per_domain = e["queries_sent"] / row.domains
    return (
        f"N={row.domains:,} processes={row.processes}: CPU per question exporter "
        f"{exporter_ms:.4f} ms, pycares {pycares_ms:.4f} ms ({exporter_ms / pycares_ms:.1f}x); "
        f"per domain ({per_domain:.2f} questions) {exporter_ms * per_domain:.3f} ms against "
        f"{pycares_ms * per_domain:.3f} ms; pycares {floor['questions_per_s']:,.0f} q/s "
        f"= {floor['domains_per_s']:,.0f} domains/s on {floor['domains']:,} domains "
        f"(load {floor['load_average']:.1f})"
    )


def _meets(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--domains",
        type=int,
        action="append",
        help="N (repeatable); default 1,000, 10,000, 100,000",
    )
    parser.add_argument(
        "--processes",
        action="append",
        type=int,
        help="check_domains' processes (repeatable); default 1 (as the daemon runs) and 2",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1, help="runs per N; the best is reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--floor",
        dest="floors",
        choices=[*sorted(FLOORS), "none"],
        action="append",
        help="floor(s) to measure (repeatable): resolver = dns.asyncresolver (the default), "
        "udp = pre-built messages through dns.asyncquery.udp, pycares = a pycares (c-ares) "
        "Channel on epoll (.venv/bin/pip install pycares), none = the exporter alone",
    )
    parser.add_argument(
        "--floor-max",
        type=int,
        default=10_000,
        help="above this N the floors ask the questions of the first floor-max domains (a "
        "bare loop over 1.3 million questions takes about half an hour here)",
    )
    parser.add_argument(
        "--pycares-query-cache",
        action="store_true",
        help="--floor pycares: keep c-ares' query cache (on by default in c-ares, off here: the "
        "exporter has none and the questions are distinct)",
    )
    parser.add_argument(
        "--cycles",
        type=int,
        default=1,
        help="exporter cycles per run sharing one verdict memo; each one's CPU is reported",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile stats of extra runs per N"
    )
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines show up when piped
    sizes = sorted(set(args.domains or [1000, 10000, 100000]))
    args.floors = [f for f in dict.fromkeys(args.floors or ["resolver"]) if f != "none"]
    args.processes = [str(p) for p in dict.fromkeys(args.processes or [1, 2])]
    if min(sizes[0], args.concurrency, args.repeat, args.floor_max, args.cycles) < 1:
        parser.error("--domains, --concurrency, --repeat, --floor-max, --cycles must be positive")

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
            wait_for_zone(server, domains[-1].name)
            print(
                f"named on 127.0.0.1:{server.port}, {len(domains):,} domains loaded and answering "
                f"after {time.perf_counter() - started:.2f} s"
            )
            for n in sizes:
                print(f"N={n:,}: mix {kind_counts(domains[:n])}")
                rows.extend(measure(server, n, p, args, workdir) for p in args.processes)
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
    print_table(rows)
    for row in (r for r in rows if r.domains == TARGET_AT):
        rate, rss = row.exporter["domains_per_s"], row.peak_rss_total_mib
        print(
            f"N={row.domains:,} processes={row.processes}: {rate:,.0f} domains/s "
            f"{_meets(rate >= TARGET_RATE)} >= {TARGET_RATE}; peak RSS {rss:.0f} MB in all "
            f"{_meets(rss < TARGET_PEAK_RSS_MB)} < {TARGET_PEAK_RSS_MB} MB"
        )
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
