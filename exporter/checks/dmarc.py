"""DMARC (RFC 7489): record parsing, policy discovery with the organizational-domain
fallback, and the `dmarc` and `dmarc_reports` checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache

from publicsuffixlist import PublicSuffixList

from exporter.checks.remedy import dmarc_with, record
from exporter.model import CheckResult, DnsView, RecordAction, RecordChange, Status

__all__ = [
    "DmarcDiscovery",
    "DmarcEvaluation",
    "DmarcRecord",
    "check_dmarc",
    "check_dmarc_reports",
    "evaluate_dmarc",
    "organizational_domain",
    "parse_dmarc",
]

_PARSE_CACHE = 4096  # a domain's rounds come close together; more would hold N records

CHECK = "dmarc"
CHECK_REPORTS = "dmarc_reports"
_POLICY_LEVEL = {"none": 0, "quarantine": 1, "reject": 2}
_MAX_PCT = 100
_PCT = re.compile(r"[0-9]{1,3}")  # RFC 7489 §6.4: 1*3DIGIT
_LABEL = re.compile(r"[a-z0-9_-]{1,63}", re.ASCII)
_MAX_NAME = 253
_MAX_QUOTE = 24
_MAX_REPORT_HOSTS = 10  # bounds the _report._dmarc questions one hostile record can cause


@cache
def _public_suffix_list() -> PublicSuffixList:
    """Built once on first use: parsing the bundled list takes tens of milliseconds."""
    return PublicSuffixList()


@lru_cache(maxsize=_PARSE_CACHE)  # asked for every domain in every round
def organizational_domain(domain: str) -> str:
    """RFC 7489 §3.2: the public suffix plus one label; the domain itself when it has none."""
    domain = domain.lower().removesuffix(".")
    return _public_suffix_list().privatesuffix(domain) or domain


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """A TXT record whose first tag is ``v=DMARC1``.

    ``policy``/``subdomain_policy`` hold only valid values (lower case); ``problems`` says
    what makes the record invalid. ``rua`` lists the aggregate-report URIs as written.
    """

    text: str
    policy: str | None
    subdomain_policy: str | None
    pct: int
    rua: tuple[str, ...]
    problems: tuple[str, ...]

    def applied_policy(self, for_subdomain: bool) -> str | None:
        """``sp=`` governs subdomains that fell back to this record, else ``p=``."""
        if self.problems:
            return None
        if for_subdomain and self.subdomain_policy:
            return self.subdomain_policy
        return self.policy

    @property
    def report_addresses(self) -> tuple[str, ...]:
        """The mailbox of every ``mailto:`` URI in ``rua=``, without any ``!size`` suffix."""
        addresses = []
        for uri in self.rua:
            scheme, colon, rest = uri.partition(":")
            if colon and scheme.lower() == "mailto" and "@" in rest:
                addresses.append(rest.split("!", 1)[0].split("?", 1)[0])
        return tuple(addresses)


def _short(value: str) -> str:
    """A tag value as quoted in a one-line summary."""
    return value if len(value) <= _MAX_QUOTE else value[: _MAX_QUOTE - 3] + "..."


def _tags(text: str) -> list[tuple[str, str]]:
    """RFC 7489 §6.4 tag-value pairs: ';'-separated, whitespace around them allowed."""
    pairs = []
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if part.strip():
            pairs.append((name.strip(" \t").lower(), value.strip(" \t")))
    return pairs


@lru_cache(maxsize=_PARSE_CACHE)  # records repeat across domains and rounds; results are frozen
def parse_dmarc(text: str) -> DmarcRecord | None:
    """Parse a TXT string; None when it is not a DMARC record (first tag not v=DMARC1)."""
    tags = _tags(text)
    if not tags or tags[0] != ("v", "DMARC1"):
        return None
    values: dict[str, str] = {}
    for name, value in tags[1:]:
        values.setdefault(name, value)
    problems = []
    policy = values.get("p", "").lower()
    if policy not in _POLICY_LEVEL:
        problems.append(f"invalid p={_short(values['p'])}" if "p" in values else "missing p=")
    subdomain_policy = values.get("sp", "").lower()
    if "sp" in values and subdomain_policy not in _POLICY_LEVEL:
        problems.append(f"invalid sp={_short(values['sp'])}")
    pct_text = values.get("pct", str(_MAX_PCT))
    pct = int(pct_text) if _PCT.fullmatch(pct_text) else -1
    if not 0 <= pct <= _MAX_PCT:
        problems.append(f"invalid pct={_short(pct_text)} (must be 0-100)")
    rua = tuple(uri.strip(" \t") for uri in values.get("rua", "").split(",") if uri.strip(" \t"))
    return DmarcRecord(
        text=text,
        policy=policy if policy in _POLICY_LEVEL else None,
        subdomain_policy=subdomain_policy if subdomain_policy in _POLICY_LEVEL else None,
        pct=pct,
        rua=rua,
        problems=tuple(problems),
    )


class DmarcDiscovery(StrEnum):
    """How policy discovery (RFC 7489 §6.6.3) ended."""

    PENDING = "pending"
    ERROR = "error"  # a lookup failed: the applying record is unknown
    NOT_FOUND = "not found"  # no DMARC record at the domain or its organizational domain
    MULTIPLE = "multiple"  # several DMARC records at one name: discovery stops, none applies
    FOUND = "found"


@dataclass(frozen=True, slots=True)
class DmarcEvaluation:
    """Where the applying DMARC record was found, and which one."""

    domain: str
    discovery: DmarcDiscovery
    record_name: str = ""  # the _dmarc name the lookup ended at
    record: DmarcRecord | None = None
    fallback: bool = False  # found at the organizational domain for a subdomain
    cname_chain: tuple[str, ...] = ()
    error: str = ""
    duplicates: tuple[DmarcRecord, ...] = ()  # every DMARC record at the name, when several

    @property
    def policy_domain(self) -> str:
        """The domain the record was published for (RFC 7489 §7.1's "Domain Owner")."""
        return self.record_name.removeprefix("_dmarc.")

    @property
    def policy(self) -> str | None:
        """The policy applied to mail from ``domain``; None when no valid record applies."""
        return self.record.applied_policy(self.fallback) if self.record else None

    @property
    def level(self) -> int | None:
        """-1 no valid record applies, 0 none, 1 quarantine, 2 reject, None unknown."""
        if self.discovery in (DmarcDiscovery.PENDING, DmarcDiscovery.ERROR):
            return None
        return _POLICY_LEVEL[self.policy] if self.policy else -1


def evaluate_dmarc(domain: str, view: DnsView) -> DmarcEvaluation:
    """Look up ``_dmarc.<domain>``, then ``_dmarc.<organizational domain>`` if no record."""
    domain = domain.lower().removesuffix(".")
    org = organizational_domain(domain)
    names = [f"_dmarc.{domain}"] + ([f"_dmarc.{org}"] if org != domain else [])
    for name in names:
        answer = view.get(name, "TXT")
        if answer is None:
            return DmarcEvaluation(domain, DmarcDiscovery.PENDING, name)
        if answer.is_error:
            return DmarcEvaluation(domain, DmarcDiscovery.ERROR, name, error=answer.error)
        records = [r for r in map(parse_dmarc, answer.records) if r is not None]
        if len(records) > 1:
            return DmarcEvaluation(domain, DmarcDiscovery.MULTIPLE, name, duplicates=tuple(records))
        if records:
            return DmarcEvaluation(
                domain,
                DmarcDiscovery.FOUND,
                name,
                records[0],
                fallback=name != names[0],
                cname_chain=answer.cname_chain,
            )
    return DmarcEvaluation(domain, DmarcDiscovery.NOT_FOUND, names[-1])


def _valid_host(host: str) -> bool:
    """A plain DNS host name, so it is safe to build a question from it."""
    return len(host) <= _MAX_NAME and all(_LABEL.fullmatch(x) for x in host.split("."))


def _example(domain: str, policy: str) -> str:
    return f'_dmarc.{domain}. TXT "v=DMARC1; p={policy}; rua=mailto:dmarc-reports@{domain}"'


def _new_record(domain: str) -> tuple[RecordChange, ...]:
    text = f"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}"
    return (record(RecordAction.ADD, f"_dmarc.{domain}", "TXT", text),)


def _repaired(found: DmarcRecord) -> str:
    """The record with its invalid tags fixed and every valid one kept."""
    changes: dict[str, str | None] = {}
    if found.policy is None:
        changes["p"] = "quarantine"
    if "invalid sp=" in " ".join(found.problems):
        changes["sp"] = None
    if not 0 <= found.pct <= _MAX_PCT:
        changes["pct"] = None
    return dmarc_with(found.text, changes)


def _raised(evaluation: DmarcEvaluation, found: DmarcRecord) -> str:
    """The record with the policy that applies to ``evaluation.domain`` raised to at least
    quarantine: ``sp=`` where a subdomain falls back to an ``sp=none``, else ``p=``."""
    if evaluation.fallback and found.subdomain_policy == "none":
        stronger = found.policy if found.policy in ("quarantine", "reject") else "quarantine"
        return dmarc_with(found.text, {"sp": stronger})
    return dmarc_with(found.text, {"p": "quarantine"})


def _edit(evaluation: DmarcEvaluation, text: str) -> tuple[RecordChange, ...]:
    """The record at ``record_name`` replaced by ``text``; none where that name is an alias
    (the record lives at the CNAME's target, and a TXT beside a CNAME is not allowed)."""
    if evaluation.cname_chain:
        return ()
    return (record(RecordAction.REPLACE, evaluation.record_name, "TXT", text),)


def _strongest(records: tuple[DmarcRecord, ...]) -> DmarcRecord:
    valid = [r for r in records if not r.problems]
    return max(valid, key=lambda r: _POLICY_LEVEL[r.policy or "none"]) if valid else records[0]


def check_dmarc(evaluation: DmarcEvaluation) -> CheckResult:
    """The ``dmarc`` check: fail without a valid record, warn for p=none or pct<100."""
    domain, found = evaluation.domain, evaluation.record
    name, discovery = evaluation.record_name, evaluation.discovery
    if discovery is DmarcDiscovery.PENDING:
        return CheckResult(CHECK, Status.UNKNOWN, "pending")
    if discovery is DmarcDiscovery.ERROR:
        return CheckResult(CHECK, Status.UNKNOWN, f"TXT {name} lookup failed: {evaluation.error}")
    if discovery is DmarcDiscovery.MULTIPLE:
        keep = _strongest(evaluation.duplicates)
        return CheckResult(
            CHECK,
            Status.FAIL,
            f"{name} has several DMARC records, so receivers apply none",
            f"keep exactly one TXT record starting with v=DMARC1 at {name} (the strongest)",
            tuple(
                record(RecordAction.DELETE, name, "TXT", r.text)
                for r in evaluation.duplicates
                if r is not keep
            )
            + (
                (record(RecordAction.REPLACE, name, "TXT", _repaired(keep)),)
                if keep.problems
                else ()
            ),
        )
    if found is None:
        return CheckResult(
            CHECK,
            Status.FAIL,
            f"no DMARC record for {domain}: receivers apply no policy to spoofed mail",
            f"publish a DMARC record with p=quarantine, then move to p=reject; use a mailbox "
            f"you read for rua= (dmarc-reports@{domain} below)",
            _new_record(domain),
        )
    where = name + (
        f" (via CNAME {' -> '.join(evaluation.cname_chain)})" if evaluation.cname_chain else ""
    )
    if found.problems:
        return CheckResult(
            CHECK,
            Status.FAIL,
            f"invalid DMARC record at {where}: {', '.join(found.problems)}",
            f"fix the record at {name}, keeping its other tags",
            _edit(evaluation, _repaired(found)),
        )
    policy = evaluation.policy
    tag = "sp" if evaluation.fallback and found.subdomain_policy else "p"
    summary = f"DMARC {tag}={policy} for {domain} at {where}"
    if policy == "none":
        return CheckResult(
            CHECK,
            Status.WARN,
            f"{summary}: spoofed mail is delivered (monitoring only)",
            f"raise {tag}= to quarantine in the record at {name}, then move to reject",
            _edit(evaluation, _raised(evaluation, found)),
        )
    if found.pct < _MAX_PCT:
        return CheckResult(
            CHECK,
            Status.WARN,
            f"{summary}, but pct={found.pct}: only {found.pct}% of failing mail gets it",
            f"remove pct= (or set pct=100) in the record at {name}",
            _edit(evaluation, dmarc_with(found.text, {"pct": None})),
        )
    return CheckResult(CHECK, Status.PASS, summary)


def _authorization(
    domain: str, hosts: list[str], view: DnsView
) -> tuple[list[str], list[str]] | None:
    """The ``_report._dmarc`` names (RFC 7489 §7.1) without a DMARC record and those whose
    lookup failed; None while an answer is pending."""
    names = [f"{domain}._report._dmarc.{host}" for host in hosts]
    answers = [view.get(name, "TXT") for name in names]
    fetched = [answer for answer in answers if answer is not None]
    if len(fetched) < len(answers):
        return None
    pairs = list(zip(names, fetched, strict=True))
    failed = [name for name, answer in pairs if answer.is_error]
    missing = [
        name
        for name, answer in pairs
        if not answer.is_error and not any(parse_dmarc(text) for text in answer.records)
    ]
    return missing, failed


def _with_rua(
    evaluation: DmarcEvaluation, found: DmarcRecord, uris: list[str]
) -> tuple[RecordChange, ...]:
    return _edit(evaluation, dmarc_with(found.text, {"rua": ",".join(uris)}))


def check_dmarc_reports(evaluation: DmarcEvaluation, view: DnsView) -> CheckResult:
    """The ``dmarc_reports`` check: someone must receive aggregate reports.

    A mailbox on another organizational domain only gets reports when that domain
    authorizes it with ``<policy domain>._report._dmarc.<mailbox host>`` (RFC 7489 §7.1).
    """
    if evaluation.level is None:
        status = "pending" if evaluation.discovery is DmarcDiscovery.PENDING else "DMARC unknown"
        return CheckResult(CHECK_REPORTS, Status.UNKNOWN, status)
    found, domain = evaluation.record, evaluation.policy_domain
    if found is None or evaluation.level < 0:
        return CheckResult(
            CHECK_REPORTS,
            Status.WARN,
            "no valid DMARC record, so no aggregate reports",
            "publish a valid DMARC record with rua= (see the dmarc check)",
        )
    hosts = list(
        dict.fromkeys(
            address.rpartition("@")[2].lower().removesuffix(".")
            for address in found.report_addresses
        )
    )
    if not hosts:
        return CheckResult(
            CHECK_REPORTS,
            Status.WARN,
            "no rua=mailto: in the DMARC record: spoofing and alignment failures go unseen",
            f"add rua= to the record at {evaluation.record_name}, with a mailbox you read "
            f"(dmarc-reports@{domain} below)",
            _with_rua(evaluation, found, [f"mailto:dmarc-reports@{domain}"]),
        )
    invalid = [h for h in hosts if not _valid_host(h)]
    if invalid:
        return CheckResult(
            CHECK_REPORTS,
            Status.WARN,
            f"rua= has mailboxes without a valid domain: {', '.join(invalid)}",
            f"fix rua= in the record at {evaluation.record_name}",
            _with_rua(
                evaluation,
                found,
                [u for u in found.rua if not any(h in u.lower() for h in invalid)]
                or [f"mailto:dmarc-reports@{domain}"],
            ),
        )
    own = organizational_domain(domain)
    external = [h for h in hosts if organizational_domain(h) != own][:_MAX_REPORT_HOSTS]
    authorization = _authorization(domain, external, view)
    if authorization is None:
        return CheckResult(CHECK_REPORTS, Status.UNKNOWN, "pending")
    missing, failed = authorization
    if missing:
        return CheckResult(
            CHECK_REPORTS,
            Status.WARN,
            f"report receivers do not authorize reports for {domain}: {', '.join(missing)}",
            "ask the receivers to publish these records (or use a mailbox in your own domain)",
            tuple(record(RecordAction.ADD, name, "TXT", "v=DMARC1") for name in missing),
        )
    if failed:
        return CheckResult(CHECK_REPORTS, Status.UNKNOWN, f"TXT lookup failed: {', '.join(failed)}")
    return CheckResult(
        CHECK_REPORTS, Status.PASS, f"aggregate reports go to {', '.join(found.report_addresses)}"
    )
