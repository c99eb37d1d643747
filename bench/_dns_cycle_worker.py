"""One measurement in a fresh process, so its CPU and peak RSS are its own (run by dns_cycle.py).

Modes:
- ``exporter``: ``--cycles`` full check cycles (``check_domains``) of the first N synthetic
  domains, sharing one verdict memo as the daemon does (the first cold, the later ones warm);
  checks every verdict of every cycle against the generated mix.
- ``questions``: not measured; a cycle that records the distinct questions the exporter asks
  (every ``DnsClient.request``), the list the floors and blackbox_exporter ask in turn.
- ``floor-resolver``: the same questions through ``dns.asyncresolver`` (the bare loop).
- ``floor-udp``: the same questions as pre-built messages through ``dns.asyncquery.udp``.
- ``floor-pycares``: the same questions through a pycares (c-ares) Channel driven by its file
  descriptors with epoll (``pip install pycares``, not a project dependency; imported only in
  this mode). c-ares' query cache is off unless ``--query-cache``.
- ``floor-raw``: the same questions as pre-built packets through bare sockets and epoll,
  nothing parsed (bench/_raw_floor.py): what the syscalls cost a Python client at the least.

CPU is ``time.process_time`` (every thread of this process) over the measured part only;
with ``--named-pid``, named's CPU over the same span is read from ``/proc``. Writes one JSON
object to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import select
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.message
import dns.rcode
import dns.resolver
from _affinity import load_average, process_cpu_s
from _raw_floor import raw_loop
from dns_zonegen import REGION, expected_report, generate

EDNS_PAYLOAD = 1232  # what exporter.sources.dns sends, so the floors put the same bytes on the wire
MAX_MISMATCHES_SHOWN = 10
RAW_WINDOW_PER_WORKER = 2  # floor-raw: questions in flight per domain worker
T = TypeVar("T")


def _rss_now_kib() -> int:
    with Path("/proc/self/statm").open(encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_rss_kib() -> int:
    """VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a process
    started by a large parent reports the parent's size."""
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class _GcTimer:
    """Total time spent in the cyclic garbage collector, and collections per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections[info["generation"]] += 1


def _timed(
    make: Callable[[], Awaitable[T]], args: argparse.Namespace, profile_path: str | None
) -> tuple[T, dict[str, Any]]:
    """Run ``make()`` in a fresh event loop, optionally profiled: its result and figures
    (wall and CPU seconds, named's CPU, GC time, load average at the start and the end)."""
    profiler = cProfile.Profile() if profile_path else None
    gc_timer = _GcTimer()
    gc.callbacks.append(gc_timer)
    load_start = load_average()
    named0 = process_cpu_s(args.named_pid) if args.named_pid else 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()

    results: list[T] = []

    async def main() -> None:
        # Return nothing from the top-level coroutine. On the main thread, Python 3.11's
        # asyncio.run ends with signal.getsignal(SIGINT), which formats the repr of its
        # handler, a partial holding the main task, whose repr includes repr(result): the
        # whole DnsCycleResult (tens of MB at 10,000 domains, counted in peak RSS and wall
        # time). The daemon runs cycles on a scheduler thread, where asyncio.run installs
        # no SIGINT handler, so it never pays that.
        results.append(await make())

    asyncio.run(main())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    named = process_cpu_s(args.named_pid) - named0 if args.named_pid else None
    if profiler is not None and profile_path:
        profiler.disable()
        profiler.dump_stats(profile_path)
    gc.callbacks.remove(gc_timer)
    figures = {
        "wall_s": wall,
        "cpu_s": cpu,
        "named_cpu_s": named,
        "gc_s": gc_timer.seconds,
        "gc_collections": gc_timer.collections,
        "load_start": load_start,
        "load_end": load_average(),
    }
    return results[0], figures


def _targets(args: argparse.Namespace) -> list[Any]:
    from exporter.model import DomainTarget  # noqa: PLC0415 - floors never load the exporter

    return [
        DomainTarget(name=d.name, mail_from=d.mail_from, dkim_tokens=d.tokens, region=REGION)
        for d in generate(args.domains, args.seed)
    ]  # the SyntheticDomains are dropped: the measured process holds what a daemon holds


def _verdicts(args: argparse.Namespace, reports: Sequence[Any]) -> tuple[Counter[str], list[str]]:
    """Every report against the generated mix: the status counts and the mismatches."""
    statuses: Counter[str] = Counter()
    mismatches: list[str] = []
    domains = generate(args.domains, args.seed)
    for domain, report in zip(domains, reports, strict=False):
        got = {c.check: c.status.value for c in report.checks}
        statuses.update(f"{check}={status}" for check, status in got.items())
        got_all = {
            "checks": got,
            "mail_from_resolvable": report.mail_from_resolvable,
            "dmarc_policy_level": report.dmarc_policy_level,
            "spf_dns_lookups": report.spf_dns_lookups,
        }
        want = expected_report(domain)
        if report.domain != domain.name or got_all != want:
            detail = [f"{c.check}={c.status.value} ({c.summary})" for c in report.checks]
            mismatches.append(
                f"{report.domain} [{domain.kind}]: want {want}, got {got_all}; {detail}"
            )
    if len(reports) != len(domains):
        mismatches.append(f"{len(reports)} reports for {len(domains)} targets")
    return statuses, mismatches


def _client(args: argparse.Namespace) -> Any:
    """A client as the daemon builds one per cycle (inside the cycle's loop: its timers
    belong to that loop)."""
    from exporter.sources.dns import DnsClient  # noqa: PLC0415

    return DnsClient(
        nameservers=[("127.0.0.1", args.port)],
        timeout=2.0,
        attempts=2,
        concurrency=args.concurrency,
        max_queries_per_second=0,
    )


def run_exporter(args: argparse.Namespace) -> dict[str, Any]:
    """``--cycles`` cycles sharing one verdict memo (as the daemon keeps it), each measured
    on its own; with ``--cycles 1`` no memo, so code older than the memo runs too."""
    import exporter  # noqa: PLC0415
    from exporter.jobs.dns import DnsCycleResult, check_domains  # noqa: PLC0415

    targets = _targets(args)
    memo = None
    if args.cycles > 1:
        from exporter.jobs.verdict_cache import VerdictMemo  # noqa: PLC0415

        memo = VerdictMemo()

    async def cycle() -> DnsCycleResult:
        extra = {"memo": memo} if memo is not None else {}
        return await check_domains(targets, _client(args), workers=args.concurrency, **extra)

    rss_before = _rss_now_kib()
    cycles: list[dict[str, Any]] = []
    statuses: Counter[str] = Counter()
    mismatches: list[str] = []
    for index in range(args.cycles):
        hits = memo.hits if memo is not None else 0
        profile = args.profile if index == args.cycles - 1 else None
        result, figures = _timed(cycle, args, profile)
        # `result` holds this cycle's reports while the next runs, as the daemon's
        # published snapshot does.
        statuses, wrong = _verdicts(args, result.reports)
        mismatches += [f"cycle {index + 1}: {line}" for line in wrong]
        cycles.append(
            {
                **figures,
                "cpu_ms_per_domain": 1000 * figures["cpu_s"] / args.domains,
                "queries_sent": result.queries_sent,
                "responses": result.responses,
                "memo_hits": (memo.hits - hits) if memo is not None else 0,
                "peak_rss_kib": _peak_rss_kib(),
                "mismatch_count": len(wrong),
            }
        )
    return {
        "mode": "exporter",
        "domains": args.domains,
        "exporter_path": str(Path(exporter.__file__).parent),
        "compiled": _compiled(),
        "python": sys.version.split()[0],
        "rss_before_kib": rss_before,
        "peak_rss_kib": _peak_rss_kib(),
        "statuses": dict(sorted(statuses.items())),
        "mismatch_count": len(mismatches),
        "mismatches": mismatches[:MAX_MISMATCHES_SHOWN],
        "cycles": cycles,
        "memo_entries": len(memo) if memo is not None else 0,
        "memo_kib": memo.memory_bytes() / 1024 if memo is not None else 0,
    }


def _compiled() -> bool | None:
    """Whether the exporter measured is the mypyc build (None: code older than the flag)."""
    try:
        from exporter.compiled import compiled  # noqa: PLC0415
    except ImportError:
        return None
    return compiled()


def run_questions(args: argparse.Namespace) -> dict[str, Any]:
    """Not measured: one cycle that records every distinct question the exporter asks, for
    the floors and blackbox_exporter. Needs the pure-Python build: a compiled DnsClient
    cannot be subclassed."""
    from exporter.jobs.dns import check_domains  # noqa: PLC0415
    from exporter.sources.dns import DnsClient  # noqa: PLC0415

    targets = _targets(args)
    asked: set[tuple[str, str]] = set()

    class RecordingClient(DnsClient):
        def request(self, name: str, rdtype: str, *rest: Any, **options: Any) -> Any:
            asked.add((name, rdtype))
            return super().request(name, rdtype, *rest, **options)

    async def cycle() -> None:
        client = RecordingClient(nameservers=[("127.0.0.1", args.port)], timeout=2.0)
        await check_domains(targets, client, workers=args.concurrency)

    asyncio.run(cycle())
    if not asked:
        raise SystemExit("recorded no question: does the cycle still call DnsClient.request?")
    questions = sorted(asked)
    Path(args.questions_out).write_text(json.dumps(questions), encoding="ascii")
    return {"mode": "questions", "domains": args.domains, "questions": len(questions)}


def _load_questions(path: str) -> list[tuple[str, str]]:
    return [(name, rdtype) for name, rdtype in json.loads(Path(path).read_text(encoding="ascii"))]


async def _resolver_loop(
    questions: list[tuple[str, str]], port: int, concurrency: int
) -> Counter[str]:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = 2.0  # per try, and two tries: the exporter's timeout and attempts
    resolver.lifetime = 4.0
    resolver.use_edns(0, 0, EDNS_PAYLOAD)
    semaphore = asyncio.Semaphore(concurrency)
    outcomes: Counter[str] = Counter()

    async def one(name: str, rdtype: str) -> None:
        async with semaphore:
            try:
                await resolver.resolve(name, rdtype)
            except dns.resolver.NXDOMAIN:
                outcomes["nxdomain"] += 1
            except dns.resolver.NoAnswer:
                outcomes["nodata"] += 1
            except dns.resolver.NoNameservers:  # a REFUSED or SERVFAIL answer, e.g. for
                outcomes["refused/servfail"] += 1  # _dmarc.test, a zone named does not serve
            except dns.exception.DNSException as error:
                outcomes[f"error:{type(error).__name__}"] += 1
            else:
                outcomes["records"] += 1

    await asyncio.gather(*(one(name, rdtype) for name, rdtype in questions))
    return outcomes


async def _udp_loop(
    messages: Sequence[dns.message.Message], port: int, concurrency: int
) -> Counter[str]:
    semaphore = asyncio.Semaphore(concurrency)
    outcomes: Counter[str] = Counter()

    async def one(query: dns.message.Message) -> None:
        async with semaphore:
            try:
                response = await dns.asyncquery.udp(query, "127.0.0.1", timeout=2.0, port=port)
            except dns.exception.DNSException as error:
                outcomes[f"error:{type(error).__name__}"] += 1
            else:
                outcomes[dns.rcode.to_text(response.rcode()).lower()] += 1

    await asyncio.gather(*(one(m) for m in messages))
    return outcomes


class _EpollSockets:
    """c-ares' sockets in an epoll set, kept by its ``sock_state_cb``."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.watched: set[int] = set()

    def state(self, fd: int, readable: bool, writable: bool) -> None:
        mask = (select.EPOLLIN if readable else 0) | (select.EPOLLOUT if writable else 0)
        if not mask:
            if fd in self.watched:
                self.watched.discard(fd)
                self.epoll.unregister(fd)
        elif fd in self.watched:
            self.epoll.modify(fd, mask)
        else:
            self.epoll.register(fd, mask)
            self.watched.add(fd)


ARES_OPT_QUERY_CACHE = 1 << 21  # c-ares' ares.h; pycares 5.2.1 exports no name for it


class _NoQueryCache:
    """Stands in for pycares' cffi ``_lib`` while a Channel is built: c-ares 1.34 caches every
    answer by default (up to its TTL, 3,600 s max) and pycares 5.2.1 has no option to turn that
    off. The exporter has no cache and every question here is distinct, so the cache only costs
    (~20 % more CPU, 330 MB at 10,000 domains). ``qcache_max_ttl = 0`` disables it, as Node.js
    does for its c-ares channels."""

    def __init__(self, lib: Any) -> None:
        self._lib = lib

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lib, name)

    def ares_init_options(self, channel: Any, options: Any, optmask: int) -> int:
        options.qcache_max_ttl = 0
        return int(self._lib.ares_init_options(channel, options, optmask | ARES_OPT_QUERY_CACHE))


def _pycares_loop(
    questions: list[tuple[str, str]], port: int, concurrency: int, query_cache: bool
) -> Counter[str]:
    """Ask ``questions`` through one pycares Channel, ``concurrency`` in flight, driving it
    with its sockets (``sock_state_cb`` + epoll + ``process_fd``/``timeout``, as pycares'
    examples do; without ``sock_state_cb`` pycares 5 starts c-ares' own event thread).
    Synchronous: no asyncio here, the loop is this function."""
    import pycares  # noqa: PLC0415 - only this mode needs it (pip install pycares)
    import pycares.errno  # noqa: PLC0415

    sockets = _EpollSockets()
    epoll = sockets.epoll
    lib = pycares._lib  # noqa: SLF001 - see _NoQueryCache
    if not query_cache:
        pycares._lib = _NoQueryCache(lib)  # noqa: SLF001
    try:
        channel = pycares.Channel(
            servers=[f"127.0.0.1:{port}"],
            timeout=2.0,
            tries=2,
            flags=pycares.ARES_FLAG_EDNS,  # c-ares' EDNS payload is 1232, as the exporter's
            sock_state_cb=sockets.state,
        )
    finally:
        pycares._lib = lib  # noqa: SLF001
    names = {code: name for name, code in vars(pycares.errno).items() if name.startswith("ARES_E")}
    kinds = {pycares.errno.ARES_ENOTFOUND: "nxdomain", pycares.errno.ARES_ENODATA: "nodata"}
    qtypes = {rdtype: getattr(pycares, f"QUERY_TYPE_{rdtype}") for _, rdtype in questions}
    outcomes: Counter[str] = Counter()
    in_flight = 0

    def answered(result: Any, status: int | None) -> None:
        nonlocal in_flight
        in_flight -= 1
        if status is None:
            outcomes["records" if result.answer else "nodata"] += 1
        else:
            outcomes[kinds.get(status) or f"error:{names.get(status, status)}"] += 1

    pending = iter(questions)
    left = len(questions)
    bad = pycares.ARES_SOCKET_BAD
    readable = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
    while left or in_flight:
        while left and in_flight < concurrency:  # top up after each wake-up, as a semaphore
            name, rdtype = next(pending)
            left -= 1
            in_flight += 1
            channel.query(name, qtypes[rdtype], callback=answered)
        events = epoll.poll(channel.timeout(1.0) or 0.001)
        if not events:
            channel.process_fd(bad, bad)  # timeouts and retries
        for fd, event in events:
            channel.process_fd(
                fd if event & readable else bad, fd if event & select.EPOLLOUT else bad
            )
    channel.close()
    epoll.close()
    return outcomes


def run_floor(args: argparse.Namespace) -> dict[str, Any]:
    questions = _load_questions(args.questions)
    if args.mode == "floor-pycares":

        async def make() -> Counter[str]:
            # A synchronous epoll loop inside the coroutine: _timed's clock, GC and profiler.
            return _pycares_loop(questions, args.port, args.concurrency, args.query_cache)

    elif args.mode == "floor-resolver":

        def make() -> Awaitable[Counter[str]]:
            return _resolver_loop(questions, args.port, args.concurrency)

    elif args.mode == "floor-raw":
        packets = [
            dns.message.make_query(name, rdtype, use_edns=0, payload=EDNS_PAYLOAD).to_wire()
            for name, rdtype in questions
        ]

        async def make() -> Counter[str]:
            # Synchronous like the pycares loop; the window is about what the exporter's 64
            # domains in progress keep in flight.
            return raw_loop(packets, args.port, RAW_WINDOW_PER_WORKER * args.concurrency)

    else:
        messages = [
            dns.message.make_query(name, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
            for name, rdtype in questions
        ]

        def make() -> Awaitable[Counter[str]]:
            return _udp_loop(messages, args.port, args.concurrency)

    rss_before = _rss_now_kib()
    outcomes, figures = _timed(make, args, args.profile)
    return {
        "mode": args.mode,
        "domains": args.sample_domains,  # the domains whose questions these are
        "questions": len(questions),
        **figures,
        "rss_before_kib": rss_before,
        "peak_rss_kib": _peak_rss_kib(),
        "outcomes": dict(sorted(outcomes.items())),
        "errors": sum(n for kind, n in outcomes.items() if kind.startswith("error")),
        "query_cache": args.query_cache if args.mode == "floor-pycares" else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "mode",
        choices=[
            "exporter",
            "questions",
            "floor-resolver",
            "floor-udp",
            "floor-pycares",
            "floor-raw",
        ],
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--domains", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--cycles", type=int, default=1, help="exporter: cycles sharing one verdict memo"
    )
    parser.add_argument("--named-pid", type=int, help="read this named's CPU around each run")
    parser.add_argument("--questions", help="floor modes: the question dump of `questions`")
    parser.add_argument("--sample-domains", type=int, help="floor modes: domains it covers")
    parser.add_argument("--questions-out", help="questions mode: where to dump them")
    parser.add_argument(
        "--query-cache", action="store_true", help="floor-pycares: keep c-ares' query cache"
    )
    parser.add_argument("--profile", help="write cProfile stats of the measured part here")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    modes = {"exporter": run_exporter, "questions": run_questions}
    result = modes.get(args.mode, run_floor)(args)
    Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
