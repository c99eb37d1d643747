"""blackbox_exporter asking named the exporter's questions: an outside comparison for dns_cycle.py.

blackbox_exporter (Debian ``prometheus-blackbox-exporter``) takes a DNS probe's name and type
from its module only (``/probe`` names the server to ask, not the question), so the config
holds one module per question of the list (``q0`` ... with ``query_name`` and
``query_type``), and a driver asks ``/probe?module=qI&target=named`` for each, over
``--concurrency`` keep-alive HTTP/1.1 connections. Any DNS answer counts as one
(``valid_rcodes``: NXDOMAIN, and REFUSED for a zone named does not serve such as
``_dmarc.test``), as for the exporter: a failed probe is a timeout or a network error.
Measured over the probes only (after the config is loaded): blackbox_exporter's CPU
(``/proc``), the driver's own CPU (this process), named's CPU, wall clock, and
blackbox_exporter's peak RSS. Run by dns_cycle.py in a fresh process
pinned to the client core (blackbox_exporter inherits it); writes one JSON object to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _affinity import load_average, process_cpu_s

BINARIES = ("prometheus-blackbox-exporter", "blackbox_exporter")
PROBE_TIMEOUT_S = 5
RCODES = "[NOERROR, NXDOMAIN, REFUSED, SERVFAIL]"  # any answer: only timeouts fail a probe
READY_TIMEOUT_S = 180  # a config of 129,000 modules loads in seconds; a busy box is slower


def find_binary() -> str | None:
    return next(filter(None, map(shutil.which, BINARIES)), None)


def write_config(questions: list[tuple[str, str]], path: Path) -> None:
    """One module per question, one line each (YAML flow style keeps the file small)."""
    with path.open("w", encoding="ascii") as out:
        out.write("modules:\n")
        for index, (name, rdtype) in enumerate(questions):
            out.write(
                f"  q{index}: {{prober: dns, timeout: {PROBE_TIMEOUT_S}s, dns: {{query_name: "
                f'"{name}", query_type: {rdtype}, transport_protocol: udp, '
                f"preferred_ip_protocol: ip4, valid_rcodes: {RCODES}}}}}\n"
            )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _outcome(status: bytes, body: bytes) -> str:
    if not status.startswith(b"HTTP/1.1 200"):
        return f"error:http {status.split(b' ', 2)[1].decode(errors='replace')}"
    if b"\nprobe_success 1" not in body:
        return "error:probe failed"
    return "no records, or refused" if b"\nprobe_dns_answer_rrs 0\n" in body else "records"


async def _read_body(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response: (status line, body), by Content-Length or chunked."""
    status = await reader.readline()
    length, chunked = -1, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.partition(b":")
        if key.lower() == b"content-length":
            length = int(value)
        elif key.lower() == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while size := int((await reader.readline()).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()  # the empty trailer
    return status, body


async def _probe_all(
    port: int, modules: Iterator[str], target: str, concurrency: int
) -> Counter[str]:
    """Each connection takes the next module from the shared iterator until none is left."""
    outcomes: Counter[str] = Counter()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for module in modules:
                writer.write(
                    f"GET /probe?module={module}&target={target} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\n\r\n".encode("ascii")
                )
                outcomes[_outcome(*await _read_body(reader))] += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return outcomes


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"blackbox_exporter exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise SystemExit(f"blackbox_exporter did not listen within {READY_TIMEOUT_S} s")


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    binary = args.binary or find_binary()
    if binary is None:
        raise SystemExit("blackbox_exporter is not installed")
    questions = [(name, rdtype) for name, rdtype in json.loads(Path(args.questions).read_text())]
    workdir = Path(args.out).parent
    config, log = workdir / "blackbox.yml", workdir / "blackbox.log"
    write_config(questions, config)
    port = _free_port()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=stderr,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, port, log)
        modules = (f"q{index}" for index in range(len(questions)))
        load_start = load_average()
        blackbox0, named0 = process_cpu_s(process.pid), process_cpu_s(args.named_pid)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcomes = asyncio.run(
            _probe_all(port, modules, f"127.0.0.1:{args.port}", args.concurrency)
        )
        wall, driver_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        blackbox_cpu = process_cpu_s(process.pid) - blackbox0
        named_cpu = process_cpu_s(args.named_pid) - named0
        peak = _peak_rss_kib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    return {
        "mode": "blackbox",
        "domains": args.sample_domains,
        "questions": len(questions),
        "wall_s": wall,
        "cpu_s": blackbox_cpu,
        "driver_cpu_s": driver_cpu,
        "named_cpu_s": named_cpu,
        "load_start": load_start,
        "load_end": load_average(),
        "peak_rss_kib": peak,
        "outcomes": dict(sorted(outcomes.items())),
        "errors": sum(n for kind, n in outcomes.items() if kind.startswith("error")),
        "version": (version.stdout or version.stderr).split("\n", 1)[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="named's port on 127.0.0.1")
    parser.add_argument("--named-pid", type=int, required=True)
    parser.add_argument("--questions", required=True, help="dns_cycle's question dump")
    parser.add_argument("--sample-domains", type=int, required=True, help="domains it covers")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--binary", help=f"default: the first of {', '.join(BINARIES)} on PATH")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    Path(args.out).write_text(json.dumps(run(args), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
