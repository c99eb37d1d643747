"""The custom MAIL FROM checks: SES needs an MX to its feedback endpoint and an SPF
record including amazonses.com; strict gateways also need the domain to resolve."""

from __future__ import annotations

import re

from exporter.checks.mx import MxHost, has_null_mx, parse_mx
from exporter.checks.remedy import DOC_IPV4, record, spf_with_include
from exporter.checks.spf import (
    MAX_DNS_LOOKUPS,
    SES_SPF_DOMAIN,
    SpfEvaluation,
    SpfOutcome,
    SpfPolicy,
    alias_note,
    lookup_summary,
    permerror_result,
    softfail_records,
    without_terms,
)
from exporter.model import AnswerKind, CheckResult, DnsView, RecordAction, RecordChange, Status

__all__ = ["check_mail_from_mx", "check_mail_from_resolvable", "check_mail_from_spf"]

CHECK_RESOLVABLE = "mail_from_resolvable"
CHECK_MX = "mail_from_mx"
CHECK_SPF = "mail_from_spf"
_FEEDBACK = re.compile(r"feedback-smtp\.([a-z0-9-]+)\.amazonses\.com", re.ASCII)


def check_mail_from_resolvable(mail_from: str, view: DnsView) -> CheckResult:
    """The ``mail_from_resolvable`` check: A or AAAA at the MAIL FROM domain.

    Some gateways verify the envelope sender's domain by address records only and reject
    with "553 5.1.8 Domain of sender address does not exist" (the first field report).
    AAAA is asked only when A has no records: an A record alone decides the check, so most
    domains cost one question here, not two.
    """
    mail_from = mail_from.lower().removesuffix(".")
    ipv4 = view.get(mail_from, "A")
    if ipv4 is not None and ipv4.kind is AnswerKind.RECORDS:
        return CheckResult(
            CHECK_RESOLVABLE, Status.PASS, f"{mail_from} resolves to {ipv4.records[0]}"
        )
    if ipv4 is None:
        return CheckResult(CHECK_RESOLVABLE, Status.UNKNOWN, "pending")
    ipv6 = view.get(mail_from, "AAAA")
    if ipv6 is None:
        return CheckResult(CHECK_RESOLVABLE, Status.UNKNOWN, "pending")
    if ipv6.kind is AnswerKind.RECORDS:
        return CheckResult(
            CHECK_RESOLVABLE, Status.PASS, f"{mail_from} resolves to {ipv6.records[0]}"
        )
    if errors := sorted({a.error for a in (ipv4, ipv6) if a.is_error}):
        summary = f"A/AAAA {mail_from} lookup failed: {', '.join(errors)}"
        if {"servfail", "refused"} & set(errors):
            # The zone's own failure is the receivers' too: a gateway verifying the sender
            # gets the same SERVFAIL and defers, then bounces (the rules page on it when the
            # other domains still resolve: DeliverabilityMailFromZoneBroken).
            summary += (
                "; if the zone is broken (DNSSEC, lame delegation) rather than the resolver, "
                "receiving gateways fail this lookup too and the mail bounces after retries"
            )
        return CheckResult(CHECK_RESOLVABLE, Status.UNKNOWN, summary)
    return CheckResult(
        CHECK_RESOLVABLE,
        Status.FAIL,
        f"MAIL FROM {mail_from} has no A/AAAA record: strict gateways reject with "
        '"553 5.1.8 Domain of sender address does not exist"',
        f"publish an A (and AAAA) record for {mail_from}, e.g. pointing at a web server you "
        f"own: replace {DOC_IPV4} below by its address",
        (record(RecordAction.ADD, mail_from, "A", DOC_IPV4),),
    )


def check_mail_from_mx(mail_from: str, region: str | None, view: DnsView) -> CheckResult:
    """The ``mail_from_mx`` check: SES receives bounces and complaints through this MX.

    The MAIL FROM domain exists for SES alone, so the remedy's MX RRset is SES's host
    only; without a region the host cannot be named and the remedy is words only.
    """
    mail_from = mail_from.lower().removesuffix(".")
    region = region.lower() if region else None
    expected = f"feedback-smtp.{region or '<region>'}.amazonses.com"
    records: tuple[RecordChange, ...] = ()
    if region:
        records = (record(RecordAction.REPLACE, mail_from, "MX", f"10 {expected}."),)
    remedy = f"publish {mail_from}. MX 10 {expected}." + ("" if region else " (your SES region)")
    answer = view.get(mail_from, "MX")
    if answer is None:
        return CheckResult(CHECK_MX, Status.UNKNOWN, "pending")
    if answer.is_error:
        return CheckResult(
            CHECK_MX, Status.UNKNOWN, f"MX {mail_from} lookup failed: {answer.error}"
        )
    if answer.kind is AnswerKind.NXDOMAIN:
        return CheckResult(
            CHECK_MX, Status.FAIL, f"MAIL FROM {mail_from} does not exist", remedy, records
        )
    if answer.kind is AnswerKind.NODATA:
        return CheckResult(
            CHECK_MX, Status.FAIL, f"MAIL FROM {mail_from} has no MX", remedy, records
        )
    if has_null_mx(answer):
        return CheckResult(
            CHECK_MX,
            Status.FAIL,
            f"MAIL FROM {mail_from} publishes a null MX: it refuses bounces",
            f"remove the null MX and {remedy}",
            records,
        )
    hosts = sorted(map(parse_mx, answer.records))
    preferred = [h for h in hosts if h.preference == hosts[0].preference]
    wanted = _feedback_regions(hosts) if region is None else {region}
    if _feedback_regions(hosts) & wanted:
        others = [h.exchange for h in preferred if _feedback_region(h) not in wanted]
        if not others:
            found = region or min(_feedback_regions(preferred))
            return CheckResult(
                CHECK_MX, Status.PASS, f"MX {mail_from} -> feedback-smtp.{found}.amazonses.com"
            )
        # Bounces go to the most preferred exchanger first (RFC 5321 §5.1): at an equal or
        # lower preference another host receives them and SES never suppresses the address.
        return CheckResult(
            CHECK_MX,
            Status.FAIL,
            f"MX {mail_from} prefers {', '.join(others)} over {expected} ({_listed(hosts)}): "
            "bounces and complaints go there, SES never learns of them",
            f"make {expected} the most preferred MX: remove the MX record of "
            f"{', '.join(others)} or give it a higher preference number",
            tuple(
                record(RecordAction.DELETE, mail_from, "MX", f"{h.preference} {h.exchange}.")
                for h in preferred
                if _feedback_region(h) not in wanted
            ),
        )
    return CheckResult(
        CHECK_MX,
        Status.FAIL,
        f"MX {mail_from} points to {', '.join(h.exchange for h in hosts)}, not {expected}: "
        "SES does not get bounces and complaints",
        remedy,
        records,
    )


def _feedback_region(host: MxHost) -> str | None:
    match = _FEEDBACK.fullmatch(host.exchange)
    return match[1] if match else None


def _feedback_regions(hosts: list[MxHost]) -> set[str]:
    return {r for r in map(_feedback_region, hosts) if r is not None}


def _listed(hosts: list[MxHost]) -> str:
    return ", ".join(f"{h.preference} {h.exchange}" for h in hosts)


def check_mail_from_spf(evaluation: SpfEvaluation) -> CheckResult:
    """The ``mail_from_spf`` check: receivers evaluate SPF on the MAIL FROM domain itself.

    SPF does not inherit from the parent domain (RFC 7208 §4.1): without its own record
    the MAIL FROM domain has no SPF policy and SES mail gets SPF "none".
    """
    domain, outcome, policy = evaluation.domain, evaluation.outcome, evaluation.policy
    fresh = f"v=spf1 include:{SES_SPF_DOMAIN} ~all"
    if outcome is SpfOutcome.PENDING:
        return CheckResult(CHECK_SPF, Status.UNKNOWN, "pending")
    if outcome is SpfOutcome.NONE:
        return CheckResult(
            CHECK_SPF,
            Status.FAIL,
            f"no SPF record at MAIL FROM {domain} (SPF does not inherit from the parent)",
            f"publish an SPF record at {domain} that includes {SES_SPF_DOMAIN}"
            + alias_note(evaluation),
            () if evaluation.cname_chain else (record(RecordAction.ADD, domain, "TXT", fresh),),
        )
    if outcome is SpfOutcome.PERMERROR:
        return permerror_result(CHECK_SPF, evaluation)
    if outcome is SpfOutcome.TEMPERROR and policy is not SpfPolicy.PASS:
        return CheckResult(
            CHECK_SPF, Status.UNKNOWN, f"SPF lookup failed: {'; '.join(evaluation.errors[:3])}"
        )
    included = evaluation.authorizes(SES_SPF_DOMAIN)
    if evaluation.open_terms and outcome is SpfOutcome.EVALUATED:
        terms = ", ".join(evaluation.open_terms[:3])
        return CheckResult(
            CHECK_SPF,
            Status.FAIL,
            f"SPF at MAIL FROM {domain} passes every sender like +all: {terms} matches every "
            "address",
            *_spf_remedy(evaluation, included=included),
        )
    if included and policy in (SpfPolicy.FAIL, SpfPolicy.SOFTFAIL):
        summary = f"SPF at MAIL FROM {domain} includes {SES_SPF_DOMAIN}, ends in {policy}"
        return CheckResult(CHECK_SPF, Status.PASS, f"{summary}, {lookup_summary(evaluation)}")
    if policy is SpfPolicy.PASS:
        summary = f"SPF at MAIL FROM {domain} ends in +all and authorizes the whole internet"
    elif not included:
        summary = f"SPF at MAIL FROM {domain} does not include {SES_SPF_DOMAIN}: SES mail fails SPF"
    elif policy is SpfPolicy.MACRO_REDIRECT:
        summary = (
            f"SPF at MAIL FROM {domain} includes {SES_SPF_DOMAIN}, then redirects to a macro: "
            "what unauthorized mail gets depends on the message"
        )
    else:
        summary = (
            f"SPF at MAIL FROM {domain} includes {SES_SPF_DOMAIN}, ends in {policy}: "
            "unauthorized mail gets a neutral result"
        )
    return CheckResult(
        CHECK_SPF,
        Status.FAIL if policy is SpfPolicy.PASS or not included else Status.WARN,
        summary,
        *_spf_remedy(evaluation, included=included),
    )


def _spf_remedy(
    evaluation: SpfEvaluation, *, included: bool
) -> tuple[str, tuple[RecordChange, ...]]:
    """The published record with include:amazonses.com merged in (one record: two would be a
    permerror), its end raised to ~all and any term matching every address removed, every
    other term kept."""
    text = evaluation.record or ""
    words = [] if included else [f"add include:{SES_SPF_DOMAIN}"]
    if evaluation.top_open:
        text = without_terms(text, evaluation.top_open)
        words.append(f"remove {', '.join(evaluation.top_open)}")
    elif evaluation.open_terms:
        words.append(f"remove {', '.join(evaluation.open_terms[:3])} from the record that has it")
    if not included:
        if (evaluation.known_lookups or 0) + 1 > MAX_DNS_LOOKUPS:
            return (
                (
                    f"add include:{SES_SPF_DOMAIN}, but the record already needs "
                    f"{evaluation.lookups} of {MAX_DNS_LOOKUPS} DNS lookups: cut others first"
                ),
                (),
            )
        text = spf_with_include(text, SES_SPF_DOMAIN)
    if evaluation.cname_chain:
        return " and ".join([*words, "end the record in ~all"]) + alias_note(evaluation), ()
    raised = softfail_records(SpfEvaluation(evaluation.domain, evaluation.outcome, text))
    if evaluation.policy not in (SpfPolicy.FAIL, SpfPolicy.SOFTFAIL):
        words.append("end the record in ~all (or -all)")
        if not raised:
            return " and ".join(words) + " in the record that redirect= names", ()
        return " and ".join(words) + ", keeping its other terms", raised
    if evaluation.open_terms and not evaluation.top_open:
        return " and ".join(words), ()  # the open term is in an included record: not ours
    return (
        " and ".join(words) + ", keeping its other terms",
        (record(RecordAction.REPLACE, evaluation.domain, "TXT", text),),
    )
