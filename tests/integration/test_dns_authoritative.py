"""`resolver.authoritative`: ask each zone's own servers, past a resolver's negative cache.

Two `named`s on loopback: ``auth`` serves child.deleg.test; ``resolver`` recurses and caches,
is authoritative for the parent deleg.test (which delegates child.deleg.test with glue) and
forwards child.deleg.test to ``auth`` (DNS cannot name a port, so forwarding reaches it,
and the client's test-only ``authoritative_port`` does the same for direct questions).
"""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.rcode
import pytest
from conftest import DEMO_ZONES, NamedServer, free_port, start_named, stop_named

from exporter import cli, cli_check
from exporter.jobs.dns import check_domain
from exporter.model import AnswerKind, DomainReport, DomainTarget, Status
from exporter.sources.dns import TRANSPORTS, DnsClient

pytestmark = pytest.mark.integration

CHILD = "child.deleg.test"
SOA = "@ SOA ns hostmaster {serial} 3600 600 86400 3600\n"  # negative answers cached 1 h


def child_zone(serial: int, *, dmarc: bool) -> str:
    zone = f"$ORIGIN {CHILD}.\n$TTL 3600\n" + SOA.format(serial=serial)
    zone += "@ NS ns\nns A 127.0.0.1\n@ MX 10 mx\nmx A 192.0.2.25\n"
    zone += '@ TXT "v=spf1 -all"\n'
    return zone + ('_dmarc TXT "v=DMARC1; p=reject"\n' if dmarc else "")


def start_resolver(workdir: Path, forward_to: int) -> NamedServer:
    """A recursive, caching named: primary for deleg.test, forwarding child.deleg.test."""
    rundir = workdir / "run"
    rundir.mkdir(parents=True)
    parent = workdir / "deleg.test.zone"
    parent.write_text(
        "$ORIGIN deleg.test.\n$TTL 3600\n" + SOA.format(serial=1) + "@ NS ns\nns A 127.0.0.1\n"
        "www A 192.0.2.80\nchild NS ns.child\nns.child A 127.0.0.1\n"
    )
    port = free_port()
    conf = workdir / "named.conf"
    conf.write_text(f"""
options {{
    directory "{rundir}"; pid-file "{rundir}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};
    recursion yes; allow-recursion {{ any; }}; allow-query {{ any; }}; notify no;
    dnssec-validation no; session-keyfile "{rundir}/session.key"; managed-keys-directory "{rundir}";
}};
controls {{ }};
zone "deleg.test" {{ type primary; file "{parent}"; }};
zone "{CHILD}" {{ type forward; forward only; forwarders {{ 127.0.0.1 port {forward_to}; }}; }};
zone "healthy.example" {{ type primary; file "{DEMO_ZONES / "healthy.example.zone"}"; }};
""")
    with (workdir / "named.stderr").open("wb") as log:
        process = subprocess.Popen(["named", "-g", "-c", str(conf)], stdout=log, stderr=log)
    server = NamedServer("127.0.0.1", port, process, workdir)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if server.ask("healthy.example").rcode() == dns.rcode.NOERROR:
                return server
        except (OSError, dns.exception.Timeout):
            pass
        time.sleep(0.05)
    stop_named(server)
    raise RuntimeError("the resolver named did not answer within 15 s")


@pytest.fixture(name="servers")
def _servers(tmp_path: Path):
    """(resolver, auth, the child zone file): two fresh nameds per test."""
    zone = tmp_path / f"{CHILD}.zone"
    zone.write_text(child_zone(1, dmarc=False))
    healthy = DEMO_ZONES / "healthy.example.zone"
    auth = start_named(tmp_path / "auth", {"healthy.example": healthy, CHILD: zone})
    try:
        resolver = start_resolver(tmp_path / "resolver", auth.port)
    except BaseException:
        stop_named(auth)
        raise
    yield resolver, auth, zone
    stop_named(resolver)
    stop_named(auth)


def client(resolver: NamedServer, auth: NamedServer, transport: str, **kw: bool) -> DnsClient:
    return DnsClient(
        nameservers=[(resolver.host, resolver.port)],
        timeout=1.0,
        transport=transport,
        authoritative_port=auth.port,  # test-only: every authoritative server listens here
        **kw,
    )


def run_check(resolver: NamedServer, auth: NamedServer, transport: str, **kw: bool) -> DomainReport:
    async def run() -> DomainReport:
        dns_client = client(resolver, auth, transport, **kw)
        try:
            return await check_domain(dns_client, DomainTarget(CHILD))
        finally:
            await dns_client.aclose()

    return asyncio.run(run())


def dmarc(report: DomainReport) -> Status:
    return next(c.status for c in report.checks if c.check == "dmarc")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fix_seen_at_once_past_the_negative_cache(servers, transport: str) -> None:
    """A DMARC record published after the resolver cached its NXDOMAIN: the caching path
    still fails the check (for the SOA minimum, an hour here); authoritative mode passes."""
    resolver, auth, zone = servers
    assert dmarc(run_check(resolver, auth, transport)) is Status.FAIL  # cached: NXDOMAIN

    zone.write_text(child_zone(2, dmarc=True))
    auth.process.send_signal(signal.SIGHUP)  # named reloads its zones
    deadline = time.monotonic() + 10
    while not auth.ask(f"_dmarc.{CHILD}", "TXT").answer:
        assert time.monotonic() < deadline, "auth did not load the fix"
        time.sleep(0.05)

    assert dmarc(run_check(resolver, auth, transport)) is Status.FAIL  # still cached
    report = run_check(resolver, auth, transport, authoritative=True)
    assert dmarc(report) is Status.PASS
    assert {c.check: c.status for c in report.checks}["mx"] is Status.PASS


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_refusing_or_missing_servers_are_unknown_never_fail(servers, transport: str) -> None:
    """deleg.test's NS resolves to a server that does not serve it (REFUSED), and a name
    under no zone the resolver knows has no servers to ask: both are errors (`unknown`)."""
    resolver, auth, _ = servers

    async def run() -> list:
        dns_client = client(resolver, auth, transport, authoritative=True)
        try:
            return [
                await dns_client.resolve("www.deleg.test", "A"),
                await dns_client.resolve("nowhere.invalid", "TXT"),
                await dns_client.resolve(f"mx.{CHILD}", "A"),
            ]
        finally:
            await dns_client.aclose()

    refused, no_zone, good = asyncio.run(run())
    assert (refused.kind, refused.error) == (AnswerKind.ERROR, "refused")
    assert (no_zone.kind, no_zone.error) == (AnswerKind.ERROR, "no_authoritative_server")
    assert good.records == ("192.0.2.25",)


def test_check_command_sees_the_fix_with_authoritative(servers, monkeypatch, capsys) -> None:
    """`check --authoritative` after a fix: the resolver's cached NXDOMAIN fails DMARC without
    the flag (exit 2), the zone's own server passes it with the flag (exit 1: no rua= warns). The client is
    the real one; only its authoritative port is pointed at the test's named."""
    resolver, auth, zone = servers
    monkeypatch.setattr(
        cli_check, "DnsClient", functools.partial(DnsClient, authoritative_port=auth.port)
    )
    argv = ["check", CHILD, "--nameserver", f"{resolver.host}:{resolver.port}", "--format", "json"]
    assert cli.main(argv) == 2  # the resolver caches _dmarc's NXDOMAIN
    capsys.readouterr()

    zone.write_text(child_zone(2, dmarc=True))
    auth.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not auth.ask(f"_dmarc.{CHILD}", "TXT").answer:
        assert time.monotonic() < deadline, "auth did not load the fix"
        time.sleep(0.05)

    assert cli.main(argv) == 2  # still cached
    assert json.loads(capsys.readouterr().out)["dmarc_policy_level"] == -1  # missing
    assert cli.main([*argv, "--authoritative"]) == 1  # worst: warn (dmarc_reports: no rua=)
    verdicts = json.loads(capsys.readouterr().out)
    assert verdicts["dmarc_policy_level"] == 2  # reject
    assert {c["check"]: c["status"] for c in verdicts["checks"]}["dmarc"] == "pass"
