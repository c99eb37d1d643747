"""Verdicts reused across check cycles when nothing they depend on changed.

In steady state almost no answer changes between two cycles, yet every domain's checks ran
again. A domain's report is a pure function of its target's inputs, the answers to the
questions its checks asked, and the code; `VerdictMemo` keeps, per domain, a digest of all
three with the report, plus the questions asked after the first ones (so the next cycle can
ask them all at once). The next cycle still asks every question (the memo saves evaluation,
not DNS): when the digest of the new answers matches, the old report is reused as is.

Only digests and the question names are kept, never answers: the report itself is the one
the last cycle already published, so reusing it costs no memory. When every answer was
read from one datagram, the memo also keeps a digest of their fingerprints
(`DnsClient.fingerprint`: a datagram's bytes but for id and TTLs) and 16 bits of each. The
next cycle asks with those (`DnsClient.request`'s ``expect``), datagrams that match them
are kept unread, and when the fingerprints digest as last time none is read nor its answer
digested: they are last cycle's datagrams. When one does not (a changed record, an RRset
in another order), the answers are read and digested as before.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Collection, Iterable
from typing import NamedTuple

from exporter import __version__
from exporter.checks.domain import checked_name
from exporter.model import Answer, DomainReport, DomainTarget
from exporter.sources.dns_wire import hint

__all__ = ["CODE_VERSION", "MemoEntry", "VerdictMemo"]

# What a verdict depends on besides answers and target: the checks' code. A memo lives in
# one process, so the package version guards the rest (a memo handed to other code).
CODE_VERSION = f"{__version__}/memo-3"
_WORD = struct.Struct("q")  # a digest: Python's hash, 64 bits
_DIGEST_SIZE = _WORD.size
_HINT = struct.Struct("H")  # `dns_wire.hint`
_SEPARATOR = "\n"  # between question names: DNS names the checks ask never contain it
_MARKERS = "\x00\x01\x02\x03"  # in templates of later questions; never in a DNS name asked
_RAW = "\x03"  # a template kept verbatim


Fingerprint = Callable[[str, str], int]


class MemoEntry(NamedTuple):
    """One domain's last evaluation: the digest, what it asked after the first questions
    (``"name rdtype"`` lines), and its report. ``digest``: 8 bytes, then, when every
    answer has a fingerprint, 8 bytes of a hash of the code version, the target inputs and
    the fingerprints, and each fingerprint's hint in the order `expected` gives: one
    object, not three, since a memo of 100,000 domains holds one per domain."""

    digest: bytes
    later_questions: str
    report: DomainReport


class VerdictMemo:
    """Reports of the last cycle keyed by domain name, reused when their digest matches.

    Not thread-safe: one cycle at a time uses it (the daemon runs its cycles one by one).
    """

    __slots__ = ("_entries", "_templates", "hits", "misses", "version")

    def __init__(self, version: str = CODE_VERSION) -> None:
        self.version = version
        self._entries: dict[str, MemoEntry] = {}
        self._templates: dict[str, str] = {}  # the distinct later-question templates
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def later_questions(self, target: DomainTarget) -> list[tuple[str, str]] | None:
        """The questions ``target``'s last evaluation asked after its first ones, or None
        when there is no entry to try."""
        entry = self._entries.get(target.name)
        if entry is None:
            return None
        if not entry.later_questions:
            return []
        lines = _expand(entry.later_questions, target).split(_SEPARATOR)
        return [_question(line) for line in lines]

    def expected(self, target: DomainTarget) -> tuple[int, ...]:
        """The hints of the fingerprints of the answers ``target``'s last evaluation read,
        in the order of its first questions followed by `later_questions`; () for none."""
        entry = self._entries.get(target.name)
        if entry is None:
            return ()
        hints = entry.digest[_DIGEST_SIZE + _WORD.size :]
        return tuple(item for (item,) in _HINT.iter_unpack(hints))

    def reuse(
        self,
        target: DomainTarget,
        questions: Collection[tuple[str, str]],
        get: Callable[[str, str], Answer | None],
        *,
        fingerprint: Fingerprint | None = None,
    ) -> DomainReport | None:
        """The memorized report when ``questions``' answers (``get``) and ``target`` are
        those it was made from; otherwise None, and the entry is dropped (the evaluation
        that follows stores a new one with the questions it really asks). Answers whose
        datagrams all have their expected ``fingerprint`` are not even read."""
        entry = self._entries.pop(target.name, None)
        if entry is None:
            return None
        if fingerprint is not None and self._same_datagrams(entry, target, questions, fingerprint):
            self._entries[target.name] = entry
            self.hits += 1
            return entry.report
        digest = self.digest(target, questions, get)
        if digest is not None and digest == entry.digest[:_DIGEST_SIZE]:
            if fingerprint is not None:  # other datagrams, the same answers: theirs next
                digest += self._fingerprints(target, questions, fingerprint)
                entry = entry._replace(digest=digest)
            self._entries[target.name] = entry
            self.hits += 1
            return entry.report
        self.misses += 1
        return None

    def store(
        self,
        target: DomainTarget,
        first: list[tuple[str, str]],
        later: list[tuple[str, str]],
        get: Callable[[str, str], Answer | None],
        report: DomainReport,
        *,
        fingerprint: Fingerprint | None = None,
    ) -> None:
        """Remember ``report``, made from the answers to the ``first`` questions (what
        `first_questions` gives, in its order) and the ``later`` ones its checks read,
        with their datagrams' ``fingerprint``."""
        template, later = _template(target, later)
        questions = [*first, *later]
        digest = self.digest(target, questions, get)
        if digest is None:
            self._entries.pop(target.name, None)
            return
        if fingerprint is not None:
            digest += self._fingerprints(target, questions, fingerprint)
        # Most domains ask the same later questions up to their own names and DKIM tokens
        # (amazonses.com's SPF, their keys at <token>.dkim.amazonses.com): one shared string.
        template = self._templates.setdefault(template, template)
        self._entries[target.name] = MemoEntry(digest, template, report)

    def _fingerprints(
        self,
        target: DomainTarget,
        questions: Collection[tuple[str, str]],
        fingerprint: Fingerprint,
    ) -> bytes:
        """What follows the digest of an entry: the fingerprints' hash and hints, when every
        answer has a fingerprint (answers all read: `digest` just read them); else b""."""
        same, fingerprints = self._same(target, questions, fingerprint)
        if not same:
            return b""
        return _WORD.pack(same) + struct.pack(f"{len(fingerprints)}H", *map(hint, fingerprints))

    def _same_datagrams(
        self,
        entry: MemoEntry,
        target: DomainTarget,
        questions: Collection[tuple[str, str]],
        fingerprint: Fingerprint,
    ) -> bool:
        """Whether every answer came in a datagram with the fingerprint of the one the
        entry was made from (all read then), for the same code and target inputs."""
        if len(entry.digest) == _DIGEST_SIZE:
            return False
        same = self._same(target, questions, fingerprint)[0]
        return bool(same) and same == _WORD.unpack_from(entry.digest, _DIGEST_SIZE)[0]

    def _same(
        self,
        target: DomainTarget,
        questions: Collection[tuple[str, str]],
        fingerprint: Fingerprint,
    ) -> tuple[int, list[int]]:
        """Python's hash of the code version, the target inputs and every answer's
        fingerprint, never 0, and the fingerprints; 0 when an answer has none (the list
        then stops there) or the inputs do not hash (a field of a type a target should
        not have)."""
        fingerprints: list[int] = []
        for name, rdtype in questions:
            known = fingerprint(name, rdtype)
            if not known:
                return 0, fingerprints
            fingerprints.append(known)
        try:
            return hash((self.version, target.inputs(), tuple(fingerprints))) or 1, fingerprints
        except TypeError:
            return 0, fingerprints

    def memory_bytes(self) -> int:
        """What the memo itself holds (sys.getsizeof): the dict, each entry's tuple, digest
        and question names; not the reports, which the published snapshot holds anyway,
        nor the domain names, which the targets hold."""
        entries = sys.getsizeof(self._entries) + sum(
            sys.getsizeof(entry) + sys.getsizeof(entry.digest) for entry in self._entries.values()
        )
        templates = sys.getsizeof(self._templates) + sum(map(sys.getsizeof, self._templates))
        return entries + templates

    def retain(self, names: Iterable[str]) -> None:
        """Drop the entries of domains no longer checked, so the memo tracks the targets."""
        keep = set(names)
        for name in [name for name in self._entries if name not in keep]:
            del self._entries[name]
        self._templates = {
            entry.later_questions: entry.later_questions for entry in self._entries.values()
        }

    def digest(
        self,
        target: DomainTarget,
        questions: Iterable[tuple[str, str]],
        get: Callable[[str, str], Answer | None],
    ) -> bytes | None:
        """8 bytes of Python's hash (keyed per process: the memo lives in one) of the code
        version, every target input (`DomainTarget.inputs`), and each question with its
        whole answer; None when an answer is missing."""
        answers: list[tuple[str, str, str, tuple[str, ...], str, tuple[str, ...], str]] = []
        for name, rdtype in questions:
            answer = get(name, rdtype)
            if answer is None:
                return None
            answers.append(
                (
                    name,
                    rdtype,
                    answer.kind,
                    answer.records,
                    answer.error,
                    answer.cname_chain,
                    answer.canonical_name,
                )
            )
        inputs = (self.version, target.inputs(), tuple(answers))
        try:
            value = hash(inputs)
        except TypeError:  # a target field of a type that does not hash: its repr
            value = hash(repr(inputs))
        return _WORD.pack(value)


def _names(target: DomainTarget) -> list[tuple[str, str]]:
    """The target's own names and their markers in a template: DKIM tokens first (the
    longest), then the MAIL FROM domain, then the domain, which it often ends with."""
    tokens = dict.fromkeys(token.lower() for token in target.dkim_tokens if token)
    names = [(token, f"\x00{i}\x00") for i, token in enumerate(tokens)]
    if target.mail_from:
        names.append((target.mail_from.lower().removesuffix("."), "\x02"))
    names.append((checked_name(target), "\x01"))
    return [(name, marker) for name, marker in names if name]


def _template(
    target: DomainTarget, questions: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]]:
    """``questions`` as ``"name rdtype"`` lines with the target's own names replaced by
    markers, sorted, one string; kept verbatim (behind _RAW) if a line or name holds a marker
    character already. Undoing the replacements in reverse order gives back exactly the lines
    (`_expand`): the questions come back too, in the order the template's expansion has."""
    if not questions:
        return "", []
    lines = [f"{name} {rdtype}" for name, rdtype in questions]
    names = _names(target)
    text = _SEPARATOR.join([*lines, *(name for name, _ in names)])
    if any(char in text for char in _MARKERS):
        ordered = sorted(zip(lines, questions, strict=True))
        return _RAW + _SEPARATOR.join(line for line, _ in ordered), [q for _, q in ordered]
    templated = []
    for line, question in zip(lines, questions, strict=True):
        for name, marker in names:
            line = line.replace(name, marker)  # noqa: PLW2901 - one line, rewritten
        templated.append((line, question))
    templated.sort()
    return _SEPARATOR.join(line for line, _ in templated), [q for _, q in templated]


def _expand(template: str, target: DomainTarget) -> str:
    if template.startswith(_RAW):
        return template[len(_RAW) :]
    for name, marker in reversed(_names(target)):  # undone in the reverse order
        template = template.replace(marker, name)
    return template


def _question(line: str) -> tuple[str, str]:
    """A ``"name rdtype"`` line back as a question."""
    name, _, rdtype = line.rpartition(" ")
    return name, rdtype
