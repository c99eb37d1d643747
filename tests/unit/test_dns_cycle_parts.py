"""The DNS cycle's evaluation in parts gives `evaluate_domain`'s reports, asking the same
questions: `first_questions` is what an empty view is asked, and a part that read every
answer it asked for is final."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from fakeview import (
    DOMAIN,
    KEY,
    NODATA,
    NX,
    SERVFAIL,
    TIMEOUT,
    TOKENS,
    DrawnTable,
    FakeClient,
    FakeView,
    good_table,
    rec,
    run,
    target,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.checks import domain as domain_checks
from exporter.checks import evaluate_domain
from exporter.checks.domain import first_questions
from exporter.compiled import compiled
from exporter.jobs import dns as dns_cycle
from exporter.model import Answer, DomainReport, DomainTarget, Status

TARGETS = [
    target(),
    target(mail_from=None),
    target(tokens=()),
    target(mail_from=None, tokens=()),
    DomainTarget("Example.COM.", "Mail.Example.com.", ("TOK1", "tok1", "Tok2"), "us-east-1"),
    DomainTarget(DOMAIN, DOMAIN, TOKENS),  # MAIL FROM the domain itself
    DomainTarget("sub.example.co.uk", "bounce.sub.example.co.uk", TOKENS, "eu-west-1"),
]


@pytest.mark.parametrize("domain_target", TARGETS, ids=lambda t: f"{t.name}-{t.mail_from}")
def test_first_questions_are_what_an_empty_view_is_asked(domain_target: DomainTarget) -> None:
    view = FakeView(good_table(), fetched=set())
    evaluate_domain(domain_target, view)
    questions = first_questions(domain_target)
    assert set(questions) == view.misses
    assert len(questions) == len(set(questions))


def cycle_reports(
    targets: list[DomainTarget], table: Mapping[tuple[str, str], Answer]
) -> tuple[list[DomainReport | None], FakeClient]:
    client = FakeClient(table)

    async def main() -> list[DomainReport | None]:
        result = await dns_cycle.check_domains(targets, client, workers=4)  # type: ignore[arg-type]
        return list(result.reports)

    return asyncio.run(main()), client


def test_cycle_reports_equal_evaluate_domain_and_parts_run_once_when_final(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same report and questions as the plain round loop; the parts that are final after
    the first answers (mx, dmarc, the MAIL FROM MX and address) run exactly once."""
    if compiled():
        pytest.skip("the compiled cycle calls domain_parts directly: no counting it")
    calls: Counter[str] = Counter()
    parts = domain_checks.domain_parts

    def counting(domain_target: DomainTarget) -> tuple[domain_checks.DomainPart, ...]:
        def wrap(part: domain_checks.DomainPart) -> domain_checks.DomainPart:
            def counted(*args: Any) -> domain_checks.PartResult:
                calls[part.__name__] += 1
                return part(*args)

            return counted

        return tuple(map(wrap, parts(domain_target)))

    monkeypatch.setattr(dns_cycle, "domain_parts", counting)
    table = good_table()
    reports, client = cycle_reports([target()], table)
    expected = run(target(), table, strict=True)
    assert reports == [expected.report]
    assert set(client.requests) == expected.asked
    assert set(client.requests.values()) == {1}
    assert calls == {
        "_mx": 1,
        "_dmarc": 1,
        "_mail_from_resolvable": 1,
        "_mail_from_mx": 1,
        "_spf": 2,  # + amazonses.com
        "_dkim": 1,  # the keys come with the CNAMEs
        "_mail_from_spf": 2,  # + amazonses.com
    }


SPF = ["v=spf1 include:amazonses.com -all", "v=spf1 include:a.example mx a ~all", "v=spf1 ?all"]
texts = st.sampled_from(
    [
        *SPF,
        "v=spf1 redirect=b.example",
        "v=DMARC1; p=reject; rua=mailto:r@vendor.example.net",
        "v=DMARC1; p=none",
        KEY,
        "10 feedback-smtp.us-east-1.amazonses.com",
        "0 .",
        "192.0.2.1",
        *(f"{t}.dkim.amazonses.com" for t in TOKENS),
        "elsewhere.example",
    ]
)
answers = st.one_of(
    st.sampled_from([NX, NODATA, TIMEOUT, SERVFAIL]),
    st.lists(texts, min_size=1, max_size=2).map(lambda records: rec(*records)),
)


@settings(deadline=None, max_examples=200)
@given(st.data(), st.sampled_from(TARGETS))
def test_cycle_matches_the_round_loop_on_any_answers(
    data: st.DataObject, domain_target: DomainTarget
) -> None:
    """The plain loops draw every answer first (hypothesis cannot draw inside the event
    loop); the cycle then reads the drawn answers and must ask for exactly those."""
    drawn = DrawnTable(data, answers)
    expected = [run(t, drawn, max_rounds=14) for t in (domain_target, target("other.example"))]
    table = dict(drawn)
    reports, client = cycle_reports([domain_target, target("other.example")], table)
    assert reports == [e.report for e in expected]
    assert set(client.requests) == expected[0].asked | expected[1].asked


class SharingFakeClient(FakeClient):
    """Like `DnsClient`: concurrent requests for one question share one query, and every
    waiter is called in turn when its answer arrives."""

    def __init__(self, table: Mapping[tuple[str, str], Answer]) -> None:
        super().__init__(table)
        self.pending: dict[tuple[str, str], list[Any]] = {}

    def request(self, name: str, rdtype: str, waiter: Any, *, expect: int = 0) -> Answer | None:
        key = (name, rdtype)
        if key in self.done:
            return self.done[key]
        if key in self.pending:
            self.pending[key].append(waiter)
            return None
        self.requests[key] += 1
        self.pending[key] = [waiter]
        asyncio.get_running_loop().call_soon(self._answer, key)
        return None

    def _answer(self, key: tuple[str, str]) -> None:
        answer = self.done[key] = self.table.get(key, NX)
        for waiter in self.pending.pop(key):
            waiter(answer)


def test_domains_sharing_questions_all_get_their_answers() -> None:
    """An answer only one domain reads (its DKIM keys, its own tree) leaves the cycle's
    cache when that domain is done. Domains that share one (the same DKIM tokens, an
    organizational _dmarc record a subdomain falls back to) must each still read it: when
    the first domain done dropped it, the others re-asked until their rounds ran out and
    reported `unknown`."""
    targets, table = [], {}
    for i in range(200):
        name = f"d{i}.example.net"
        targets.append(target(name, mail_from=f"mail.{name}"))
        table |= good_table(name, f"mail.{name}")
    sub = target("news.d0.example.net", mail_from=None, tokens=())
    table[("_dmarc.news.d0.example.net", "TXT")] = NX
    client = SharingFakeClient(table)

    async def main() -> list[DomainReport | None]:
        result = await dns_cycle.check_domains([*targets, sub], client, workers=64)  # type: ignore[arg-type]
        return list(result.reports)

    reports = asyncio.run(main())
    unknown = {
        (r.domain, c.check): c.summary
        for r in reports
        if r is not None
        for c in r.checks
        if c.status is Status.UNKNOWN
    }
    assert not unknown


HEALTHY = [f"d{i}.example.net" for i in range(3)]


def healthy_reports(names: list[str]) -> list[DomainReport | None]:
    """One cycle over healthy domains, each report as the plain evaluation would give it."""
    targets = [target(name, mail_from=f"mail.{name}") for name in names]
    table: dict[tuple[str, str], Answer] = {}
    for name in names:
        table |= good_table(name, f"mail.{name}")
    reports = cycle_reports(targets, table)[0]
    for each, report in zip(targets, reports, strict=True):
        assert report == evaluate_domain(each, FakeView(table))
    return reports


def test_summaries_that_differ_only_in_the_domain_are_kept_once() -> None:
    """100,000 healthy domains get summaries that differ only in the domain they name: the
    cycle keeps each result's shape (check, status, text, remedy, records) once, and every
    summary still reads as the checks wrote it."""
    names = HEALTHY
    first, *others = healthy_reports(names)
    assert first is not None
    shared = 0
    for name, other in zip(names[1:], others, strict=True):
        assert other is not None
        for mine, theirs in zip(first.checks, other.checks, strict=True):
            alike = mine.summary.replace(names[0], "*") == theirs.summary.replace(name, "*")
            assert (mine._shape is theirs._shape) == alike  # noqa: SLF001 - the point
            shared += alike
    assert shared == len(others) * len(first.checks)  # every check of a healthy domain


def test_a_result_that_names_no_domain_is_one_object_for_every_domain() -> None:
    """A verdict whose summary names no domain ("3 DKIM CNAMEs lead to SES keys") is the
    same for every healthy domain: the cycle keeps one result object for all of them, while
    a result that names its domain stays its own."""
    names = HEALTHY
    reports = healthy_reports(names)
    by_check = [{check.check: check for check in r.checks} for r in reports if r]
    dkim = {id(checks["dkim"]) for checks in by_check}
    assert names[0] not in by_check[0]["dkim"].summary
    assert len(dkim) == 1
    spf = {id(checks["spf"]) for checks in by_check}
    assert all(name in checks["spf"].summary for name, checks in zip(names, by_check, strict=True))
    assert len(spf) == len(names)


class _TwoReferences:
    __slots__ = ("first", "second")


def test_a_result_that_names_its_domain_is_two_references() -> None:
    """At 10^5 domains a cycle holds 7 x 10^5 results: one that names its domain holds its
    subject and the shared shape, and no more than an object of two references (plus the
    compiled build's method table)."""
    reports = healthy_reports(HEALTHY)
    assert reports[0] is not None
    spf = next(check for check in reports[0].checks if check.check == "spf")
    assert HEALTHY[0] in spf.summary
    two = sys.getsizeof(_TwoReferences())
    assert sys.getsizeof(spf) <= two + 8


class ThresholdWatching(FakeClient):
    """Notes the youngest generation's collection threshold at every request."""

    def __init__(self, table: Mapping[tuple[str, str], Answer]) -> None:
        super().__init__(table)
        self.seen: list[int] = []

    def request(self, name: str, rdtype: str, waiter: Any, *, expect: int = 0) -> Any:
        self.seen.append(gc.get_threshold()[0])
        return super().request(name, rdtype, waiter, expect=expect)


def test_a_cycle_collects_young_objects_less_often_and_puts_it_back() -> None:
    """While a cycle runs, Python's youngest generation is collected after 20,000
    allocations, not 700 (its objects live until the cycle ends, garbage without cycles
    is freed at once anyway); afterwards the thresholds are what they were, and a cycle
    started inside another leaves them to the outer one."""
    before = gc.get_threshold()
    client = ThresholdWatching(good_table())

    async def nested() -> None:
        outer = asyncio.ensure_future(dns_cycle.check_domains([target()], client))
        await asyncio.sleep(0)
        await dns_cycle.check_domains([target("other.example")], client)  # type: ignore[arg-type]
        await outer

    asyncio.run(nested())
    assert client.seen
    assert set(client.seen) == {20_000}
    assert gc.get_threshold() == before


def test_a_question_asked_again_costs_no_round() -> None:
    """`DnsClient` forgets a datagram it kept unread that does not answer when read, and
    the question is asked again: that is no new round (rounds are bounded by MAX_ROUNDS,
    after which an answer still missing is `too_many_rounds`). Here the answer to one
    question goes missing more times than there are rounds, then comes."""
    table = good_table()
    flaky = first_questions(target())[0]
    expected = cycle_reports([target()], table)[0]

    class Forgetting(FakeClient):
        misses = 0

        def get(self, name: str, rdtype: str) -> Answer | None:
            if (name, rdtype) == flaky and self.misses < dns_cycle.MAX_ROUNDS + 4:
                self.misses += 1
                return None
            return super().get(name, rdtype)

    client = Forgetting(table)

    async def main() -> list[DomainReport | None]:
        return list((await dns_cycle.check_domains([target()], client)).reports)  # type: ignore[arg-type]

    assert asyncio.run(main()) == expected
    assert client.misses == dns_cycle.MAX_ROUNDS + 4


def test_a_cycle_leaves_the_collector_off_when_it_is() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        client = ThresholdWatching(good_table())
        asyncio.run(dns_cycle.check_domains([target()], client))  # type: ignore[arg-type]
        assert client.seen
        assert set(client.seen) == {0}
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
