"""Many word-anchored regular expressions, in priority order, run as one pass over a text.

A rule is a tuple of alternatives (regular expressions), each meant to match at a word
boundary. `RuleTable.first` answers what running every rule over the whole text, in order,
would: the number of the first rule that matches anywhere. Python's ``re`` tries the
alternatives of a pattern one by one at every position, so that costs the number of
alternatives times the positions; here each position costs only the alternatives that can
start with its word's first letters.

How: the source of an alternative tells with which letters the word it matches begins (its
first three, or the whole word when shorter). All alternatives are folded into one
pattern, a trie over those letters whose leaves are the alternatives, in rule order, each
ending in an empty marker group. One scan stops at each word start and descends only the
branch of that word's letters; the first leaf that matches there is the best rule at that
place (words with different letters cannot both match there), and the lowest rule number
over all places is the answer. An alternative whose opening the source does not tell is run
on its own, and only when a word it needs is in the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RuleTable", "needles"]

_KEY_LENGTH = 3
_QUANTIFIERS = ("?", "*", "+", "{")
_LOOKBEHIND = re.compile(r"\(\?<([!=])((?:[^()\\]|\\.)*)\)")
_WORD_END = frozenset(" '-:;,/#@=!<>&%\"")  # literal characters that end a word
_ESCAPED_END = ("\\b", "\\s", "\\.", "\\[", "\\-")  # and their escaped kin
Expansion = tuple[str, str]  # (the word's opening letters, the rest of the pattern)


def _closing(pattern: str) -> int:
    """Index of the parenthesis closing the group that ``pattern`` opens with."""
    depth, i = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if not depth:
                return i
        i += 1
    raise ValueError(pattern)


def _branches(body: str) -> list[str]:
    """The top-level alternatives of a group's body."""
    out, depth, last, i = [], 0, 0, 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            i += 1
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and not depth:
            out.append(body[last:i])
            last = i + 1
        i += 1
    return [*out, body[last:]]


def _all(found: list[frozenset[Expansion] | None]) -> frozenset[Expansion] | None:
    if any(part is None for part in found):
        return None
    return frozenset(pair for part in found if part for pair in part)


def _expand(pattern: str, key: str = "") -> frozenset[Expansion] | None:
    """``pattern``, matched at a word start, as (opening letters, rest) pairs; None when
    its source does not tell. Distributes groups, optional groups, letter classes, ``\\d``
    and optional separators, which is all the rule tables open with."""
    if len(key) == _KEY_LENGTH:
        return frozenset({(key, pattern)})
    char, rest = pattern[:1], pattern[1:]
    if char.isalnum() or char == "_":
        if rest[:1] == "+":  # one or more: the first is there, more may follow
            return _expand(f"{char}*{rest[1:]}", key + char)
        return None if rest[:1] in _QUANTIFIERS else _expand(rest, key + char)
    if pattern.startswith("(?:"):
        return _expand_group(pattern, key)
    if char == "[" or pattern.startswith("\\d"):
        return _expand_class(pattern, key)
    return _expand_separator(pattern, key)


def _expand_group(pattern: str, key: str) -> frozenset[Expansion] | None:
    end = _closing(pattern)
    quantifier = pattern[end + 1 : end + 2]
    optional = quantifier in ("?", "*")
    if quantifier in _QUANTIFIERS and not optional:
        return None
    after = pattern[end + 1 + optional :]
    again = pattern if quantifier == "*" else after  # a starred group may repeat
    found = [_expand(branch + again, key) for branch in _branches(pattern[3:end])]
    return _all([*found, _expand(after, key)] if optional else found)


def _expand_class(pattern: str, key: str) -> frozenset[Expansion] | None:
    if pattern.startswith("\\d"):
        members, after = "0123456789", pattern[2:]
    else:
        members, _, after = pattern[1:].partition("]")
    if after[:1] == "+":  # one or more: the first is there, more may follow
        again = pattern[: len(pattern) - len(after)] + "*" + after[1:]
        return _all([_expand(again, key + member) for member in members])
    if not members.isalnum() or after[:1] in _QUANTIFIERS:
        return None
    return _all([_expand(after, key + member) for member in members])


def _expand_separator(pattern: str, key: str) -> frozenset[Expansion] | None:
    """A literal non-word character (or ``\\b``, ``\\s``, ``$``): the word ends here."""
    sep = pattern[:1] if pattern[:1] in _WORD_END or pattern[:1] == "$" else pattern[:2]
    if sep not in _WORD_END and sep not in _ESCAPED_END and sep != "$":
        return None
    after, quantifier = pattern[len(sep) + 1 :], pattern[len(sep) : len(sep) + 1]
    if quantifier in ("?", "*"):  # the word ends here, or goes on past the optional part
        present = frozenset({(key, sep + "+" * (quantifier == "*") + after)})
        return _all([present if key else None, _expand(after, key)])
    if quantifier in _QUANTIFIERS or not key:
        return None
    return frozenset({(key, pattern)})


def _trie(leaves: list[tuple[str, str]]) -> str:
    """One pattern for (letters, leaf pattern) pairs: shared letters are matched once."""
    here = [leaf for letters, leaf in leaves if not letters]
    children: dict[str, list[tuple[str, str]]] = {}
    for letters, leaf in leaves:
        if letters:
            children.setdefault(letters[0], []).append((letters[1:], leaf))
    here.extend(f"{char}{_trie(sub)}" for char, sub in children.items())
    return here[0] if len(here) == 1 else f"(?:{'|'.join(here)})"


def _openings(alternative: str) -> tuple[list[tuple[str, str]], str]:
    """The look-behinds an alternative opens with, as (kind, body), and the rest; leading
    word boundaries are dropped (the scan only stops at word starts)."""
    lookbehinds: list[tuple[str, str]] = []
    rest = alternative
    while True:
        rest = rest.removeprefix("\\b")
        found = _LOOKBEHIND.match(rest)
        if not found:
            return lookbehinds, rest
        lookbehinds.append((found[1], found[2]))
        rest = rest[found.end() :]


_OPAQUE = re.compile(r"\[[^\]]*\][*+?]?|\\.[*+?]?")  # classes and escapes, quantified or not
_LETTERS = re.compile(r"[a-z]{3,}(?![*+?{])")


def _needle(source: str) -> str | None:
    """A word that any text matched by ``source`` contains, when a plain one shows."""
    if "(" in source or "|" in source:
        return None
    return max(_LETTERS.findall(_OPAQUE.sub(" ", source)), key=len, default=None)


def needles(alternatives: Sequence[str]) -> tuple[str, ...] | None:
    """For each alternative, a word any text it matches contains (a substring test is far
    cheaper than the pattern); None when one of them shows no such word."""
    found = [_needle(_openings(alternative)[1]) for alternative in alternatives]
    words = tuple(word for word in found if word is not None)
    return words if len(words) == len(found) else None


@dataclass(frozen=True, slots=True)
class RuleTable:
    """Rules compiled for one scan (see the module docstring)."""

    keyed: re.Pattern[str]
    rule_of: tuple[int, ...]  # the rule number of each of keyed's marker groups
    unkeyed: tuple[tuple[str | None, int, re.Pattern[str]], ...]  # (needed word, rule, ...)
    size: int

    @classmethod
    def compile(cls, rules: Sequence[Sequence[str]]) -> RuleTable:
        """A table of ``rules``, each a sequence of alternatives; rule 0 comes first."""
        leaves: list[tuple[str, str]] = []
        numbers: list[int] = []
        unkeyed = []
        for number, alternatives in enumerate(rules):
            for alternative in alternatives:
                lookbehinds, rest = _openings(alternative)
                expansions = _expand(rest)
                if expansions is None:
                    pattern = re.compile(rf"\b(?:{alternative})")
                    unkeyed.append((_needle(rest), number, pattern))
                    continue
                for letters, after in sorted(expansions):
                    behind = "".join(f"(?<{kind}{body}{letters})" for kind, body in lookbehinds)
                    # An empty group marks the leaf: far cheaper than capturing the match.
                    leaves.append((letters, f"{behind}(?:{after})(?P<g{len(numbers)}>)"))
                    numbers.append(number)
        keyed = re.compile(rf"\b(?={_trie(leaves)})")
        rule_of = [len(rules)] * (keyed.groups + 1)
        for name, group in keyed.groupindex.items():
            rule_of[group] = numbers[int(name[1:])]
        return cls(keyed, tuple(rule_of), tuple(unkeyed), len(rules))

    def first(self, text: str) -> int | None:
        """The number of the first rule that matches anywhere in ``text``."""
        rule_of = self.rule_of
        matches = self.keyed.finditer(text)
        best = min((rule_of[m.lastindex or 0] for m in matches), default=self.size)
        for needle, number, pattern in self.unkeyed:
            if number < best and (needle is None or needle in text) and pattern.search(text):
                best = number
        return best if best < self.size else None
