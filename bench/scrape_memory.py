"""The daemon's peak memory over DNS cycles and scrapes at N domains, against a local named.

`named` serves bench/dns_zonegen.py's zones (N synthetic domains), the daemon
(`python -m exporter run`) checks them every cycle, and a client scrapes /metrics as
Prometheus 2.42 does (OpenMetrics, gzip) every ``--every`` seconds, each fourth scrape as
curl does (text, no gzip), until ``--cycles`` DNS cycles have finished; the second cycle
runs while the first one's snapshot is served, as in steady state. Then a few scrapes are
timed with nothing else running, with the daemon's own CPU seconds (/proc/PID/stat).

Memory: the daemon's VmHWM (its peak RSS, from the kernel) and, sampled every 0.1 s, its
RSS plus its worker processes' (resolver.processes > 1). The bodies are read as they
arrive and dropped.

Usage: .venv/bin/python bench/scrape_memory.py [--domains 100000] [--mode budget|off]
       [--budget 200000] [--cycles 2] [--every 3] [--python VENV/bin/python] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from dns_zonegen import REGION, generate, write_zones

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import free_port, start_named, stop_named  # noqa: E402
from dns_cycle import wait_for_zone  # noqa: E402

PROMETHEUS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}
TICK = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT_S = 3600
NAMED_STARTS = 3


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


class Sampler(threading.Thread):
    """The daemon's RSS plus its workers', every 0.1 s: the largest sum seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_total_kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            pids = [self.pid, *_children(self.pid)]
            total = sum(_status_kib(p, "VmRSS") for p in pids)
            self.peak_total_kib = max(self.peak_total_kib, total)


def scrape(port: int, headers: dict[str, str]) -> tuple[float, int]:
    """One GET /metrics: wall seconds and bytes, the body read 64 kB at a time and dropped."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", "/metrics", headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"/metrics answered {response.status}")
        size = 0
        while piece := response.read(1 << 16):
            size += len(piece)
    finally:
        connection.close()
    return time.perf_counter() - started, size


def config_toml(port: int, named_port: int, args: argparse.Namespace, domains: list[Any]) -> str:
    budget = args.budget if args.mode == "budget" else 0
    watch = ", ".join(f'"{d.name}"' for d in domains[:: max(1, len(domains) // 100)][:100])
    head = (
        f'[server]\nlisten_address = "127.0.0.1:{port}"\n\n'
        f'[resolver]\nnameservers = ["127.0.0.1:{named_port}"]\ntimeout_seconds = 5\n'
        "max_queries_per_second = 0\n\n"
        "[schedule]\ninterval_seconds = 20\njitter_seconds = 0\n\n"
        '[log]\nformat = "json"\n\n'
        f"[metrics]\nseries_budget = {budget}\nwatch_domains = [{watch}]\n"
    )
    tables = (
        f'\n[[domains]]\nname = "{d.name}"\nmail_from = "{d.mail_from}"\nregion = "{REGION}"\n'
        f"dkim_tokens = {json.dumps(list(d.tokens))}\n"
        for d in domains
    )
    return head + "".join(tables)


def _cycles_done(log: Path) -> int:
    return log.read_text(errors="replace").count('"dns cycle finished"')


def run(
    args: argparse.Namespace, workdir: Path, named_port: int, domains: list[Any]
) -> dict[str, Any]:
    port = free_port()
    config = workdir / "config.toml"
    config.write_text(config_toml(port, named_port, args, domains))
    log = workdir / f"exporter-{args.mode}.log"
    if args.python is None:  # this tree, run by this interpreter
        python, cwd, env = sys.executable, ROOT, {**os.environ, "PYTHONPATH": str(ROOT)}
    else:  # the package installed in that interpreter's environment (a compiled build)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        python, cwd = args.python, workdir
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [python, "-m", "exporter", "run", "--config", str(config)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    sampler = Sampler(daemon.pid)
    sampler.start()
    scrapes: list[dict[str, Any]] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while True:  # until it listens
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()[-3000:])
            try:
                build = _build_info(port)
                break
            except OSError:
                time.sleep(0.5)
        rss_started = _status_kib(daemon.pid, "VmRSS")
        count = 0
        while (done := _cycles_done(log)) < args.cycles:
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()[-3000:])
            plain = count % 4 == 3
            seconds, size = scrape(port, {} if plain else PROMETHEUS)
            scrapes.append({"cycles_done": done, "text": plain, "s": seconds, "bytes": size})
            count += 1
            time.sleep(args.every)
        idle: list[dict[str, Any]] = []  # the cycles are over: the scrape's own CPU
        for i in range(6):
            cpu = _cpu_seconds(daemon.pid)
            seconds, size = scrape(port, {} if i % 3 == 2 else PROMETHEUS)
            idle.append({"text": i % 3 == 2, "s": seconds, "cpu_s": _cpu_seconds(daemon.pid) - cpu})
        figures = {
            "mode": args.mode,
            "build_info": build,
            "domains": len(domains),
            "cycles": args.cycles,
            "rss_listening_mb": round(rss_started / 1024, 1),
            "rss_end_mb": round(_status_kib(daemon.pid, "VmRSS") / 1024, 1),
            "peak_rss_daemon_mb": round(_status_kib(daemon.pid, "VmHWM") / 1024, 1),
            "peak_rss_with_workers_sampled_mb": round(sampler.peak_total_kib / 1024, 1),
            "daemon_cpu_s": _cpu_seconds(daemon.pid),
            "scrapes": scrapes,
            "idle_scrapes": idle,
        }
    finally:
        sampler.stop.set()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=30)
    return figures


def _build_info(port: int) -> str:
    """The daemon's deliverability_build_info line: which build ran (compiled or not)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", "/metrics")
        body = connection.getresponse().read().decode()
    finally:
        connection.close()
    return next((line for line in body.splitlines() if line.startswith("deliverability_build")), "")


def report(f: dict[str, Any]) -> None:
    print(f"\n{f['build_info']}")
    print(
        f"{f['mode']}: {f['domains']:,} domains, {f['cycles']} DNS cycles; daemon peak RSS "
        f"{f['peak_rss_daemon_mb']} MB (VmHWM), with workers "
        f"{f['peak_rss_with_workers_sampled_mb']} MB (sampled); RSS {f['rss_listening_mb']} MB "
        f"when listening, {f['rss_end_mb']} MB at the end; daemon CPU {f['daemon_cpu_s']:.1f} s"
    )
    for text in (False, True):
        during = [s["s"] for s in f["scrapes"] if s["text"] is text]
        idle = [s for s in f["idle_scrapes"] if s["text"] is text]
        kind = "text" if text else "gzip"
        if during:
            print(
                f"  {kind} scrapes during the run: {len(during)}, wall median "
                f"{statistics.median(during):.3f} s, max {max(during):.3f} s"
            )
        walls = ", ".join(f"{s['s']:.3f}" for s in idle)
        cpus = ", ".join(f"{s['cpu_s']:.2f}" for s in idle)
        print(f"  {kind} scrapes after it: wall {walls} s; daemon CPU {cpus} s")


def _start_named(workdir: Path, zones: dict[str, Path]) -> Any:
    """start_named gives named 15 s to answer; loading 100,000 zones on a busy box can take
    longer, so it gets a few tries."""
    for _ in range(NAMED_STARTS - 1):
        try:
            return start_named(workdir, zones, recursive=True)
        except RuntimeError as error:
            print(f"named did not start ({error}); trying again", flush=True)
    return start_named(workdir, zones, recursive=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--mode", action="append", choices=["budget", "off"])
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between scrapes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--python",
        help="run the exporter installed in this interpreter's environment (e.g. a compiled "
        "build's venv) instead of this tree",
    )
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    domains = generate(args.domains, args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scrape-") as tmp:
        workdir = Path(tmp)
        server = _start_named(workdir / "named", write_zones(domains, workdir))
        try:
            wait_for_zone(server, domains[-1].name)
            for mode in args.mode or ["budget", "off"]:
                args.mode = mode
                figures = run(args, workdir, server.port, domains)
                report(figures)
                results.append(figures)
        finally:
            stop_named(server)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
