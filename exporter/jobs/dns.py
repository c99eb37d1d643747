"""One DNS check cycle: the pure checks driven by the DNS adapter, many domains at once.

The checks ask for records through a view; whatever they asked for and did not get is
fetched concurrently and the checks that are not final yet run again, until they ask for
nothing new. The adapter's per-cycle cache makes every distinct question cost one query.
"""

from __future__ import annotations

import asyncio
import gc
import marshal
import pickle
import signal
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, fields
from typing import Any, BinaryIO, cast

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
    DomainReport,
    DomainTarget,
    RecordAction,
    RecordChange,
    Status,
)
from exporter.sources.dns import DnsClient

__all__ = ["DnsCycleResult", "VerdictMemo", "check_domain", "check_domains"]

MAX_ROUNDS = 16  # SPF's 10-lookup limit bounds the rounds well below this
_FREEZE_EVERY = 1024  # finished domains between two gc.freeze() calls
_FRAME = struct.Struct("!I")  # the length before each marshal frame from a worker
_BATCH = 512  # reports per frame
_STATUS = {status.value: status for status in Status}
# A domain's standing with the cycle's memo: none, trying its last report, or not stored
# (its evaluation followed a memo miss, or ran out of rounds).
_MEMO_NONE, _MEMO_TRY, _MEMO_SKIP = 0, 1, 2


class _RecordingView:
    """The checks' view of the cycle's answers; remembers every question still missing,
    and counts the misses (two parts may miss the same question). With a verdict memo it
    also records every question read: an answer another domain fetched is read from the
    cache without being asked, and the verdict depends on it all the same."""

    __slots__ = ("_get", "_reads", "misses", "missing")

    def __init__(self, client: DnsClient, reads: dict[tuple[str, str], None] | None = None) -> None:
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

    def answered(self, _answer: Answer) -> None:
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
        client: DnsClient,
        targets: list[DomainTarget],
        workers: int,
        on_report: Callable[[int, DomainReport], None] | None = None,
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
        self._interest: Counter[tuple[str, str]] = Counter()
        self.reports: list[DomainReport | None] = [None] * (0 if on_report else len(targets))
        self._on_report = on_report or self.reports.__setitem__
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def run(self) -> list[DomainReport | None]:
        """Check every target. The cyclic GC would rescan every finished report at each full
        collection (a tenth of a cycle's CPU at 10,000 domains) though a cycle makes almost
        no reference cycles: what exists is frozen at the start and every _FREEZE_EVERY
        domains, and handed back to the collector at the end."""
        gc.freeze()
        try:
            self._guarded(None)
            await self.finished
        finally:
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
        if self._memo is not None:
            run.reads = {}
            later = self._memo.later_questions(run.target)
            if later is not None:
                run.memo = _MEMO_TRY
                questions += later
        if not self._ask(run, questions):
            self._advance(run)

    def _ask(self, run: _DomainRun, questions: Collection[tuple[str, str]]) -> bool:
        """Request ``questions``; True when some answers are still to come."""
        client, answered = self._client, run.answered
        new = [q for q in dict.fromkeys(questions) if q not in run.asked]
        run.asked.update(dict.fromkeys(new))
        self._interest.update(new)
        waiting = 0
        for name, rdtype in questions:
            if client.request(name, rdtype, answered) is None:
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
            run.rounds += 1
            if self._ask(run, view.missing):
                return
        report = assemble(target, cast("list[PartResult]", results))  # all final now
        if run.reads is not None and run.memo == _MEMO_NONE and run.rounds < MAX_ROUNDS:
            self._remember(run, run.reads, report)
        self._finish(run, report)

    def _reused(self, run: _DomainRun) -> bool:
        """Finish ``run`` with its memorized report if its answers are those it was made
        from; otherwise it evaluates, and stores nothing (some questions it asked may be
        ones it no longer needs)."""
        assert self._memo is not None  # noqa: S101 - only a memo sets _MEMO_TRY
        reused = self._memo.reuse(run.target, run.asked, self._client.get)
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
        self._memo.store(run.target, first, later, self._client.get, report)

    def _finish(self, run: _DomainRun, report: DomainReport) -> None:
        """Hand the report over; drop what only this domain asked once no one else waits."""
        client, target = self._client, run.target
        self._on_report(run.index, report)
        self._active -= 1
        self._done += 1
        if not self._done % _FREEZE_EVERY:
            gc.freeze()
        interest = self._interest
        interest.subtract(run.asked.keys())  # counted once each, not as a mapping
        unasked = [key for key in run.asked if interest[key] <= 0]
        for key in unasked:
            del interest[key]
        client.forget(key for key in unasked if _private_to(key[0], target))


async def check_domain(client: DnsClient, target: DomainTarget) -> DomainReport:
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

    def __init__(self, client: DnsClient) -> None:
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
    client: DnsClient,
    *,
    workers: int = 64,
    stop: threading.Event | None = None,
    processes: int = 1,
    memo: VerdictMemo | None = None,
) -> DnsCycleResult:
    """Check every target with a bounded pool of workers; ``stop`` cancels the cycle.

    ``processes`` > 1 splits the domains across that many processes (this one and
    workers started for the cycle), each with its share of the client's concurrency and
    query rate: the checks are CPU-bound Python, one interpreter runs them on one core.
    It pays only with an idle core per process, and each worker adds its own memory
    (bench/README.md, DNS check cycle), so it is not the default.

    ``memo``, kept by the caller from one cycle to the next, lets a domain whose answers
    and inputs did not change reuse its last report; it serves only a cycle run in this
    process (the split hands its domains to fresh processes).
    """
    started, t0 = time.time(), time.monotonic()
    targets = list(targets)
    parts = _parts(processes, len(targets))
    options = client.worker_options(parts) if parts > 1 else None
    if options is None:
        if memo is not None:
            memo.retain(target.name for target in targets)
        cycle = asyncio.ensure_future(_Cycle(client, targets, workers, memo=memo).run())
    else:
        cycle = asyncio.ensure_future(_split(targets, client, options, workers, parts))
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


def _parts(processes: int, domains: int) -> int:
    return max(1, min(processes, domains))


async def _split(
    targets: list[DomainTarget],
    client: DnsClient,
    options: dict[str, Any],
    workers: int,
    parts: int,
) -> list[DomainReport | None]:
    """Domain i goes to part i % parts: part 0 runs here, the others in worker processes
    (`_worker_main`) that stream their reports back while this one checks its own."""
    reports: list[DomainReport | None] = [None] * len(targets)
    shards = [range(part, len(targets), parts) for part in range(parts)]
    share = max(1, workers // parts)
    processes = []
    try:
        for shard in shards[1:]:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from exporter.jobs.dns import _worker_main; _worker_main()",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            processes.append(process)
            assert process.stdin is not None  # noqa: S101 - PIPE
            work = (options, [_fields(targets[i]) for i in shard], share)
            process.stdin.write(pickle.dumps(work, pickle.HIGHEST_PROTOCOL))
            process.stdin.close()  # flushed by the transport in the background
        local = DnsClient(**options)
        here = _Cycle(local, [targets[i] for i in shards[0]], share, _placer(reports, shards[0]))
        try:
            async with asyncio.TaskGroup() as group:  # a failed part cancels the others
                group.create_task(here.run())
                for process, shard in zip(processes, shards[1:], strict=True):
                    group.create_task(_collect(process, reports, shard, client))
        finally:
            await local.aclose()
        client.absorb(local.queries_sent, local.responses, local.stats.snapshot())
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()
    return reports


def _placer(
    reports: list[DomainReport | None], shard: range
) -> Callable[[int, DomainReport], None]:
    def place(index: int, report: DomainReport) -> None:
        reports[shard[index]] = report

    return place


async def _collect(
    process: asyncio.subprocess.Process,
    reports: list[DomainReport | None],
    shard: range,
    client: DnsClient,
) -> None:
    """Read one worker's frames: batches of packed reports, then its client's totals."""
    assert process.stdout is not None  # noqa: S101 - PIPE
    assert process.stderr is not None  # noqa: S101 - PIPE
    try:
        while True:
            (size,) = _FRAME.unpack(await process.stdout.readexactly(_FRAME.size))
            frame = marshal.loads(await process.stdout.readexactly(size))  # noqa: S302 - our own worker
            if frame[0] == "totals":
                client.absorb(frame[1], frame[2], {(t, o): n for t, o, n in frame[3]})
                break
            for packed in frame[1]:
                reports[shard[packed[0]]] = _unpack(packed)
    except asyncio.IncompleteReadError:
        error = (await process.stderr.read()).decode(errors="replace")
        raise RuntimeError(f"DNS worker process failed: {error[-2000:]}") from None
    await process.wait()


def _worker_main() -> None:
    """A worker process of `_split`: pickled (client options, targets, workers) on stdin;
    length-prefixed marshal frames on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it (kill) on shutdown
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    options, fields, workers = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our parent
    targets = [DomainTarget(*values) for values in fields]
    asyncio.run(_worker_cycle(options, targets, workers, sys.stdout.buffer))


def _fields(target: DomainTarget) -> tuple[Any, ...]:
    """A target as the plain tuple of its fields: a frozen dataclass compiled with mypyc
    cannot be unpickled (its __setstate__ would have to assign frozen fields)."""
    return tuple(getattr(target, field.name) for field in fields(target))


async def _worker_cycle(
    options: dict[str, Any], targets: list[DomainTarget], workers: int, out: BinaryIO
) -> None:
    batch: list[tuple[Any, ...]] = []

    def emit(frame: tuple[Any, ...]) -> None:
        data = marshal.dumps(frame)
        out.write(_FRAME.pack(len(data)) + data)

    def report(index: int, report: DomainReport) -> None:
        batch.append(_pack(index, report))
        if len(batch) >= _BATCH:
            emit(("reports", batch))
            batch.clear()

    client = DnsClient(**options)
    try:
        await _Cycle(client, targets, workers, report).run()
    finally:
        await client.aclose()
    emit(("reports", batch))
    counts = [(rdtype, outcome, n) for (rdtype, outcome), n in client.stats.snapshot().items()]
    emit(("totals", client.queries_sent, client.responses, counts))
    out.flush()


def _pack(index: int, report: DomainReport) -> tuple[Any, ...]:
    """A report as plain tuples of str/int/None: what marshal carries fastest."""
    checks = tuple(
        (
            c.check,
            c.status.value,
            c.summary,
            c.remedy,
            tuple((r.action.value, r.name, r.rdtype, r.value, r.ttl) for r in c.records),
        )
        for c in report.checks
    )
    return (
        index,
        report.domain,
        checks,
        report.mail_from,
        report.mail_from_resolvable,
        report.dmarc_policy_level,
        report.spf_dns_lookups,
    )


def _unpack(packed: tuple[Any, ...]) -> DomainReport:
    _, domain, checks, mail_from, resolvable, level, lookups = packed
    return DomainReport(
        domain,
        tuple(
            CheckResult(
                check,
                _STATUS[status],
                summary,
                remedy,
                tuple(RecordChange(RecordAction(a), n, t, v, ttl) for a, n, t, v, ttl in records),
            )
            for check, status, summary, remedy, records in checks
        ),
        mail_from,
        resolvable,
        level,
        lookups,
    )
