"""`evaluate_domain`: every check for one sending domain, in a fixed order.

The I/O layer calls it repeatedly: each call asks the view for everything it can name
so far, the source fetches what was missing, and the last call (the first that asks for
nothing new) is the real report. So every check runs every round, and each round asks
for every independent name at once.
"""

from __future__ import annotations

from exporter.checks.dkim import check_dkim
from exporter.checks.dmarc import check_dmarc, check_dmarc_reports, evaluate_dmarc
from exporter.checks.mail_from import (
    check_mail_from_mx,
    check_mail_from_resolvable,
    check_mail_from_spf,
)
from exporter.checks.mx import check_mx
from exporter.checks.spf import check_spf, evaluate_spf
from exporter.model import DnsView, DomainReport, DomainTarget, Status

__all__ = ["CHECK_IDS", "evaluate_domain"]

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


def evaluate_domain(target: DomainTarget, view: DnsView) -> DomainReport:
    """Run the checks whose inputs ``target`` gives; see `CHECK_IDS` for the order."""
    domain = target.name.lower().removesuffix(".")
    spf = evaluate_spf(domain, view)
    dmarc = evaluate_dmarc(domain, view)
    checks = [check_mx(domain, view), check_spf(spf)]
    if target.dkim_tokens:
        checks.append(check_dkim(target, view))
    checks += [check_dmarc(dmarc), check_dmarc_reports(dmarc, view)]
    resolvable = None
    if target.mail_from:
        resolvable_check = check_mail_from_resolvable(target.mail_from, view)
        resolvable = _RESOLVABLE.get(resolvable_check.status)
        checks += [
            resolvable_check,
            check_mail_from_mx(target.mail_from, target.region, view),
            check_mail_from_spf(evaluate_spf(target.mail_from, view)),
        ]
    return DomainReport(
        domain=target.name,
        checks=tuple(checks),
        mail_from=target.mail_from,
        mail_from_resolvable=resolvable,
        dmarc_policy_level=dmarc.level,
        spf_dns_lookups=spf.known_lookups,
    )
