"""One DNS check cycle: the pure checks driven by the DNS adapter, many domains at once.

The checks ask for records through a view; whatever they asked for and did not get is
fetched concurrently and the checks that are not final yet run again, until they ask for
nothing new. The adapter's per-cycle cache makes every distinct question cost one query.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Protocol, cast

from exporter.checks.domain import (
    PartResult,
    assemble,
    checked_name,
    domain_parts,
    first_questions,
)
from exporter.jobs.verdict_cache import VerdictMemo
from exporter.model import (
    Answer,
    AnswerKind,
    CheckResult,
    CheckResultKey,
    DomainReport,
    DomainTarget,
)

__all__ = ["CycleClient", "DnsCycleResult", "VerdictMemo", "check_domain", "check_domains"]

MAX_ROUNDS = 16  # SPF's 10-lookup limit bounds the rounds well below this
_FREEZE_EVERY = 1024  # finished domains between two gc.freeze() calls
_YOUNG_OBJECTS = 20_000  # allocations between two collections of the youngest generation
# A domain's standing with the cycle's memo: none, trying its last report, or not stored
# (its evaluation followed a memo miss, or ran out of rounds).
_MEMO_NONE, _MEMO_TRY, _MEMO_SKIP = 0, 1, 2


class CycleClient(Protocol):
    """What a cycle needs of its DNS client (`exporter.sources.dns.DnsClient`): answers
    known so far, requests with a callback, and its totals. A protocol, not the class, so
    the compiled cycle takes any client with these (the tests' table-backed one)."""

    queries_sent: int
    responses: int

    def get(self, name: str, rdtype: str) -> Answer | None: ...

    def fingerprint(self, name: str, rdtype: str) -> int:
        """Of the datagram the answer was read from; 0 for none (see `DnsClient`)."""

    def request(
        self, name: str, rdtype: str, waiter: Callable[[Answer | None], None], *, expect: int = 0
    ) -> Answer | None:
        """The answer when known; else None, and ``waiter`` is called once it is."""

    def forget(self, keys: Iterable[tuple[str, str]]) -> None: ...

    async def aclose(self) -> None: ...


class _RecordingView:
    """The checks' view of the cycle's answers; remembers every question still missing,
    and counts the misses (two parts may miss the same question). With a verdict memo it
    also records every question read: an answer another domain fetched is read from the
    cache without being asked, and the verdict depends on it all the same."""

    __slots__ = ("_get", "_reads", "misses", "missing")

    def __init__(
        self, client: CycleClient, reads: dict[tuple[str, str], None] | None = None
    ) -> None:
        self._get = client.get
        self._reads = reads
        self.missing: set[tuple[str, str]] = set()
        self.misses = 0

    def get(self, name: str, rdtype: str) -> Answer | None:
        answer = self._get(name, rdtype)
        if self._reads is not None:
            self._reads[name, rdtype] = None
        if answer is None:
            self.missing.add((name, rdtype))
            self.misses += 1
        return answer


class _DomainRun:
    """One domain in progress: its parts' results so far, the questions it asked and how
    many answers it waits for."""

    __slots__ = (
        "asked",
        "cycle",
        "domain",
        "first",
        "index",
        "memo",
        "parts",
        "reads",
        "results",
        "rounds",
        "target",
        "waiting",
    )

    def __init__(self, cycle: _Cycle, index: int, target: DomainTarget) -> None:
        self.cycle = cycle
        self.index = index
        self.target = target
        self.domain = checked_name(target)
        self.parts = domain_parts(target)
        self.results: list[PartResult | None] = [None] * len(self.parts)
        self.asked: dict[tuple[str, str], None] = {}  # in asking order: the memo's key
        self.rounds = 0
        self.waiting = 0
        self.first = 0  # how many of `asked` are `first_questions`
        self.memo = _MEMO_NONE
        self.reads: dict[tuple[str, str], None] | None = None  # with a memo: all read

    def answered(self, _answer: Answer | None) -> None:
        self.waiting -= 1
        if not self.waiting:
            self.cycle.resume(self)


class _Cycle:
    """Runs the checks of many domains on one event loop without a task per domain.

    A domain's first questions are asked without evaluating anything
    (`exporter.checks.domain.first_questions`). Then, each time every answer it waits for
    is in (`DnsClient.request` calls back), the parts of its checks that are not final
    yet run again (`exporter.checks.domain.domain_parts`): a part that found every answer
    it read is final, so most run once; the report is assembled when all are final.
    Up to ``workers`` domains are in progress.

    With a ``memo``, a domain it has an entry for asks its first questions and the ones its
    last evaluation asked later, all at once; if the answers digest as last time, the last
    report is reused without evaluating (`exporter.jobs.verdict_cache`).
    """

    def __init__(
        self,
        client: CycleClient,
        targets: list[DomainTarget],
        workers: int,
        memo: VerdictMemo | None = None,
    ) -> None:
        self._client = client
        self._memo = memo
        self._targets = iter(enumerate(targets))
        self._workers = max(1, workers)
        self._active = 0
        self._done = 0
        # How many domains in progress asked each question: an answer is dropped from the
        # cycle's cache only when the last of them is done (domains share DKIM tokens, and
        # a subdomain reads its organizational domain's _dmarc record).
        self._interest: dict[tuple[str, str], int] = {}
        # Each distinct summary text once, the domain's name left out: 100,000 reports
        # would otherwise hold 800,000 summaries that differ only in that name.
        self._texts: dict[str, str] = {}
        self._results: dict[CheckResultKey, CheckResult] = {}  # one per verdict shape
        self.reports: list[DomainReport | None] = [None] * len(targets)
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def run(self) -> list[DomainReport | None]:
        """Check every target. The cyclic GC would rescan every finished report at each full
        collection (a tenth of a cycle's CPU at 10,000 domains) though a cycle makes almost
        no reference cycles: what exists is frozen at the start and every _FREEZE_EVERY
        domains, and handed back to the collector at the end. For the same reason the
        youngest generation is collected after _YOUNG_OBJECTS allocations instead of
        Python's 700 while a cycle runs (7 % of a cold cycle's CPU): garbage without
        cycles goes as soon as it is garbage, whatever the threshold."""
        gc.freeze()
        saved = gc.get_threshold()
        # Not when a cycle running already raised them (it restores them), nor when the
        # collector is off (a threshold of 0)
        raised = 0 < saved[0] < _YOUNG_OBJECTS
        if raised:
            gc.set_threshold(_YOUNG_OBJECTS, *saved[1:])
        try:
            self._guarded(None)
            await self.finished
        finally:
            if raised:
                gc.set_threshold(*saved)
            gc.unfreeze()
        return self.reports

    def resume(self, run: _DomainRun) -> None:
        self._guarded(run)

    def _guarded(self, run: _DomainRun | None) -> None:
        """Advance ``run`` and start new domains; a bug ends the cycle, never hangs it."""
        if self.finished.done():
            return  # cancelled: answers still arriving are ignored
        try:
            if run is not None:
                self._advance(run)
            while self._active < self._workers:
                item = next(self._targets, None)
                if item is None:
                    break
                self._active += 1
                self._start(_DomainRun(self, *item))
            if not self._active:
                self.finished.set_result(None)
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            self.finished.set_exception(exc)

    def _start(self, run: _DomainRun) -> None:
        """Ask the first questions; evaluate once they are in (at once if all known)."""
        run.rounds = 1
        questions = first_questions(run.target)
        run.first = len(questions)
        expected: tuple[int, ...] = ()
        if self._memo is not None:
            run.reads = {}
            later = self._memo.later_questions(run.target)
            if later is not None:
                run.memo = _MEMO_TRY
                questions += later
                expected = self._memo.expected(run.target)
        if not self._ask(run, questions, expected):
            self._advance(run)

    def _ask(
        self,
        run: _DomainRun,
        questions: Collection[tuple[str, str]],
        expected: tuple[int, ...] = (),
    ) -> bool:
        """Request ``questions``, each with the hint ``expected`` of its answer's
        fingerprint if they pair up; True when some answers are still to come."""
        client, answered = self._client, run.answered
        new = [q for q in dict.fromkeys(questions) if q not in run.asked]
        run.asked.update(dict.fromkeys(new))
        interest = self._interest
        for key in new:  # a loop of the compiled build, not Counter's Python-level methods
            interest[key] = interest.get(key, 0) + 1
        # One hint per question (the memo's last evaluation), else none
        hints = expected if len(expected) == len(questions) else repeat(0)
        waiting = 0
        for (name, rdtype), expect in zip(questions, hints, strict=False):  # repeat: endless
            if client.request(name, rdtype, answered, expect=expect) is None:
                waiting += 1
        run.waiting = waiting
        return waiting > 0

    def _advance(self, run: _DomainRun) -> None:
        """Run the parts not final yet, until they ask for something not known, or are done."""
        client, target, domain = self._client, run.target, run.domain
        parts, results = run.parts, run.results
        if run.memo == _MEMO_TRY and self._reused(run):
            return
        while True:
            view: _RecordingView | _Exhausted
            view = (
                _RecordingView(client, run.reads) if run.rounds < MAX_ROUNDS else _Exhausted(client)
            )
            for i, part in enumerate(parts):
                if results[i] is None:
                    misses = view.misses
                    result = part(domain, target, view)
                    if view.misses == misses:  # read only answers: final
                        results[i] = result
            if not view.missing:
                break
            if any(key not in run.asked for key in view.missing):  # else asked again only:
                run.rounds += 1  # a datagram kept unread that did not answer (DnsClient)
            if self._ask(run, view.missing):
                return
        report = assemble(  # all final
            target, cast("list[PartResult]", results), self._texts, self._results
        )
        if run.reads is not None and run.memo == _MEMO_NONE and run.rounds < MAX_ROUNDS:
            self._remember(run, run.reads, report)
        self._finish(run, report)

    def _reused(self, run: _DomainRun) -> bool:
        """Finish ``run`` with its memorized report if its answers are those it was made
        from; otherwise it evaluates, and stores nothing (some questions it asked may be
        ones it no longer needs)."""
        assert self._memo is not None  # noqa: S101 - only a memo sets _MEMO_TRY
        client = self._client
        reused = self._memo.reuse(run.target, run.asked, client.get, fingerprint=client.fingerprint)
        if reused is None:
            run.memo = _MEMO_SKIP
            return False
        self._finish(run, reused)
        return True

    def _remember(
        self, run: _DomainRun, reads: dict[tuple[str, str], None], report: DomainReport
    ) -> None:
        """Store the report with every question its checks read (not only those asked)."""
        assert self._memo is not None  # noqa: S101 - reads are recorded for a memo
        first = list(run.asked)[: run.first]
        later = [q for q in reads if q not in first]  # a dozen: a list will do
        client = self._client
        self._memo.store(
            run.target, first, later, client.get, report, fingerprint=client.fingerprint
        )

    def _finish(self, run: _DomainRun, report: DomainReport) -> None:
        """Hand the report over; drop what only this domain asked once no one else waits."""
        client, target = self._client, run.target
        self.reports[run.index] = report
        self._active -= 1
        self._done += 1
        if not self._done % _FREEZE_EVERY:
            gc.freeze()
        interest = self._interest
        unasked = []
        for key in run.asked:  # each counted once by _ask
            left = interest[key] - 1
            if left:
                interest[key] = left
            else:
                del interest[key]
                unasked.append(key)
        client.forget(key for key in unasked if _private_to(key[0], target))


async def check_domain(client: CycleClient, target: DomainTarget) -> DomainReport:
    """Run the pure checks, fetching whatever they ask for, until they ask for nothing new."""
    (report,) = await _Cycle(client, [target], 1).run()
    assert report is not None  # noqa: S101 - a finished cycle has every report
    return report


def _private_to(name: str, target: DomainTarget) -> bool:
    """Names only this domain asks about: its own tree and its DKIM key records. Dropping
    them once the domain is done keeps a cycle's memory flat in the number of domains;
    shared names (amazonses.com, organizational _dmarc records, vendors' includes) stay."""
    if name == target.name or name.endswith("." + target.name):
        return True
    return any(name.startswith(token + ".") for token in target.dkim_tokens)


class _Exhausted:
    """A view that reports still-missing questions as errors once MAX_ROUNDS is spent."""

    missing: frozenset[tuple[str, str]] = frozenset()
    misses = 0

    def __init__(self, client: CycleClient) -> None:
        self._client = client

    def get(self, name: str, rdtype: str) -> Answer | None:
        return self._client.get(name, rdtype) or Answer(AnswerKind.ERROR, error="too_many_rounds")


@dataclass(frozen=True, slots=True)
class DnsCycleResult:
    """One completed check cycle: the reports, and whether DNS answered at all."""

    reports: tuple[DomainReport, ...]
    started: float
    duration_seconds: float
    queries_sent: int
    responses: int

    @property
    def resolver_reachable(self) -> bool:
        """False when questions went out and none came back: the resolver itself is down."""
        return self.responses > 0 or self.queries_sent == 0


async def check_domains(
    targets: Iterable[DomainTarget],
    client: CycleClient,
    *,
    workers: int = 64,
    stop: threading.Event | None = None,
    memo: VerdictMemo | None = None,
) -> DnsCycleResult:
    """Check every target with a bounded pool of workers; ``stop`` cancels the cycle.

    The cycle runs in this process: more cores are put to work by sharding the domains
    across processes or pods (``cluster.shard_count``, docs/scaling.md), not by a cycle.
    ``memo``, kept by the caller from one cycle to the next, lets a domain whose answers
    and inputs did not change reuse its last report.
    """
    started, t0 = time.time(), time.monotonic()
    targets = list(targets)
    if memo is not None:
        memo.retain(target.name for target in targets)
    cycle = asyncio.ensure_future(_Cycle(client, targets, workers, memo=memo).run())
    watcher = asyncio.create_task(_cancel_on_stop(stop, cycle)) if stop is not None else None
    try:
        reports = await cycle
    finally:
        if watcher is not None:
            watcher.cancel()
        cycle.cancel()
        await client.aclose()  # a client lives for one cycle
    return DnsCycleResult(
        reports=tuple(r for r in reports if r is not None),
        started=started,
        duration_seconds=time.monotonic() - t0,
        queries_sent=client.queries_sent,
        responses=client.responses,
    )


async def _cancel_on_stop(stop: threading.Event, cycle: asyncio.Future[Any]) -> None:
    # A threading.Event set by a signal handler cannot be awaited: poll it.
    while not stop.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    cycle.cancel()
