"""The DNS adapter against BIND's `named` on loopback: answers, failures, CNAMEs, dedupe."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from conftest import NamedServer, start_named, stop_named, zone_files

from exporter.model import Answer, AnswerKind
from exporter.sources.dns import TRANSPORTS, DnsClient, DnsQueryStats
from exporter.sources.zones import ZoneOverrides

pytestmark = pytest.mark.integration


TRANSPORT = "wire"


@pytest.fixture(autouse=True, params=TRANSPORTS)
def _transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs on both DNS paths: the answers must be identical."""
    monkeypatch.setitem(globals(), "TRANSPORT", request.param)


def resolve(
    nameservers: list[tuple[str, int]], *questions: tuple[str, str], **kw: object
) -> list[Answer]:
    async def run() -> list[Answer]:
        client = DnsClient(
            nameservers=nameservers, timeout=0.5, attempts=2, transport=TRANSPORT, **kw
        )  # type: ignore[arg-type]
        try:
            return list(await asyncio.gather(*(client.resolve(n, t) for n, t in questions)))
        finally:
            await client.aclose()

    return asyncio.run(run())


def ns(named: NamedServer) -> list[tuple[str, int]]:
    return [(named.host, named.port)]


def test_records_nodata_nxdomain(named: NamedServer) -> None:
    """Each DNS outcome maps to its own answer kind; TXT strings are joined (RFC 7208 3.3)."""
    split, nodata, nx, mx = resolve(
        ns(named),
        ("split.cases.test", "TXT"),
        ("a-only.cases.test", "MX"),
        ("missing.cases.test", "A"),
        ("nullmx.cases.test", "MX"),
    )
    assert split == Answer(AnswerKind.RECORDS, ("v=spf1 include:amazonses.com -all",))
    assert nodata.kind is AnswerKind.NODATA
    assert nx.kind is AnswerKind.NXDOMAIN
    assert mx.records == ("0 .",)


def test_empty_non_terminal_is_nodata(named: NamedServer) -> None:
    (answer,) = resolve(ns(named), ("sub.cases.test", "A"))
    assert answer.kind is AnswerKind.NODATA


def test_cname_followed_inside_and_across_zones(named: NamedServer) -> None:
    """An authoritative server does not chase aliases into another zone: the client does."""
    inside, across = resolve(ns(named), ("alias.cases.test", "TXT"), ("outside.cases.test", "TXT"))
    assert inside.records == ("v=DMARC1; p=reject",)
    assert inside.cname_chain == ("alias.cases.test",)
    assert inside.canonical_name == "target.cases.test"
    assert across.kind is AnswerKind.RECORDS
    assert across.records[0].startswith("v=DMARC1; p=reject")
    assert across.cname_chain == ("outside.cases.test",)
    assert across.canonical_name == "_dmarc.healthy.example"


@pytest.fixture(name="recursive_named", scope="module")
def _recursive_named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamedServer]:
    """named answering as a recursive resolver: an alias into another of its zones is
    followed within the answer, as the resolvers the exporter asks by default do."""
    server = start_named(tmp_path_factory.mktemp("recursive"), zone_files(), recursive=True)
    yield server
    stop_named(server)


def test_an_alias_chased_by_the_resolver_costs_one_question(
    recursive_named: NamedServer,
) -> None:
    """One response holds the CNAME and the target's records: the answer names both the
    alias and where it led (what the DKIM check reads), from a single query."""

    async def run() -> tuple[Answer, int]:
        client = DnsClient(nameservers=ns(recursive_named), timeout=2.0, transport=TRANSPORT)
        try:
            return await client.resolve("outside.cases.test", "TXT"), client.queries_sent
        finally:
            await client.aclose()

    answer, sent = asyncio.run(run())
    assert answer.records[0].startswith("v=DMARC1; p=reject")
    assert answer.cname_chain == ("outside.cases.test",)
    assert answer.canonical_name == "_dmarc.healthy.example"
    assert sent == 1


def test_cname_loop_is_an_error_not_a_hang(named: NamedServer) -> None:
    (answer,) = resolve(ns(named), ("loop1.cases.test", "TXT"))
    assert answer.kind is AnswerKind.ERROR


def test_cname_type_is_not_followed(named: NamedServer) -> None:
    (answer,) = resolve(ns(named), ("alias.cases.test", "CNAME"))
    assert answer == Answer(AnswerKind.RECORDS, ("target.cases.test",))


def test_servfail_refused_timeout_are_errors(named: NamedServer, silent_udp: str) -> None:
    """A broken zone (SERVFAIL), a zone not served (REFUSED) and silence (timeout) are ERROR."""
    stats = DnsQueryStats()
    servfail, refused = resolve(
        ns(named), ("broken.test", "MX"), ("not-served.example", "MX"), stats=stats
    )
    assert (servfail.kind, servfail.error) == (AnswerKind.ERROR, "servfail")
    assert (refused.kind, refused.error) == (AnswerKind.ERROR, "refused")
    host, port = silent_udp.split(":")
    (timeout,) = resolve([(host, int(port))], ("healthy.example", "MX"), stats=stats)
    assert (timeout.kind, timeout.error) == (AnswerKind.ERROR, "timeout")
    counts = stats.snapshot()
    assert counts[("MX", "servfail")] == 2  # retried once
    assert counts[("MX", "refused")] == 2
    assert counts[("MX", "timeout")] == 2


def test_failover_to_second_nameserver(named: NamedServer, silent_udp: str) -> None:
    host, port = silent_udp.split(":")
    (answer,) = resolve([(host, int(port)), (named.host, named.port)], ("healthy.example", "MX"))
    assert answer.kind is AnswerKind.RECORDS


def test_each_question_is_asked_once_per_cycle(named: NamedServer) -> None:
    """Concurrent and repeated questions share one query (amazonses.com's SPF is asked once)."""

    async def run() -> int:
        client = DnsClient(nameservers=ns(named), timeout=1.0, transport=TRANSPORT)
        await asyncio.gather(*(client.resolve("amazonses.com", "TXT") for _ in range(50)))
        await client.resolve("amazonses.com", "TXT")
        await client.aclose()
        return client.queries_sent

    assert asyncio.run(run()) == 1


def test_zone_file_overrides_win_inside_their_zone(named: NamedServer, tmp_path) -> None:
    """A zone file answers names inside it; everything else still goes to the nameserver."""
    zone = tmp_path / "healthy.example.zone"
    zone.write_text(
        "$TTL 60\n@ SOA ns1 h 1 1 1 1 1\n@ NS ns1\n@ MX 20 new-mx.healthy.example.\n"
        "_dmarc CNAME policy.cases.test.\n"
    )
    overrides = ZoneOverrides.from_files([zone])
    mx, spf, dmarc, other = resolve(
        ns(named),
        ("healthy.example", "MX"),
        ("healthy.example", "TXT"),
        ("_dmarc.healthy.example", "TXT"),
        ("amazonses.com", "TXT"),
        overrides=overrides,
    )
    assert mx.records == ("20 new-mx.healthy.example",)
    assert spf.kind is AnswerKind.NODATA  # the file has no TXT: the published one is ignored
    assert dmarc.kind is AnswerKind.NXDOMAIN  # alias into cases.test, where that name is missing
    assert dmarc.cname_chain == ("_dmarc.healthy.example",)
    assert other.records[0].startswith("v=spf1 ip4:")
