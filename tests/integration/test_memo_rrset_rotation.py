"""The verdict memo against a nameserver that rotates its RRsets, as BIND does by default:
an RRset's order means nothing (RFC 2181 section 5), so cycles over unchanged records reuse
their reports however the records come back, and the reports do not depend on the order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.rdatatype
import pytest
from conftest import start_named, stop_named, zone_files

from exporter.jobs.dns import check_domains
from exporter.jobs.verdict_cache import VerdictMemo
from exporter.model import DomainReport, DomainTarget
from exporter.sources.dns import DnsClient

pytestmark = pytest.mark.integration

DOMAINS = [f"d{i}.rotate.test" for i in range(4)]
CYCLES = 4
RECORDS = 4  # per rotated RRset: 24 orders, so an unchanged order by chance is rare


def zone_text() -> str:
    lines = [
        "$ORIGIN rotate.test.",
        "$TTL 300",
        "@ IN SOA ns.rotate.test. hostmaster.rotate.test. 1 3600 600 86400 300",
        "@ IN NS ns.rotate.test.",
        "ns IN A 127.0.0.1",
    ]
    for name in DOMAINS:
        label = name.removesuffix(".rotate.test")
        lines += [
            f"{label} IN MX {10 * (i + 1)} mx{i}.{label}.rotate.test." for i in range(RECORDS)
        ]
        lines += [f"mx{i}.{label} IN A 192.0.2.{i + 1}" for i in range(RECORDS)]
        lines.append(f'{label} IN TXT "v=spf1 mx -all"')
        lines += [f'{label} IN TXT "site-verification={label}-{i}"' for i in range(RECORDS - 1)]
        lines.append(
            f'_dmarc.{label} IN TXT "v=DMARC1; p=reject; rua=mailto:d@{label}.rotate.test"'
        )
    return "\n".join(lines) + "\n"


def test_a_rotating_nameserver_keeps_the_memo_hitting(tmp_path: Path) -> None:
    zone = tmp_path / "rotate.test.zone"
    zone.write_text(zone_text())
    zones = {**zone_files(), "rotate.test": zone}  # start_named waits for the demo zone
    server = start_named(tmp_path, zones, extra_options="rrset-order { order random; };")
    try:
        # The premise: named really hands the records out in more than one order.
        orders = {
            tuple(r.to_text() for r in server.ask(DOMAINS[0], "MX").answer[0]) for _ in range(12)
        }
        assert len(orders) > 1, "named did not rotate the RRset: this test would test nothing"
        assert server.ask(DOMAINS[0], "MX").answer[0].rdtype == dns.rdatatype.MX

        memo = VerdictMemo()
        targets = [DomainTarget(name) for name in DOMAINS]

        async def cycle() -> tuple[DomainReport, ...]:
            client = DnsClient(nameservers=[(server.host, server.port)], timeout=5.0, attempts=3)
            return (await check_domains(targets, client, workers=4, memo=memo)).reports

        reports = [asyncio.run(cycle()) for _ in range(CYCLES)]
    finally:
        stop_named(server)
    assert all(check.status.value != "unknown" for check in reports[0][0].checks)
    assert (memo.hits, memo.misses) == (len(DOMAINS) * (CYCLES - 1), 0)
    assert all(later == reports[0] for later in reports[1:])
