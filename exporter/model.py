"""Data types shared by the pure checks, the I/O sources and the collectors.

Everything here is immutable, so a snapshot handed to the HTTP threads can never
change under a scrape.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol, cast

__all__ = [
    "Answer",
    "AnswerKind",
    "CheckResult",
    "DnsView",
    "DomainReport",
    "DomainTarget",
    "RecordAction",
    "RecordChange",
    "Status",
]


class Status(StrEnum):
    """A check's verdict. `unknown` means the inputs could not be fetched, never a failure."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Order used to pick the worst verdict: pass < warn < unknown < fail."""
        return _RANK[self]


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.FAIL: 3}


class AnswerKind(StrEnum):
    """How a DNS question was answered, after following CNAMEs."""

    RECORDS = "records"  # NOERROR with at least one record of the asked type
    NODATA = "nodata"  # NOERROR, the name exists but has no record of that type
    NXDOMAIN = "nxdomain"  # the name does not exist
    ERROR = "error"  # timeout, SERVFAIL, REFUSED, network error: the truth is unknown


class Answer:
    """One DNS answer in the text form the checks read (immutable).

    Record text per type (names are lower case, without the trailing dot):
    - TXT: the record's character-strings concatenated (RFC 7208 §3.3), decoded as UTF-8
      with undecodable bytes replaced;
    - MX: ``"<preference> <exchange>"``; a null MX (RFC 7505) is ``"0 ."``;
    - CNAME: the target name; A/AAAA: the address.
    ``error`` names the failure for ERROR answers (``timeout``, ``servfail``, ``refused``,
    ``network``, ...). ``cname_chain`` lists the aliases followed to reach the answer, and
    ``canonical_name`` is the name the chain ends at (RFC 1034 §3.6.2: the name the records,
    or the failure, belong to); it is "" when no alias was followed. A client that follows
    aliases sets both.

    A class of its own, not a frozen dataclass: one is made per DNS response, and a frozen
    dataclass's generated ``__init__`` (interpreted even in the compiled build, one
    ``object.__setattr__`` per field) was about 2 % of a check cycle's CPU.
    """

    __slots__ = ("canonical_name", "cname_chain", "error", "kind", "records")

    def __init__(
        self,
        kind: AnswerKind,
        records: tuple[str, ...] = (),
        error: str = "",
        cname_chain: tuple[str, ...] = (),
        canonical_name: str = "",
    ) -> None:
        self.kind: Final = kind
        self.records: Final = records
        self.error: Final = error
        self.cname_chain: Final = cname_chain
        self.canonical_name: Final = canonical_name

    def _key(self) -> tuple[AnswerKind, tuple[str, ...], str, tuple[str, ...], str]:
        return (self.kind, self.records, self.error, self.cname_chain, self.canonical_name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Answer):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Answer(kind={self.kind!r}, records={self.records!r}, error={self.error!r}, "
            f"cname_chain={self.cname_chain!r}, canonical_name={self.canonical_name!r})"
        )

    @property
    def is_error(self) -> bool:
        return self.kind is AnswerKind.ERROR

    @property
    def exists(self) -> bool:
        """True when the name exists (records or NODATA)."""
        return self.kind in (AnswerKind.RECORDS, AnswerKind.NODATA)


class DnsView(Protocol):
    """Read access to the answers fetched so far.

    ``get`` returns None for a question not fetched yet. The checks then return a
    provisional result; the source fetches every question asked for and runs the
    checks again until nothing is missing (see ``exporter.sources.dns``).
    ``name`` is lower case without a trailing dot, ``rdtype`` one of
    A, AAAA, MX, TXT, CNAME.
    """

    def get(self, name: str, rdtype: str) -> Answer | None: ...


@dataclass(frozen=True, slots=True)
class DomainTarget:
    """What to check for one sending domain (from config or, later, SES discovery)."""

    name: str
    mail_from: str | None = None
    dkim_tokens: tuple[str, ...] = ()
    region: str | None = None
    dkim_signing_zone: str | None = None  # SES SigningHostedZone when known

    def inputs(self) -> tuple[str, str | None, tuple[str, ...], str | None, str | None]:
        """Every field, in order: what a verdict depends on besides the answers (the
        verdict memo's key). Spelled out, not read by name: the memo reads it for every
        domain of every cycle; a test holds it equal to the dataclass's fields."""
        return (self.name, self.mail_from, self.dkim_tokens, self.region, self.dkim_signing_zone)


class RecordAction(StrEnum):
    """What to do with one DNS record to apply a remedy."""

    ADD = "add"  # a new record next to those of the same name and type
    REPLACE = "replace"  # the RRset of that name and type; for TXT, the one with the same v= tag
    DELETE = "delete"  # exactly this record


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One record of a remedy, complete enough to paste into a zone file."""

    action: RecordAction
    name: str  # absolute, lower case, without the trailing dot
    rdtype: str
    value: str  # presentation format: TXT strings quoted, host names with a trailing dot
    ttl: int = 3600

    def zone_line(self) -> str:
        return f"{self.name}. {self.ttl} IN {self.rdtype} {self.value}"

    def as_json(self) -> dict[str, str]:
        return {"action": self.action, "name": self.name, "type": self.rdtype, "value": self.value}


_SUBJECT = "\x00"  # in a shared summary text: where the domain it is about goes back
# A result's shape, its domain left out of the summary: (check, status, summary, remedy,
# records). Every domain with the same verdict shares one.
CheckResultKey = tuple[str, Status, str, str, tuple[RecordChange, ...]]


class CheckResult:
    """The verdict of one check on one domain, with what to do about it (immutable).

    ``remedy`` says what to do in words; ``records`` are the DNS changes that do it, when the
    fix is in DNS (a fix on the SES side has words only).

    A cycle holds 100,000 reports of eight results, and most differ from other domains'
    only in the domain their summary names: `shared` gives a result whose parts (check,
    status, summary text, remedy, records: its shape) are one tuple for all of them, with
    the domain put back when ``summary`` is read. So a result is two references (48 bytes,
    not 80), and one shape serves every domain with that verdict. Equal by value either way.
    """

    __slots__ = ("_shape", "_subject")

    def __init__(
        self,
        check: str,
        status: Status,
        summary: str,
        remedy: str = "",
        records: tuple[RecordChange, ...] = (),
    ) -> None:
        # A tuple of unknown length: a compiled build keeps it as one reference, where a
        # fixed-length one would be five fields of the object again.
        self._shape: tuple[object, ...] = (check, status, summary, remedy, records)
        self._subject = ""  # "": the summary is the shape's text as is; set by `shared` alone

    @property
    def check(self) -> str:
        return cast("str", self._shape[0])

    @property
    def status(self) -> Status:
        return cast("Status", self._shape[1])

    @property
    def summary(self) -> str:
        text = cast("str", self._shape[2])
        if self._subject:
            return text.replace(_SUBJECT, self._subject)
        return text

    @property
    def remedy(self) -> str:
        return cast("str", self._shape[3])

    @property
    def records(self) -> tuple[RecordChange, ...]:
        return cast("tuple[RecordChange, ...]", self._shape[4])

    def shared(
        self,
        subject: str,
        texts: dict[str, str],
        results: dict[CheckResultKey, CheckResult] | None = None,
    ) -> CheckResult:
        """This result with its summary text taken from ``texts`` (and added to it), the
        name ``subject`` left out of the text where it occurs. With ``results``, the shape
        is kept there once for every domain; a result whose summary does not name
        ``subject`` is about no domain in particular, and is itself one object for every
        domain (at 10^5 domains, one object instead of 10^5 for each such verdict)."""
        if self._subject:
            return self  # shared already
        check, status, text, remedy, records = self._shape
        text = cast("str", text)
        if subject and subject in text and _SUBJECT not in text + subject:  # exactly undone
            text = text.replace(subject, _SUBJECT)
        else:
            subject = ""
        text = texts.setdefault(text, text)
        key = (
            cast("str", check),
            cast("Status", status),
            text,
            cast("str", remedy),
            cast("tuple[RecordChange, ...]", records),
        )
        known = results.get(key) if results is not None else None
        if known is None:
            known = CheckResult(*key)
            if results is not None:
                results[key] = known
        if not subject:
            return known
        result = CheckResult(*key)
        result._shape = known._shape  # the one shape of every domain's equal result
        result._subject = subject  # its own class, still being made
        return result

    def _key(self) -> tuple[str, Status, str, str, tuple[RecordChange, ...]]:
        return (self.check, self.status, self.summary, self.remedy, self.records)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckResult):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"CheckResult(check={self.check!r}, status={self.status!r}, "
            f"summary={self.summary!r}, remedy={self.remedy!r}, records={self.records!r})"
        )


@dataclass(frozen=True, slots=True)
class DomainReport:
    """Every check's verdict for one domain, plus the numeric facts exported as gauges.

    ``dmarc_policy_level``: -1 no valid record, 0 none, 1 quarantine, 2 reject, None unknown.
    ``mail_from_resolvable``: None when there is no custom MAIL FROM or DNS could not say.
    """

    domain: str
    checks: tuple[CheckResult, ...]
    mail_from: str | None = None
    mail_from_resolvable: bool | None = None
    dmarc_policy_level: int | None = None
    spf_dns_lookups: int | None = None

    @property
    def worst(self) -> Status:
        if not self.checks:
            return Status.PASS
        return max((c.status for c in self.checks), key=lambda s: s.rank)
