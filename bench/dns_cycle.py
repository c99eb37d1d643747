"""Benchmark the exporter's DNS check cycle on a local named, and floors on the same questions.

Generates N synthetic SES sending domains (healthy and broken mixes, see dns_zonegen.py) in one
zone served by a BIND named on a free loopback port, answering as the recursive resolver the
exporter asks by default does (a DKIM selector's CNAME and the key it leads to in one answer);
named is pinned to one core and every measured client to another (bench/_affinity.py; without
two usable cores nothing is pinned and the output says so). Per N, ``--repeat`` rounds, the
methods interleaved within each round (their order rotated from round to round), each run in a
fresh process:

1. the exporter, once per ``--variant NAME=PYTHONPATH:PYTHON`` (default: this interpreter as
   it is): ``--cycles`` cycles of ``check_domains`` sharing one verdict memo as the daemon does
   (the first cold, the later ones warm); every verdict of every cycle must equal the
   generator's intent, or the row fails;
2. the floors (``--floor``): the exact distinct questions the exporter asks (of the first
   ``--floor-max`` domains above that N) through a bare ``dns.asyncresolver`` loop (``resolver``),
   pre-built messages through ``dns.asyncquery.udp`` (``udp``), a pycares Channel
   (``pycares``; ``pip install pycares``, not a project dependency), or pre-built packets
   through bare sockets and epoll with nothing parsed (``raw``: the syscall floor);
3. with ``--blackbox``, blackbox_exporter asking the same questions (bench/blackbox.py).

The headline is CPU per domain (process CPU / domains, all threads): on a shared box wall clock
moves 2-3x between runs, CPU per unit of work ~15 %. Wall-clock domains/s, named's CPU (from
/proc) and the 1/5/15-minute load average at the start and end of each run come with it. The
output ends with one markdown table: median and spread (min-max) per method.

    .venv/bin/python bench/dns_cycle.py --domains 10000 --floor none --cycles 2
    .venv/bin/python bench/dns_cycle.py --domains 10000 --floor none --cycles 2 --repeat 3 \
        --variant before=/tmp/old:.venv/bin/python --variant pure=.:.venv/bin/python \
        --variant compiled=-:.venv-compiled/bin/python

Run it with the pure-Python build (the question list is recorded by subclassing DnsClient).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.rcode
from _affinity import CpuPlan, load_average, pin_all_threads, plan
from _dns_report import Method, Variant, print_report
from blackbox import find_binary
from dns_zonegen import generate, kind_counts, write_zones

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import NamedServer, start_named, stop_named  # noqa: E402

WORKER = BENCH / "_dns_cycle_worker.py"
BLACKBOX = BENCH / "blackbox.py"
WORKER_TIMEOUT_S = 900  # one measurement; a 100,000-domain cycle takes minutes on a busy box
PROFILE_LINES = 25
NAMED_STARTS = 3
FLOORS = {
    "resolver": "floor-resolver",
    "udp": "floor-udp",
    "pycares": "floor-pycares",
    "raw": "floor-raw",
}


class BenchError(RuntimeError):
    """A measurement could not run (a crash, a timeout): nothing to report for it."""


@dataclass
class Runner:
    """Runs one measurement in a fresh process on the client core and reads its JSON."""

    server: NamedServer
    cpus: CpuPlan
    workdir: Path
    args: argparse.Namespace

    def server_args(self) -> list[str]:
        return [
            *("--port", str(self.server.port), "--named-pid", str(self.server.process.pid)),
            *("--concurrency", str(self.args.concurrency)),
        ]

    def common(self, n: int) -> list[str]:
        return [*self.server_args(), "--domains", str(n), "--seed", str(self.args.seed)]

    def run(self, command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
        what = f"{Path(command[1]).name} {command[2]}"
        out = self.workdir / "result.json"
        out.unlink(missing_ok=True)
        try:
            done = subprocess.run(
                [*command, "--out", str(out)],
                capture_output=True,
                text=True,
                timeout=WORKER_TIMEOUT_S,
                check=False,
                env=env,
                preexec_fn=self.cpus.pin_client,
            )
        except subprocess.TimeoutExpired as error:
            raise BenchError(f"{what} did not finish within {WORKER_TIMEOUT_S} s") from error
        if done.returncode != 0:
            raise BenchError(f"{what} exited {done.returncode}:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result

    def questions(self, n: int) -> Path:
        """The distinct questions the exporter asks for the first ``n`` domains (recorded
        once per n by an unmeasured cycle of the pure build this driver runs)."""
        path = self.workdir / f"questions-{n}.json"
        if not path.exists():
            worker = [sys.executable, str(WORKER), "questions", *self.common(n)]
            self.run([*worker, "--questions-out", str(path)])
        return path

    def measure(self, method: Method, n: int) -> dict[str, Any]:
        limit = self.args.blackbox_max if method.kind == "blackbox" else self.args.floor_max
        sample = min(n, limit)
        if method.variant is not None:
            cycles = ["--cycles", str(self.args.cycles)]
            command = [method.variant.python, str(WORKER), "exporter", *self.common(n), *cycles]
            return self.run(command, method.variant.env())
        questions = ["--questions", str(self.questions(sample)), "--sample-domains", str(sample)]
        if method.kind == "blackbox":
            return self.run([sys.executable, str(BLACKBOX), *self.server_args(), *questions])
        cache = method.kind == "floor-pycares" and self.args.pycares_query_cache
        command = [sys.executable, str(WORKER), method.kind, *self.common(sample), *questions]
        return self.run(command + ["--query-cache"] * cache)


def _load(values: Any) -> str:
    return "/".join(f"{x:.1f}" for x in values)


def progress(method: Method, n: int, round_no: int, result: dict[str, Any]) -> str:
    """One line per run: CPU first, then wall clock, named's CPU and the load around it."""
    head = f"  N={n:,} round {round_no} {method.label}:"
    if method.variant is not None:
        parts = []
        for index, cycle in enumerate(result["cycles"], 1):
            named = cycle["named_cpu_s"] * 1000 / n
            parts.append(
                f"cycle {index} {cycle['cpu_ms_per_domain']:.3f} ms CPU/domain "
                f"({n / cycle['wall_s']:,.0f} domains/s, named {named:.3f} ms/domain, "
                f"{cycle['memo_hits']:,} reused, load {_load(cycle['load_start'])} -> "
                f"{_load(cycle['load_end'])})"
            )
        verdicts = f"{result['mismatch_count']} verdict mismatches"
        compiled = f"compiled {result['compiled']}, {result['exporter_path']}"
        return f"{head} {'; '.join(parts)}; {verdicts}; {compiled}"
    domains = result["domains"]
    driver = result.get("driver_cpu_s")
    extra = f" + driver {driver * 1000 / domains:.3f}" if driver is not None else ""
    return (
        f"{head} {result['cpu_s'] * 1000 / domains:.3f}{extra} ms CPU/domain on {domains:,} "
        f"domains' {result['questions']:,} questions ({domains / result['wall_s']:,.0f} "
        f"domains/s, named {result['named_cpu_s'] * 1000 / domains:.3f} ms/domain, load "
        f"{_load(result['load_start'])} -> {_load(result['load_end'])}); {result['outcomes']}"
    )


def profile(runner: Runner, method: Method, n: int) -> None:
    """Extra runs under cProfile (slower, so not the reported figures): where the time goes.
    One cold cycle of the first exporter variant, and the udp floor when floors run."""
    variant = method.variant
    python, env = (variant.python, variant.env()) if variant else (sys.executable, None)
    runs = [(method.label, [python, str(WORKER), "exporter", *runner.common(n)], env)]
    if runner.args.floors:
        sample = min(n, runner.args.floor_max)
        questions = ["--questions", str(runner.questions(sample)), "--sample-domains", str(sample)]
        floor = [sys.executable, str(WORKER), "floor-udp", *runner.common(sample), *questions]
        runs.append(("floor-udp", floor, None))
    stats = runner.workdir / "profile.prof"
    for label, command, run_env in runs:
        profiled = runner.run([*command, "--profile", str(stats)], run_env)
        wall = profiled["cycles"][-1]["wall_s"] if "cycles" in profiled else profiled["wall_s"]
        print(f"\n### cProfile, {label}, N={n} ({wall:.2f} s under the profiler)")
        for sort in ("tottime", "cumulative"):
            pstats.Stats(str(stats), stream=sys.stdout).sort_stats(sort).print_stats(PROFILE_LINES)


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


def _start_named(workdir: Path, zones: dict[str, Path]) -> NamedServer:
    """start_named gives named 15 s to answer; a 100,000-domain zone on a busy box can take
    longer to load, so it gets a few tries."""
    for _ in range(NAMED_STARTS - 1):
        try:
            return start_named(workdir, zones, recursive=True)
        except RuntimeError as error:
            print(f"named did not start ({error}); trying again")
    try:
        return start_named(workdir, zones, recursive=True)
    except RuntimeError as error:
        raise BenchError(f"named did not start: {error}") from error


def methods_of(args: argparse.Namespace) -> list[Method]:
    variants = args.variants or [Variant("exporter", None, sys.executable)]
    methods = [Method("exporter", variant.name, variant) for variant in variants]
    methods += [Method(FLOORS[name], f"floor-{name}") for name in args.floors]
    if args.blackbox:
        if find_binary() is None:
            print(
                "--blackbox skipped: blackbox_exporter is not installed "
                "(apt-get install -y prometheus-blackbox-exporter)"
            )
        else:
            methods.append(Method("blackbox", "blackbox_exporter"))
    return methods


def measure_all(
    runner: Runner, sizes: list[int], methods: list[Method]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every N: ``--repeat`` rounds, each running every method once, the order rotated. A
    method whose run crashes is reported as failed and left out of the later rounds."""
    runs: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for n in sizes:
        print(f"N={n:,}: mix {kind_counts(generate(n, runner.args.seed))}")
        for round_no in range(runner.args.repeat):
            shift = round_no % len(methods)
            for method in methods[shift:] + methods[:shift]:
                key = f"{n}:{method.label}"
                if key in failures:
                    continue
                try:
                    result = runner.measure(method, n)
                except BenchError as error:
                    failures[key] = str(error)
                    print(f"  N={n:,} round {round_no + 1} {method.label}: FAILED: {error}")
                    continue
                runs.setdefault(key, []).append(result)
                print(progress(method, n, round_no + 1, result))
        if runner.args.profile:
            profile(runner, methods[0], n)
    return runs, failures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--domains",
        type=int,
        action="append",
        help="N (repeatable); default 1,000, 10,000, 100,000",
    )
    parser.add_argument(
        "--variant",
        dest="variants",
        type=Variant.parse,
        action="append",
        help="NAME=PYTHONPATH:PYTHON (repeatable): an exporter build to measure; PYTHONPATH "
        "goes first on the path ('-': none, e.g. a compiled venv), PYTHON runs it; "
        "default: this interpreter with the environment as it is",
    )
    parser.add_argument(
        "--processes",
        action="append",
        type=int,
        help="ignored: the DNS check cycle runs in one process (kept so old commands run)",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1, help="rounds per N; medians reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--floor",
        dest="floors",
        choices=[*sorted(FLOORS), "none"],
        action="append",
        help="floor(s) to measure (repeatable): resolver = dns.asyncresolver (the default), "
        "udp = pre-built messages through dns.asyncquery.udp, pycares = a pycares (c-ares) "
        "Channel on epoll (.venv/bin/pip install pycares), raw = pre-built packets through bare "
        "sockets and epoll, nothing parsed (the syscall floor, bench/_raw_floor.py), "
        "none = the exporter alone",
    )
    parser.add_argument(
        "--floor-max",
        type=int,
        default=10_000,
        help="above this N the floors and blackbox_exporter ask the questions of the first "
        "floor-max domains (a bare loop over 1.3 million questions takes half an hour here)",
    )
    parser.add_argument(
        "--blackbox",
        action="store_true",
        help="also blackbox_exporter on the same questions "
        "(apt-get install -y prometheus-blackbox-exporter)",
    )
    parser.add_argument(
        "--blackbox-max",
        type=int,
        default=1000,
        help="blackbox_exporter asks the questions of the first blackbox-max domains: its "
        "config holds a module per question, and it loads 20,000 modules in ~20 s but "
        "129,000 (10,000 domains) in over 10 minutes",
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
        help="exporter cycles per run sharing one verdict memo (1 cold, then warm ones)",
    )
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile stats of extra runs per N"
    )
    args = parser.parse_args(argv)
    args.sizes = sorted(set(args.domains or [1000, 10000, 100000]))
    args.floors = [f for f in dict.fromkeys(args.floors or ["resolver"]) if f != "none"]
    if (
        min(
            args.sizes[0],
            args.concurrency,
            args.repeat,
            args.floor_max,
            args.cycles,
            args.blackbox_max,
        )
        < 1
    ):
        parser.error("--domains, --concurrency, --repeat, --*-max, --cycles must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines show up when piped
    if args.processes:
        print("note: --processes is ignored: the DNS check cycle runs in one process")
    methods = methods_of(args)
    cpus = plan()
    load_before = load_average()
    domains = generate(args.sizes[-1], args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp:
        workdir = Path(tmp)
        zones = write_zones(domains, workdir)
        started = time.perf_counter()
        try:
            server = _start_named(workdir / "named", zones)
        except BenchError as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
        try:
            wait_for_zone(server, domains[-1].name)
            failed = pin_all_threads(server.process.pid, cpus.server) if cpus.pinned else None
            if failed:
                cpus = CpuPlan(frozenset(), frozenset(), f"not pinned: {failed}")
            print(
                f"named on 127.0.0.1:{server.port}, {len(domains):,} domains loaded and answering "
                f"after {time.perf_counter() - started:.2f} s; {cpus.note}"
            )
            runner = Runner(server, cpus, workdir, args)
            runs, failures = measure_all(runner, args.sizes, methods)
            named_rss = named_rss_mib(server)
        except BenchError as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
        finally:
            stop_named(server)
    context = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": f"{os.cpu_count()} CPUs, {_cpu_model()}, Python {platform.python_version()}",
        "named": _named_version(),
        "tree": _tree(),
        "pinning": cpus.note,
        "named_rss_mib": named_rss,
        "load_before": load_before,
        "load_after": load_average(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    ok = print_report(context, args, methods, runs, failures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {**context, "runs": runs, "failures": failures}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0 if ok else 1


def _tree() -> str:
    """The checkout's commit (``-dirty``: with uncommitted changes), what "." measures."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return done.stdout.strip() or "no git checkout"


def _named_version() -> str:
    named = shutil.which("named") or "/usr/sbin/named"
    done = subprocess.run([named, "-v"], capture_output=True, text=True, check=False, timeout=30)
    return done.stdout.split(" <id")[0].strip() or "named (version unknown)"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


if __name__ == "__main__":
    sys.exit(main())
