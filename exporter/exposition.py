"""The per-domain exposition at 100,000 domains: derived once per snapshot, budgeted, prerendered.

Deriving every domain's series from a snapshot is the expensive part of a scrape, so the
`DomainTable` of a snapshot is built once and shared by every scrape and landing-page view
until the configuration, the DNS cycle or the discovered identities change; `DomainWarmer`
builds the next one in the background so no scrape waits for it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import operator
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from exporter import metrics
from exporter.checks.ses import IdentityState
from exporter.config import Config
from exporter.deflate import DeflatedFamily, DeflateWriter, deflated_family
from exporter.malloc import trim
from exporter.model import CheckResult, Status
from exporter.store import Snapshot

__all__ = ["DomainExposition", "DomainTable", "DomainWarmer", "domain_table", "unknown_reason"]

# The order of a check's four status series: pass, warn, fail, unknown.
_STATUS_ORDER = tuple(Status)
_SERIES_PER_CHECK = len(_STATUS_ORDER)
_VALUE = {True: "1.0", False: "0.0"}  # floatToGoString of 1 and 0
_go_float: Callable[[float], str] = floatToGoString  # the client's float format (untyped)
_check_and_status = operator.attrgetter("check", "status")
# Exposition lines deflated at once: ~100 kB of text held, never a whole body, and below
# the daemon's mmap threshold (exporter.malloc), so a batch's buffers are reused, not mapped
# and faulted in afresh (at 10^5 domains without a budget: 200,000 page faults fewer).
_LINES = 1024
_DOMAINS = 32  # domains' status lines deflated at once: 1024 lines with 8 checks each


Pattern = tuple[tuple[str, Status], ...]  # a domain's (check, status) pairs, in order


class _Index(dict[Pattern, int]):
    """Each pattern's position, in order of first appearance."""

    def __missing__(self, pattern: Pattern) -> int:
        position = self[pattern] = len(self)
        return position


def _worst(statuses: set[Status]) -> Status:
    """The highest-ranked status of a domain's checks (Status.rank: fail > unknown > warn)."""
    for status in (Status.FAIL, Status.UNKNOWN, Status.WARN):  # by Status.rank, highest first
        if status in statuses:
            return status
    return Status.PASS


class DomainTable:
    """Every monitored domain's verdicts and what derives from them, for /metrics and the page.

    A snapshot is immutable, and at 10^5 domains deriving this is the expensive part of a
    scrape, so it is computed once per (configuration, DNS cycle, discovered SES identities)
    by `domain_table` and shared by every scrape and page view until one of those changes.
    """

    def __init__(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.verdicts: dict[str, tuple[CheckResult, ...]] = snap.verdicts()
        # Domains share a few patterns (which checks, with which status): what derives from
        # a domain's verdicts is derived once per pattern, and each domain names its pattern.
        index = _Index()
        signatures = map(
            tuple, map(map, itertools.repeat(_check_and_status), self.verdicts.values())
        )
        indices = list(map(index.__getitem__, signatures))
        self.patterns: list[Pattern] = list(index)
        self.pattern_of: dict[str, int] = dict(zip(self.verdicts, indices, strict=True))
        # A domain's worst status is its pattern's: one per pattern, not a dict per domain.
        self.worst_of: list[Status] = [
            _worst({status for _, status in pattern}) for pattern in self.patterns
        ]
        series = dict.fromkeys(_STATUS_ORDER, 0)  # check series of the domains, by worst status
        counts: Counter[tuple[str, Status]] = Counter()
        worst_counts: Counter[Status] = Counter()
        for i, uses in Counter(indices).items():
            series[self.worst_of[i]] += _SERIES_PER_CHECK * len(self.patterns[i]) * uses
            worst_counts[self.worst_of[i]] += uses
            for pair in self.patterns[i]:
                counts[pair] += uses
        self.series_by_worst = series
        self.worst_counts = worst_counts  # how many domains have each worst status
        # Zero-initialised: every check seen x every status, so a count that drops to 0 stays.
        self.counts: tuple[tuple[tuple[str, str], int], ...] = tuple(
            ((check, status.value), counts[(check, status)])
            for check in sorted({check for check, _ in counts})
            for status in _STATUS_ORDER
        )
        self._lock = threading.Lock()
        self._exposition: DomainExposition | None = None

    def worst(self, domain: str) -> Status:
        """The highest-ranked status of ``domain``'s checks."""
        return self.worst_of[self.pattern_of[domain]]

    @functools.cached_property
    def order(self) -> list[str]:
        """Domains worst first (fail, unknown, warn, pass), then by name: the landing page's."""
        rank = [-status.rank for status in self.worst_of]
        pattern_of = self.pattern_of
        return sorted(self.verdicts, key=lambda d: (rank[pattern_of[d]], d))

    def selected(self) -> tuple[list[str], dict[Status, int]]:
        """The domains whose check series are exported, and the series withheld by worst status.

        Without a budget: every domain, nothing withheld. With one: the watch-list domains
        (sorted), then the domains whose worst check fails, is unknown, warns (each sorted by
        name), as long as all of a domain's series fit what is left of the budget; the first
        domain that does not fit ends the list, so a lower-priority domain never takes the
        place of a higher one. Passing domains outside the watch-list are never exported.
        """
        config = self.snapshot.config.metrics
        if config.series_budget == 0:
            return list(self.verdicts), dict.fromkeys(_STATUS_ORDER, 0)
        watched = sorted(d for d in set(config.watch_domains) if d in self.verdicts)
        watch_set = set(watched)
        rank = [-status.rank for status in self.worst_of]
        failing = [status is not Status.PASS for status in self.worst_of]
        candidates = sorted(
            (d for d, i in self.pattern_of.items() if failing[i] and d not in watch_set),
            key=lambda d: (rank[self.pattern_of[d]], d),
        )
        withheld = dict(self.series_by_worst)
        exported: list[str] = []
        left = config.series_budget
        for domain in (*watched, *candidates):
            pattern = self.patterns[self.pattern_of[domain]]
            series = _SERIES_PER_CHECK * len(pattern)
            # The budget bounds every per-domain series: an unknown check also exports its
            # reason (deliverability_check_unknown_reason); withheld counts status series.
            cost = series + sum(status is Status.UNKNOWN for _, status in pattern)
            if cost > left:
                break
            exported.append(domain)
            withheld[self.worst(domain)] -= series
            left -= cost
        return exported, withheld

    def exposition(self) -> DomainExposition:
        with self._lock:
            if self._exposition is None:
                with _gc_paused():
                    self._exposition = _build_exposition(self)
            return self._exposition


@dataclass(frozen=True, slots=True)
class DomainExposition:
    """The per-domain families of one snapshot, rendered once and kept deflated
    (see exporter.deflate)."""

    info: DeflatedFamily
    check_status: DeflatedFamily
    unknown_reason: DeflatedFamily
    resolvable: DeflatedFamily
    dmarc: DeflatedFamily
    spf_lookups: DeflatedFamily
    counts: tuple[tuple[tuple[str, str], int], ...]
    withheld: dict[Status, int]
    exported_domains: int


_V = TypeVar("_V")


class _Slot(Generic[_V]):
    """A one-entry cache keyed by objects compared by identity (and held, so no id is reused).

    The old entry is let go before the new one is built, so the two are not held at once
    (at 10^5 domains a table and its exposition are 15-30 MB)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[object, ...], _V] | None = None

    def get(self, key: tuple[object, ...], build: Callable[[], _V]) -> _V:
        with self._lock:
            entry = self._entry
            if (
                entry is not None
                and len(entry[0]) == len(key)
                and all(a is b for a, b in zip(entry[0], key, strict=True))
            ):
                return entry[1]
            self._entry = entry = None
            value = build()
            self._entry = (key, value)
            return value


_tables: _Slot[DomainTable] = _Slot()
_infos: _Slot[DeflatedFamily] = _Slot()


def domain_table(snap: Snapshot) -> DomainTable:
    """The snapshot's DomainTable, shared while its configuration, DNS cycle and discovered
    SES identities last (what Snapshot.verdicts reads): other snapshot changes (collector
    health, SMTP results, SES polls between two discoveries, which keep the identities
    tuple) reuse it."""
    identities = (result.identities for result in snap.ses.values())
    return _tables.get((snap.config, snap.dns, *identities), lambda: _new_table(snap))


class DomainWarmer:
    """Builds each new snapshot's DomainTable and per-domain exposition in the background.

    A DNS cycle, an SES discovery or a reload publishes a snapshot with new verdicts; at 10^5
    domains building its table and exposition takes about 0.6 s of CPU (1 s while the DNS
    cycle competes for the GIL), which would otherwise land on the next scrape. This thread
    notices the new snapshot within ``interval`` seconds and builds them, so scrapes find them
    ready (a scrape that arrives during the build waits for it instead of starting its own).
    The daemon starts and stops it (exporter.app).
    """

    def __init__(self, read_snapshot: Callable[[], Snapshot], interval: float = 0.25) -> None:
        self._read = read_snapshot
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="domain-warmer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        built: weakref.ref[DomainTable] | None = None
        while not self._stop.wait(self._interval):
            # An error here is the scrape's error too, and it reports it: nothing to add.
            with contextlib.suppress(Exception):
                table = domain_table(self._read())
                table.exposition()
                if built is None or built() is not table:
                    built = weakref.ref(table)
                    # The previous snapshot, its table and the DNS cycle's working memory
                    # are freed by now: their pages go back before the next cycle starts.
                    trim()


def _new_table(snap: Snapshot) -> DomainTable:
    with _gc_paused():
        return DomainTable(snap)


class _GcPause:
    """Pause the cyclic garbage collector while a table or exposition is built.

    At 10^5 domains the heap holds millions of tracked objects (reports, checks), so a full
    collection costs 0.3-0.5 s, and the build's allocations trigger one every few builds:
    up to half of the 1 s a scrape may take. The build creates no reference cycles, so a
    collection during it could only find other code's garbage, which the next one still will;
    reference counting frees everything as usual meanwhile. Nested and concurrent builds
    share one pause, and the collector is re-enabled only if it was enabled before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._was_enabled:
                    gc.enable()


_gc_paused = _GcPause()


def _esc(value: str) -> str:
    """A label value as the exposition formats write it (backslash, newline, double quote)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _escaped(values: list[str]) -> Iterable[str]:
    """``values`` escaped; one scan of them all when none needs it (domain names never do)."""
    blob = "".join(values)
    return map(_esc, values) if "\\" in blob or '"' in blob or "\n" in blob else values


class _Floats(dict[float, str]):
    """Go-formatted values, each formatted once (the per-domain gauges take few values)."""

    def __missing__(self, value: float) -> str:
        text = self[value] = _go_float(value)
        return text


def _build_exposition(table: DomainTable) -> DomainExposition:
    """Render the per-domain families as prometheus_client would (sorted label names, Go
    floats); each family's `samples` builder says the same in the client's terms, and a unit
    test holds the two to byte equality."""
    snap = table.snapshot
    verdicts = table.verdicts
    exported, withheld = table.selected()
    reports = [
        r for r in (snap.dns.reports if snap.dns is not None else ()) if r.domain in verdicts
    ]

    status_name = metrics.CHECK_STATUS.name
    # A domain's lines differ from those of another domain with the same pattern only in the
    # domain: each pattern's fixed text is split around the domain once, and a domain's
    # lines are `domain.join(pieces)`, joined and deflated a batch of domains at a time
    # through C-level iterators (no Python-level loop per domain or line).
    pieces = [_pattern_pieces(status_name, pattern) for pattern in table.patterns]
    text = map(
        str.join,
        _escaped(exported),
        map(pieces.__getitem__, map(table.pattern_of.__getitem__, exported)),
    )
    status_body = DeflateWriter()
    while batch := "".join(itertools.islice(text, _DOMAINS)):
        status_body.write(batch)

    def status_samples() -> list[Sample]:
        return [
            Sample(
                status_name,
                {"domain": d, "check": c.check, "status": s.value},
                float(c.status is s),
            )
            for d in exported
            for c in verdicts[d]
            for s in _STATUS_ORDER
        ]

    # The families' builders keep what they read, never the table: a table in a reference
    # cycle with its exposition would outlive its snapshot until a garbage collection.
    pattern_of = table.pattern_of
    unsure = [any(s is Status.UNKNOWN for _, s in pattern) for pattern in table.patterns]

    def unknown() -> _Columns:
        rows = [
            (d, c.check, unknown_reason(c.summary))
            for d in exported
            if unsure[pattern_of[d]]
            for c in verdicts[d]
            if c.status is Status.UNKNOWN
        ]
        columns = {k: [row[i] for row in rows] for i, k in enumerate(("domain", "check", "reason"))}
        return columns, [1.0] * len(rows)

    def resolvable() -> _Columns:
        rows = [
            r for r in reports if r.mail_from is not None and r.mail_from_resolvable is not None
        ]
        return (
            {
                "domain": [r.domain for r in rows],
                "mail_from_domain": [r.mail_from or "" for r in rows],
            },
            _shared_floats(bool(r.mail_from_resolvable) for r in rows),
        )

    def dmarc() -> _Columns:
        rows = [r for r in reports if r.dmarc_policy_level is not None]
        return {"domain": [r.domain for r in rows]}, _shared_floats(
            r.dmarc_policy_level or 0 for r in rows
        )

    def spf() -> _Columns:
        rows = [r for r in reports if r.spf_dns_lookups is not None]
        return {"domain": [r.domain for r in rows]}, _shared_floats(
            r.spf_dns_lookups or 0 for r in rows
        )

    return DomainExposition(
        info=_infos.get(
            (snap.config, *(result.identities for result in snap.ses.values())),
            lambda: _info_family(snap.config, snap.identities()),
        ),
        check_status=deflated_family(metrics.CHECK_STATUS, status_body.close(), status_samples),
        unknown_reason=_columns_family(metrics.CHECK_UNKNOWN_REASON, unknown),
        resolvable=_columns_family(metrics.MAIL_FROM_RESOLVABLE, resolvable),
        dmarc=_columns_family(metrics.DMARC_POLICY_LEVEL, dmarc),
        spf_lookups=_columns_family(metrics.SPF_DNS_LOOKUPS, spf),
        counts=table.counts,
        withheld=withheld,
        exported_domains=len(exported),
    )


_REASONS = ("servfail", "refused", "timeout", "network")


def unknown_reason(summary: str) -> str:
    """The bounded reason label of an unknown check, read from its summary: the DNS error the
    checks name (servfail, refused, timeout, network), else other. A SERVFAIL or REFUSED
    points at the domain's zone, a timeout or network error rather at the path to it."""
    text = summary.lower()
    return next((reason for reason in _REASONS if reason in text), "other")


def _pattern_pieces(name: str, pattern: Pattern) -> list[str]:
    """The text of a domain's status lines around the domain, for every domain of
    ``pattern``: the pieces of its checks' four lines each, in order."""
    pieces = [""]
    for check, status in pattern:
        first, *rest = _status_pieces(name, check, status)
        pieces[-1] += first
        pieces += rest
    return pieces


def _status_pieces(name: str, check: str, current: Status) -> list[str]:
    prefix = f'{name}{{check="{_esc(check)}",domain="'
    pieces = [prefix]
    pieces.extend(
        f'",status="{status.value}"}} {_VALUE[status is current]}\n{prefix}'
        for status in _STATUS_ORDER
    )
    pieces[-1] = pieces[-1].removesuffix(prefix)
    return pieces


_Columns = tuple[dict[str, list[str]], list[float]]


def _shared_floats(values: Iterable[float]) -> list[float]:
    """``values`` as floats, one object per distinct value: these gauges take a handful of
    values, and 10^5 float objects would be 2.4 MB more at the moment a snapshot is built."""
    shared: dict[float, float] = {}
    return [shared.setdefault(value, float(value)) for value in values]


def _columns_family(spec: metrics.MetricSpec, build: Callable[[], _Columns]) -> DeflatedFamily:
    """A gauge or info family given column-wise by ``build``: label name -> one value per
    series (in the spec's label order, as add_metric would be called), and the series'
    values. The columns are built again when samples are asked for (rarely: a ``name[]``
    filter, generate_latest), so a snapshot keeps only the deflated lines.

    The exposition lines (label names sorted, as the client writes them) are made by
    interleaving the fixed text with the columns through C-level iterators: 10^5 lines without
    a Python-level loop per line, deflated _LINES at a time.
    """
    name = spec.name  # for an info family, the samples' name (..._info)
    labels, values = build()
    body = DeflateWriter()
    if values:
        names = sorted(labels)
        pieces = [f'{name}{{{names[0]}="', *(f'",{k}="' for k in names[1:]), '"} ', "\n"]
        floats = _Floats()
        columns = [*(_escaped(labels[k]) for k in names), map(floats.__getitem__, values)]
        interleaved: list[Iterable[str]] = [itertools.repeat(pieces[0])]
        for column, piece in zip(columns, pieces[1:], strict=True):
            interleaved += [column, itertools.repeat(piece)]
        text = itertools.chain.from_iterable(zip(*interleaved, strict=False))
        while batch := "".join(itertools.islice(text, _LINES * len(interleaved))):
            body.write(batch)

    def samples() -> list[Sample]:
        labels, values = build()
        keys = list(labels)
        return [
            Sample(name, dict(zip(keys, row, strict=True)), value)
            for *row, value in zip(*labels.values(), values, strict=True)
        ]

    return deflated_family(spec, body.close(), samples)


def _info_family(config: Config, identities: list[IdentityState]) -> DeflatedFamily:
    """deliverability_domain_info: one series per configured domain and per discovered
    identity (first region), owner labels included (``aws.identity_labels`` for these).

    It depends on the configuration and the discovered identities only, so it is kept
    across DNS cycles (see `_infos`)."""

    def build() -> _Columns:
        # Column by column, no tuple per row: at 10^5 domains rows would be a transient
        # 7 MB on top of the columns, at the moment a cycle's snapshot is published.
        domains = config.domains
        names = [d.name for d in domains]
        mail_from = [d.mail_from or "" for d in domains]
        regions = [d.region or "" for d in domains]
        owners = {label: [""] * len(names) for label in config.owner_label_names}
        for i, domain in enumerate(domains):
            for label, value in domain.labels:  # owner labels a domain does not set stay ""
                owners[label][i] = value
        seen = set(names) if identities else set()
        for identity in identities:
            if identity.identity not in seen:
                seen.add(identity.identity)
                names.append(identity.identity)
                mail_from.append(identity.mail_from_domain or "")
                regions.append(identity.region)
                for column in owners.values():
                    column.append("")
                for label, value in config.identity_labels(identity.identity):
                    owners[label][-1] = value
        labels = {"domain": names, "mail_from_domain": mail_from, "aws_region": regions, **owners}
        return labels, [1.0] * len(names)

    return _columns_family(metrics.DOMAIN_INFO, build)
