"""One DNS check cycle: the pure checks driven by the DNS adapter, many domains at once.

The checks ask for records through a view; whatever they asked for and did not get is
fetched concurrently and the checks run again, until they ask for nothing new. The
adapter's per-cycle cache makes every distinct question cost one query.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.checks import evaluate_domain
from exporter.model import Answer, AnswerKind, DomainReport, DomainTarget
from exporter.sources.dns import DnsClient

__all__ = ["DnsCycleResult", "check_domain", "check_domains"]

MAX_ROUNDS = 16  # SPF's 10-lookup limit bounds the rounds well below this
_FREEZE_EVERY = 1024  # finished domains between two gc.freeze() calls


class _RecordingView:
    """The checks' view of the cycle's answers; remembers every question still missing."""

    def __init__(self, client: DnsClient) -> None:
        self._client = client
        self.missing: set[tuple[str, str]] = set()

    def get(self, name: str, rdtype: str) -> Answer | None:
        answer = self._client.get(name, rdtype)
        if answer is None:
            self.missing.add((name, rdtype))
        return answer


class _DomainRun:
    """One domain in progress: the questions it asked and how many answers it waits for."""

    __slots__ = ("asked", "cycle", "index", "rounds", "target", "waiting")

    def __init__(self, cycle: _Cycle, index: int, target: DomainTarget) -> None:
        self.cycle = cycle
        self.index = index
        self.target = target
        self.asked: set[tuple[str, str]] = set()
        self.rounds = 0
        self.waiting = 0

    def answered(self, _answer: Answer) -> None:
        self.waiting -= 1
        if not self.waiting:
            self.cycle.resume(self)


class _Cycle:
    """Runs the checks of many domains on one event loop without a task per domain.

    A domain is evaluated once per round, when every answer its last evaluation asked for
    is in (`DnsClient.request` calls back); up to ``workers`` domains are in progress.
    """

    def __init__(self, client: DnsClient, targets: list[DomainTarget], workers: int) -> None:
        self._client = client
        self._targets = iter(enumerate(targets))
        self._workers = max(1, workers)
        self._active = 0
        self._done = 0
        self.reports: list[DomainReport | None] = [None] * len(targets)
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
                self._advance(_DomainRun(self, *item))
            if not self._active:
                self.finished.set_result(None)
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            self.finished.set_exception(exc)

    def _advance(self, run: _DomainRun) -> None:
        """Evaluate until the checks ask for something not known yet, or are done."""
        client, target = self._client, run.target
        while True:
            if run.rounds == MAX_ROUNDS:
                report = evaluate_domain(target, _Exhausted(client))
                break
            view = _RecordingView(client)
            report = evaluate_domain(target, view)
            if not view.missing:
                break
            run.rounds += 1
            run.asked |= view.missing
            waiting = 0
            for name, rdtype in view.missing:
                if client.request(name, rdtype, run.answered) is None:
                    waiting += 1
            if waiting:
                run.waiting = waiting
                return
        self.reports[run.index] = report
        self._active -= 1
        self._done += 1
        if not self._done % _FREEZE_EVERY:
            gc.freeze()
        client.forget(key for key in run.asked if _private_to(key[0], target))


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
) -> DnsCycleResult:
    """Check every target with a bounded pool of workers; ``stop`` cancels the cycle."""
    started, t0 = time.time(), time.monotonic()
    cycle = _Cycle(client, list(targets), workers)
    watcher = (
        asyncio.create_task(_cancel_on_stop(stop, cycle.finished)) if stop is not None else None
    )
    try:
        reports = await cycle.run()
    finally:
        if watcher is not None:
            watcher.cancel()
        await client.aclose()  # a client lives for one cycle
    return DnsCycleResult(
        reports=tuple(r for r in reports if r is not None),
        started=started,
        duration_seconds=time.monotonic() - t0,
        queries_sent=client.queries_sent,
        responses=client.responses,
    )


async def _cancel_on_stop(stop: threading.Event, finished: asyncio.Future[None]) -> None:
    # A threading.Event set by a signal handler cannot be awaited: poll it.
    while not stop.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    finished.cancel()
