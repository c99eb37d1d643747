"""The account-level SES suppression list, counted without keeping a single address.

``SuppressionTracker.refresh()`` returns a ``SuppressionState``: entries by reason, entries
added or updated in the last 24 hours, the recipient domains with the most entries and the
total. It reads SESv2 ``ListSuppressedDestinations`` (``GET /v2/email/suppression/addresses``;
botocore has no paginator for it, so the pages are followed by hand on ``NextToken``).

How it stays cheap
  - **Full count** (first refresh, then every ``full_recount_seconds``): every page, with
    ``PageSize`` 1000, paced at ``max_requests_per_second`` (AWS's documented limit for
    this API is low: 1 request/s by default). 300,000 entries = 300 calls = 5 minutes.
  - **Incremental refresh** (in between): only the entries whose ``LastUpdateTime`` is after
    ``StartDate`` = the start of the previous successful refresh minus ``overlap_seconds``
    (the overlap absorbs clock skew between this host and AWS; entries seen twice because of
    it are recognised and not counted twice).
  - **Deletions are only seen by a full count**: the API lists what is on the list, never
    what left it. Between full counts, totals can only grow or move between reasons.

What is kept (bounded memory, no addresses)
  - one 64-bit keyed BLAKE2b digest per entry (the key is random per tracker, so the
    digests cannot be matched against a dictionary of known addresses outside this
    process) plus a 1-byte reason code. After a full count they live in a sorted
    ``array('Q')`` + ``bytearray`` (9 bytes per entry, looked up by bisection); entries
    added or changed since sit in a small dict overlay until the next full count. This is
    what lets an incremental refresh tell a **new** entry from an **updated** one (SES
    moves ``LastUpdateTime`` forward when an address is suppressed again). The chance that
    two of 300,000 addresses share a digest is about 2.4e-9;
  - a count per recipient domain (for the top K); the domain is the lower-cased part after
    the last ``@``, IDNA-encoded (``xn--``), or ``(invalid)``; never a local part;
  - digest -> ``LastUpdateTime`` for the entries updated in the last 24 hours only.

  During a full count each page is sorted and kept as a run (13 bytes per entry); the runs
  are merged at the end, which also collapses an address listed twice because it was
  updated while the pages were being read (the later read wins).

Errors
  ``TooManyRequestsException`` (and the other throttling codes) is retried in the same
  refresh with exponential backoff (1, 2, 4, ... s, at most ``max_throttle_retries``
  times). Any other ``ClientError`` or ``BotoCoreError`` raises
  ``SuppressionUnavailable(error_code)``; the tracker then keeps its previous state and
  the next refresh repeats the same fetch. ``AccessDenied``/``AccessDeniedException``
  (the role lacks ``ses:ListSuppressedDestinations``) is reported as
  ``SuppressionUnavailable("AccessDeniedException")``: the caller decides whether that is
  an outage or a configuration choice. The client's own retries (botocore ``Config``)
  come first; these retries are for throttling that outlasts them.

Shutdown
  With ``stop`` (the daemon's stop event) every call is preceded by a check and the waits
  (pacing, throttling backoff) end early: once it is set, the refresh raises
  ``exporter.sources.ses.Cancelled`` between two calls. The aggregate is then exactly as
  the previous refresh left it (a full count is merged, and an incremental one applied,
  only after its last page).

Not thread-safe: one refresh at a time (the scheduler runs this job with max_instances=1).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import re
import sys
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws import aws_error_code
from exporter.sources.ses import Cancelled, interruptible_sleep

__all__ = [
    "INVALID_DOMAIN",
    "REASONS",
    "SuppressionState",
    "SuppressionTracker",
    "SuppressionUnavailable",
    "recipient_domain",
]

log = structlog.get_logger("exporter.suppression")

REASONS = ("BOUNCE", "COMPLAINT")  # SuppressionListReason in the SESv2 API model
MAX_PAGE_SIZE = 1000  # the API's maximum PageSize
DAY_SECONDS = 86400.0
INVALID_DOMAIN = "(invalid)"  # no "@", an empty or a malformed domain part
THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
_BACKOFF_BASE_SECONDS = 1.0
_BACKOFF_CAP_SECONDS = 30.0
_MAX_REASON_CODES = 256  # reason codes are stored in one byte
_DOMAIN_MAX_LENGTH = 253
_LABEL_MAX_LENGTH = 63
_DOMAIN_CHARS = re.compile(r"[a-z0-9._\-\[\]:]+")  # hostnames, and address literals [1.2.3.4]


class SuppressionUnavailable(Exception):  # noqa: N818 - the name callers catch, fixed by the API
    """The suppression list could not be read; ``error_code`` is the AWS code or error type."""

    def __init__(self, error_code: str, detail: str = "") -> None:
        super().__init__(f"{error_code}: {detail}" if detail else error_code)
        self.error_code = error_code


@dataclass(frozen=True, slots=True)
class SuppressionState:
    """The suppression list, aggregated (a fresh object per refresh; never an address).

    ``by_reason``: entries per reason, BOUNCE and COMPLAINT always present (a reason the
    API adds later appears under its own name). ``added_last_24h``: entries whose
    ``LastUpdateTime`` is within 24 hours of the refresh, i.e. **added or updated**: SES
    moves ``LastUpdateTime`` when a suppressed address is suppressed again.
    ``top_recipient_domains``: up to K (domain, entries), most entries first, ties by name.
    ``full_recount_at``: when the last full count started (epoch seconds); between full
    counts deletions are not seen. ``api_calls``: ListSuppressedDestinations calls made by
    this tracker since it was created, retries included (a counter).
    """

    by_reason: dict[str, int]
    added_last_24h: int
    top_recipient_domains: tuple[tuple[str, int], ...]
    total: int
    full_recount_at: float
    api_calls: int


def recipient_domain(address: str) -> str:
    """The lower-case, IDNA (``xn--``) domain after the last ``@``, or ``INVALID_DOMAIN``."""
    _, at, domain = address.rpartition("@")
    domain = domain.strip().rstrip(".")
    if not at or not domain:
        return INVALID_DOMAIN
    if domain.isascii():
        domain = domain.lower()
    else:
        try:
            domain = domain.encode("idna").decode("ascii").lower()
        except UnicodeError:  # an empty or over-long label, or characters nameprep rejects
            return INVALID_DOMAIN
    labels = domain.split(".")
    if (
        len(domain) > _DOMAIN_MAX_LENGTH
        or not _DOMAIN_CHARS.fullmatch(domain)
        or any(not 0 < len(label) <= _LABEL_MAX_LENGTH for label in labels)
    ):
        return INVALID_DOMAIN
    return domain


class _DigestIndex:
    """Address digest -> reason code.

    The base is the last full count: sorted digests (8 bytes each) with their reason codes
    (1 byte each), looked up by bisection. Entries added or whose reason changed since then
    go to a dict overlay, which the next full count folds back into a new base.
    """

    __slots__ = ("_codes", "_keys", "_overlay")

    def __init__(self, keys: array[int], codes: bytearray) -> None:
        self._keys = keys
        self._codes = codes
        self._overlay: dict[int, int] = {}

    def get(self, digest: int) -> int | None:
        code = self._overlay.get(digest)
        if code is not None:
            return code
        keys = self._keys
        i = bisect_left(keys, digest)
        if i < len(keys) and keys[i] == digest:
            return self._codes[i]
        return None

    def put(self, digest: int, code: int) -> None:
        self._overlay[digest] = code

    def nbytes(self) -> int:
        """Bytes held (sys.getsizeof of the containers plus the overlay's int objects)."""
        overlay = sys.getsizeof(self._overlay) + sum(
            sys.getsizeof(k) + sys.getsizeof(v) for k, v in self._overlay.items()
        )
        return sys.getsizeof(self._keys) + sys.getsizeof(self._codes) + overlay


class _FullCount:
    """Accumulates a full count as sorted per-page runs, merged once at the end."""

    def __init__(self) -> None:
        self.runs: list[tuple[array[int], bytearray, array[int]]] = []
        self.domain_ids: dict[str, int] = {}
        self.recent: dict[int, float] = {}

    def add_page(self, entries: list[tuple[int, int, str, float]], recent_after: float) -> None:
        ids = self.domain_ids
        rows = []
        for position, (digest, code, domain, updated) in enumerate(entries):
            domain_id = ids.setdefault(domain, len(ids))
            rows.append((digest, position, code, domain_id))
            if updated >= recent_after and updated > self.recent.get(digest, -1.0):
                self.recent[digest] = updated
        rows.sort()
        self.runs.append(
            (
                array("Q", [r[0] for r in rows]),
                bytearray(r[2] for r in rows),
                array("I", [r[3] for r in rows]),
            )
        )

    def finish(self, reason_slots: int) -> tuple[_DigestIndex, list[int], dict[str, int]]:
        """Merge the runs: the index, entries per reason code, entries per domain."""
        streams = [
            zip(keys, itertools.repeat(run), codes, domains, strict=False)  # repeat() is endless
            for run, (keys, codes, domains) in enumerate(self.runs)
        ]
        keys_out: array[int] = array("Q")
        codes_out = bytearray()
        per_domain = [0] * len(self.domain_ids)
        previous = -1
        for digest, _run, code, domain_id in heapq.merge(*streams):
            if digest == previous:  # listed twice: updated while the pages were read
                codes_out[-1] = code  # runs merge in page order, so the later read wins
                continue
            previous = digest
            keys_out.append(digest)
            codes_out.append(code)
            per_domain[domain_id] += 1
        self.runs.clear()
        keys_out, codes_out = array("Q", keys_out), bytearray(codes_out)  # drop the slack
        by_code = [codes_out.count(code) for code in range(reason_slots)]
        by_domain = {d: per_domain[i] for d, i in self.domain_ids.items() if per_domain[i]}
        return _DigestIndex(keys_out, codes_out), by_code, by_domain


class SuppressionTracker:
    """Keeps an aggregate of the account-level suppression list of one SESv2 client."""

    def __init__(
        self,
        client: Any,
        *,
        max_requests_per_second: float = 1.0,
        page_size: int = MAX_PAGE_SIZE,
        top_domains: int = 20,
        full_recount_seconds: float = DAY_SECONDS,
        overlap_seconds: float = 300.0,
        max_throttle_retries: int = 5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if not max_requests_per_second > 0:
            raise ValueError("max_requests_per_second must be > 0")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        if top_domains < 0 or max_throttle_retries < 0:
            raise ValueError("top_domains and max_throttle_retries must be >= 0")
        if not full_recount_seconds > 0 or overlap_seconds < 0:
            raise ValueError("full_recount_seconds must be > 0 and overlap_seconds >= 0")
        self._client = client
        self._interval = 1.0 / max_requests_per_second
        self._page_size = page_size
        self._top = top_domains
        self._full_every = full_recount_seconds
        self._overlap = overlap_seconds
        self._max_retries = max_throttle_retries
        self._clock = clock
        self._sleep = sleep or interruptible_sleep(stop)
        self._stop = stop
        self._key = os.urandom(16)  # digests are only comparable inside this tracker
        self._next_call_at: float | None = None
        self._api_calls = 0
        self._reason_names: list[str] = list(REASONS)
        self._reason_codes: dict[str, int] = {r: i for i, r in enumerate(REASONS)}
        # the aggregate; replaced as a whole by a full count
        self._index = _DigestIndex(array("Q"), bytearray())
        self._by_code: list[int] = [0] * len(REASONS)
        self._by_domain: dict[str, int] = {}
        self._recent: dict[int, float] = {}
        self._full_at: float | None = None  # start of the last full count
        self._fetched_from: float | None = None  # start of the last successful refresh
        self._state: SuppressionState | None = None

    @property
    def state(self) -> SuppressionState | None:
        """The last successful refresh's state (None before the first one)."""
        return self._state

    def refresh(self) -> SuppressionState:
        """Fetch what changed (or everything, when a full count is due) and aggregate it.

        Raises ``SuppressionUnavailable``; the previous state is then kept unchanged.
        """
        started = self._clock()
        full_at, fetched_from = self._full_at, self._fetched_from
        if full_at is None or fetched_from is None or started - full_at >= self._full_every:
            self._full_count(started)
            full_at = started
        else:
            self._incremental(since=fetched_from - self._overlap)
        self._fetched_from = started
        now = self._clock()
        horizon = now - DAY_SECONDS
        self._recent = {d: t for d, t in self._recent.items() if t >= horizon}
        by_reason = {name: self._by_code[code] for code, name in enumerate(self._reason_names)}
        top = heapq.nsmallest(self._top, self._by_domain.items(), key=lambda kv: (-kv[1], kv[0]))
        self._state = SuppressionState(
            by_reason=by_reason,
            added_last_24h=len(self._recent),
            top_recipient_domains=tuple(top),
            total=sum(self._by_code),
            full_recount_at=full_at,
            api_calls=self._api_calls,
        )
        return self._state

    def memory_usage(self) -> Mapping[str, int]:
        """Approximate bytes held by the aggregate, by part (sys.getsizeof-based)."""
        domains = sys.getsizeof(self._by_domain) + sum(
            sys.getsizeof(d) + sys.getsizeof(n) for d, n in self._by_domain.items()
        )
        recent = sys.getsizeof(self._recent) + sum(
            sys.getsizeof(d) + sys.getsizeof(t) for d, t in self._recent.items()
        )
        return {"digests": self._index.nbytes(), "domains": domains, "recent": recent}

    # ------------------------------------------------------------------ counting

    def _full_count(self, started: float) -> None:
        recent_after = started - DAY_SECONDS
        scan = _FullCount()
        for page in self._pages(start_date=None):
            scan.add_page(page, recent_after)
        index, by_code, by_domain = scan.finish(len(self._reason_names))
        self._index, self._by_code, self._by_domain = index, by_code, by_domain
        self._recent = scan.recent
        self._full_at = started

    def _incremental(self, since: float) -> None:
        changes = [entry for page in self._pages(start_date=since) for entry in page]
        index, by_code, by_domain, recent = (
            self._index,
            self._by_code,
            self._by_domain,
            self._recent,
        )
        by_code.extend([0] * (len(self._reason_names) - len(by_code)))
        for digest, code, domain, updated in changes:
            old = index.get(digest)
            if old is None:  # new entry
                by_code[code] += 1
                by_domain[domain] = by_domain.get(domain, 0) + 1
                index.put(digest, code)
            elif old != code:  # suppressed again for another reason: same entry, moved
                by_code[old] -= 1
                by_code[code] += 1
                index.put(digest, code)
            if updated > recent.get(digest, -1.0):
                recent[digest] = updated

    def _entry(self, summary: Mapping[str, Any]) -> tuple[int, int, str, float]:
        """(digest, reason code, domain, LastUpdateTime): the address is dropped here."""
        address = str(summary["EmailAddress"])
        digest = int.from_bytes(
            hashlib.blake2b(
                address.encode("utf-8", "surrogatepass"), digest_size=8, key=self._key
            ).digest(),
            "big",
        )
        return (
            digest,
            self._code(str(summary["Reason"])),
            recipient_domain(address),
            _epoch(summary["LastUpdateTime"]),
        )

    def _code(self, reason: str) -> int:
        code = self._reason_codes.get(reason)
        if code is None:  # a reason added to the API after this code was written
            if len(self._reason_names) >= _MAX_REASON_CODES:
                raise SuppressionUnavailable("UnexpectedReason", "too many distinct reasons")
            code = len(self._reason_names)
            self._reason_names.append(reason)
            self._reason_codes[reason] = code
        return code

    # ------------------------------------------------------------------ fetching

    def _pages(self, start_date: float | None) -> Iterator[list[tuple[int, int, str, float]]]:
        """Every page of ListSuppressedDestinations, as entries, following NextToken."""
        params: dict[str, Any] = {"PageSize": self._page_size}
        if start_date is not None:
            params["StartDate"] = datetime.fromtimestamp(start_date, tz=UTC)
        seen_tokens: set[str] = set()
        while True:
            response = self._call(params)
            summaries = response.get("SuppressedDestinationSummaries") or []
            yield [self._entry(summary) for summary in summaries]
            token = response.get("NextToken")
            if not token:
                return
            if token in seen_tokens:
                raise SuppressionUnavailable("NextTokenLoop", "the API repeated a NextToken")
            seen_tokens.add(token)
            params["NextToken"] = token

    def _call(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """One API call, paced, with throttling retried; other errors raised as ours."""
        for attempt in itertools.count():
            self._pace()
            self._api_calls += 1
            try:
                response: Mapping[str, Any] = self._client.list_suppressed_destinations(**params)
            except ClientError as exc:
                code = aws_error_code(exc)
                if code in THROTTLING_CODES and attempt < self._max_retries:
                    delay = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)
                    log.info("suppression list throttled", error=code, retry_in_seconds=delay)
                    self._sleep(delay)
                    continue
                if code in _ACCESS_DENIED_CODES:
                    code = "AccessDeniedException"
                raise SuppressionUnavailable(code, str(exc)) from exc
            except BotoCoreError as exc:
                raise SuppressionUnavailable(aws_error_code(exc), str(exc)) from exc
            return response
        raise AssertionError("unreachable")  # pragma: no cover - itertools.count() is endless

    def _pace(self) -> None:
        """At most one call per interval, measured from one call's start to the next."""
        if self._stop is not None and self._stop.is_set():
            raise Cancelled
        if self._next_call_at is not None:
            wait = self._next_call_at - self._clock()
            if wait > 0:
                self._sleep(min(wait, self._interval))  # bounded if the wall clock steps back
        self._next_call_at = self._clock() + self._interval


def _epoch(value: Any) -> float:
    """botocore parses LastUpdateTime into an aware datetime; accept epoch numbers too."""
    if isinstance(value, datetime):
        aware: datetime = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    return float(value)
