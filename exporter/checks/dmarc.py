"""DMARC: policy discovery by the RFC 9989 DNS tree walk, compared with the RFC 7489
Public Suffix List discovery most receivers still run, and the `dmarc` and
`dmarc_reports` checks (the record itself is parsed in `dmarc_record`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from exporter.checks.dmarc_record import (
    MAX_PCT,
    POLICY_LEVEL,
    DmarcRecord,
    organizational_domain,
    parse_dmarc,
)
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
    "tree_walk_names",
]

CHECK = "dmarc"
CHECK_REPORTS = "dmarc_reports"
_LABEL = re.compile(r"[a-z0-9_-]{1,63}", re.ASCII)
_MAX_NAME = 253
_MAX_REPORT_HOSTS = 10  # bounds the _report._dmarc questions one hostile record can cause
_WALK_LABELS = 8  # RFC 9989 §4.10: a longer name jumps to its last 7 labels (8 queries)
_LOWER = {"reject": "quarantine", "quarantine": "none", "none": "none"}


class DmarcDiscovery(StrEnum):
    """How policy discovery ended."""

    PENDING = "pending"
    ERROR = "error"  # a lookup failed: the applying record is unknown
    NOT_FOUND = "not found"  # no DMARC record at the domain or above it
    MULTIPLE = "multiple"  # several DMARC records at one name: discovery stops, none applies
    FOUND = "found"


@dataclass(frozen=True, slots=True)
class DmarcEvaluation:
    """Where the applying DMARC record was found, and which one.

    The record is the one the RFC 9989 DNS tree walk finds. ``legacy`` is what RFC 7489
    discovery (the domain, then its Public Suffix List organizational domain) finds, set
    only where it differs in record or policy: receivers running either disagree.
    ``skipped`` lists lookups above the organizational domain that failed; the walk goes
    on past them (a public suffix's record, which RFC 7489 receivers never ask for).
    """

    domain: str
    discovery: DmarcDiscovery
    record_name: str = ""  # the _dmarc name the lookup ended at
    record: DmarcRecord | None = None
    fallback: bool = False  # found above the domain: sp= applies
    cname_chain: tuple[str, ...] = ()
    error: str = ""
    duplicates: tuple[DmarcRecord, ...] = ()  # every DMARC record at the name, when several
    legacy: DmarcEvaluation | None = None
    skipped: tuple[str, ...] = ()

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
        """-1 no valid record applies, 0 none, 1 quarantine, 2 reject, None unknown; one
        step lower under ``t=y`` (RFC 9989 testing mode: reject acts as quarantine,
        quarantine as none)."""
        if self.discovery in (DmarcDiscovery.PENDING, DmarcDiscovery.ERROR):
            return None
        if not self.policy:
            return -1
        tested = self.record is not None and self.record.testing
        return POLICY_LEVEL[_LOWER[self.policy] if tested else self.policy]

    def describe(self) -> str:
        """What a receiver running this discovery applies, for a one-line summary."""
        if self.discovery is DmarcDiscovery.FOUND:
            policy = self.policy or "no policy (invalid record)"
            return f"{policy} from {self.record_name}"
        if self.discovery is DmarcDiscovery.MULTIPLE:
            return f"no policy (several records at {self.record_name})"
        return "no policy (no record)"


def tree_walk_names(domain: str) -> list[str]:
    """The domains RFC 9989's DNS tree walk asks about, in order: the domain, then (after
    a jump to the last 7 labels for longer names) each parent up to the top-level domain:
    at most 8."""
    labels = domain.split(".")
    start = _WALK_LABELS - 1 if len(labels) > _WALK_LABELS else len(labels) - 1
    return [domain] + [".".join(labels[-k:]) for k in range(start, 0, -1)]


def _discover(domain: str, domains: list[str], view: DnsView, tolerant: int) -> DmarcEvaluation:
    """The first DMARC record at ``_dmarc.<d>`` for ``d`` in ``domains``; a failed lookup at
    index ``tolerant`` or later is skipped instead of ending discovery."""
    skipped: list[str] = []
    for index, looked_up in enumerate(domains):
        name = f"_dmarc.{looked_up}"
        answer = view.get(name, "TXT")
        if answer is None:
            return DmarcEvaluation(domain, DmarcDiscovery.PENDING, name)
        if answer.is_error:
            if index >= tolerant:
                skipped.append(f"TXT {name}: {answer.error or 'error'}")
                continue
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
                fallback=index > 0,
                cname_chain=answer.cname_chain,
                skipped=tuple(skipped),
            )
    return DmarcEvaluation(
        domain, DmarcDiscovery.NOT_FOUND, f"_dmarc.{domains[-1]}", skipped=tuple(skipped)
    )


def _outcome(evaluation: DmarcEvaluation) -> tuple[DmarcDiscovery, str, str | None]:
    found = evaluation.discovery in (DmarcDiscovery.FOUND, DmarcDiscovery.MULTIPLE)
    return evaluation.discovery, evaluation.record_name if found else "", evaluation.policy


def evaluate_dmarc(domain: str, view: DnsView) -> DmarcEvaluation:
    """Discover the policy by the RFC 9989 tree walk, and by RFC 7489 (``_dmarc.<domain>``,
    then ``_dmarc.<organizational domain>``) to say where receivers disagree."""
    domain = domain.lower().removesuffix(".")
    org = organizational_domain(domain)
    walk_domains = tree_walk_names(domain)
    above_org = next(
        (i for i, d in enumerate(walk_domains) if d.count(".") < org.count(".")),
        len(walk_domains),
    )
    walk = _discover(domain, walk_domains, view, above_org)
    if walk.discovery in (DmarcDiscovery.PENDING, DmarcDiscovery.ERROR):
        return walk
    legacy_domains = [domain] + ([org] if org != domain else [])
    legacy = _discover(domain, legacy_domains, view, len(legacy_domains))
    if legacy.discovery is DmarcDiscovery.PENDING:
        return legacy
    if legacy.discovery is DmarcDiscovery.ERROR or _outcome(legacy) == _outcome(walk):
        return walk
    return replace(walk, legacy=legacy)


def _valid_host(host: str) -> bool:
    """A plain DNS host name, so it is safe to build a question from it."""
    return len(host) <= _MAX_NAME and all(_LABEL.fullmatch(x) for x in host.split("."))


def _example(domain: str, policy: str) -> str:
    return f'_dmarc.{domain}. TXT "v=DMARC1; p={policy}; rua=mailto:dmarc-reports@{domain}"'


def _new_record(domain: str) -> tuple[RecordChange, ...]:
    text = f"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}"
    return (record(RecordAction.ADD, f"_dmarc.{domain}", "TXT", text),)


def _repaired(found: DmarcRecord) -> str:
    """The record with its invalid tags fixed and every valid one kept; a repeated policy
    tag keeps its strongest value, so no receiver's policy drops."""
    changes: dict[str, str | None] = dict.fromkeys(found.invalid_tags)
    for tag in found.duplicates:
        written = [v.lower() for t, v in found.values if t == tag]
        policies = [v for v in written if v in POLICY_LEVEL]
        if tag in ("p", "sp", "np") and policies:
            changes[tag] = max(policies, key=POLICY_LEVEL.__getitem__)
    if found.policy is None and "p" not in changes:
        changes["p"] = "quarantine"
    return dmarc_with(found.text.lstrip(" \t"), changes)


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
    found = evaluation.record
    if found is not None and found.leading_space:  # "the record starting v=DMARC1" is not it
        return (
            record(RecordAction.DELETE, evaluation.record_name, "TXT", found.text),
            record(RecordAction.ADD, evaluation.record_name, "TXT", text),
        )
    return (record(RecordAction.REPLACE, evaluation.record_name, "TXT", text),)


def _strongest(records: tuple[DmarcRecord, ...]) -> DmarcRecord:
    valid = [r for r in records if not r.problems]
    return max(valid, key=lambda r: POLICY_LEVEL[r.policy or "none"]) if valid else records[0]


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
            f"no DMARC record for {domain}: receivers apply no policy to spoofed mail"
            + (
                f" (a public suffix's record could not be read: {evaluation.skipped[0]})"
                if evaluation.skipped
                else ""
            ),
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
            f"{summary}: spoofed mail is delivered (monitoring only)"
            + (
                f" (RFC 7489 receivers apply {evaluation.legacy.describe()})"
                if evaluation.legacy
                else ""
            ),
            f"raise {tag}= to quarantine in the record at {name}, then move to reject"
            + (f", and publish a record at _dmarc.{domain}" if evaluation.legacy else ""),
            _edit(evaluation, _raised(evaluation, found))
            + _agreeing_record(evaluation, found, "quarantine"),
        )
    caveats, remedies, changes = _caveats(evaluation, found, policy or "none")
    if not caveats:
        return CheckResult(CHECK, Status.PASS, summary)
    edits = (
        ()
        if not changes and not found.leading_space
        else (_edit(evaluation, dmarc_with(found.text, changes)))
    )
    return CheckResult(
        CHECK,
        Status.WARN,
        f"{summary}, but " + "; ".join(caveats),
        "; ".join(remedies),
        edits + _agreeing_record(evaluation, found),
    )


def _caveats(
    evaluation: DmarcEvaluation, found: DmarcRecord, policy: str
) -> tuple[list[str], list[str], dict[str, str | None]]:
    """What weakens a quarantine/reject policy: the caveats, their remedies and the tag
    changes that fix them in the published record."""
    caveats, remedies = [], []
    changes: dict[str, str | None] = {}
    name = evaluation.record_name
    if found.testing:
        caveats.append(
            f"t=y (testing, RFC 9989): receivers that follow it apply {_LOWER[policy]} "
            f"instead of {policy}"
        )
        remedies.append(f"remove t=y from the record at {name} once testing is over")
        changes["t"] = None
    if found.pct < MAX_PCT:
        caveats.append(
            f"pct={found.pct}: RFC 7489 receivers apply it to only {found.pct}% of failing "
            "mail (pct is removed in RFC 9989; use t=y for testing)"
        )
        remedies.append(f"remove pct= (or set pct=100) in the record at {name}")
        changes["pct"] = None
    subdomains = found.subdomain_policy or found.policy or "none"
    if found.nonexistent_policy == "none" and POLICY_LEVEL[subdomains] > 0:
        caveats.append(
            f"np=none: spoofed mail from non-existent subdomains of "
            f"{evaluation.policy_domain} gets no policy"
        )
        remedies.append(f"set np={subdomains} (or remove np=) in the record at {name}")
        changes["np"] = subdomains
    if found.leading_space:
        caveats.append(f"the record at {name} starts with whitespace: some receivers discard it")
        remedies.append(f"remove the leading whitespace of the record at {name}")
    if evaluation.legacy is not None:
        caveats.append(
            f"receivers disagree: RFC 9989 receivers (DNS tree walk) apply "
            f"{evaluation.describe()}, RFC 7489 receivers (Public Suffix List) apply "
            f"{evaluation.legacy.describe()}"
        )
        remedies.append(
            f"publish a record at _dmarc.{evaluation.domain} so both find the same policy"
        )
    return caveats, remedies, changes


def _agreeing_record(
    evaluation: DmarcEvaluation, found: DmarcRecord, floor: str = "none"
) -> tuple[RecordChange, ...]:
    """Where RFC 7489 and RFC 9989 receivers find different records, a record at the domain
    itself, which both read first: the found record with the stronger of the two policies
    (at least ``floor``)."""
    if evaluation.legacy is None:
        return ()
    policies = [p for p in (evaluation.policy, evaluation.legacy.policy, floor) if p]
    strongest = max(policies, key=POLICY_LEVEL.__getitem__) if policies else "quarantine"
    text = dmarc_with(found.text.lstrip(" \t"), {"p": strongest})
    return (record(RecordAction.ADD, f"_dmarc.{evaluation.domain}", "TXT", text),)


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
