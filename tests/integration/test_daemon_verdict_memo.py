"""The daemon keeps one verdict memo across its DNS cycles: the second cycle over unchanged
answers reuses the first one's reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.app import Daemon, Runtime
from exporter.config import Config, DomainConfig, ResolverConfig
from exporter.sources.zones import ZoneOverrides

pytestmark = pytest.mark.integration

ZONE = """$ORIGIN example.com.
$TTL 300
@       IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300
@       IN NS  ns.example.com.
@       IN MX  10 inbound.example.com.
@       IN TXT "v=spf1 -all"
_dmarc  IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
"""


def test_the_second_cycle_reuses_the_first_ones_verdicts(tmp_path: Path) -> None:
    zone = tmp_path / "example.com.zone"
    zone.write_text(ZONE)
    config = Config(resolver=ResolverConfig(nameservers=()), domains=(DomainConfig("example.com"),))
    daemon = Daemon(tmp_path / "config.toml", Runtime(config, ZoneOverrides.from_files([zone])))
    first = daemon._dns_cycle()  # noqa: SLF001 - one cycle, without the scheduler
    second = daemon._dns_cycle()  # noqa: SLF001
    assert (daemon.verdict_memo.hits, daemon.verdict_memo.misses) == (1, 0)
    (report1,) = first.args[0].reports  # type: ignore[attr-defined]
    (report2,) = second.args[0].reports  # type: ignore[attr-defined]
    assert report2 is report1
