"""The `dkim` check: SES Easy DKIM CNAMEs and the keys they lead to.

Which zone SES signs from: most regions use ``dkim.amazonses.com``; a few use
``dkim.<region>.amazonses.com``. `REGIONAL_SIGNING_REGIONS` is the list in the AWS General
Reference ("Amazon SES endpoints and quotas", Easy DKIM domains) as copied by several
public Terraform modules; the AWS page itself could not be read from here. Because that
list is second-hand and grows, it only picks the zone a remedy suggests: when SES's
SigningHostedZone is not known, both the global and the ``dkim.<region>`` form are
accepted, and the key lookup at the CNAME target (which fails for a wrong zone) decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from exporter.checks.remedy import record
from exporter.model import (
    Answer,
    AnswerKind,
    CheckResult,
    DnsView,
    DomainTarget,
    RecordAction,
    Status,
)

__all__ = [
    "GLOBAL_SIGNING_ZONE",
    "REGIONAL_SIGNING_REGIONS",
    "DkimKey",
    "check_dkim",
    "parse_dkim_key",
    "signing_zone",
]

_PARSE_CACHE = 4096  # a domain's rounds come close together; more would hold N records

CHECK = "dkim"
GLOBAL_SIGNING_ZONE = "dkim.amazonses.com"
REGIONAL_SIGNING_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-northeast-3",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "ca-west-1",
        "eu-central-2",
        "eu-south-1",
        "il-central-1",
        "me-central-1",
        "us-gov-east-1",
    }
)
_REGIONAL_ZONE = re.compile(r"dkim\.[a-z0-9-]+\.amazonses\.com", re.ASCII)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}", re.ASCII)


@dataclass(frozen=True, slots=True)
class DkimKey:
    """A DKIM key record (RFC 6376 §3.6.1); an empty ``public_key`` means revoked."""

    key_type: str
    public_key: str


@lru_cache(maxsize=_PARSE_CACHE)  # records repeat across domains and rounds; results are frozen
def parse_dkim_key(text: str) -> DkimKey | None:
    """Parse a TXT string as a DKIM key record; None when it is not one.

    ``v=``, when present, must be first and ``DKIM1``; ``p=`` is required. Whitespace
    inside tag values (folded base64) is dropped.
    """
    tags: dict[str, str] = {}
    for index, part in enumerate(text.split(";")):
        name, equals, value = part.partition("=")
        name = name.strip(" \t\r\n")
        if not equals:
            if part.strip(" \t\r\n"):
                return None
            continue
        if name == "v" and (index or value.strip(" \t\r\n") != "DKIM1"):
            return None
        tags.setdefault(name, "".join(value.split()))
    if "p" not in tags:
        return None
    return DkimKey(tags.get("k", "rsa"), tags["p"])


def signing_zone(target: DomainTarget) -> str:
    """The zone SES most likely signs from, for remedies."""
    if target.dkim_signing_zone:
        return target.dkim_signing_zone.lower().removesuffix(".")
    region = (target.region or "").lower()
    if region in REGIONAL_SIGNING_REGIONS:
        return f"dkim.{region}.amazonses.com"
    return GLOBAL_SIGNING_ZONE


def _expected(target: DomainTarget, token: str, cname: str) -> bool:
    """Whether ``cname`` is a valid Easy DKIM target for ``token`` (see module docstring)."""
    if target.dkim_signing_zone:
        return cname == f"{token}.{signing_zone(target)}"
    if cname == f"{token}.{GLOBAL_SIGNING_ZONE}":
        return True
    if target.region:
        return cname == f"{token}.dkim.{target.region.lower()}.amazonses.com"
    zone = cname.removeprefix(f"{token}.")
    return zone != cname and bool(_REGIONAL_ZONE.fullmatch(zone))


_NO_CNAME = "no CNAME"
_WRONG_CNAME = "CNAME points to "


@dataclass(frozen=True, slots=True)
class _TokenVerdict:
    """One token's outcome, so the check can rank failures above lookup errors."""

    status: Status  # PASS, FAIL or UNKNOWN (a lookup failed)
    detail: str = ""


_PASS = _TokenVerdict(Status.PASS)  # frozen: one for every token that passes


def _verdict(target: DomainTarget, token: str, view: DnsView) -> _TokenVerdict | None:
    """One token's CNAME and key, from one question: the TXT at the selector name, which
    a resolver answers with the CNAME and the key it leads to (RFC 1034 §3.6.2), as a
    receiver fetching the key does; None while the answer is pending."""
    name = f"{token}._domainkey.{target.name.lower().removesuffix('.')}"
    keys = view.get(name, "TXT")
    if keys is None:
        return None
    chain = keys.cname_chain
    if chain:
        cname = chain[1] if len(chain) > 1 else keys.canonical_name  # where the CNAME points
    elif not keys.is_error:  # the selector name itself answered: it is no alias
        return _TokenVerdict(Status.FAIL, _NO_CNAME)
    else:
        # A failure may hide a CNAME (a resolver that cannot reach the key's zone answers
        # SERVFAIL, often without the alias): the CNAME alone tells a wrong one from a
        # key lookup failure. Only failing tokens cost this second question.
        alias = view.get(name, "CNAME")
        if alias is None:
            return None
        if alias.is_error:
            return _TokenVerdict(Status.UNKNOWN, f"CNAME {name}: {alias.error}")
        if alias.kind is not AnswerKind.RECORDS:
            return _TokenVerdict(Status.FAIL, _NO_CNAME)
        cname = alias.records[0]
    cname = cname.lower().removesuffix(".")
    if not _expected(target, token, cname):
        return _TokenVerdict(Status.FAIL, f"{_WRONG_CNAME}{cname}")
    return _key_verdict(cname, keys)


def _key_verdict(cname: str, keys: Answer) -> _TokenVerdict:
    """The key behind a correct CNAME: what receivers fetch to verify signatures."""
    if keys.is_error:
        return _TokenVerdict(Status.UNKNOWN, f"TXT {cname}: {keys.error}")
    parsed = [key for key in map(parse_dkim_key, keys.records) if key is not None]
    if not parsed:
        return _TokenVerdict(Status.FAIL, f"no DKIM key at {cname}")
    if not any(_BASE64.fullmatch(key.public_key) for key in parsed):
        revoked = all(not key.public_key for key in parsed)
        return _TokenVerdict(Status.FAIL, f"key at {cname} is {'revoked' if revoked else 'bad'}")
    return _PASS


def check_dkim(target: DomainTarget, view: DnsView) -> CheckResult:
    """The ``dkim`` check: every Easy DKIM token must CNAME to SES and reach a key.

    A broken token fails the check even when another token's lookup errored: the
    tokens are independent, and the broken one breaks signing on its own.
    """
    domain = target.name.lower().removesuffix(".")
    tokens = list(dict.fromkeys(token.lower() for token in target.dkim_tokens))
    verdicts = {token: _verdict(target, token, view) for token in tokens}
    known = {token: v for token, v in verdicts.items() if v is not None}
    if len(known) < len(verdicts):
        return CheckResult(CHECK, Status.UNKNOWN, "pending")
    broken = {t: v.detail for t, v in known.items() if v.status is Status.FAIL}
    failed = [v.detail for v in known.values() if v.status is Status.UNKNOWN]
    if broken:
        zone = signing_zone(target)
        return CheckResult(
            CHECK,
            Status.FAIL,
            f"{len(broken)} of {len(tokens)} DKIM tokens broken: "
            + ", ".join(f"{token} ({detail})" for token, detail in broken.items()),
            "publish the CNAMEs below; where a CNAME is right but its key is missing or bad, "
            "re-read the tokens from SES (or re-enable DKIM for the identity)",
            tuple(
                record(RecordAction.REPLACE, f"{t}._domainkey.{domain}", "CNAME", f"{t}.{zone}.")
                for t, detail in broken.items()
                if detail == _NO_CNAME or detail.startswith(_WRONG_CNAME)
            ),
        )
    if failed:
        return CheckResult(CHECK, Status.UNKNOWN, f"DKIM lookup failed: {'; '.join(failed)}")
    return CheckResult(CHECK, Status.PASS, f"{len(tokens)} DKIM CNAMEs lead to SES keys")
