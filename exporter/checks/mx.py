"""The `mx` check, and the MX parsing shared with the MAIL FROM checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from exporter.model import Answer, AnswerKind, CheckResult, DnsView, Status

__all__ = ["MxHost", "check_mx", "has_null_mx", "parse_mx"]

CHECK = "mx"
_PARSE_CACHE = 4096  # the results are frozen: one per distinct MX text is shared
_PREFERENCE = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True, slots=True, order=True)
class MxHost:
    """One MX record; ``exchange`` is lower case without the trailing dot ("" for null MX)."""

    preference: int
    exchange: str


@lru_cache(maxsize=_PARSE_CACHE)  # domains share MX hosts (and SES's feedback host)
def parse_mx(text: str) -> MxHost:
    """Parse ``"<preference> <exchange>"``; a malformed preference sorts last."""
    preference, _, exchange = text.strip().partition(" ")
    if not exchange:
        preference, exchange = "65535", preference
    value = int(preference) if _PREFERENCE.fullmatch(preference) else 65535
    return MxHost(value, exchange.strip().lower().removesuffix("."))


def has_null_mx(answer: Answer) -> bool:
    """RFC 7505: an MX whose exchange is "." declares that the domain accepts no mail."""
    return any(not parse_mx(text).exchange for text in answer.records)


def check_mx(domain: str, view: DnsView) -> CheckResult:
    """The ``mx`` check: the domain must be able to receive replies and bounces.

    Receivers commonly reject mail whose sender domain cannot receive mail (null MX, no
    such domain, neither MX nor A/AAAA). A and AAAA are only asked when MX is NODATA.
    """
    domain = domain.lower().removesuffix(".")
    remedy = f"publish {domain}. MX 10 <a mail server that accepts replies and bounces>."
    answer = view.get(domain, "MX")
    if answer is None:
        return CheckResult(CHECK, Status.UNKNOWN, "pending")
    if answer.is_error:
        return CheckResult(CHECK, Status.UNKNOWN, f"MX {domain} lookup failed: {answer.error}")
    if answer.kind is AnswerKind.NXDOMAIN:
        return CheckResult(CHECK, Status.FAIL, f"{domain} does not exist (NXDOMAIN)", remedy)
    if has_null_mx(answer):
        return CheckResult(
            CHECK,
            Status.FAIL,
            f"{domain} publishes a null MX (RFC 7505): it declares it accepts no mail",
            f"remove the null MX ({domain}. MX 0 .) and {remedy}",
        )
    if answer.kind is AnswerKind.RECORDS:
        hosts = sorted(parse_mx(text) for text in answer.records)
        names = ", ".join(dict.fromkeys(h.exchange for h in hosts))
        return CheckResult(CHECK, Status.PASS, f"MX {domain}: {names}")
    addresses = [view.get(domain, rdtype) for rdtype in ("A", "AAAA")]
    if any(a is not None and a.kind is AnswerKind.RECORDS for a in addresses):
        return CheckResult(CHECK, Status.PASS, f"no MX at {domain}; its A/AAAA is the implicit MX")
    if None in addresses:
        return CheckResult(CHECK, Status.UNKNOWN, "pending")
    if any(a is not None and a.is_error for a in addresses):
        return CheckResult(CHECK, Status.UNKNOWN, f"A/AAAA {domain} lookup failed")
    return CheckResult(CHECK, Status.FAIL, f"{domain} has no MX and no A/AAAA record", remedy)
