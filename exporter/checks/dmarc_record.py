"""The DMARC record (RFC 7489 §6.3, RFC 9989): tags, their valid values, and what makes
receivers disagree about a record; and the PSL-based organizational domain of RFC 7489."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from publicsuffixlist import PublicSuffixList

__all__ = ["POLICY_LEVEL", "DmarcRecord", "organizational_domain", "parse_dmarc"]

_PARSE_CACHE = 4096  # a domain's rounds come close together; more would hold N records

POLICY_LEVEL = {"none": 0, "quarantine": 1, "reject": 2}
MAX_PCT = 100
_PCT = re.compile(r"[0-9]{1,3}")  # RFC 7489 §6.4: 1*3DIGIT
_FO = re.compile(r"[01ds](?::[01ds])*")  # RFC 7489 §6.3: colon-separated 0, 1, d, s
_MAX_QUOTE = 24
# Tags whose invalid value makes OpenDMARC (and checkdmarc) reject the whole record, so
# that receivers apply no policy: a fail, not a silent pass.
_VALUES = {
    "adkim": frozenset({"r", "s"}),
    "aspf": frozenset({"r", "s"}),
    "np": frozenset(POLICY_LEVEL),  # RFC 9989: policy for non-existent subdomains
    "psd": frozenset({"y", "n", "u"}),  # RFC 9989: the record is a public suffix domain's
    "t": frozenset({"y", "n"}),  # RFC 9989: testing mode, replacing pct
}


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

    ``policy``/``subdomain_policy``/``nonexistent_policy`` hold only valid values (lower
    case); ``problems`` says what makes the record invalid, ``invalid_tags`` names the tags
    a repair drops and ``duplicates`` the tags written more than once (receivers disagree
    on which applies). ``rua`` lists the aggregate-report URIs as written.
    """

    text: str
    policy: str | None
    subdomain_policy: str | None
    pct: int
    rua: tuple[str, ...]
    problems: tuple[str, ...]
    nonexistent_policy: str | None = None
    testing: bool = False  # t=y
    leading_space: bool = False  # some receivers discard a record that does not start v=
    invalid_tags: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    values: tuple[tuple[str, str], ...] = ()  # every tag as written, repeats included

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


def short(value: str) -> str:
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


def _value_problems(values: dict[str, str]) -> tuple[list[str], list[str]]:
    """Problems of the tags other than p=, and the tags a repair drops."""
    problems, invalid = [], []
    for tag, allowed in (("sp", frozenset(POLICY_LEVEL)), *_VALUES.items()):
        if tag in values and values[tag].lower() not in allowed:
            problems.append(f"invalid {tag}={short(values[tag])}")
            invalid.append(tag)
    if "fo" in values and not _FO.fullmatch(values["fo"].lower()):
        problems.append(f"invalid fo={short(values['fo'])} (OpenDMARC applies no policy)")
        invalid.append("fo")
    return problems, invalid


@lru_cache(maxsize=_PARSE_CACHE)  # records repeat across domains and rounds; results are frozen
def parse_dmarc(text: str) -> DmarcRecord | None:
    """Parse a TXT string; None when it is not a DMARC record (first tag not v=DMARC1).

    Unknown tags are ignored (RFC 9989), as are the removed ``rf=`` and ``ri=``.
    """
    tags = _tags(text)
    if not tags or tags[0] != ("v", "DMARC1"):
        return None
    values: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in tags[1:]:
        if name in values and name not in repeated:
            repeated.append(name)
        values.setdefault(name, value)
    problems = [f"duplicate {name}= (receivers disagree on which one applies)" for name in repeated]
    policy = values.get("p", "").lower()
    if policy not in POLICY_LEVEL:
        problems.append(f"invalid p={short(values['p'])}" if "p" in values else "missing p=")
    value_problems, invalid = _value_problems(values)
    problems += value_problems
    pct_text = values.get("pct", str(MAX_PCT))
    pct = int(pct_text) if _PCT.fullmatch(pct_text) else -1
    if not 0 <= pct <= MAX_PCT:
        problems.append(f"invalid pct={short(pct_text)} (must be 0-100)")
        invalid.append("pct")
    rua = tuple(uri.strip(" \t") for uri in values.get("rua", "").split(",") if uri.strip(" \t"))
    valid = {tag: values.get(tag, "").lower() for tag in ("sp", "np")}
    return DmarcRecord(
        text=text,
        policy=policy if policy in POLICY_LEVEL else None,
        subdomain_policy=valid["sp"] if valid["sp"] in POLICY_LEVEL else None,
        pct=pct,
        rua=rua,
        problems=tuple(problems),
        nonexistent_policy=valid["np"] if valid["np"] in POLICY_LEVEL else None,
        testing=values.get("t", "").lower() == "y",
        leading_space=text[:1] in (" ", "\t"),
        invalid_tags=tuple(invalid),
        duplicates=tuple(repeated),
        values=tuple(tags[1:]),
    )
