"""Mailbox-provider MX lookups against `named` on loopback: each nameserver on its own port,
counted in the DNS query stats, paced, time-boxed per batch, backed off from a silent
resolver, and silent once the stop event is set. No timing is asserted: a skipped lookup
shows as ``unknown`` with no question counted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NamedServer, start_named, stop_named, zone_files

from exporter.config import parse_config
from exporter.jobs.events import build_pipeline
from exporter.sources.dns import DnsQueryStats
from exporter.sources.mx_provider import MxProviderResolver

pytestmark = pytest.mark.integration

ZONE = """$TTL 300
@           SOA ns.mxp.test. hostmaster.mxp.test. 1 3600 600 86400 300
@           NS  ns
ns          A   127.0.0.1
corp        MX  10 corp-mxp-test.mail.protection.outlook.com.
gw          MX  10 eu-smtp-inbound-1.mimecast.com.
gw          MX  20 eu-smtp-inbound-2.mimecast.com.
selfhosted  MX  10 mail.selfhosted.mxp.test.
nomx        A   192.0.2.1
"""


@pytest.fixture(name="mx_named", scope="module")
def _mx_named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamedServer]:
    workdir = tmp_path_factory.mktemp("mx-named")
    zone = workdir / "mxp.test.zone"
    zone.write_text(ZONE)
    server = start_named(workdir, {**zone_files(), "mxp.test": zone})
    yield server
    stop_named(server)


def address(nameserver: str) -> tuple[str, int]:
    host, port = nameserver.rsplit(":", 1)
    return host, int(port)


def test_providers_from_mx_counted_and_cached(mx_named: NamedServer) -> None:
    stats = DnsQueryStats()
    resolver = MxProviderResolver(nameservers=[address(mx_named.nameserver)], stats=stats)
    domains = [
        "corp.mxp.test",
        "gw.mxp.test",
        "selfhosted.mxp.test",
        "nomx.mxp.test",
        "missing.mxp.test",
        "gmail.com",  # well known: no question
    ]
    expected = {
        "corp.mxp.test": "microsoft",
        "gw.mxp.test": "mimecast",
        "selfhosted.mxp.test": "other",
        "nomx.mxp.test": "other",
        "missing.mxp.test": "other",
        "gmail.com": "google",
    }
    assert resolver.many(domains) == expected
    assert stats.snapshot() == {("MX", "noerror"): 4, ("MX", "nxdomain"): 1}
    assert resolver.many(domains) == expected  # from the cache: no new question
    assert resolver("corp.mxp.test") == "microsoft"
    assert sum(stats.snapshot().values()) == 5


def test_each_nameserver_is_asked_on_its_own_port(mx_named: NamedServer, silent_udp: str) -> None:
    """A silent first server (one port) and named (another): the lookup times out on the
    first and gets its answer from the second, on the second's port."""
    stats = DnsQueryStats()
    resolver = MxProviderResolver(
        nameservers=[address(silent_udp), address(mx_named.nameserver)], stats=stats
    )
    assert resolver("corp.mxp.test") == "microsoft"
    assert stats.snapshot() == {("MX", "timeout"): 1, ("MX", "noerror"): 1}


def test_a_silent_resolver_is_backed_off(silent_udp: str) -> None:
    """Only the first domain costs a timeout; the batch's other domains are unknown without
    a question (and not cached: a later batch asks again once the back-off is over)."""
    stats = DnsQueryStats()
    resolver = MxProviderResolver(nameservers=[address(silent_udp)], stats=stats, timeout=0.3)
    found = resolver.many([f"d{i}.mxp.test" for i in range(5)])
    assert set(found.values()) == {"unknown"}
    assert stats.snapshot() == {("MX", "timeout"): 1}


def test_rate_limit_within_the_batch_budget(mx_named: NamedServer) -> None:
    """At one question a second and half a second per batch, the second domain's turn is
    past the budget: it is unknown for this batch and was never asked."""
    stats = DnsQueryStats()
    resolver = MxProviderResolver(
        nameservers=[address(mx_named.nameserver)],
        stats=stats,
        max_queries_per_second=1.0,
        batch_budget=0.5,
    )
    assert resolver.many(["corp.mxp.test", "gw.mxp.test"]) == {
        "corp.mxp.test": "microsoft",
        "gw.mxp.test": "unknown",
    }
    assert stats.snapshot() == {("MX", "noerror"): 1}


def test_no_question_once_stopping(mx_named: NamedServer) -> None:
    stats = DnsQueryStats()
    stop = threading.Event()
    stop.set()
    resolver = MxProviderResolver(
        nameservers=[address(mx_named.nameserver)], stats=stats, stop=stop
    )
    assert resolver("corp.mxp.test") == "unknown"
    assert stats.snapshot() == {}


def test_pipeline_labels_provider_and_counts_in_the_dns_stats(
    mx_named: NamedServer, tmp_path: Path
) -> None:
    """build_pipeline as the daemon calls it: the recipient's provider comes from named and
    the question lands in the stats behind deliverability_dns_queries_total."""
    config = parse_config(
        {
            "resolver": {"nameservers": [mx_named.nameserver], "max_queries_per_second": 100},
            "domains": [{"name": "shop.example"}],
        }
    )
    stats = DnsQueryStats()
    pipeline = build_pipeline(config, dns_stats=stats, stop=threading.Event())
    body = {
        "eventType": "Reject",
        "mail": {
            "timestamp": "2026-11-23T09:00:00.000Z",
            "source": "noreply@shop.example",
            "messageId": "m-1",
            "destination": ["a@corp.mxp.test", "b@gw.mxp.test"],
        },
        "reject": {"reason": "Bad content"},
    }
    pipeline.handle(json.dumps(body))
    assert pipeline.snapshot().rejected == {
        ("corp.mxp.test", "microsoft", "shop.example"): 1,
        ("gw.mxp.test", "mimecast", "shop.example"): 1,
    }
    assert stats.snapshot() == {("MX", "noerror"): 2}
