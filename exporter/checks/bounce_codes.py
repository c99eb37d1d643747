"""Reply codes and enhanced status codes in a bounce text, and what the codes alone say.

The bounce classifier (`exporter.checks.bounce`) reads the wording first; these are its code
layers: receiver-specific enhanced codes that beat generic wording (Gmail 4.7.2x-4.7.40,
Microsoft 5.7.5xx-9xx, RFC 7372/7505), SES's bounce subtypes, then RFC 3463 subject/detail
semantics and the basic reply code (RFC 5321/7504/4954) as the last resort. It also unfolds
a multi-line reply (`unfold`) before the wording is read.
"""

from __future__ import annotations

import re

from exporter.checks.bounce_rules_categories import BounceCategory

C = BounceCategory
MAX_TEXT = 8192  # longer diagnostic texts are cut: the reason is always near the start

# An enhanced status code (RFC 3463): class 4 or 5, subject 0-7. The look-arounds keep IP
# addresses ("192.0.2.25", "4.16.55.1") and version numbers out.
ENHANCED = re.compile(r"(?<![\w.])[45]\.[0-7]\.\d{1,3}(?!\w|\.\d)")
# A reply code followed by its enhanced code: "550 5.1.1", "550-5.7.26", "550-'5.2.2".
_PAIR = re.compile(r"(?<![\w.])([45]\d\d)[ -]'?#?([45]\.[0-7]\.\d{1,3})(?!\w|\.\d)")
# A bare reply code: a 4xx/5xx number standing alone ("smtp;553 ...", "said: 550 ...").
_REPLY = re.compile(r"(?<![\w.:=/\[(-])([45]\d\d)(?=[\s'\"-]|$|[,;:.)\]](?!\d))")
_STATUS_CLASS = re.compile(r"\s*([45])(?:\d\d|xx|\.\d{1,3}\.\d{1,3})\b", re.IGNORECASE)

_PREFIX = re.compile(
    r"^\s*(?:(?:smtp|esmtp|x-postfix|x-unix|x-local|x-exim|x-qmail|dsn|dns)\s*;\s*)+",
    re.IGNORECASE,
)


def extract_codes(text: str) -> tuple[str | None, str | None]:
    """The reply code and enhanced status code of a diagnostic text, either may be None.

    A reply code immediately followed by an enhanced code wins ("554 4.4.7 Message expired
    ... <421 4.4.2 ...>" gives 554/4.4.7; the legacy SES "5.1.0 - Unknown address error
    550-'5.2.2 ...'" gives 550/5.2.2); otherwise the first of each.
    """
    return codes_of(strip_prefix(text[:MAX_TEXT]))


# A client library's (code, text) pair, Python smtplib's "(550, b'5.1.1 ...')": the code
# opens the reply, as it does on the wire; its escaped line breaks ("\\n5.7.26 ") join the
# lines of one multi-line reply.
_CODE_TEXT_PAIR = re.compile(r"\(([45]\d\d), b?['\"]")
_ESCAPED_LINE = re.compile(r"\\n(?:[45]\.[0-7]\.\d{1,3} )?")


def strip_prefix(text: str) -> str:
    """The text without its DSN type ("smtp;", "X-Postfix;"), which holds no code, and with a
    client library's (code, text) pair written as the reply it quotes."""
    prefix = _PREFIX.match(text)
    if prefix:
        text = text[prefix.end() :]
    if ", b'" in text or ', b"' in text or ", '" in text:
        text = _CODE_TEXT_PAIR.sub(r"\1 ", text)
        if "\\n" in text:
            text = _ESCAPED_LINE.sub(" ", text)
    return text


# Reply codes of continuation lines ("550-5.7.26 ") split phrases; they are removed before
# the wording rules run, at line starts (see `_ContinuationCodes`) and where a reply was
# flattened to one line.
_LINE_CODE = re.compile(r"(?m)^\s*([45]\d\d)([ -])(?:#?[45]\.[0-7]\.\d{1,3}\s)?")
_INLINE_CODE = re.compile(r"\b(?<!\.)([45]\d\d)([- ])(#?[45]\.[0-7]\.\d{1,3}\b)?")


class _ContinuationCodes:
    """Blanks the codes of a multi-line reply's lines ("550-5.7.26 ...", then its last line
    "550 5.7.26 ..."); a line that starts a new reply keeps its code, so a transcript
    ("450 ..." then "551 ...") still shows where each reply begins."""

    def __init__(self) -> None:
        self.previous = ""

    def __call__(self, match: re.Match[str]) -> str:
        code, continued = match[1], match[2] == "-"
        new_reply = code != self.previous and not continued
        self.previous = code
        return match[0] if new_reply else " "


class _FoldedCodes:
    """Blanks the codes of a multi-line reply folded onto one line ("550-5.7.1 ... 550 5.7.1
    ..."), the last line's too: it ends that reply, it starts no new one."""

    def __init__(self) -> None:
        self.run: tuple[str, str] | None = None

    def __call__(self, match: re.Match[str]) -> str:
        code = (match[1], match[3] or "")
        if match[2] == "-":
            self.run = code
            return " "
        last, self.run = code == self.run, None
        return " " if last else match[0]


def unfold(text: str) -> str:
    """The text without the codes of a multi-line reply's continuation lines, which split its
    phrases, whether the reply keeps its lines or was folded onto one."""
    if "\n" in text:
        text = _LINE_CODE.sub(_ContinuationCodes(), text)
    if "-" in text:
        text = _INLINE_CODE.sub(_FoldedCodes(), text)
    return text


def codes_of(text: str) -> tuple[str | None, str | None]:
    """`extract_codes` on a text already cut and stripped of its DSN type."""
    pair = _PAIR.search(text)
    if pair:
        return pair[1], pair[2]
    reply = _REPLY.search(text)
    enhanced = ENHANCED.search(text)
    return (reply[1] if reply else None), (enhanced[0] if enhanced else None)


def status_class_of(code: str | None) -> str:
    """The status class ("4xx", "5xx" or "unknown") of "550", "4.2.2" or "5xx"."""
    match = _STATUS_CLASS.match(code) if code else None
    return f"{match[1]}xx" if match else "unknown"


# Enhanced codes ("subject.detail") whose meaning beats generic wording, whatever the class.
SPECIFIC_CODES: dict[str, BounceCategory] = {
    "1.1": C.RECIPIENT_UNKNOWN,
    "1.2": C.RECIPIENT_DOMAIN_DNS,
    "1.3": C.RECIPIENT_UNKNOWN,
    "1.4": C.RECIPIENT_UNKNOWN,
    "1.6": C.RECIPIENT_UNKNOWN,
    "1.8": C.SENDER_DOMAIN_DNS,
    "1.10": C.RECIPIENT_UNKNOWN,  # Microsoft "RecipientNotFound"; RFC 7505 null MX is 556
    "1.90": C.RATE_LIMITED,
    "2.1": C.RECIPIENT_DISABLED,
    "2.2": C.MAILBOX_FULL,
    "2.3": C.MESSAGE_TOO_LARGE,
    "2.121": C.RATE_LIMITED,
    "2.122": C.RATE_LIMITED,
    "3.4": C.MESSAGE_TOO_LARGE,
    "4.4": C.RECIPIENT_DOMAIN_DNS,
    "4.8": C.TLS_REQUIRED,
    "4.310": C.RECIPIENT_DOMAIN_DNS,  # Microsoft "DNS domain does not exist"
    "4.312": C.RECIPIENT_DOMAIN_DNS,
    "5.3": C.RATE_LIMITED,
    "7.10": C.TLS_REQUIRED,
    "7.11": C.TLS_REQUIRED,
    "7.12": C.POLICY,
    "7.13": C.POLICY,
    "7.20": C.DKIM,
    "7.21": C.DKIM,
    "7.22": C.DKIM,
    "7.23": C.SPF,
    "7.24": C.SPF,
    "7.25": C.REVERSE_DNS,
    "7.26": C.AUTHENTICATION,
    "7.27": C.SPF,  # Gmail's usage; RFC 7505's "sender has null MX" is caught by wording
    "7.28": C.RATE_LIMITED,
    "7.29": C.TLS_REQUIRED,
    "7.30": C.DKIM,
    "7.31": C.DMARC,
    "7.32": C.DMARC,
    "7.40": C.DMARC,
    "7.57": C.RELAY_DENIED,
    "7.64": C.RELAY_DENIED,
    "7.124": C.POLICY,
    "7.133": C.POLICY,
    "7.134": C.POLICY,
    "7.135": C.POLICY,
    "7.136": C.POLICY,
    "7.193": C.POLICY,
    "7.321": C.TLS_REQUIRED,
    "7.322": C.TLS_REQUIRED,
    "7.323": C.TLS_REQUIRED,
    "7.324": C.RECIPIENT_DOMAIN_DNS,
    "7.325": C.TLS_REQUIRED,
    "7.367": C.POLICY,
    "7.504": C.RECIPIENT_UNKNOWN,
    "7.505": C.RECIPIENT_UNKNOWN,
    "7.506": C.POLICY,
    "7.507": C.BLOCKLIST,  # the recipient organisation's own list, like 5.7.513
    "7.508": C.RATE_LIMITED,
    "7.509": C.DMARC,
    "7.510": C.POLICY,
    "7.512": C.POLICY,
    "7.513": C.BLOCKLIST,
    "7.515": C.AUTHENTICATION,
    "7.703": C.POLICY,
    "7.750": C.POLICY,
}


# SES's own specific bounceSubType values; the suppression ones mean nothing was sent.
SUBTYPES: dict[str, BounceCategory] = {
    "noemail": C.RECIPIENT_UNKNOWN,
    "mailboxfull": C.MAILBOX_FULL,
    "messagetoolarge": C.MESSAGE_TOO_LARGE,
    "contentrejected": C.CONTENT,
    "attachmentrejected": C.CONTENT,
}
SUPPRESSED_SUBTYPES = frozenset({"suppressed", "onaccountsuppressionlist"})


# RFC 3463 subjects (the X of 5.X.Y).
_ADDRESS, _MAILBOX, _MAIL_SYSTEM, _NETWORK, _PROTOCOL, _CONTENT, _SECURITY = range(1, 8)
# Microsoft's X.7.5xx-9xx: reputation and throttling (ASxxx, banned IPs and tenants), the
# 7xx ones only as 5xx; 9xx are Exchange mail flow (transport) rules.
_MS_REPUTATION = (range(500, 700), range(850, 900))
_MS_REPUTATION_5XX = range(700, 750)
_MS_TRANSPORT_RULES = range(900, 1000)
# X.4.7 and Microsoft's X.4.300/316/317/318 wrap the real reason ("4.4.317 Cannot connect to
# remote server", which may quote a TLS failure or none): read them last.
_WRAPPER_DETAILS = frozenset({7, 300, 316, 317, 318})


def _specific_code(cls: str, subject: int, detail: int, smtp: str | None) -> BounceCategory | None:
    """Category of a code whose meaning is specific enough to beat generic wording."""
    if subject == _CONTENT:
        return C.CONTENT
    if (subject, detail) == (_ADDRESS, 10) and smtp == "556":
        return C.RECIPIENT_DOMAIN_DNS  # RFC 7505: recipient domain has a null MX
    if (subject, detail) == (_MAILBOX, 1) and cls == "4":
        return None  # a mailbox "temporarily disabled" is a deferral (Gmail: receiving rate)
    found = SPECIFIC_CODES.get(f"{subject}.{detail}")
    if found or subject != _SECURITY:
        return found
    if any(detail in span for span in _MS_REPUTATION) or (
        detail in _MS_REPUTATION_5XX and cls == "5"
    ):
        return C.IP_REPUTATION
    return C.POLICY if detail in _MS_TRANSPORT_RULES else None


def _parse(code: str) -> tuple[str, int, int]:
    cls, subject, detail = code.split(".")
    return cls, int(subject), int(detail)


def from_specific_codes(codes: tuple[str, ...], smtp: str | None) -> BounceCategory | None:
    for code in codes:
        category = _specific_code(*_parse(code), smtp)
        if category:
            return category
    return None


_RFC_ADDRESS = {5: None, 7: C.POLICY, 9: None}  # X.1.5 is success, X.1.9 a gateway note
# X.3.1: mail system full (load); X.3.5: system incorrectly configured (the receiver's fault)
_RFC_MAIL_SYSTEM = {1: C.RATE_LIMITED, 5: C.GREYLISTED}
_RFC_NETWORK = {1: C.EXPIRED, 2: C.EXPIRED, 3: C.RECIPIENT_DOMAIN_DNS, 5: C.RATE_LIMITED}
_RFC_PROTOCOL = {3: C.RATE_LIMITED}  # X.5.3: too many recipients
# X.7.8 and X.7.9 (RFC 4954: credentials invalid, mechanism too weak): SMTP AUTH; other X.7.x:
# policy.
_RFC_SECURITY = {8: C.RELAY_DENIED, 9: C.RELAY_DENIED}


def _rfc_code(cls: str, subject: int, detail: int) -> BounceCategory | None:
    """The RFC 3463 subject/detail fallback for codes no wording or table explained."""
    if subject == _ADDRESS:
        return _RFC_ADDRESS.get(detail, C.RECIPIENT_UNKNOWN)
    if subject == _MAIL_SYSTEM:
        return _RFC_MAIL_SYSTEM.get(detail)
    if subject == _NETWORK:
        if (detail, cls) == (1, "5"):
            return C.RECIPIENT_UNKNOWN  # Microsoft's Directory Based Edge Blocking
        return _RFC_NETWORK.get(detail, C.EXPIRED if detail in _WRAPPER_DETAILS else None)
    if subject == _PROTOCOL:
        return _RFC_PROTOCOL.get(detail)
    if subject == _SECURITY and not (cls == "4" and detail in (0, 1)):
        return _RFC_SECURITY.get(detail, C.POLICY)
    return None


def from_rfc_codes(codes: tuple[str, ...]) -> BounceCategory | None:
    """RFC 3463 semantics of the codes, the wrappers (X.4.7) last."""
    parsed = sorted(map(_parse, codes), key=lambda c: c[1] == _NETWORK and c[2] in _WRAPPER_DETAILS)
    for cls, subject, detail in parsed:
        category = _rfc_code(cls, subject, detail)
        if category:
            return category
    return None


def from_reply(smtp: str | None, enhanced_class: str | None) -> BounceCategory | None:
    """Basic reply codes (RFC 5321/7504/4954); a bare 4xx is a deferral without reason."""
    if smtp in ("521", "556"):
        return C.RECIPIENT_DOMAIN_DNS
    if smtp in ("530", "534", "535"):
        return C.RELAY_DENIED
    if smtp == "538":
        return C.TLS_REQUIRED
    if (smtp or enhanced_class or "").startswith("4"):
        return C.GREYLISTED
    return None
