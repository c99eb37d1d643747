"""Shared fixtures: real peers on loopback, started and stopped by the tests.

`free_port` (from helpers/net.py) is importable from here, as the tests always have.

`named` (BIND 9, authoritative only, `controls { };` so it never binds rndc's port 953)
serves the zone files in tests/zones/ and the demo's zone files on a free port.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest
import structlog
from helpers.net import free_port

# Fixture modules every test directory gets without importing them (tests/ is on sys.path).
pytest_plugins = ("helpers.daemon", "helpers.moto_fixtures")

ROOT = Path(__file__).resolve().parent.parent
TEST_ZONES = ROOT / "tests" / "zones"
DEMO_ZONES = ROOT / "exporter" / "demo" / "zones"


@dataclass
class NamedServer:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def nameserver(self) -> str:
        return f"{self.host}:{self.port}"

    def ask(self, name: str, rdtype: str = "SOA") -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        # ignore_unexpected: a stray datagram on the reused ephemeral port is not an answer
        return dns.query.udp(query, self.host, port=self.port, timeout=1.0, ignore_unexpected=True)


def zone_files() -> dict[str, Path]:
    """Every zone to serve: origin -> file (the origin is the file name minus `.zone`)."""
    files = sorted(DEMO_ZONES.glob("*.zone")) + sorted(TEST_ZONES.glob("*.zone"))
    return {path.name.removesuffix(".zone"): path for path in files}


def start_named(
    workdir: Path,
    zones: dict[str, Path],
    *,
    extra_conf: str = "",
    extra_options: str = "",
    recursive: bool = False,
) -> NamedServer:
    """Start `named -g` on a free loopback port and wait (bounded) until it answers;
    ``extra_options`` goes into its ``options`` block, ``extra_conf`` after it.

    ``recursive``: answer as a recursive resolver does, following a CNAME into the other
    zones it serves within one answer (RFC 1034 §4.3.2). A root zone of its own answers
    every other name NXDOMAIN, so nothing is asked beyond loopback."""
    named = shutil.which("named") or "/usr/sbin/named"
    if not Path(named).exists():
        pytest.fail(
            "BIND's named is not installed: run the README's test command (it apt-installs bind9)"
        )
    rundir = workdir / "run"
    rundir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    recursion = "recursion no;"
    if recursive:
        root = workdir / "root.zone"
        root.write_text(
            "$TTL 300\n@ SOA ns. hostmaster. 1 3600 600 86400 300\n@ NS ns.\nns A 127.0.0.1\n"
        )
        zones = {".": root, **zones}
        recursion = "recursion yes; allow-recursion { 127.0.0.1; ::1; };"
    zone_conf = "\n".join(
        f'zone "{origin}" {{ type primary; file "{path}"; }};' for origin, path in zones.items()
    )
    conf = workdir / "named.conf"
    conf.write_text(
        f"""
options {{
    directory "{rundir}"; pid-file "{rundir}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 port {port} {{ ::1; }};
    {recursion} allow-query {{ any; }}; allow-transfer {{ none; }}; notify no;
    dnssec-validation no; session-keyfile "{rundir}/session.key";
    managed-keys-directory "{rundir}";
    {extra_options}
}};
controls {{ }};
logging {{ channel c {{ file "{workdir}/named.log"; severity info; print-time yes; }};
          category default {{ c; }}; }};
{zone_conf}
{extra_conf}
"""
    )
    with (workdir / "named.stderr").open("wb") as log:
        process = subprocess.Popen(
            [named, "-g", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
    server = NamedServer("127.0.0.1", port, process, workdir)
    try:
        _wait_until_answering(server)
    except BaseException:
        stop_named(server)  # never leave a named behind a failed start
        raise
    return server


def _wait_until_answering(server: NamedServer) -> None:
    # 60 s: a large zone (the benchmarks' 100,000 domains) loads for longer on a busy box.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            stderr = (server.workdir / "named.stderr").read_text()[-2000:]
            raise RuntimeError(f"named exited: {stderr}")
        try:
            if server.ask("healthy.example").rcode() == dns.rcode.NOERROR:
                return
        except (dns.exception.DNSException, OSError):  # starting, or a stray reply
            pass
        time.sleep(0.05)
    raise RuntimeError("named did not answer within 60 s")


def stop_named(server: NamedServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """A test that runs a command in-process (`cli.main`, `doctor`) configures logging for
    the whole process, e.g. at level error: later tests' `capture_logs` would see nothing.
    Every test starts from structlog's defaults and the root logger it found."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(name="named", scope="session")
def _named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamedServer]:
    """One `named` for the session, serving every zone in tests/zones and the demo zones."""
    server = start_named(tmp_path_factory.mktemp("named"), zone_files())
    yield server
    stop_named(server)


@pytest.fixture(name="silent_udp")
def _silent_udp() -> Iterator[str]:
    """A loopback UDP socket that never answers: a nameserver that times out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
