"""The SPF record parser (RFC 7208 §12 ABNF) and what a record says on its own: macro
expansion where no message is needed, and terms that pass (nearly) every address."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "QUALIFIERS",
    "Mechanism",
    "SpfRecord",
    "SpfSyntaxError",
    "expand_static",
    "has_macro",
    "is_spf_record",
    "is_wide",
    "open_prefix",
    "parse_spf",
    "term_text",
    "valid_dns_name",
]

_PARSE_CACHE = 4096  # a domain's rounds come close together; more would hold N records
QUALIFIERS = "+-~?"

_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_NAME_THEN_REST = re.compile(r"([A-Za-z0-9]+)(.*)", re.DOTALL)
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", re.DOTALL)
# c, r and t are allowed only in explanation text (RFC 7208 §7.3): not in domain-specs
_MACRO_EXPAND = re.compile(r"%\{[slodiphvSLODIPHV][0-9]*[rR]?[.\-+,/_=]*\}")
_ANY_MACRO_EXPAND = re.compile(r"%\{[slodiphcrtvSLODIPHCRTV][0-9]*[rR]?[.\-+,/_=]*\}")
_D_MACRO = re.compile(r"%\{[dD]([0-9]*)([rR]?)([.\-+,/_=]*)\}")
_TOPLABEL = re.compile(
    r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9]", re.ASCII
)
_SPLIT_CIDR = re.compile(r"(.*?)((?:/[0-9]+)?(?://[0-9]+)?)", re.DOTALL)
_DUAL_CIDR = re.compile(r"(?:/(0|[1-9][0-9]?))?(?://(0|[1-9][0-9]{0,2}))?")
_IP4_CIDR = re.compile(r"/(0|[1-9][0-9]?)")
_IP6_CIDR = re.compile(r"/(0|[1-9][0-9]{0,2})")
_MAX_V4_PREFIX = 32
_MAX_V6_PREFIX = 128
_MAX_LABEL = 63
_MAX_NAME = 253
_MAX_QUOTE = 40  # longest term quoted in a one-line summary
_WIDE_V4 = 8  # an ip4 range shorter than /8 passes a sixteenth of the internet or more
_WIDE_V6 = 32  # the shortest prefix a regional registry allocates


@dataclass(frozen=True, slots=True)
class Mechanism:
    """One directive: ``qualifier`` is one of ``+ - ~ ?``; ``target`` the domain-spec or
    network as written (None when the mechanism has none)."""

    qualifier: str
    name: str
    target: str | None = None
    cidr: str = field(default="", compare=False)  # a/mx dual-cidr-length as written


@dataclass(frozen=True, slots=True)
class SpfRecord:
    """A syntactically valid SPF record."""

    mechanisms: tuple[Mechanism, ...]
    redirect: str | None = None
    explanation: str | None = None
    # `is_wide` of each mechanism, worked out once per record text (parse_spf is cached):
    # a shared include such as amazonses.com's is walked by every domain of a cycle.
    widths: tuple[bool | None, ...] = field(default=(), compare=False)

    @property
    def all_mechanism(self) -> Mechanism | None:
        """The first ``all``: evaluation never goes past it, so later terms are dead."""
        return next((m for m in self.mechanisms if m.name == "all"), None)

    @property
    def effective_redirect(self) -> str | None:
        """``redirect=`` is ignored when the record has an ``all`` (RFC 7208 §6.1)."""
        return None if self.all_mechanism else self.redirect


@dataclass(frozen=True, slots=True)
class SpfSyntaxError:
    """Why a record does not parse; receivers return permerror for it (RFC 7208 §4.6)."""

    term: str
    reason: str

    def __str__(self) -> str:
        term = self.term if len(self.term) <= _MAX_QUOTE else self.term[: _MAX_QUOTE - 3] + "..."
        return f"{self.reason}: {term!r}"


def is_spf_record(text: str) -> bool:
    """RFC 7208 §4.5: the version section is ``v=spf1`` ended by a space or the end."""
    return text[:6].lower() == "v=spf1" and text[6:7] in ("", " ")


@lru_cache(maxsize=_PARSE_CACHE)  # records repeat across domains and rounds; results are frozen
def parse_spf(text: str) -> SpfRecord | SpfSyntaxError:
    """Parse one SPF record strictly per the RFC 7208 ABNF (§12)."""
    if not is_spf_record(text):
        return SpfSyntaxError(text, "not an SPF record (must start with v=spf1)")
    mechanisms: list[Mechanism] = []
    modifiers: dict[str, str] = {}
    for term in text[6:].split(" "):
        if not term:
            continue
        modifier = _MODIFIER.fullmatch(term)
        if modifier:
            name, value = modifier[1].lower(), modifier[2]
            if name in ("redirect", "exp"):
                if name in modifiers:
                    return SpfSyntaxError(term, f"duplicate {name}= modifier")
                if not _valid_domain_spec(value):
                    return SpfSyntaxError(term, f"invalid domain in {name}=")
                modifiers[name] = value
            elif _scan_macro_string(value, explain=True) is None:  # never expanded
                return SpfSyntaxError(term, "invalid macro string in modifier")
            continue
        parsed = _parse_directive(term)
        if isinstance(parsed, SpfSyntaxError):
            return parsed
        mechanisms.append(parsed)
    return SpfRecord(
        tuple(mechanisms),
        modifiers.get("redirect"),
        modifiers.get("exp"),
        tuple(map(is_wide, mechanisms)),
    )


def _parse_directive(term: str) -> Mechanism | SpfSyntaxError:
    qualifier, body = (term[0], term[1:]) if term[0] in QUALIFIERS else ("+", term)
    match = _NAME_THEN_REST.fullmatch(body)
    name, rest = (match[1].lower(), match[2]) if match else ("", body)
    if name not in _MECHANISMS:
        return SpfSyntaxError(term, "unknown mechanism")
    target, cidr, error = _parse_argument(name, rest)
    return SpfSyntaxError(term, error) if error else Mechanism(qualifier, name, target, cidr)


def _parse_argument(name: str, rest: str) -> tuple[str | None, str, str]:
    """The mechanism's target, its a/mx cidr and, when ``rest`` is not a valid argument,
    the reason."""
    if name in ("ip4", "ip6"):
        return rest[1:], "", _check_network(name, rest)
    if rest.startswith(":") and name != "all":
        spec, cidr = _split_cidr(rest[1:]) if name in ("a", "mx") else (rest[1:], "")
        if not _valid_domain_spec(spec):
            return spec, "", "invalid domain"
        return spec, cidr, "" if _valid_dual_cidr(cidr) else "invalid CIDR length"
    if name in ("include", "exists"):
        return None, "", f"{name} needs a domain"
    if name in ("a", "mx"):
        return None, rest, "" if _valid_dual_cidr(rest) else "invalid CIDR length"
    return None, "", f"{name} takes no such argument" if rest else ""


def _split_cidr(text: str) -> tuple[str, str]:
    """Split ``example.com/24//64`` into the domain-spec and the dual-cidr-length."""
    match = _SPLIT_CIDR.fullmatch(text)
    return (match[1], match[2]) if match else (text, "")


def _check_network(name: str, rest: str) -> str:
    if not rest.startswith(":"):
        return f"{name} needs a network"
    address, slash, length = rest[1:].partition("/")
    is_v4 = name == "ip4"
    bad_address = f"invalid {'IPv4' if is_v4 else 'IPv6'} address"
    if "%" in address:  # ipaddress accepts a zone id; the ABNF does not
        return bad_address
    try:
        (ipaddress.IPv4Address if is_v4 else ipaddress.IPv6Address)(address)
    except ValueError:
        return bad_address
    if not slash:
        return ""
    limit = _MAX_V4_PREFIX if is_v4 else _MAX_V6_PREFIX
    valid = (_IP4_CIDR if is_v4 else _IP6_CIDR).fullmatch("/" + length)
    return "" if valid and int(length) <= limit else "invalid CIDR length"


def _valid_dual_cidr(text: str) -> bool:
    match = _DUAL_CIDR.fullmatch(text)
    if not match:
        return False
    v4, v6 = match.groups()
    return (v4 is None or int(v4) <= _MAX_V4_PREFIX) and (v6 is None or int(v6) <= _MAX_V6_PREFIX)


def _scan_macro_string(text: str, *, explain: bool = False) -> bool | None:
    """None when ``text`` is not a macro-string; else whether it ends in a macro-expand.
    ``explain`` allows the letters only explanation text may use."""
    pattern = _ANY_MACRO_EXPAND if explain else _MACRO_EXPAND
    i, ends_in_macro = 0, False
    while i < len(text):
        char = text[i]
        if char == "%":
            if text[i + 1 : i + 2] in ("%", "_", "-"):
                i += 2
            else:
                expand = pattern.match(text, i)
                if not expand:
                    return None
                i = expand.end()
            ends_in_macro = True
            continue
        if not "\x21" <= char <= "\x7e":
            return None
        i += 1
        ends_in_macro = False
    return ends_in_macro


def _valid_domain_spec(spec: str) -> bool:
    """domain-spec = macro-string domain-end; domain-end is "." toplabel ["."] or a macro."""
    ends_in_macro = _scan_macro_string(spec)
    if ends_in_macro is None or not spec:
        return False
    if ends_in_macro:
        return True
    _, dot, toplabel = spec.removesuffix(".").rpartition(".")
    return bool(dot) and "%" not in toplabel and bool(_TOPLABEL.fullmatch(toplabel))


def has_macro(name: str) -> bool:
    """Whether a name needs expanding before it can be looked up."""
    return "%" in name


def valid_dns_name(name: str) -> bool:
    """Lengths a DNS question allows (RFC 1035 §2.3.4)."""
    labels = name.split(".")
    return 0 < len(name) <= _MAX_NAME and all(0 < len(label) <= _MAX_LABEL for label in labels)


def expand_static(spec: str, domain: str) -> str | None:
    """``spec`` with its macros expanded where that needs no message: ``%{d}`` (with its
    transformers) is the domain whose record holds the term (RFC 7208 §7.3), and ``%%``,
    ``%_``, ``%-`` are fixed. None when another macro letter needs a message."""
    parts: list[str] = []
    i = 0
    while i < len(spec):
        if spec[i] != "%":
            parts.append(spec[i])
            i += 1
            continue
        fixed = {"%": "%", "_": " ", "-": "%20"}.get(spec[i + 1 : i + 2])
        if fixed is not None:
            parts.append(fixed)
            i += 2
            continue
        match = _D_MACRO.match(spec, i)
        if not match:
            return None
        digits, reverse, delimiters = match.groups()
        labels = re.split("[" + re.escape(delimiters or ".") + "]", domain)
        if reverse:
            labels.reverse()
        if digits:
            labels = labels[-int(digits) :] if int(digits) else labels
        parts.append(".".join(labels))
        i = match.end()
    return "".join(parts)


def open_prefix(mechanism: Mechanism) -> tuple[int | None, int | None]:
    """The IPv4 and IPv6 prefix lengths a term matches with (None where the term cannot
    match that family): ``ip4:x/0``, or ``a/0`` on a name with any A record, matches every
    IPv4 sender."""
    name, target = mechanism.name, mechanism.target or ""
    if name in ("ip4", "ip6"):
        full = _MAX_V4_PREFIX if name == "ip4" else _MAX_V6_PREFIX
        length = int(target.partition("/")[2] or full)
        return (length, None) if name == "ip4" else (None, length)
    if name in ("a", "mx"):
        match = _DUAL_CIDR.fullmatch(mechanism.cidr)
        v4, v6 = match.groups() if match else (None, None)
        return (
            _MAX_V4_PREFIX if v4 is None else int(v4),
            _MAX_V6_PREFIX if v6 is None else int(v6),
        )
    return None, None


def is_wide(mechanism: Mechanism) -> bool | None:
    """True when a ``+`` term passes every address of a family (like ``+all``), False when
    it passes a very wide range (shorter than /8 for IPv4, /32 for IPv6), None otherwise."""
    if mechanism.qualifier != "+":
        return None
    v4, v6 = open_prefix(mechanism)
    if v4 == 0 or v6 == 0:
        return True
    if (v4 is not None and v4 < _WIDE_V4) or (v6 is not None and v6 < _WIDE_V6):
        return False
    return None


def term_text(mechanism: Mechanism) -> str:
    """The term as a record spells it (the qualifier only when it is not ``+``)."""
    qualifier = "" if mechanism.qualifier == "+" else mechanism.qualifier
    target = f":{mechanism.target}" if mechanism.target is not None else ""
    return f"{qualifier}{mechanism.name}{target}{mechanism.cidr}"
