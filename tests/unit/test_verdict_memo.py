"""Verdict memoization across cycles: a domain whose inputs, answers and code are those of
its last evaluation gets its last report without evaluating; anything else that changed
(an answer, a target input, the code version) evaluates again, to `evaluate_domain`'s
report. The questions are asked every cycle either way."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fakeview import (
    KEY,
    NODATA,
    NX,
    SERVFAIL,
    TIMEOUT,
    TOKENS,
    FakeClient,
    Question,
    good_table,
    rec,
    run,
    target,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.compiled import compiled
from exporter.jobs import dns as dns_cycle
from exporter.jobs import verdict_cache
from exporter.jobs.verdict_cache import VerdictMemo
from exporter.model import Answer, DomainReport, DomainTarget


def cycle(
    targets: list[DomainTarget],
    table: Mapping[Question, Answer],
    memo: VerdictMemo | None,
    workers: int = 4,
) -> tuple[list[DomainReport], FakeClient]:
    client = FakeClient(table)

    async def main() -> list[DomainReport]:
        result = await dns_cycle.check_domains(targets, client, workers=workers, memo=memo)  # type: ignore[arg-type]
        return list(result.reports)

    return asyncio.run(main()), client


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each check part ran."""
    if compiled():
        pytest.skip("the compiled cycle calls domain_parts directly: no counting it")
    calls: Counter[str] = Counter()
    parts = dns_cycle.domain_parts  # type: ignore[attr-defined]

    def counting(domain_target: DomainTarget) -> tuple[Any, ...]:
        def wrap(part: Any) -> Any:
            def counted(*args: Any) -> Any:
                calls[part.__name__] += 1
                return part(*args)

            return counted

        return tuple(map(wrap, parts(domain_target)))

    monkeypatch.setattr(dns_cycle, "domain_parts", counting)
    return calls


def test_identical_answers_reuse_the_report_and_still_ask_every_question(
    evaluations: Counter[str],
) -> None:
    memo = VerdictMemo()
    table = good_table()
    (first,), client1 = cycle([target()], table, memo)
    assert evaluations["_spf"] == 2  # the cold cycle evaluates
    evaluations.clear()
    (second,), client2 = cycle([target()], table, memo)
    assert second is first
    assert not evaluations  # no check ran
    assert (memo.hits, memo.misses) == (1, 0)
    assert client2.requests == client1.requests  # the same questions, each once
    assert first == run(target(), table, strict=True).report


def changed_dmarc() -> dict[Question, Answer]:
    table = good_table()
    table["_dmarc.example.com", "TXT"] = rec("v=DMARC1; p=none")
    return table


def changed_dkim_key() -> dict[Question, Answer]:
    table = good_table()
    table[f"{TOKENS[0]}.dkim.amazonses.com", "TXT"] = SERVFAIL  # a question asked later
    return table


def changed_cname_chain() -> dict[Question, Answer]:
    table = good_table()
    mx = table["example.com", "MX"]
    table["example.com", "MX"] = Answer(mx.kind, mx.records, mx.error, ("alias.example.net",))
    return table


def changed_error() -> dict[Question, Answer]:
    table = good_table()
    table["mail.example.com", "MX"] = TIMEOUT
    return table


@pytest.mark.parametrize(
    "changed", [changed_dmarc, changed_dkim_key, changed_cname_chain, changed_error]
)
def test_a_changed_answer_evaluates_again(evaluations: Counter[str], changed: Any) -> None:
    memo = VerdictMemo()
    cycle([target()], good_table(), memo)
    evaluations.clear()
    table = changed()
    (second,), client = cycle([target()], table, memo)
    assert evaluations  # the checks ran
    assert memo.misses == 1
    assert second == run(target(), table).report
    assert set(client.requests) >= run(target(), table).asked
    # The evaluation after a miss stores nothing; the next cycle evaluates once more, cold,
    # and stores the questions it really asks.
    evaluations.clear()
    (third,), _ = cycle([target()], table, memo)
    assert evaluations
    assert third == second
    evaluations.clear()
    (fourth,), _ = cycle([target()], table, memo)
    assert not evaluations
    assert fourth is third


@pytest.mark.parametrize(
    "change",
    [
        {"mail_from": "bounce.example.com"},
        {"mail_from": None},
        {"region": "eu-west-1"},
        {"dkim_tokens": ("tok1aaaa", "tok2bbbb")},
        {"dkim_signing_zone": "example.com"},
        {"name": "EXAMPLE.com"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_changed_target_input_evaluates_again(
    evaluations: Counter[str], change: dict[str, Any]
) -> None:
    memo = VerdictMemo()
    table = good_table()
    cycle([target()], table, memo)
    evaluations.clear()
    changed = dataclasses.replace(target(), **change)
    (report,), _ = cycle([changed], table, memo)
    assert evaluations
    assert report == run(changed, table).report


def test_the_key_holds_every_field_of_a_target() -> None:
    """The memo keys on `DomainTarget.inputs`, which names the fields one by one: a field
    added to the target and left out there would let a changed input reuse a stale verdict."""
    fields = dataclasses.fields(DomainTarget)
    values: dict[str, Any] = {
        field.name: (f"{field.name}-value",) if field.name == "dkim_tokens" else field.name
        for field in fields
    }
    each = DomainTarget(**values)
    assert each.inputs() == tuple(values[field.name] for field in fields)


def test_a_new_code_version_evaluates_again(evaluations: Counter[str]) -> None:
    memo = VerdictMemo(version="1")
    table = good_table()
    cycle([target()], table, memo)
    evaluations.clear()
    memo.version = "2"
    cycle([target()], table, memo)
    assert evaluations
    assert memo.misses == 1


def test_the_memo_holds_digests_and_question_names_only() -> None:
    """No answer is kept: an 8-byte digest, the later questions' names, and the report the
    cycle already published; domains no longer checked leave it."""
    memo = VerdictMemo()
    others = [target(), target("other.example")]
    reports, _ = cycle(others, good_table(), memo)
    entries = memo._entries  # noqa: SLF001 - what it holds is the point
    assert set(entries) == {"example.com", "other.example"}
    for entry, report in zip(entries.values(), reports, strict=False):
        assert len(entry.digest) == 8  # answers from a table: no fingerprints
        assert isinstance(entry.later_questions, str)
        assert entry.report.domain not in entry.later_questions  # its names are markers
        assert entry.report is report
    later = memo.later_questions(target())
    assert later is not None
    assert ("amazonses.com", "TXT") in later  # SES's SPF, asked after the domain's
    held = memo.memory_bytes()
    assert 0 < held < 2000  # two domains' digests and question names, no answers
    cycle([target()], good_table(), memo)
    assert set(entries) == {"example.com"}
    assert memo.memory_bytes() < held


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


class Redrawn(Mapping[Question, Answer]):
    """A second cycle's answers: each question keeps its first-cycle answer or gets a new
    one, drawn the first time it is read (before the cycle runs: see below)."""

    def __init__(self, data: st.DataObject, before: Mapping[Question, Answer], keep: bool) -> None:
        self._data, self._before, self._keep = data, before, keep
        self._answers: dict[Question, Answer] = {}

    def __getitem__(self, key: Question) -> Answer:
        if key not in self._answers:
            old = self._before.get(key)
            stays = self._keep or self._data.draw(st.sampled_from([True, True, False]))
            same = old is not None and stays
            self._answers[key] = old if same else self._data.draw(answers)  # type: ignore[assignment]
        return self._answers[key]

    def __iter__(self) -> Iterator[Question]:
        return iter(self._answers)

    def __len__(self) -> int:
        return len(self._answers)


class Drawn(Redrawn):
    def __init__(self, data: st.DataObject) -> None:
        super().__init__(data, {}, keep=False)


TARGETS = [target(), target(mail_from=None), target(tokens=()), target("sub.example.co.uk")]


@settings(deadline=None, max_examples=150)
@given(st.data(), st.sampled_from(TARGETS), st.booleans())
def test_second_cycle_with_memo_equals_a_fresh_evaluation(
    data: st.DataObject, domain_target: DomainTarget, keep_all: bool
) -> None:
    """Whatever changed between two cycles, the memoized cycle's report is the plain round
    loop's on the new answers. The answers are drawn first (hypothesis cannot draw inside
    the event loop): every question either cycle asks is read by a plain loop beforehand."""
    before = Drawn(data)
    first = run(domain_target, before, max_rounds=14)
    after = Redrawn(data, dict(before), keep=keep_all)
    expected = run(domain_target, after, max_rounds=14)
    for key in first.asked:
        after[key]  # the memoized cycle asks these too
    memo = VerdictMemo()
    (report1,), _ = cycle([domain_target], dict(before), memo)
    assert report1 == first.report
    (report2,), _ = cycle([domain_target], dict(after), memo)
    assert report2 == expected.report
    assert memo.hits + memo.misses == 1
    if keep_all:
        assert memo.hits == 1


def test_an_answer_read_from_another_domains_fetch_is_in_the_key() -> None:
    """One domain at a time: the second reads amazonses.com's SPF, fetched by the first,
    without asking for it. A change there must still reach its verdict."""
    memo = VerdictMemo()
    twins = [target("a.example", mail_from=None), target("b.example", mail_from=None)]
    table = {**good_table("a.example"), **good_table("b.example")}
    cycle(twins, table, memo, workers=1)
    table["amazonses.com", "TXT"] = SERVFAIL
    reports, _ = cycle(twins, table, memo, workers=1)
    assert reports == [run(t, table).report for t in twins]
    assert memo.misses == len(twins)


def test_domains_asking_alike_share_one_template() -> None:
    """Later questions that differ only in the domains' own names are stored once."""
    memo = VerdictMemo()
    twins = [target("a.example"), target("b.example")]
    cycle(twins, good_table(), memo)
    entries = memo._entries  # noqa: SLF001 - what it holds is the point
    assert entries["a.example"].later_questions
    assert entries["a.example"].later_questions is entries["b.example"].later_questions
    assert memo.later_questions(twins[1]) == [
        (q.replace("a.example", "b.example"), t) for q, t in memo.later_questions(twins[0]) or []
    ]


names = st.text(alphabet="ab.\x00\x01\x02\x03-0123456789", min_size=1, max_size=12)


@settings(deadline=None, max_examples=300)
@given(
    st.lists(st.tuples(names, st.sampled_from(["TXT", "A", "CNAME"])), min_size=1, max_size=6),
    names,
    st.none() | names,
    st.lists(names, max_size=3).map(tuple),
)
def test_a_template_gives_back_exactly_the_questions(
    questions: list[Question], name: str, mail_from: str | None, tokens: tuple[str, ...]
) -> None:
    """Whatever the names (overlapping tokens, marker characters), expanding the template
    gives the same questions, in the order `_template` digests them."""
    domain_target = DomainTarget(name, mail_from, tokens)
    template, ordered = verdict_cache._template(domain_target, questions)  # noqa: SLF001
    text = verdict_cache._expand(template, domain_target)  # noqa: SLF001
    expanded = [verdict_cache._question(line) for line in text.split("\n")]  # noqa: SLF001
    assert expanded == ordered
    assert sorted(expanded) == sorted(questions)
