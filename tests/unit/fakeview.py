"""A dict-backed `DnsView` and the round loop the DNS source runs, for the check tests.

Tables map ``(name, rdtype)`` to an `Answer`; a question missing from the table follows
the name's CNAME entry as a recursive resolver does (`lookup`), and is otherwise answered
NXDOMAIN, which keeps tables short. `run` replays the pending protocol: call
`evaluate_domain`, "fetch" every question that came back None, and call again until a
call asks for nothing new.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import strategies as st

from exporter.checks import evaluate_domain
from exporter.model import Answer, AnswerKind, CheckResult, DomainReport, DomainTarget, Status

__all__ = [
    "DOMAIN",
    "KEY",
    "MAIL_FROM",
    "NODATA",
    "NX",
    "SERVFAIL",
    "TIMEOUT",
    "TOKENS",
    "DrawnTable",
    "FakeView",
    "Run",
    "Table",
    "good_table",
    "rec",
    "run",
    "target",
]

Question = tuple[str, str]
Table = Mapping[Question, Answer]


class DrawnTable(Mapping[Question, Answer]):
    """A table that invents an answer from ``answers`` the first time a question is asked."""

    def __init__(self, draw: st.DataObject, answers: st.SearchStrategy[Answer]) -> None:
        self._draw = draw
        self._strategy = answers
        self._answers: dict[Question, Answer] = {}

    def __getitem__(self, key: Question) -> Answer:
        if key not in self._answers:
            self._answers[key] = self._draw.draw(self._strategy, label=f"{key[1]} {key[0]}")
        return self._answers[key]

    def __iter__(self) -> Iterator[Question]:
        return iter(self._answers)

    def __len__(self) -> int:
        return len(self._answers)


NX = Answer(AnswerKind.NXDOMAIN)
NODATA = Answer(AnswerKind.NODATA)
TIMEOUT = Answer(AnswerKind.ERROR, error="timeout")
SERVFAIL = Answer(AnswerKind.ERROR, error="servfail")
RDTYPES = frozenset({"A", "AAAA", "MX", "TXT", "CNAME"})

DOMAIN = "example.com"
MAIL_FROM = "mail.example.com"
TOKENS = ("tok1aaaa", "tok2bbbb", "tok3cccc")
KEY = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDGMjj8"


def rec(*records: str, via: tuple[str, ...] = (), canonical: str = "") -> Answer:
    """A NOERROR answer with records; ``via`` is the CNAME chain followed to reach it and
    ``canonical`` the name it ends at."""
    return Answer(AnswerKind.RECORDS, records, cname_chain=via, canonical_name=canonical)


MAX_CNAME_HOPS = 8


def lookup(table: Table, name: str, rdtype: str) -> Answer:
    """``table``'s answer, as a recursive resolver gives it: a question the table lacks
    follows the name's CNAME entry (RFC 1034 §3.6.2), like `DnsClient`; NXDOMAIN when
    there is none. A failed CNAME lookup is the question's failure."""
    aliases: list[str] = []
    current = name
    for _ in range(MAX_CNAME_HOPS):
        if (current, rdtype) in table or rdtype == "CNAME":
            answer = table.get((current, rdtype), NX)
            break
        alias = table.get((current, "CNAME"))
        if alias is None or alias.kind is not AnswerKind.RECORDS:
            answer = NX if alias is None or not alias.is_error else alias
            break
        aliases.append(current)
        current = alias.records[0].lower().removesuffix(".")  # as the client reads names
    else:
        answer = Answer(AnswerKind.ERROR, error="cname_chain_too_long")
    if not aliases:
        return answer
    chain = (*aliases, *answer.cname_chain)
    return Answer(
        answer.kind, answer.records, answer.error, chain, answer.canonical_name or current
    )


def target(
    name: str = DOMAIN,
    *,
    mail_from: str | None = MAIL_FROM,
    tokens: tuple[str, ...] = TOKENS,
    region: str | None = "us-east-1",
    signing_zone: str | None = None,
) -> DomainTarget:
    """The domain `good_table` describes, with every input given."""
    return DomainTarget(name, mail_from, tokens, region, signing_zone)


def good_table(domain: str = DOMAIN, mail_from: str = MAIL_FROM) -> dict[Question, Answer]:
    """DNS for a domain on which every check passes; tests override single entries."""
    table = {
        (domain, "MX"): rec("10 inbound.example.com"),
        (domain, "TXT"): rec("google-site-verification=abc", "v=spf1 include:amazonses.com -all"),
        ("amazonses.com", "TXT"): rec("v=spf1 ip4:199.255.192.0/22 ip4:54.240.0.0/18 -all"),
        (f"_dmarc.{domain}", "TXT"): rec(f"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"),
        (mail_from, "A"): rec("192.0.2.10"),
        (mail_from, "AAAA"): NODATA,
        (mail_from, "MX"): rec("10 feedback-smtp.us-east-1.amazonses.com"),
        (mail_from, "TXT"): rec("v=spf1 include:amazonses.com ~all"),
    }
    for token in TOKENS:
        table[f"{token}._domainkey.{domain}", "CNAME"] = rec(f"{token}.dkim.amazonses.com")
        table[f"{token}.dkim.amazonses.com", "TXT"] = rec(KEY)
    return table


class FakeView:
    """Answers the questions in ``fetched`` (all of them when None) from ``table``."""

    def __init__(self, table: Table, fetched: set[Question] | None = None) -> None:
        self.table = table
        self.fetched = fetched
        self.misses: set[Question] = set()
        self.asked: set[Question] = set()

    def get(self, name: str, rdtype: str) -> Answer | None:
        assert name == name.lower(), f"question not lower case: {name!r}"
        assert not name.endswith("."), f"question with trailing dot: {name!r}"
        assert rdtype in RDTYPES, f"unexpected rdtype {rdtype!r}"
        self.asked.add((name, rdtype))
        if self.fetched is not None and (name, rdtype) not in self.fetched:
            self.misses.add((name, rdtype))
            return None
        return lookup(self.table, name, rdtype)


@dataclass(frozen=True)
class Run:
    """The final report of a `run`, with what it took to get there."""

    report: DomainReport
    rounds: int
    asked: frozenset[Question]
    first_round: frozenset[Question]
    by_check: dict[str, CheckResult] = field(default_factory=dict)

    def __getitem__(self, check: str) -> CheckResult:
        return self.by_check[check]

    def status(self, check: str) -> Status:
        return self.by_check[check].status


def run(
    domain_target: DomainTarget,
    table: Table,
    *,
    max_rounds: int = 12,
    strict: bool = False,
) -> Run:
    """Loop `evaluate_domain` like the DNS source; ``strict`` fails on questions not in
    ``table`` instead of answering NXDOMAIN."""
    fetched: set[Question] = set()
    first_round: frozenset[Question] = frozenset()
    for rounds in range(1, max_rounds + 1):
        view = FakeView(table, fetched)
        report = evaluate_domain(domain_target, view)
        first_round = first_round or frozenset(view.misses)
        if not view.misses:
            unknown = {q for q in fetched - set(table) if (q[0], "CNAME") not in table}
            if strict and unknown:
                pytest.fail(f"questions not in the table: {sorted(unknown)}")
            by_check = {c.check: c for c in report.checks}
            assert len(by_check) == len(report.checks), "duplicate check ids"
            return Run(report, rounds, frozenset(fetched), first_round, by_check)
        fetched |= view.misses
    pytest.fail(f"evaluate_domain still asking after {max_rounds} rounds")


class FakeClient:
    """What the DNS cycle uses of a `DnsClient`, answering from a table one loop turn later;
    counts every question it is asked to resolve (a client lives for one cycle)."""

    def __init__(self, table: Mapping[Question, Answer]) -> None:
        self.table = table
        self.done: dict[Question, Answer] = {}
        self.requests: Counter[Question] = Counter()
        self.queries_sent = self.responses = 0

    def get(self, name: str, rdtype: str) -> Answer | None:
        return self.done.get((name, rdtype))

    def fingerprint(self, _name: str, _rdtype: str) -> int:
        return 0  # answers from a table: no datagram

    def request(self, name: str, rdtype: str, waiter: Any, *, expect: int = 0) -> Answer | None:
        key = (name, rdtype)
        if key in self.done:
            return self.done[key]
        self.requests[key] += 1
        answer = self.done[key] = lookup(self.table, name, rdtype)
        asyncio.get_running_loop().call_soon(waiter, answer)
        return None

    def forget(self, keys: Any) -> None:
        for key in keys:
            self.done.pop(key, None)

    async def aclose(self) -> None:
        pass
