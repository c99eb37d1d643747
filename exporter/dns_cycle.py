"""One DNS check cycle: the pure checks driven by the DNS adapter, many domains at once.

The checks ask for records through a view; whatever they asked for and did not get is
fetched concurrently and the checks run again, until they ask for nothing new. The
adapter's per-cycle cache makes every distinct question cost one query.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.checks import evaluate_domain
from exporter.model import Answer, AnswerKind, DomainReport, DomainTarget
from exporter.sources.dns import DnsClient

__all__ = ["DnsCycleResult", "check_domain", "check_domains"]

MAX_ROUNDS = 16  # SPF's 10-lookup limit bounds the rounds well below this


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


async def check_domain(client: DnsClient, target: DomainTarget) -> DomainReport:
    """Run the pure checks, fetching whatever they ask for, until they ask for nothing new."""
    asked: set[tuple[str, str]] = set()
    try:
        for _ in range(MAX_ROUNDS):
            view = _RecordingView(client)
            report = evaluate_domain(target, view)
            if not view.missing:
                return report
            asked |= view.missing
            await asyncio.gather(*(client.resolve(name, rdtype) for name, rdtype in view.missing))
        return evaluate_domain(target, _Exhausted(client))
    finally:
        client.forget(key for key in asked if _private_to(key[0], target))


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
    indexed = list(enumerate(targets))
    reports: list[DomainReport | None] = [None] * len(indexed)
    iterator = iter(indexed)

    async def worker() -> None:
        for index, target in iterator:
            reports[index] = await check_domain(client, target)

    tasks = [asyncio.create_task(worker()) for _ in range(max(1, min(workers, len(indexed))))]
    watcher = asyncio.create_task(_cancel_on_stop(stop, tasks)) if stop is not None else None
    try:
        await asyncio.gather(*tasks)
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


async def _cancel_on_stop(stop: threading.Event, tasks: list[asyncio.Task[None]]) -> None:
    # A threading.Event set by a signal handler cannot be awaited: poll it.
    while not stop.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
