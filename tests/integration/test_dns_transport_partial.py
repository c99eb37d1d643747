"""A whole check cycle on both DNS transports behind a resolver that answers only some of
its questions: the reports (verdicts, `unknown` reasons) are equal on both transports, and
a check whose question went unanswered is `unknown`, never `fail` (nor any other verdict
than the complete cycle's).

The resolver is a scripted loopback nameserver that relays to `named` the questions it
answers, and drops, refuses or truncates the others."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from conftest import NamedServer
from helpers.dns_responder import (
    DEMO_TARGETS,
    FLAG_TC,
    HANG,
    Datagram,
    Responder,
    asked,
    forward,
    reply,
    responder,
)

from exporter.exposition import unknown_reason
from exporter.jobs.dns import DnsCycleResult, check_domains
from exporter.model import DomainReport, DomainTarget, Status
from exporter.sources.dns import TRANSPORTS, DnsClient

pytestmark = pytest.mark.integration

TARGETS = [
    *DEMO_TARGETS,
    DomainTarget("chk-spf.test", "mail.chk-spf.test"),
    DomainTarget("broken.test"),  # SERVFAIL: unknown
    DomainTarget("not-served.example"),  # REFUSED: unknown
]
MX, TXT, SERVFAIL, REFUSED = 15, 16, 2, 5
# (name, type) -> None to relay the question, DROP, TRUNCATE, or the error code to reply with
Rule = Callable[[str, int], int | None]
DROP, TRUNCATE = 0, -1
TIMEOUT = 2.0  # seconds per attempt: a relayed answer comes in milliseconds, on a busy box in less


def cycle(transport: str, nameserver: tuple[str, int]) -> DnsCycleResult:
    async def run() -> DnsCycleResult:
        client = DnsClient(nameservers=[nameserver], timeout=TIMEOUT, transport=transport)
        async with asyncio.timeout(HANG):
            return await check_domains(TARGETS, client)

    return asyncio.run(run())


@pytest.fixture(name="complete", scope="module")
def _complete(named: NamedServer) -> tuple[DomainReport, ...]:
    """The reports with every question answered (named asked directly), equal on both
    transports; they cover every verdict."""
    results = {t: cycle(t, (named.host, named.port)) for t in TRANSPORTS}
    assert results["wire"].reports == results["dnspython"].reports
    reports = results["wire"].reports
    assert {c.status for r in reports for c in r.checks} >= set(Status)
    return reports


def resolver(named: NamedServer, rule: Rule) -> AbstractContextManager[Responder]:
    """A scripted resolver in front of named: each question over UDP as ``rule`` says,
    every question over TCP relayed."""
    upstream = (named.host, named.port)

    def script(query: bytes) -> list[Datagram]:
        action = rule(*asked(query))
        if action is None:
            relayed = forward(query, upstream)
            return [(False, relayed)] if relayed is not None else []
        if action == TRUNCATE:
            return [(False, reply(query, flags=FLAG_TC))]
        return [(False, reply(query, rcode=action))] if action != DROP else []

    def stream(query: bytes) -> list[bytes]:
        relayed = forward(query, upstream, tcp=True)
        return [relayed] if relayed is not None else []

    return responder(script, tcp=stream)


def partial_cycle(named: NamedServer, make_rule: Callable[[], Rule]) -> tuple[DomainReport, ...]:
    """One cycle per transport behind a resolver with a fresh ``make_rule()``: the reports,
    and the queries and responses counted, must be equal; returns the reports."""
    results = {}
    for transport in TRANSPORTS:
        with resolver(named, make_rule()) as server:
            results[transport] = cycle(transport, server.nameserver)
    wire, dnspython = results["wire"], results["dnspython"]
    assert wire.reports == dnspython.reports
    assert (wire.queries_sent, wire.responses) == (dnspython.queries_sent, dnspython.responses)
    return wire.reports


def unknown_reasons(
    complete: tuple[DomainReport, ...], partial: tuple[DomainReport, ...]
) -> set[str]:
    """The `unknown` reasons of the checks that changed from the complete cycle. A missing
    answer can make a check `unknown`, or leave the verdict its other answers give (three
    DKIM tokens broken, one unanswered: still `fail`), never give another verdict."""
    assert [r.domain for r in partial] == [r.domain for r in complete]
    reasons = set()
    for full, part in zip(complete, partial, strict=True):
        assert [c.check for c in part.checks] == [c.check for c in full.checks]
        for was, now in zip(full.checks, part.checks, strict=True):
            assert now.status in (Status.UNKNOWN, was.status), (full.domain, was, now)
            if now.status is Status.UNKNOWN and now != was:
                reasons.add(unknown_reason(now.summary))
    return reasons


# `other`: a check that reads another one's verdict (dmarc_reports says "DMARC unknown")
DERIVED = "other"


def every_third_question(name: str, rdtype: int) -> int | None:
    """Drops a third of the questions, each one every time it is asked (whatever order
    the transports ask in)."""
    return DROP if zlib.crc32(f"{name}/{rdtype}".encode()) % 3 == 0 else None


def no_mx(_name: str, rdtype: int) -> int | None:
    return DROP if rdtype == MX else None


@pytest.mark.parametrize("rule", [every_third_question, no_mx])
def test_unanswered_questions_make_their_checks_unknown(
    named: NamedServer, complete: tuple[DomainReport, ...], rule: Rule
) -> None:
    reasons = unknown_reasons(complete, partial_cycle(named, lambda: rule))
    assert "timeout" in reasons  # else nothing was dropped that a check reads
    assert reasons <= {"timeout", DERIVED}


def test_a_resolver_that_answers_nothing(named: NamedServer) -> None:
    """Every check of every domain `unknown`, for the timeout (or the check it reads)."""

    def nothing(_name: str, _rdtype: int) -> int | None:
        return DROP

    checks = [c for report in partial_cycle(named, lambda: nothing) for c in report.checks]
    assert {c.status for c in checks} == {Status.UNKNOWN}
    assert {unknown_reason(c.summary) for c in checks} == {"timeout", DERIVED}


@pytest.mark.parametrize(
    ("rcode", "reason"), [(REFUSED, "refused"), (SERVFAIL, "servfail")], ids=["refused", "servfail"]
)
def test_a_resolver_that_fails_one_domain(
    named: NamedServer, complete: tuple[DomainReport, ...], rcode: int, reason: str
) -> None:
    """Every question in one zone REFUSED (or SERVFAIL): that domain's checks that read
    them are `unknown` for that reason; the other domains' reports are the complete
    cycle's."""

    def answer(name: str, _rdtype: int) -> int | None:
        return rcode if name == "legacy.example" or name.endswith(".legacy.example") else None

    partial = partial_cycle(named, lambda: answer)
    reasons = unknown_reasons(complete, partial)
    assert reason in reasons
    assert reasons <= {reason, DERIVED}
    others = [
        (f, p) for f, p in zip(complete, partial, strict=True) if f.domain != "legacy.example"
    ]
    assert all(f == p for f, p in others)


def test_a_resolver_that_truncates_every_txt_reply(
    named: NamedServer, complete: tuple[DomainReport, ...]
) -> None:
    """Every TXT question answered over UDP with TC set and nothing else: asked again over
    TCP, the complete cycle's reports on both transports."""

    def truncate_txt(_name: str, rdtype: int) -> int | None:
        return TRUNCATE if rdtype == TXT else None

    assert partial_cycle(named, lambda: truncate_txt) == complete


def test_a_resolver_that_answers_only_the_retry(
    named: NamedServer, complete: tuple[DomainReport, ...]
) -> None:
    """Every question's first query dropped, its second answered: the complete cycle's
    reports, on both transports."""

    def make_rule() -> Rule:
        seen: set[tuple[str, int]] = set()

        def answer(name: str, rdtype: int) -> int | None:
            first = (name, rdtype) not in seen
            seen.add((name, rdtype))
            return DROP if first else None

        return answer

    assert partial_cycle(named, make_rule) == complete
