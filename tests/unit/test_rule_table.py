"""RuleTable, the one-pass scan of the bounce wording rules, against the plain way: every
rule's alternatives searched over the whole text, rule after rule."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bounce_classifier import CORPUS_CASES, OWN_CASES

from exporter.checks import bounce_rules
from exporter.checks.rule_table import RuleTable, needles


def reference(rules: Sequence[Sequence[str]], text: str) -> int | None:
    """The number of the first rule with an alternative matching anywhere."""
    for number, alternatives in enumerate(rules):
        if alternatives and re.search(rf"\b(?:{'|'.join(alternatives)})", text):
            return number
    return None


def wording(rule_list: tuple[bounce_rules.Rule, ...]) -> list[tuple[str, ...]]:
    return [alternatives for _, alternatives in rule_list]


TABLES = {
    "strong": wording(bounce_rules.STRONG),
    "weak": wording(bounce_rules.WEAK),
    "weak-4xx": wording((*bounce_rules.WEAK[1:], bounce_rules.WEAK[0])),
}
COMPILED = {name: RuleTable.compile(rules) for name, rules in TABLES.items()}
LABELLED = [" ".join(case.raw.lower().split()) for case in CORPUS_CASES + OWN_CASES]

# Openings the scan has to take apart, and texts that probe each of their edges.
TRICKY = [
    (r"e-?mail (?:is )?too big",),
    (r"(?:account|mailbox|user)\b[^.;]{0,20}?\b(?:is|was) disabled",),
    (r"(?<!sender )address rejected(?!:)", r"(?<=[\[#\(])bl\d+\b"),
    (r"ip\b", r"ipv6", r"\bno mx\b"),
    (r"gr[ea]y-? ?list", r"(?:x-)?spam ?score", r"[a-z]*spam"),
    (r"(?:re)*try", r"(?:abc)+d", r"\d+ days?", r"ph\d\d\b"),
    (r"not (?:allowed|permitted)", r"not permitted by", r"\btoo\s*many"),
]
PROBES = [
    "email too big",
    "e-mail is too big",
    "the mailbox ip was disabled",
    "user foo is disabled",
    "sender address rejected: x",
    "recipient address rejected",
    "address rejected here",
    "[bl21] and #bl000000 and bl7",
    "ip blocked ipv6 no mx",
    "greylisted grey-list gray list",
    "x-spam score antispam mcspamsignature",
    "retry reretry try abcabcd abcd 3 days ph01",
    "not permitted by policy, too   many",
]


@pytest.mark.parametrize("name", TABLES)
def test_the_scan_agrees_on_every_labelled_text(name: str) -> None:
    """The bounce tables give the same first rule as rule-by-rule search on every text."""
    table, rules = COMPILED[name], TABLES[name]
    disagreements = [t for t in LABELLED if table.first(t) != reference(rules, t)]
    assert not disagreements


def test_tricky_openings_agree() -> None:
    """Optional separators, groups, classes, repeats, look-behinds and unkeyed patterns."""
    for rules in [TRICKY, TRICKY[::-1], *([rule] for rule in TRICKY)]:
        table = RuleTable.compile(rules)
        for probe in PROBES:
            assert table.first(probe) == reference(rules, probe), (rules, probe)


def test_needles_are_in_every_text_their_alternatives_match() -> None:
    """The substring pre-test never hides a match: for the SPF/DKIM gate of the bounce
    tables and for alternatives with a plain word; none for those without one."""
    gate = next(alternatives for category, alternatives in bounce_rules.STRONG if category is None)
    found = needles(gate)
    assert found is not None
    pattern = re.compile(rf"\b(?:{'|'.join(gate)})")
    for text in [*LABELLED, *PROBES, "spf fail", "no dkim signature", "body hash did not verify"]:
        if pattern.search(text):
            assert any(needle in text for needle in found), text
    assert needles([r"(?<!x )spam\b", r"\bvirus"]) == ("spam", "virus")
    assert needles([r"spam", r"(?:a|b)c"]) is None


def test_an_unmatched_text_has_no_first_rule() -> None:
    assert RuleTable.compile(TRICKY).first("nothing here at all") is None
    assert RuleTable.compile([]).first("anything") is None


def test_the_lowest_rule_wins_wherever_it_matches() -> None:
    """A later rule matching earlier in the text does not beat an earlier rule."""
    table = RuleTable.compile([("quota",), ("user unknown",)])
    assert table.first("user unknown, quota") == 0
    assert table.first("user unknown") == 1


words = st.sampled_from(
    [
        "user",
        "unknown",
        "mailbox",
        "is",
        "full",
        "not",
        "permitted",
        "by",
        "spf",
        "fail",
        "ip",
        "blocked",
        "try",
        "again",
        "later",
        "rate",
        "limit",
        "550",
        "5.1.1",
        "e-mail",
        "spam",
        "[bl21]",
        "sender",
        "address",
        "rejected:",
        "too",
        "many",
        "connections",
        "expired",
        "relay",
        "denied",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(words, max_size=14).map(" ".join))
def test_the_scan_agrees_on_word_salad(text: str) -> None:
    """Random texts made of the rules' own words."""
    for name, table in COMPILED.items():
        assert table.first(text) == reference(TABLES[name], text)
