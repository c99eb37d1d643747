"""SPF (RFC 7208): a capped include/redirect walk and the `spf` check (the parser is in
`spf_parse`).

The walk reads DNS only through a `DnsView`. A question the view has not answered yet
(None) marks the evaluation pending; the walk still asks every other question it can
already name, level by level, so the I/O layer needs one round per include depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from exporter.checks.remedy import record, spf_with_softfail
from exporter.checks.spf_parse import (
    Mechanism,
    SpfRecord,
    SpfSyntaxError,
    expand_static,
    has_macro,
    is_spf_record,
    is_wide,
    parse_spf,
    term_text,
    valid_dns_name,
)
from exporter.model import AnswerKind, CheckResult, DnsView, RecordAction, RecordChange, Status

__all__ = [
    "MAX_DNS_LOOKUPS",
    "MAX_VOID_LOOKUPS",
    "Mechanism",
    "SpfEvaluation",
    "SpfOutcome",
    "SpfPolicy",
    "SpfProblem",
    "SpfRecord",
    "SpfSyntaxError",
    "check_spf",
    "evaluate_spf",
    "is_spf_record",
    "lookup_summary",
    "parse_spf",
    "permerror_result",
]

CHECK = "spf"
SES_SPF_DOMAIN = "amazonses.com"  # what SES sends from: its include authorizes SES's ranges
MAX_DNS_LOOKUPS = 10  # RFC 7208 §4.6.4
MAX_VOID_LOOKUPS = 2  # RFC 7208 §4.6.4
_MAX_MX_RECORDS = 10  # RFC 7208 §4.6.4: an mx term may not need more than 10 address lookups
_DNS_TERMS = frozenset({"include", "a", "mx", "ptr", "exists"})


class SpfOutcome(StrEnum):
    """How far the evaluation got."""

    PENDING = "pending"  # some answer not fetched yet
    NONE = "none"  # the domain publishes no SPF record
    PERMERROR = "permerror"  # a definite error found in fetched data (see `problems`)
    TEMPERROR = "temperror"  # a lookup failed and nothing definite was found
    EVALUATED = "evaluated"  # the whole tree was read; `policy` says how it ends


class SpfPolicy(StrEnum):
    """What the top-level record does with mail no mechanism matched."""

    FAIL = "-all"
    SOFTFAIL = "~all"
    NEUTRAL = "?all"
    PASS = "+all"  # noqa: S105 -- an RFC 7208 result name, not a password
    NO_ALL = "no all"  # neither all nor redirect: the default result is neutral
    MACRO_REDIRECT = "macro redirect"  # redirect to a macro: only known per message


_QUALIFIER_POLICY = {
    "-": SpfPolicy.FAIL,
    "~": SpfPolicy.SOFTFAIL,
    "?": SpfPolicy.NEUTRAL,
    "+": SpfPolicy.PASS,
}


@dataclass(frozen=True, slots=True)
class SpfProblem:
    """A permerror cause, with a stable code for remedies and tests."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class SpfEvaluation:
    """The result of walking one domain's SPF tree.

    ``lookups`` counts DNS-querying terms (include, a, mx, ptr, exists, redirect) over the
    tree; once it passes 10 the walk stops, so it is then a lower bound. ``authorized``
    holds every domain whose addresses the tree passes: reached through ``+include`` (or an
    effective redirect) placed before the first ``all``, at every level (macros excluded).
    Terms after ``all`` are never evaluated (RFC 7208 §5.1), so they are neither counted
    nor followed.
    ``policy`` is None when it could not be determined.

    ``open_terms`` are ``+`` terms that match every address of a family (``ip4:x/0``,
    ``a/0``: like ``+all``) and ``wide_terms`` ranges shorter than /8 (IPv4) or /32
    (IPv6), both where a match passes the domain; ``top_open`` says which open terms are in
    the domain's own record. ``ipv6_void_lookups`` counts the voids a receiver checking an
    IPv6 sender meets (AAAA instead of A for ``a`` terms); ``ipv6_void_terms`` names the
    ``a`` terms whose AAAA lookup is void.
    """

    domain: str
    outcome: SpfOutcome
    record: str | None = None
    policy: SpfPolicy | None = None
    lookups: int = 0
    void_lookups: int = 0
    problems: tuple[SpfProblem, ...] = ()
    errors: tuple[str, ...] = ()
    authorized: frozenset[str] = frozenset()
    cname_chain: tuple[str, ...] = ()  # the domain is an alias: its record lives elsewhere
    open_terms: tuple[str, ...] = ()
    top_open: tuple[str, ...] = ()
    wide_terms: tuple[str, ...] = ()
    ipv6_void_lookups: int = 0
    ipv6_void_terms: tuple[str, ...] = ()

    @property
    def known_lookups(self) -> int | None:
        """``lookups`` for the report's gauge; None without a parsed top-level record, or
        when a failed lookup may hide terms (unless the count is already past 10)."""
        if self.record is None or self.outcome is SpfOutcome.PENDING:
            return None
        if self.outcome is SpfOutcome.TEMPERROR and self.lookups <= MAX_DNS_LOOKUPS:
            return None
        return self.lookups

    def authorizes(self, domain: str) -> bool:
        """True when the tree passes ``domain``'s addresses: a ``-include`` or an include
        after ``-all`` does not authorize anything (RFC 7208 §4.6.2, §5.2)."""
        return domain.lower().removesuffix(".") in self.authorized


class _Node:
    """One record to read: the top-level domain, or the target of an include/redirect.

    Plain classes here and in `_Walk`, not dataclasses: a few are made per domain, and a
    dataclass's generated ``__init__`` stays interpreted in the compiled build."""

    __slots__ = ("ancestors", "authorizing", "domain", "sets_policy", "via")

    def __init__(
        self,
        domain: str,
        via: str,
        ancestors: tuple[str, ...],
        sets_policy: bool,
        authorizing: bool = True,
    ) -> None:
        self.domain: Final = domain
        self.via: Final = via  # "" for the top level, else "include" or "redirect"
        self.ancestors: Final = ancestors
        # on the redirect chain from the top: its all is the domain's policy
        self.sets_policy: Final = sets_policy
        self.authorizing: Final = authorizing  # a match here passes the top-level domain


class _Walk:
    """Mutable accumulator of one evaluation; only `evaluate_spf` sees it."""

    __slots__ = (
        "a_voids",
        "aaaa_voids",
        "authorized",
        "cname_chain",
        "errors",
        "lookups",
        "open_terms",
        "pending",
        "policy",
        "problems",
        "record",
        "top_error",
        "top_open",
        "view",
        "void_lookups",
        "wide_terms",
    )

    def __init__(self, view: DnsView) -> None:
        self.view = view
        self.pending = False
        self.top_error = False
        self.cname_chain: tuple[str, ...] = ()
        self.record: str | None = None
        self.policy: SpfPolicy | None = None
        self.lookups = 0
        self.void_lookups = 0
        self.problems: list[SpfProblem] = []
        self.errors: list[str] = []
        self.authorized: set[str] = set()
        self.aaaa_voids: list[str] = []  # a terms whose AAAA is void
        self.a_voids = 0  # a terms whose A is void (counted in void_lookups)
        self.open_terms: list[str] = []
        self.top_open: list[str] = []
        self.wide_terms: list[str] = []

    def visit(self, node: _Node) -> list[_Node]:
        """Read one record, count its terms, and return the records it leads to."""
        answer = self.view.get(node.domain, "TXT")
        if answer is None:
            self.pending = True
            return []
        if answer.is_error:
            self.top_error = self.top_error or not node.via
            self.errors.append(f"TXT {node.domain}: {answer.error or 'error'}")
            return []
        if not node.via:
            self.cname_chain = answer.cname_chain
        if node.via and answer.kind in (AnswerKind.NXDOMAIN, AnswerKind.NODATA):
            self.void_lookups += 1
        texts = [text for text in answer.records if is_spf_record(text)]
        if not texts:
            if node.via:
                self.problem("include_without_spf", f"{node.via}:{node.domain} has no SPF record")
            return []
        if len(texts) > 1:
            self.problem("multiple_records", f"{node.domain} has {len(texts)} SPF records")
            return []
        record = parse_spf(texts[0])
        if isinstance(record, SpfSyntaxError):
            self.problem("syntax", f"{node.domain}: {record}")
            return []
        if not node.via:
            self.record = texts[0]
        return self.follow_terms(node, record)

    def follow_terms(self, node: _Node, record: SpfRecord) -> list[_Node]:
        children: list[_Node] = []
        widths = record.widths or tuple(map(is_wide, record.mechanisms))  # a record made by hand
        for mechanism, wide in zip(record.mechanisms, widths, strict=True):
            if mechanism.name == "all":
                break  # evaluation never goes past the first all
            if node.authorizing and wide is not None:
                self.note_width(node, mechanism, wide=wide)
            if mechanism.name not in _DNS_TERMS:
                continue
            self.lookups += 1
            if mechanism.name == "include":
                authorizing = node.authorizing and mechanism.qualifier == "+"
                children.extend(
                    self.child(node, "include", mechanism.target or "", authorizing=authorizing)
                )
            elif mechanism.name in ("a", "mx"):
                self.address_lookup(node, mechanism)
        redirect = record.effective_redirect
        if node.sets_policy:
            self.policy = self.policy_of(record, node.domain)
        if redirect is not None:
            self.lookups += 1
            children.extend(
                self.child(
                    node, "redirect", redirect, node.sets_policy, authorizing=node.authorizing
                )
            )
        return children

    def note_width(self, node: _Node, mechanism: Mechanism, *, wide: bool) -> None:
        """Record a ``+`` term that passes every address of a family (``wide``), or a very
        wide range (`is_wide`)."""
        text = term_text(mechanism) + ("" if not node.via else f" (in {node.domain})")
        if wide:
            self.open_terms.append(text)
            if not node.via:
                self.top_open.append(term_text(mechanism))
        else:
            self.wide_terms.append(text)

    @staticmethod
    def policy_of(record: SpfRecord, domain: str) -> SpfPolicy | None:
        """None when the policy lives in the redirect target (set when that is read)."""
        all_mechanism = record.all_mechanism
        if all_mechanism:
            return _QUALIFIER_POLICY[all_mechanism.qualifier]
        if record.redirect is None:
            return SpfPolicy.NO_ALL
        known = expand_static(record.redirect, domain) is not None
        return None if known else SpfPolicy.MACRO_REDIRECT

    def child(
        self,
        node: _Node,
        via: str,
        target: str,
        sets_policy: bool = False,
        *,
        authorizing: bool,
    ) -> list[_Node]:
        name = (expand_static(target, node.domain) or target).lower().removesuffix(".")
        if has_macro(name):
            return []  # counted, but only a receiver with a message can expand it
        if authorizing:
            self.authorized.add(name)
        if not valid_dns_name(name):
            self.problem("invalid_target", f"{via}:{target} is not a valid domain name")
            return []
        if name == node.domain or name in node.ancestors:
            self.problem("include_loop", f"{via}:{name} in {node.domain} loops")
            return []
        return [_Node(name, via, (*node.ancestors, node.domain), sets_policy, authorizing)]

    def address_lookup(self, node: _Node, mechanism: Mechanism) -> None:
        """Fetch the A and AAAA (for ``a``) or MX (for ``mx``) answers to count void
        lookups: a receiver asks A for an IPv4 sender and AAAA for an IPv6 one."""
        spec = mechanism.target or node.domain
        name = (expand_static(spec, node.domain) or spec).lower().removesuffix(".")
        if has_macro(name) or self.lookups > MAX_DNS_LOOKUPS:
            return
        if not valid_dns_name(name):
            self.problem("invalid_target", f"{mechanism.name}:{name} is not a valid domain name")
            return
        for rdtype in ("A", "AAAA") if mechanism.name == "a" else ("MX",):
            answer = self.view.get(name, rdtype)
            if answer is None:
                self.pending = True
            elif answer.is_error:
                self.errors.append(f"{rdtype} {name}: {answer.error or 'error'}")
            elif answer.kind in (AnswerKind.NXDOMAIN, AnswerKind.NODATA):
                if rdtype == "AAAA":
                    self.aaaa_voids.append(term_text(mechanism))
                    continue
                self.void_lookups += 1
                self.a_voids += rdtype == "A"
            elif rdtype == "MX" and len(answer.records) > _MAX_MX_RECORDS:
                self.problem("too_many_mx", f"mx:{name} has more than {_MAX_MX_RECORDS} MX records")

    def problem(self, code: str, message: str) -> None:
        self.problems.append(SpfProblem(code, message))


def evaluate_spf(domain: str, view: DnsView) -> SpfEvaluation:
    """Walk ``domain``'s SPF tree breadth-first through ``view``.

    Error policy: a permerror found in fetched data (duplicate records, syntax, loops,
    includes without SPF, more than 10 lookups or 2 void lookups; counts only grow) is
    definite even when another answer errored. Otherwise any errored answer makes the
    outcome TEMPERROR. Fetching stops once the lookup count passes 10 (already a
    permerror), so a hostile tree cannot make us ask unboundedly many questions.
    """
    domain = domain.lower().removesuffix(".")
    walk = _Walk(view)
    level = [_Node(domain, "", (), sets_policy=True)]
    while level:
        level = [
            child for node in level if walk.lookups <= MAX_DNS_LOOKUPS for child in walk.visit(node)
        ]
    if walk.lookups > MAX_DNS_LOOKUPS:
        walk.problem(
            "too_many_lookups", f"at least {walk.lookups} DNS lookups (limit {MAX_DNS_LOOKUPS})"
        )
    if walk.void_lookups > MAX_VOID_LOOKUPS:
        walk.problem(
            "too_many_void_lookups",
            f"{walk.void_lookups} void lookups (limit {MAX_VOID_LOOKUPS})",
        )
    return SpfEvaluation(
        domain=domain,
        outcome=_outcome(walk),
        record=walk.record,
        policy=walk.policy,
        lookups=walk.lookups,
        void_lookups=walk.void_lookups,
        problems=tuple(walk.problems),
        errors=tuple(walk.errors),
        authorized=frozenset(walk.authorized),
        cname_chain=walk.cname_chain,
        open_terms=tuple(walk.open_terms),
        top_open=tuple(walk.top_open),
        wide_terms=tuple(walk.wide_terms),
        ipv6_void_lookups=walk.void_lookups - walk.a_voids + len(walk.aaaa_voids),
        ipv6_void_terms=tuple(walk.aaaa_voids),
    )


def _outcome(walk: _Walk) -> SpfOutcome:
    if walk.pending:
        return SpfOutcome.PENDING
    if walk.top_error:
        return SpfOutcome.TEMPERROR
    if walk.problems:
        return SpfOutcome.PERMERROR
    if walk.errors:
        return SpfOutcome.TEMPERROR
    if walk.record is None:
        return SpfOutcome.NONE
    return SpfOutcome.EVALUATED


_REMEDIES = {
    "multiple_records": "merge them into one TXT record starting with v=spf1",
    "syntax": "fix the syntax (RFC 7208 §12); receivers ignore the whole record",
    "too_many_lookups": (
        "cut DNS-querying terms (include, a, mx, ptr, exists, redirect) to 10 or fewer, "
        "e.g. replace includes by the ip4:/ip6: ranges they publish"
    ),
    "too_many_void_lookups": "remove a:, mx: and include: terms that name domains without records",
    "include_without_spf": "remove the include/redirect or point it at a domain with an SPF record",
    "include_loop": "remove the include/redirect that leads back to an earlier record",
    "invalid_target": "fix the domain name in the term",
    "too_many_mx": "point the mx term at a domain with at most 10 MX records, or use ip4:/ip6:",
}


def lookup_summary(evaluation: SpfEvaluation) -> str:
    """A short count such as ``3/10 DNS lookups``."""
    return f"{evaluation.lookups}/{MAX_DNS_LOOKUPS} DNS lookups"


def permerror_result(check: str, evaluation: SpfEvaluation) -> CheckResult:
    """The FAIL verdict for a permerror, shared with mail_from_spf."""
    messages = "; ".join(p.message for p in evaluation.problems[:3])
    remedies = dict.fromkeys(_REMEDIES[p.code] for p in evaluation.problems)
    count = evaluation.known_lookups
    if count is not None and count <= MAX_DNS_LOOKUPS:
        messages += f" ({lookup_summary(evaluation)})"
    return CheckResult(
        check, Status.FAIL, f"SPF permerror at {evaluation.domain}: {messages}", "; ".join(remedies)
    )


def softfail_records(evaluation: SpfEvaluation) -> tuple[RecordChange, ...]:
    """The record edited to end in ~all; none where a redirect= decides its end, or where
    the domain is an alias (a record there would break its CNAME)."""
    edited = spf_with_softfail(evaluation.record) if evaluation.record else None
    if edited is None or evaluation.cname_chain:
        return ()
    return (record(RecordAction.REPLACE, evaluation.domain, "TXT", edited),)


def alias_note(evaluation: SpfEvaluation) -> str:
    """Where the domain is a CNAME, its TXT records are the target's: say where to edit."""
    if not evaluation.cname_chain:
        return ""
    return f" ({evaluation.domain} is an alias: edit the record at the name its CNAME points to)"


def check_spf(evaluation: SpfEvaluation) -> CheckResult:
    """The ``spf`` check on the From domain: fail on permerror or +all, warn on none/?all."""
    domain, outcome, policy = evaluation.domain, evaluation.outcome, evaluation.policy
    if outcome is SpfOutcome.PENDING:
        return CheckResult(CHECK, Status.UNKNOWN, "pending")
    if outcome is SpfOutcome.PERMERROR:
        return permerror_result(CHECK, evaluation)
    raise_end = "end the record in ~all (or -all), keeping its other terms" + alias_note(evaluation)
    if evaluation.open_terms and outcome is SpfOutcome.EVALUATED:
        return _open_result(evaluation)
    if policy is SpfPolicy.PASS:
        return CheckResult(
            CHECK,
            Status.FAIL,
            f"SPF at {domain} ends in +all and authorizes the whole internet",
            raise_end,
            softfail_records(evaluation),
        )
    if outcome is SpfOutcome.TEMPERROR:
        return CheckResult(
            CHECK, Status.UNKNOWN, f"SPF lookup failed: {'; '.join(evaluation.errors[:3])}"
        )
    if outcome is SpfOutcome.NONE:
        return CheckResult(
            CHECK,
            Status.WARN,
            f"no SPF record at {domain}: anyone may use it as envelope sender",
            "publish an SPF record that lists your other senders too (or "
            '"v=spf1 -all" if the domain sends no mail with itself as envelope sender)'
            + alias_note(evaluation),
            ()
            if evaluation.cname_chain
            else (
                record(RecordAction.ADD, domain, "TXT", f"v=spf1 include:{SES_SPF_DOMAIN} ~all"),
            ),
        )
    summary = f"SPF at {domain} ends in {policy}, {lookup_summary(evaluation)}"
    if policy in (SpfPolicy.FAIL, SpfPolicy.SOFTFAIL):
        return _pass_or_caveat(evaluation, summary)
    records = softfail_records(evaluation)
    if not records and not evaluation.cname_chain:
        raise_end = "end the record that redirect= names in ~all (or -all)"
    if policy is SpfPolicy.MACRO_REDIRECT:
        summary += (
            ": redirect= names a macro, so the result for unauthorized mail depends on the "
            "message (the record it expands to decides)"
        )
        raise_end = "end the records the redirect= macro expands to in ~all (or -all)"
    else:
        summary += ": unauthorized mail gets a neutral result"
    return CheckResult(CHECK, Status.WARN, summary, raise_end, records)


def without_terms(text: str, terms: tuple[str, ...]) -> str:
    """The SPF record ``text`` without the terms named (matched case-insensitively)."""
    drop = {term.lower().removeprefix("+") for term in terms}
    kept = [t for t in text.split(" ") if t and t.lower().removeprefix("+") not in drop]
    return " ".join(kept)


def _open_result(evaluation: SpfEvaluation) -> CheckResult:
    """A ``+`` term matching every address of a family passes every sender, like ``+all``."""
    terms = ", ".join(evaluation.open_terms[:3])
    records: tuple[RecordChange, ...] = ()
    if evaluation.top_open and evaluation.record and not evaluation.cname_chain:
        text = without_terms(evaluation.record, evaluation.top_open)
        records = (record(RecordAction.REPLACE, evaluation.domain, "TXT", text),)
    return CheckResult(
        CHECK,
        Status.FAIL,
        f"SPF at {evaluation.domain} passes every sender like +all: {terms} matches every address",
        "remove the term (list the sending ranges with ip4:/ip6: instead)" + alias_note(evaluation),
        records,
    )


def _pass_or_caveat(evaluation: SpfEvaluation, summary: str) -> CheckResult:
    """A policy that rejects or softfails, unless a wide range or IPv6 voids undercut it."""
    caveats = []
    if evaluation.wide_terms:
        caveats.append(
            f"{', '.join(evaluation.wide_terms[:3])} passes a very wide range "
            "(shorter than /8 for IPv4, /32 for IPv6)"
        )
    if evaluation.ipv6_void_lookups > MAX_VOID_LOOKUPS:
        caveats.append(
            f"a receiver checking an IPv6 sender meets {evaluation.ipv6_void_lookups} void "
            f"lookups (limit {MAX_VOID_LOOKUPS}): {', '.join(evaluation.ipv6_void_terms[:3])} "
            "have no AAAA record, so IPv6 mail gets permerror"
        )
    if not caveats:
        return CheckResult(CHECK, Status.PASS, summary)
    remedies = []
    if evaluation.wide_terms:
        remedies.append("narrow the range to the addresses you send from")
    if evaluation.ipv6_void_lookups > MAX_VOID_LOOKUPS:
        remedies.append("replace a terms without AAAA records by their ip4: ranges")
    return CheckResult(
        CHECK, Status.WARN, f"{summary}, but " + "; ".join(caveats), "; ".join(remedies)
    )
