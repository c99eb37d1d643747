"""Bounce classification: one SES bounce recipient in, its root cause and the fix out.

SES says *that* a message bounced (``bounceType``/``bounceSubType``, mostly
"Permanent/General"); the *why* is in the receiver's free-text reply (``diagnosticCode``).
`classify_bounce` maps that text onto the project's fixed category vocabulary (the metric
label ``category``, `BounceCategory`) and adds a one-line explanation and a
concrete remedy, so a dashboard can say "publish an A record for your MAIL FROM domain"
instead of "Permanent/General".

The first layer that answers wins:

1. SES's suppression subtypes: the message was never sent, whatever the text says.
2. The final reply, when the text holds more than it (a transcript, or a provider's wrapper
   such as "Address not found ... The response was: 550 ..."), if its wording or codes name
   a cause: the last reply decides, and the real cause beats the wrapper. Under a wrapper's
   prose alone (no earlier reply) its generic words and codes count too, except a refusal
   that does not call itself a policy.
3. Specific wording in the whole text, most specific first, so a reply naming the failed
   check (SPF, DKIM) beats the generic "unauthenticated" and a stated cause ("internal
   error", "for policy reasons") beats a generic "address rejected".
4. Receiver-specific enhanced status codes in the text (Gmail 4.7.2x-4.7.40, Microsoft
   5.7.5xx-7xx, RFC 7372/7505 authentication and null-MX codes, X.1.1, X.2.2, ...).
5. SES's own specific ``bounceSubType`` (NoEmail, MailboxFull, ContentRejected, ...).
6. Generic wording: "policy"/"rejected", then expiry, load, then bare deferrals (a 4xx
   final reply reads the deferral words first and "rejected" last, and a bare refusal that
   names no policy and nothing it refused is a deferral without reason).
7. RFC 3463 subject/detail semantics of the text's codes, then its basic reply code
   (RFC 5321/7504), a 4xx with nothing else being a deferral without reason (greylisted).
8. The SES ``status`` field, read like the text's codes.

A receiver fault in the final reply ("local configuration error") does not hide a cause a
transcript named before it. A sender "not authenticated" under a code that names a receiver
policy (Microsoft's X.7.133-136 recipient restrictions) is that policy. Corrections follow,
from the SMTP stage the reply answered: a deferral without a reason in a text that says the
sender gave up after retries is ``expired``; a final 5xx reply is never a deferral
(``greylisted`` becomes ``unknown``); a domain that does not resolve is the sender's when
the failure was quoted for MAIL FROM, for "your FROM address", "your domain" or with
X.1.7/X.1.8; whatever a reply to MAIL FROM (no recipient was named yet) or with X.1.7/X.1.8
as its last code says does not exist is the sender's, and Postfix's "Sender address
rejected:" judged MAIL FROM even when it answered RCPT TO (a delayed reject); a permanent
refusal of RCPT TO that names no cause is about that recipient; a spam verdict given before
DATA (to MAIL FROM, to RCPT TO, in the greeting) judges the sender (``policy``) or the
sending host (``ip_reputation``), since no content was sent yet, unless it names what it
found in the content (then the stage was misreported). Wording that says only that a mailbox
is unavailable is read with the codes: 5.2.1 makes it disabled, a 4xx reply without an
address code is RFC 5321's busy mailbox (a deferral). In a Sendmail transcript the
receiver's ``<<<`` replies are read, not Sendmail's own summary line ("550 5.1.1 ... User
unknown" for any refusal). Link query strings, file paths and advice ("For more information,
...", "Please make sure ...", also across a DSN's folded lines) are blanked before the
wording is read: ``?ip=192.0.2.1`` or ``/var/virusmails/`` names no cause.

The text's own codes are preferred to ``status`` when they disagree: SES copies ``status``
from the DSN, which can describe another hop (Yahoo's "552 ... mailbox not found" arrives
with status 5.3.0). ``status_class`` ("4xx"/"5xx"/"unknown") comes from the reply code in
the text, else the enhanced status in the text, else ``status``; it never comes from
``bounceType``, so a Permanent bounce with no code at all is "unknown". A Transient/General
bounce without text (an auto-reply such as out-of-office) is "unknown" too: guessing a
deferral category for it would be wrong.

The rules are data (`exporter.checks.bounce_rules`; the code tables are in
`exporter.checks.bounce_codes`, the explanations and remedies in
`exporter.checks.bounce_text`). They were written against a shared corpus (whose precedence
notes are summarised above), ``tests/unit/bounce_cases.tsv``, Sisimai's reason definitions
and the labelled sets of real texts that ``tests/unit/bounce_sets.md`` describes (which of
them were read, which is held back). ``CLASSIFIER_VERSION`` (exported in ``build_info``)
changes with every rule change that can move a text to another category.

Pure and fast (the event pipeline calls it for every bounced recipient): the patterns are
compiled once at import, and each rule table is one trie-shaped pattern that a single pass
over the text runs (`exporter.checks.rule_table`). Two bounded `functools.lru_cache`s
(4096 entries each) keep repeats cheap. The first is keyed by the arguments, so an exact
repeat costs a lookup. The second is keyed by the flattened text with addresses, IPs and
message ids masked, so a receiver's next reply that differs only in those skips the wording
rules. Text past 8 KiB is ignored, so no reply can make a call slow.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from exporter.checks import bounce_rules as rules
from exporter.checks.bounce_codes import ENHANCED as _ENHANCED
from exporter.checks.bounce_codes import MAX_TEXT as _MAX_TEXT
from exporter.checks.bounce_codes import (
    SUBTYPES,
    SUPPRESSED_SUBTYPES,
    extract_codes,
    status_class_of,
)
from exporter.checks.bounce_codes import codes_of as _codes
from exporter.checks.bounce_codes import from_reply as _from_reply
from exporter.checks.bounce_codes import from_rfc_codes as _from_rfc_codes
from exporter.checks.bounce_codes import from_specific_codes as _from_specific_codes
from exporter.checks.bounce_codes import strip_prefix as _strip_prefix
from exporter.checks.bounce_codes import unfold as _unfold
from exporter.checks.bounce_rules_categories import BounceCategory
from exporter.checks.bounce_text import EXPLANATIONS, remedy
from exporter.checks.rule_table import RuleTable, needles

__all__ = [
    "BOUNCE_CATEGORIES",
    "CLASSIFIER_VERSION",
    "STATUS_CLASSES",
    "BounceCategory",
    "BounceDiagnosis",
    "classify_bounce",
    "extract_codes",
    "status_class_of",
]

# Raised whenever a change can move a text to another category, so that a step in the
# category dashboards after an upgrade can be told apart from a change in the traffic.
CLASSIFIER_VERSION = "10"

BOUNCE_CATEGORIES: tuple[str, ...] = tuple(BounceCategory)  # the label values, in order
STATUS_CLASSES: tuple[str, ...] = ("4xx", "5xx", "unknown")


@dataclass(frozen=True, slots=True)
class BounceDiagnosis:
    """The classifier's verdict on one bounced recipient.

    ``smtp_code`` ("550") and ``enhanced_status`` ("5.1.8") are the ones found in the text
    (``enhanced_status`` falls back to the SES ``status`` field); ``category`` is one of
    `BounceCategory`; ``explanation`` is one line for a person; ``remedy`` says what to do.
    """

    category: BounceCategory
    smtp_code: str | None
    enhanced_status: str | None
    status_class: str
    explanation: str
    remedy: str


# Per-message noise, masked so that replies differing only in it share a cache entry:
# e-mail addresses ("#@", so a rule can tell them from a host's address; also with the
# local part redacted as quoted replies do, "***@example.org"); IPv4 addresses,
# also as quoted replies redact them ("xxx.xxx.xxx.xxx"), IPv6 addresses and ids mixing
# letters and digits ("#").
_EMAIL = re.compile(r"(?<![\w.+=*-])[\w.+=*-]{1,64}@[\w-]+(?:\.[\w-]+)+")
_NOISE = re.compile(
    r"\b(?:(?:\d{1,3}|x{1,3})(?:\.(?:\d{1,3}|x{1,3})){3}|(?=[0-9a-f]{0,4}:)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}"
    r"|(?=[a-z0-9]{12})(?:[a-z]+\d|\d+[a-z])[a-z0-9]{10,})\b"  # look-aheads: fail fast
)


# --- wording ---------------------------------------------------------------------------

C = BounceCategory
_SPF_FAILED = re.compile(rules.SPF_FAILED)
_DKIM_FAILED = re.compile(rules.DKIM_FAILED)
_BOTH_FAILED = re.compile(rules.BOTH_FAILED)


def _named_check(text: str) -> BounceCategory | None:
    """spf or dkim when the reply names that check as failed; both failing is plain
    "authentication" (nothing more specific to say)."""
    spf = _SPF_FAILED.search(text) is not None
    dkim = _DKIM_FAILED.search(text) is not None
    if (spf and dkim) or ((spf or dkim) and _BOTH_FAILED.search(text)):
        return C.AUTHENTICATION
    return C.SPF if spf else C.DKIM if dkim else None


@dataclass(frozen=True, slots=True)
class _Rules:
    """A wording table compiled: its first matching rule gives the category. The rule whose
    category is None (the SPF/DKIM gate) is kept out of the scan, whose verdict at one
    place it could hide when the named check then finds nothing."""

    table: RuleTable
    categories: tuple[BounceCategory | None, ...]
    gate: re.Pattern[str] | None
    gate_at: int
    gate_needles: tuple[str, ...]  # one of these is in any text the gate matches

    @classmethod
    def compile(cls, rule_list: tuple[rules.Rule, ...]) -> _Rules:
        gates = [n for n, (category, _) in enumerate(rule_list) if category is None]
        gate_at = gates[0] if gates else len(rule_list)
        return cls(
            RuleTable.compile([() if c is None else alts for c, alts in rule_list]),
            tuple(category for category, _ in rule_list),
            re.compile(rf"\b(?:{'|'.join(rule_list[gate_at][1])})") if gates else None,
            gate_at,
            # ("",) when an alternative shows no plain word: then the gate always runs
            (needles(rule_list[gate_at][1]) or ("",)) if gates else (),
        )

    def first(self, text: str) -> BounceCategory | None:
        best = self.table.first(text)
        gate = self.gate
        if (
            gate is not None
            and (best is None or self.gate_at < best)
            and any(needle in text for needle in self.gate_needles)
            and gate.search(text)
        ):
            named = _named_check(text)
            if named:
                return named
        return None if best is None else self.categories[best]


_STRONG = _Rules.compile(rules.STRONG)
_WEAK = _Rules.compile((rules.GREETING_REFUSAL, *rules.WEAK))
# A 4xx reply that says "refused, try later" is a deferral first and a policy last; a 5xx
# reply is never a deferral.
_WEAK_4XX = _Rules.compile((*rules.WEAK[1:], rules.WEAK[0]))
_WEAK_5XX = _Rules.compile(
    (rules.GREETING_REFUSAL, *(rule for rule in rules.WEAK if rule[0] != C.GREYLISTED))
)


def _weak(final: str) -> _Rules:
    """The generic wording table for the class of the final reply."""
    return _WEAK_5XX if final.startswith("5") else _WEAK_4XX if final.startswith("4") else _WEAK


_REFUSED_WHAT = re.compile(rules.REFUSED_WHAT)


def _weak_verdict(final: str, flat: str) -> BounceCategory | None:
    """The generic wording's verdict; on a 4xx reply a bare refusal that names no policy and
    nothing it refused ("451 Not allowed") is a deferral without a reason."""
    category = _weak(final).first(flat)
    if category == C.POLICY and final.startswith("4") and not _REFUSED_WHAT.search(flat):
        return C.GREYLISTED
    return category


def _flatten(text: str) -> str:
    """Lower-case one-line text for the wording rules, without continuation-line codes,
    the query strings of links (``?ip=192.0.2.1`` in a link is no verdict), file paths and
    pointers to help ("For more information, ...")."""
    text = _unfold(text)  # then the entities of a reply copied from a web page ("&lt;")
    text = (html.unescape(text) if "&" in text else text).lower()
    if "_" in text:
        # qmail's logs and some filters' map names join words with "_"
        # ("Remote_host_said:_550_No_such_user", "FORBIDDEN_FILE_EXTENSION").
        text = text.replace("_", " ")
    if "?" in text:
        text = _URL_QUERY.sub(r"\1", text)
    if "/" in text:
        text = _PATH.sub(" ", text)
    # One line before the pointers are cut: a folded DSN line ("For\n    more information")
    # is the same sentence.
    text = " ".join(text.replace("\u2019", "'").split())
    if " for " in text or "learn " in text or "please " in text:
        return " ".join(_POINTER.sub(" ", text).split())
    return text


# In a Sendmail transcript the receiver's replies are the "<<< " lines; a coded line without
# that mark is Sendmail's own summary of them ("550 5.1.1 <a@b.example>... User unknown" for
# any refusal at RCPT or DATA), a wrapper that must not hide what the receiver said.
_SENDMAIL_OWN = re.compile(r"(?m)^[45]\d\d[ -].*$")


# A pointer to help ("For more information, go to Why has Gmail blocked my messages?",
# "For details, query the IP reputation on ..."): advice, not the verdict, up to its sentence end.
_POINTER = re.compile(
    r"\b(?:for (?:more |further )?(?:details|information|info|help)|to learn (?:more|about)"
    r"|learn more|please (?:be sure|make sure))\b.*?(?:\.(?=\s|$)|$)"
)
_URL_QUERY = re.compile(r"((?:https?://|www\.)[^\s?<>'\"]*)\?[^\s#<>'\"]*")
# File system paths ("/var/lib/amavis/virusmails/...") name no cause either.
_PATH = re.compile(r"/(?<![\w.:/]/)(?:[\w.@+-]+/)+[\w.@+-]*")  # "/" first: a fast scan
# A 4xx/5xx number in the flattened text, and where one starts a reply: with its enhanced
# code, or where a reply is quoted (at the start, after ": " or "; ", after a bracket).
_FLAT_CODE = re.compile(r"[45](?<![\w.:=/#-][45])\d\d(?= )")  # "[45]" first: a fast scan
_ENHANCED_NEXT = re.compile(r" #?[45]\.\d{1,3}\.\d")
_QUOTED_AFTER = (": ", "; ", "<", "(", "'", '"', "[")


def _replies(flat: str) -> list[re.Match[str]]:
    """The reply codes that start a reply in the flattened text, in order."""
    return [
        m
        for m in _FLAT_CODE.finditer(flat)
        if not m.start()
        or flat.endswith(_QUOTED_AFTER, 0, m.start())
        or (flat[m.start() - 1] not in "([" and _ENHANCED_NEXT.match(flat, m.end()))
    ]


# The failure was quoted for the envelope sender: MAIL FROM, "your FROM address", "sender
# domain ...", RFC 3463 X.1.7/X.1.8.
_SENDER_SIDE = re.compile(
    r"\b(?:mail from|from address|sender(?:'s)? domain|domain of (?:the |your )?sender)\b"
    # the receiver speaking to the sender: "your domain", "your mail exchangers"
    r"|\byour (?:(?:sender|from|envelope) )?(?:address(?:'s)? )?(?:domain|mail exchangers?|mx)\b"
    r"|(?<![\w.])[45]\.1\.[78](?!\d)"
)
# The SMTP command a reply answered (Exim "after MAIL FROM:", Postfix "in reply to RCPT TO
# command", a Sendmail transcript's ">>> RCPT To:"); the last one named is the final reply's.
_STAGE = re.compile(
    r"\b(?:after|in reply to|>>>|command) (mail from|rcpt|data|end of data|pipelined data"
    r"|helo|ehlo|initial connection)\b"
)
# A reply to MAIL FROM came before any recipient was named: whatever it says does not exist
# is the sender's. A permanent refusal of RCPT TO that names no other cause is about that
# recipient (Sisimai's decision too), unless it is RFC 5321's text for any refusal.
_SENDER_CODES = frozenset((f"{c}.1.{d}",) for c in "45" for d in "78")  # RFC 3463
_RECIPIENT_SIDE = frozenset({C.RECIPIENT_UNKNOWN, C.RECIPIENT_DISABLED, C.RECIPIENT_DOMAIN_DNS})
_GENERIC = re.compile(r"\b(?:transaction failed|service (?:is )?(?:unavailable|not available))\b")
# Before DATA no content was sent, so a "spam" verdict there judges the sender or the host.
_BEFORE_DATA = frozenset({"mail from", "rcpt"})
# ... unless the reply names what it found in the content: then the stage was misreported.
_NAMES_CONTENT = re.compile(r"\b(?:content|virus|infected|attachments?|media)\b")
# Wording that says only that a mailbox is unavailable, without saying it does not exist, is
# read with the codes: RFC 3463's 5.2.1 (mailbox disabled) makes it a disabled mailbox, and a
# 4xx reply without an address code (X.1.x) is RFC 5321's 450 "mailbox busy": a deferral.
_GAVE_UP = re.compile(rf"\b(?:{'|'.join(rules.GAVE_UP)})")
_GREYLISTING = re.compile(r"gr[ea]y-? ?list")  # a reason: the retries met greylisting
_SECURITY_DETAIL = re.compile(r"\b[45]\.7\.(?:[1-9]\d+)\b")  # X.7.10 and up: a named check
_DISABLED_CODE = re.compile(r"\b5\.2\.1\b")
_ADDRESS_CODE = re.compile(r"\b[45]\.1\.\d")
_UNAVAILABLE = re.compile(r"\bmailbox (?:is )?(?:currently )?(?:unavailable|not available)\b")
_EXISTENCE = re.compile(
    r"\b(?:unknown|no such|(?:does not|doesn't|not) exist|not found|invalid|not (?:a )?(?:known"
    r"|valid))\b"
)


def _stage(flat: str) -> str | None:
    """The command the final reply answered, when the text says. Postfix's "Sender address
    rejected:" judged MAIL FROM, even when it answered RCPT TO (a delayed reject)."""
    if "sender address rejected" in flat:
        return "mail from"
    stages = _STAGE.findall(flat)
    return stages[-1] if stages else None


# --- entry point -----------------------------------------------------------------------


def classify_bounce(
    bounce_type: str | None,
    bounce_subtype: str | None,
    status: str | None,
    diagnostic_code: str | None,
    *,
    mail_from_domain: str | None = None,
) -> BounceDiagnosis:
    """Classify one bounced recipient (``bouncedRecipients[]`` plus the bounce's types).

    ``bounce_type`` is accepted for the caller's convenience but not used: Permanent or
    Transient only repeats what the codes say, and ``status_class`` must come from the codes.
    Never raises: a missing, empty or non-string argument counts as absent.
    """
    del bounce_type
    return _classify(
        _text(bounce_subtype),
        _text(status),
        _text(diagnostic_code),
        _text(mail_from_domain),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


@lru_cache(maxsize=4096)
def _classify(
    bounce_subtype: str | None,
    status: str | None,
    diagnostic: str | None,
    mail_from_domain: str | None,
) -> BounceDiagnosis:
    text = _strip_prefix((diagnostic or "")[:_MAX_TEXT])
    if "\n<<< " in text:
        text = _SENDMAIL_OWN.sub("", text)  # its codes and wording are Sendmail's, not the reply's
    smtp, enhanced = _codes(text)
    status_match = _ENHANCED.search(status) if status else None
    status_code = status_match[0] if status_match else None
    category = _category(
        _template(text) if text else "",
        tuple(_ENHANCED.findall(text)),
        smtp,
        bounce_subtype.strip().lower() if bounce_subtype else "",
        status_code,
    )
    shown = " ".join(code for code in (smtp, enhanced or status_code) if code)
    return BounceDiagnosis(
        category=category,
        smtp_code=smtp,
        enhanced_status=enhanced or status_code,
        status_class=status_class_of(smtp or enhanced or status_code),
        explanation=EXPLANATIONS[category] + (f" ({shown})" if shown else ""),
        remedy=remedy(category, mail_from_domain),
    )


def _template(text: str) -> str:
    """The flattened text with what varies per message masked (addresses, IPs, ids), so
    that one receiver's replies share a cache entry in `_category`."""
    flat = _flatten(text)
    if "@" in flat:
        flat = _EMAIL.sub("#@", flat)
    return _NOISE.sub("#", flat)


@lru_cache(maxsize=4096)
def _category(
    flat: str,
    codes: tuple[str, ...],
    smtp: str | None,
    subtype: str,
    status_code: str | None,
) -> BounceCategory:
    """The layered decision described in the module docstring."""
    if subtype in SUPPRESSED_SUBTYPES:
        return C.SUPPRESSED
    replies = _replies(flat)
    final = replies[-1][0] if replies else smtp or (codes[-1] if codes else "")
    permanent = final.startswith("5")
    category = None
    if replies and replies[-1].start():
        # Several replies or a wrapper before the reply: the final reply decides when it
        # names a cause (a wrapper's "address not found" does not beat what it quotes).
        inner = flat[replies[-1].start() :]
        inner_codes = tuple(_ENHANCED.findall(inner))
        category = _STRONG.first(inner) or _from_specific_codes(inner_codes, final)
        if len(replies) > 1 and category == C.GREYLISTED:
            category = None  # a receiver fault at the end does not hide a cause named before
        if category is None and len(replies) == 1:
            # Only a wrapper's prose before it (Gmail's "Address not found ... The response
            # was:", a DSN's fields): the reply's own generic words and codes still beat it,
            # except a bare refusal ("rejected", X.7.x) that does not say it is a policy.
            category = (
                _weak(final).first(inner)
                or _from_rfc_codes(inner_codes)
                or _from_reply(final, final[:1])
            )
            if category == C.POLICY and "polic" not in inner:
                category = None
    category = (
        category
        or _STRONG.first(flat)
        or _from_specific_codes(codes, smtp)
        or SUBTYPES.get(subtype)
        or _weak_verdict(final, flat)
        or _from_rfc_codes(codes)
        or _from_reply(smtp, final[:1] or None)
    )
    if category == C.POLICY and _SECURITY_DETAIL.search(" ".join(codes)):
        # A bare "policy" word does not beat an X.7.y code that names the policy
        # ("4.7.28 flood policy violation" is a mail flood: a rate).
        category = _from_specific_codes(codes, smtp) or category
    if category == C.AUTHENTICATION and _from_specific_codes(codes, smtp) == C.POLICY:
        # A sender "not authenticated" with a recipient-restriction code (Microsoft's X.7.133-
        # 136: the group or mailbox takes mail from its organisation only) is that policy.
        category = C.POLICY
    if category is None and status_code:
        category = (
            _from_specific_codes((status_code,), None)
            or _from_rfc_codes((status_code,))
            or _from_reply(None, status_code[0])
        )
    if category is None and permanent and "rcpt" in flat and _stage(flat) == "rcpt":
        return C.UNKNOWN if _GENERIC.search(flat) else C.RECIPIENT_UNKNOWN
    return _corrected(category, flat, codes, final) if category else C.UNKNOWN


def _corrected(
    category: BounceCategory, flat: str, codes: tuple[str, ...], final: str
) -> BounceCategory:
    """The verdict read again with the codes and the SMTP stage the final reply answered."""
    permanent = final.startswith("5")
    if category == C.RECIPIENT_UNKNOWN and not _EXISTENCE.search(flat):
        joined = " ".join(codes)
        if _DISABLED_CODE.search(joined):
            return C.RECIPIENT_DISABLED
        if final.startswith("4") and _UNAVAILABLE.search(flat) and not _ADDRESS_CODE.search(joined):
            return C.GREYLISTED
    if category == C.GREYLISTED and _GAVE_UP.search(flat) and not _GREYLISTING.search(flat):
        return C.EXPIRED  # retried until it gave up, and no deferral said why
    if category == C.GREYLISTED and permanent:
        return C.UNKNOWN  # a 5xx reply is never a deferral; no other cause was named
    if category == C.RECIPIENT_DOMAIN_DNS and _SENDER_SIDE.search(flat):
        return C.SENDER_DOMAIN_DNS
    stage = _stage(flat) if "mail from" in flat or "rcpt" in flat or "sender" in flat else None
    if category in _RECIPIENT_SIDE and (stage == "mail from" or codes[-1:] in _SENDER_CODES):
        return C.SENDER_DOMAIN_DNS
    if (
        category == C.CONTENT
        and (stage in _BEFORE_DATA or "refused to talk to me" in flat)
        and not _NAMES_CONTENT.search(flat)
    ):
        # No content was sent yet: a "spam" verdict on MAIL FROM judges the sender address
        # (a policy), on RCPT TO or in the greeting the sending host (its reputation).
        return C.POLICY if stage == "mail from" else C.IP_REPUTATION
    return category
