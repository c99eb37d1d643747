"""`evaluate_domain`: every check for one sending domain, in a fixed order.

The I/O layer calls it repeatedly: each call asks the view for everything it can name
so far, the source fetches what was missing, and the last call (the first that asks for
nothing new) is the real report. So every check runs every round, and each round asks
for every independent name at once.

A source that wants fewer evaluations uses the same checks in pieces: `first_questions`
names what the first call would ask of an empty view, so that call can be skipped;
`domain_parts` splits the checks into independent parts, each a pure function of the
answers it reads, so a part that found all its answers is final and need not run again;
`assemble` makes the report of the parts' results, the same report `evaluate_domain`
makes from the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from exporter.checks.dkim import check_dkim
from exporter.checks.dmarc import check_dmarc, check_dmarc_reports, evaluate_dmarc
from exporter.checks.mail_from import (
    check_mail_from_mx,
    check_mail_from_resolvable,
    check_mail_from_spf,
)
from exporter.checks.mx import check_mx
from exporter.checks.spf import check_spf, evaluate_spf
from exporter.model import (
    CheckResult,
    CheckResultKey,
    DnsView,
    DomainReport,
    DomainTarget,
    Status,
)

__all__ = [
    "CHECK_IDS",
    "DomainPart",
    "PartResult",
    "assemble",
    "domain_parts",
    "evaluate_domain",
    "first_questions",
]

CHECK_IDS = (
    "mx",
    "spf",
    "dkim",
    "dmarc",
    "dmarc_reports",
    "mail_from_resolvable",
    "mail_from_mx",
    "mail_from_spf",
)
_RESOLVABLE = {Status.PASS: True, Status.FAIL: False}


class PartResult(NamedTuple):
    """What one part contributes to the report: its checks, and its gauge if it has one."""

    checks: tuple[CheckResult, ...]
    spf_dns_lookups: int | None = None
    dmarc_policy_level: int | None = None
    mail_from_resolvable: bool | None = None


# A part: (the domain as the checks spell it, the target, the view) -> its result.
DomainPart = Callable[[str, DomainTarget, DnsView], PartResult]


def _mx(domain: str, _target: DomainTarget, view: DnsView) -> PartResult:
    return PartResult((check_mx(domain, view),))


def _spf(domain: str, _target: DomainTarget, view: DnsView) -> PartResult:
    spf = evaluate_spf(domain, view)
    return PartResult((check_spf(spf),), spf_dns_lookups=spf.known_lookups)


def _dkim(_domain: str, target: DomainTarget, view: DnsView) -> PartResult:
    return PartResult((check_dkim(target, view),))


def _dmarc(domain: str, _target: DomainTarget, view: DnsView) -> PartResult:
    dmarc = evaluate_dmarc(domain, view)
    return PartResult(
        (check_dmarc(dmarc), check_dmarc_reports(dmarc, view)), dmarc_policy_level=dmarc.level
    )


def _mail_from_resolvable(_domain: str, target: DomainTarget, view: DnsView) -> PartResult:
    assert target.mail_from is not None  # noqa: S101 - a part only of targets with one
    check = check_mail_from_resolvable(target.mail_from, view)
    return PartResult((check,), mail_from_resolvable=_RESOLVABLE.get(check.status))


def _mail_from_mx(_domain: str, target: DomainTarget, view: DnsView) -> PartResult:
    assert target.mail_from is not None  # noqa: S101 - a part only of targets with one
    return PartResult((check_mail_from_mx(target.mail_from, target.region, view),))


def _mail_from_spf(_domain: str, target: DomainTarget, view: DnsView) -> PartResult:
    assert target.mail_from is not None  # noqa: S101 - a part only of targets with one
    return PartResult((check_mail_from_spf(evaluate_spf(target.mail_from, view)),))


_BASE: tuple[DomainPart, ...] = (_mx, _spf)
_WITH_DKIM: tuple[DomainPart, ...] = (_mx, _spf, _dkim)
_DMARC: tuple[DomainPart, ...] = (_dmarc,)
_MAIL_FROM: tuple[DomainPart, ...] = (_mail_from_resolvable, _mail_from_mx, _mail_from_spf)


def domain_parts(target: DomainTarget) -> tuple[DomainPart, ...]:
    """The parts ``target``'s checks run in, in `CHECK_IDS` order; each reads the view on
    its own and depends on nothing but the answers it reads."""
    parts = (_WITH_DKIM if target.dkim_tokens else _BASE) + _DMARC
    return parts + _MAIL_FROM if target.mail_from else parts


def checked_name(target: DomainTarget) -> str:
    """The domain as the parts take it: lower case, without the trailing dot."""
    return target.name.lower().removesuffix(".")


def assemble(
    target: DomainTarget,
    results: Sequence[PartResult],
    texts: dict[str, str] | None = None,
    shared: dict[CheckResultKey, CheckResult] | None = None,
) -> DomainReport:
    """The report of ``target`` from the results of its `domain_parts`, in their order.
    With ``texts``, summaries that name the domain are kept there once for every domain,
    and with ``shared`` each verdict's shape is kept once for all of them, a result that
    names no domain being one object (`CheckResult.shared`): what a cycle over many domains
    does."""
    checks: list[CheckResult] = []
    lookups = level = resolvable = None
    domain = checked_name(target)
    domain = target.name if domain == target.name else domain  # no copy per report
    for result in results:
        if texts is None:
            checks += result.checks
        else:
            checks += [check.shared(domain, texts, shared) for check in result.checks]
        if result.spf_dns_lookups is not None:
            lookups = result.spf_dns_lookups
        if result.dmarc_policy_level is not None:
            level = result.dmarc_policy_level
        if result.mail_from_resolvable is not None:
            resolvable = result.mail_from_resolvable
    return DomainReport(
        domain=target.name,
        checks=tuple(checks),
        mail_from=target.mail_from,
        mail_from_resolvable=resolvable,
        dmarc_policy_level=level,
        spf_dns_lookups=lookups,
    )


def evaluate_domain(target: DomainTarget, view: DnsView) -> DomainReport:
    """Run the checks whose inputs ``target`` gives; see `CHECK_IDS` for the order."""
    domain = checked_name(target)
    return assemble(target, [part(domain, target, view) for part in domain_parts(target)])


def first_questions(target: DomainTarget) -> list[tuple[str, str]]:
    """What `evaluate_domain` asks of a view that has no answer yet (tests hold the two
    together): the domain's MX, SPF and DMARC records, the TXT at each DKIM selector (the
    CNAME and the key it leads to in one answer) and the MAIL FROM domain's A, MX and SPF
    (its AAAA only matters when A has no records). Every later question depends on these
    answers."""
    domain = checked_name(target)
    questions = [(domain, "MX"), (domain, "TXT"), (f"_dmarc.{domain}", "TXT")]
    questions += [
        (f"{token}._domainkey.{domain}", "TXT")
        for token in dict.fromkeys(token.lower() for token in target.dkim_tokens)
    ]
    if target.mail_from:
        mail_from = target.mail_from.lower().removesuffix(".")
        questions += [(mail_from, rdtype) for rdtype in ("A", "MX", "TXT")]
    return list(dict.fromkeys(questions))
