"""The bounce classifier against real labelled strings, its layering rules and its robustness.

Three labelled sets: the project corpus (``tests/data/diagnostic_codes.tsv``, copied from
``shared/corpus``), our own cases (``bounce_cases.tsv``, every row with its source; rows
tagged ``[hold-out]`` were labelled blind and scored before any rule was tuned on them) and
the evaluation sets (``bounce_eval.tsv``: real texts the rules were not written from).
``python tests/unit/test_bounce_classifier.py`` (or ``pytest -s -k confusion``) prints the
accuracy and every misclassification.
"""

from __future__ import annotations

import platform
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from exporter import __version__
from exporter.checks.bounce import (
    BOUNCE_CATEGORIES,
    CLASSIFIER_VERSION,
    STATUS_CLASSES,
    BounceCategory,
    BounceDiagnosis,
    classify_bounce,
    extract_codes,
    status_class_of,
)
from exporter.collector import ExporterCollector
from exporter.compiled import compiled
from exporter.config import Config
from exporter.sources.dns import DnsQueryStats
from exporter.store import Snapshot, Store
from exporter.version import revision

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "data" / "diagnostic_codes.tsv"
OWN = HERE / "bounce_cases.tsv"
EVAL = HERE / "bounce_eval.tsv"

# The bars sit below what the classifier reaches (corpus 100 % with the status field, 98.9 %
# from the text alone; own set 99.3 %) and at what a good classifier should keep reaching.
CORPUS_BAR = 0.97
OWN_BAR = 0.97
CODE_BAR = 0.95
# Real texts from outside the repository (version 4: 95.7 % of the 161, 1.9 % "unknown";
# 93.6 % of the 47 in the sets no rule was written from; version 3: 95.0 % and 91.5 %). The
# target is 0.95 and 5 %; test_bounce_sets.py holds the development and blind sets.
EVAL_BAR = 0.94
UNKNOWN_BAR = 0.05
HELD_OUT_TAGS = {"eval 2]", "eval 6]"}
HELD_OUT_BAR = 0.9


@dataclass(frozen=True)
class Case:
    raw: str
    category: str
    enhanced: str
    smtp: str
    source: str


def _unescape(field: str) -> str:
    """The corpus escapes: ``\\n`` newline, ``\\t`` tab, ``\\\\`` backslash."""
    out: list[str] = []
    chars = iter(field)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(following, char + following))
        else:
            out.append(char)
    return "".join(out)


def load_cases(path: Path) -> list[Case]:
    """Rows of a labelled TSV; leading ``#`` lines are provenance comments."""
    lines = path.read_text(encoding="utf-8").split("\n")
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    header = lines[0].split("\t")
    cases = []
    for line in lines[1:]:
        if not line:
            continue
        row = dict(zip(header, line.split("\t"), strict=True))
        cases.append(
            Case(
                _unescape(row["raw_string"]),
                row["category"],
                row["enhanced_status"],
                row["smtp_code"],
                row["source"],
            )
        )
    return cases


CORPUS_CASES = load_cases(CORPUS)
OWN_CASES = load_cases(OWN)
EVAL_CASES = load_cases(EVAL)


def diagnose(case: Case, *, with_status: bool = False) -> BounceDiagnosis:
    """Corpus rows carry the enhanced status SES would put in ``status``."""
    status = case.enhanced or None if with_status else None
    return classify_bounce("Permanent", "General", status, case.raw)


def misses(cases: list[Case], *, with_status: bool = False) -> list[tuple[Case, str]]:
    found = ((case, diagnose(case, with_status=with_status).category) for case in cases)
    return [(case, got) for case, got in found if got != case.category]


def code_matches(cases: list[Case], field: str) -> tuple[int, int, int]:
    """(matches, rows whose code appears in the text, rows that give a code at all)."""
    given_rows = [c for c in cases if getattr(c, field)]
    in_text = [c for c in given_rows if getattr(c, field) in c.raw]
    attr = "enhanced_status" if field == "enhanced" else "smtp_code"
    hits = sum(getattr(diagnose(c), attr) == getattr(c, field) for c in in_text)
    return hits, len(in_text), len(given_rows)


def confusion_report() -> str:
    """Accuracy per set and every misclassification, grouped expected -> got."""
    lines = []
    sets = [
        ("corpus, text only", CORPUS_CASES, False),
        ("corpus, with SES status", CORPUS_CASES, True),
        ("own cases", OWN_CASES, False),
        ("own cases, hold-out rows", [c for c in OWN_CASES if "[hold-out" in c.source], False),
        ("evaluation set 1", [c for c in EVAL_CASES if "[eval 1]" in c.source], False),
        ("evaluation set 2 (held out)", [c for c in EVAL_CASES if "[eval 2]" in c.source], False),
        ("evaluation set 3", [c for c in EVAL_CASES if "[eval 3]" in c.source], False),
        ("evaluation set 4", [c for c in EVAL_CASES if "[eval 4]" in c.source], False),
        ("evaluation set 5", [c for c in EVAL_CASES if "[eval 5]" in c.source], False),
        ("evaluation set 6 (held out)", [c for c in EVAL_CASES if "[eval 6]" in c.source], False),
    ]
    for name, cases, with_status in sets:
        wrong = misses(cases, with_status=with_status)
        right = len(cases) - len(wrong)
        lines.append(f"{name}: {right}/{len(cases)} = {right / len(cases):.1%}")
        pairs = Counter((case.category, got) for case, got in wrong)
        for (expected, got), count in sorted(pairs.items()):
            lines.append(f"  {expected} -> {got}: {count}")
            lines.extend(
                f"    {case.raw[:100]!r} [{case.source[:50]}]"
                for case, found in wrong
                if (case.category, found) == (expected, got)
            )
    for name, cases in (("corpus", CORPUS_CASES), ("own", OWN_CASES)):
        for field in ("enhanced", "smtp"):
            hits, in_text, total = code_matches(cases, field)
            lines.append(
                f"{name} {field}: {hits}/{in_text} where the code is in the text "
                f"({total} rows give one)"
            )
    return "\n".join(lines)


# --- labelled sets -------------------------------------------------------------------------


def test_confusion_summary() -> None:
    """Prints the accuracy and misclassifications (visible with ``pytest -s``)."""
    report = confusion_report()
    print(report)
    assert "corpus, text only" in report


@pytest.mark.parametrize("with_status", [False, True], ids=["text-only", "with-status"])
def test_corpus_accuracy(with_status: bool) -> None:
    """Every corpus string is classified; the category matches the label often enough."""
    wrong = misses(CORPUS_CASES, with_status=with_status)
    accuracy = 1 - len(wrong) / len(CORPUS_CASES)
    assert accuracy >= CORPUS_BAR, [(c.category, got, c.raw[:80]) for c, got in wrong]


def test_own_cases_accuracy() -> None:
    """Our own labelled strings, none taken from the corpus."""
    assert len(OWN_CASES) >= 60
    assert not {c.raw for c in OWN_CASES} & {c.raw for c in CORPUS_CASES}
    wrong = misses(OWN_CASES)
    accuracy = 1 - len(wrong) / len(OWN_CASES)
    assert accuracy >= OWN_BAR, [(c.category, got, c.raw[:80]) for c, got in wrong]


def test_evaluation_sets() -> None:
    """Real texts from outside the repository: accuracy and the share of "unknown" over all
    sets, and over the sets no rule was written from."""
    assert not {c.raw for c in EVAL_CASES} & {c.raw for c in CORPUS_CASES + OWN_CASES}
    wrong = misses(EVAL_CASES)
    assert 1 - len(wrong) / len(EVAL_CASES) >= EVAL_BAR, [(c.category, got) for c, got in wrong]
    unknown = sum(diagnose(c).category == "unknown" for c in EVAL_CASES)
    assert unknown / len(EVAL_CASES) <= UNKNOWN_BAR
    held_out = [c for c in EVAL_CASES if HELD_OUT_TAGS & set(c.source.split(" ["))]
    assert len(held_out) >= 40
    assert 1 - len(misses(held_out)) / len(held_out) >= HELD_OUT_BAR


def test_labels_use_the_vocabulary() -> None:
    """Labels are categories, and together they exercise every category."""
    labels = {c.category for c in CORPUS_CASES + OWN_CASES}
    assert {c.category for c in EVAL_CASES} <= set(BOUNCE_CATEGORIES)
    assert labels <= set(BOUNCE_CATEGORIES)
    assert labels == set(BOUNCE_CATEGORIES)


@pytest.mark.parametrize("cases", [CORPUS_CASES, OWN_CASES], ids=["corpus", "own"])
@pytest.mark.parametrize("field", ["enhanced", "smtp"])
def test_code_extraction(cases: list[Case], field: str) -> None:
    """The codes found in the text match the labels wherever the label's code is in the text
    (some corpus labels come from documentation, not from the string)."""
    hits, in_text, _ = code_matches(cases, field)
    assert hits / in_text >= CODE_BAR


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "smtp", "enhanced"),
    [
        pytest.param("smtp; 550 5.1.1 user unknown", "550", "5.1.1", id="smtp-space"),
        pytest.param("smtp;550 5.1.1 user unknown", "550", "5.1.1", id="smtp-no-space"),
        pytest.param("SMTP; 550 5.1.1 user unknown", "550", "5.1.1", id="upper-case"),
        pytest.param('X-Postfix; unknown user: "joe"', None, None, id="x-postfix"),
        pytest.param("smtp; 553 #5.1.8 Domain of sender address", "553", "5.1.8", id="hash"),
        pytest.param("550-5.7.26 Unauthenticated\n550 5.7.26 mail", "550", "5.7.26", id="multi"),
        pytest.param("5.1.0 - Unknown address error 550-'5.2.2 Full'", "550", "5.2.2", id="legacy"),
        pytest.param(
            "554 4.4.7 Message expired <421 4.4.2 timed out>", "554", "4.4.7", id="wrapper"
        ),
        pytest.param("4.7.32 rate limited, no DMARC alignment", None, "4.7.32", id="no-reply"),
        pytest.param("[TSS04] from 192.0.2.25 - 4.16.55.1", None, None, id="ip-not-a-code"),
        pytest.param("SIZE=2022: 553 5.7.1 [BL21]", "553", "5.7.1", id="size-not-a-code"),
        pytest.param("554 delivery error: dd disabled (554.30)", "554", None, id="yahoo-dotted"),
    ],
)
def test_extract_codes(text: str, smtp: str | None, enhanced: str | None) -> None:
    """Prefixes are skipped; a reply code paired with an enhanced code wins; IP addresses,
    dotted quads and SIZE= values are not codes."""
    assert extract_codes(text) == (smtp, enhanced)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("550", "5xx"),
        ("421", "4xx"),
        ("5.1.1", "5xx"),
        ("4.2.2", "4xx"),
        ("5xx", "5xx"),
        ("250", "unknown"),
        ("2.0.0", "unknown"),
        ("hello", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_status_class_of(code: str | None, expected: str) -> None:
    """Only 4xx/5xx reply or enhanced codes have a class."""
    assert status_class_of(code) == expected


# --- the layers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtype", "status", "category", "status_class"),
    [
        ("General", "5.1.1", "recipient_unknown", "5xx"),
        ("General", None, "unknown", "unknown"),
        ("NoEmail", None, "recipient_unknown", "unknown"),
        ("Suppressed", "5.1.1", "suppressed", "5xx"),
        ("OnAccountSuppressionList", None, "suppressed", "unknown"),
        ("MailboxFull", None, "mailbox_full", "unknown"),
        ("MessageTooLarge", None, "message_too_large", "unknown"),
        ("ContentRejected", None, "content", "unknown"),
        ("AttachmentRejected", None, "content", "unknown"),
        ("Undetermined", None, "unknown", "unknown"),
        ("General", "4.0.0", "greylisted", "4xx"),
        ("General", "5.7.1", "policy", "5xx"),
    ],
)
@pytest.mark.parametrize("text", ["", None, "   "], ids=["empty", "missing", "blank"])
def test_without_text_the_subtype_and_status_decide(
    subtype: str, status: str | None, category: str, status_class: str, text: str | None
) -> None:
    """An empty or missing diagnosticCode falls back to SES's subtype, then to ``status``;
    the status class comes from codes only, never from the bounce type."""
    diagnosis = classify_bounce("Permanent", subtype, status, text)
    assert (diagnosis.category, diagnosis.status_class) == (category, status_class)
    assert diagnosis.smtp_code is None
    assert diagnosis.enhanced_status == status


def test_transient_without_text_is_unknown() -> None:
    """SES's out-of-office bounces are Transient/General without any DSN: no guess."""
    diagnosis = classify_bounce("Transient", "General", None, None)
    assert (diagnosis.category, diagnosis.status_class) == ("unknown", "unknown")


@pytest.mark.parametrize(
    ("status", "text", "category", "enhanced", "status_class"),
    [
        pytest.param(
            "5.3.0",
            "smtp;552 1 Requested mail action aborted, mailbox not found",
            "recipient_unknown",
            "5.3.0",
            "5xx",
            id="yahoo-5.3.0",
        ),
        pytest.param("5.1.1", "smtp; 552 5.2.2 mailbox full", "mailbox_full", "5.2.2", "5xx"),
        pytest.param("4.0.0", "smtp; 550 5.1.1 user unknown", "recipient_unknown", "5.1.1", "5xx"),
        pytest.param("5.0.0", "smtp; 421 4.7.0 try again later", "greylisted", "4.7.0", "4xx"),
    ],
)
def test_the_texts_own_code_beats_status(
    status: str, text: str, category: str, enhanced: str, status_class: str
) -> None:
    """When ``status`` and the text disagree, the text decides category, enhanced status and
    class; ``status`` only fills an enhanced status the text lacks."""
    diagnosis = classify_bounce("Permanent", "General", status, text)
    assert (diagnosis.category, diagnosis.enhanced_status, diagnosis.status_class) == (
        category,
        enhanced,
        status_class,
    )


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # The root cause beats the wrapper.
        pytest.param(
            "smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes."
            "<550 5.7.1 Message rejected due to local policy>",
            "policy",
            id="expiry-quoting-policy",
        ),
        pytest.param(
            "smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes."
            "<421 4.4.2 Connection timed out>",
            "expired",
            id="expiry-quoting-timeout",
        ),
        pytest.param(
            "554 4.4.7 Message expired: unable to deliver in 840 minutes.<550 5.1.1 user unknown>",
            "recipient_unknown",
            id="expiry-quoting-user-unknown",
        ),
        pytest.param(
            "mailbox is full: retry timeout exceeded", "mailbox_full", id="full-then-retry"
        ),
        # Specific beats generic.
        pytest.param(
            "550 5.7.26 The MAIL FROM domain example.com has an SPF record with a hard fail "
            "policy (-all) but it fails to pass SPF checks with the ip: 192.0.2.1.",
            "spf",
            id="5.7.26-names-spf",
        ),
        pytest.param(
            "550 5.7.26 This mail has been blocked because the sender is unauthenticated. "
            "Gmail requires all senders to authenticate with either SPF or DKIM.",
            "authentication",
            id="5.7.26-generic",
        ),
        pytest.param(
            "550 5.7.26 Authentication results: DKIM = did not pass SPF example.com with "
            "ip: 192.0.2.1 = did not pass.",
            "authentication",
            id="both-failed",
        ),
        pytest.param("550 5.7.1 bad DKIM signature data", "dkim", id="5.7.1-names-dkim"),
        pytest.param("550 5.7.1 Email rejected per DMARC policy", "dmarc", id="5.7.1-dmarc"),
        # The receiver's own list versus a named third-party list.
        pytest.param(
            "550 5.7.606 Access denied, banned sending IP [192.0.2.1]",
            "ip_reputation",
            id="own-list",
        ),
        pytest.param(
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "blocklist",
            id="named-list",
        ),
        pytest.param(
            "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to "
            "IP reputation.",
            "ip_reputation",
            id="reputation-throttle",
        ),
        # A deferral without reason versus one with rate, volume, too many or load.
        pytest.param("451 4.7.1 Try again later", "greylisted", id="no-reason"),
        pytest.param("421 4.3.0 Temporary System Problem", "greylisted", id="temporary"),
        pytest.param(
            "421 4.7.1 Messages deferred due to excessive volume. Try again later",
            "rate_limited",
            id="volume",
        ),
        pytest.param("421 Too many connections", "rate_limited", id="too-many"),
        pytest.param("421 4.4.5 Server busy, try again later.", "rate_limited", id="load"),
        # SES's suppression text even with a 5.1.1 in it.
        pytest.param(
            "smtp; 550 5.1.1 user unknown ( blacklisted address: suppressionlist@simulator."
            "amazonses.com )",
            "suppressed",
            id="simulator-suppression",
        ),
    ],
)
def test_precedence(text: str, category: str) -> None:
    """The corpus README's precedence rules."""
    assert classify_bounce("Permanent", "General", None, text).category == category


# Each class of miss the accuracy issue names, with texts written for these tests (their
# wording follows the MTA and provider documentation the issue cites, never the held-out set).
CLASS_CASES = {
    "1-expiry": [
        ("smtp; 554 4.4.7 Message expired: envelope expired", "expired"),
        ("Unable to deliver message to recipient after 3 days of retries", "expired"),
        (
            "The message could not be delivered: unable to deliver to example.org after 2 days",
            "expired",
        ),
        ("Delivery failed 5 attempts", "expired"),
        (
            (
                "The recipient server did not accept our requests to connect. "
                "[mx.example.org. 192.0.2.1: timed out]"
            ),
            "expired",
        ),
        ("retry timeout exceeded", "expired"),
    ],
    "2-recipient-domain": [
        ("553 5.3.0 host does not accept mail", "recipient_domain_dns"),
        ("550 5.7.27 an MX or SRV record indicated no SMTP service", "recipient_domain_dns"),
        ("DNS lookup failure: host mx.example.invalid not found", "recipient_domain_dns"),
        (
            "451 Temporary local problem - please try later: host name lookup failure",
            "recipient_domain_dns",
        ),
    ],
    "3-directory": [
        ("550 5.1.1 User jane.doe not listed in Domino Directory", "recipient_unknown"),
        ("User not listed in public Name & Address Book", "recipient_unknown"),
        ("550 Invalid final delivery userid", "recipient_unknown"),
        (
            "550 5.1.1 Recipient rejected by virus gateway: check if address is correct",
            "recipient_unknown",
        ),
    ],
    "4-sender-wrapper-helo": [
        (
            "550 5.1.0 <b@mail.example.com>: Domain not found (in reply to MAIL FROM command)",
            "sender_domain_dns",
        ),
        ("553 5.1.8 Domain unknown", "sender_domain_dns"),
        (
            (
                "Address not found. Your message wasn't delivered to jane@example.org because the "
                "address couldn't be found, or is unable to receive mail. The response from the remote "
                "server was: 550 5.7.1 Message rejected: IP address 192.0.2.1 blocked using zen.spamhaus.org"
            ),
            "blocklist",
        ),
        (
            "Address not found. The response was: 552 5.2.2 The recipient's mailbox is full",
            "mailbox_full",
        ),
        ("504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", "policy"),
        ("550 5.7.1 Helo command rejected: Host not found", "policy"),
    ],
    "5-out-of-context": [
        (
            "550 5.7.1 Message rejected, see https://postmaster.example.net/check?ip=192.0.2.1",
            "policy",
        ),
        ("451 4.3.0 could not load configuration file, try again later", "greylisted"),
        ("550 5.5.0 line limit exceeded", "policy"),  # RFC 5321/5322 line limit: conformance
        ("421 4.7.0 too many errors, closing connection", "greylisted"),
        ("554 5.7.1 Your server passed our open relay test", "policy"),
        ("554 5.7.1 Rejected: your server is an open relay", "ip_reputation"),
        ("451 4.5.0 Error in processing: /var/spool/virusmails/spam-1.gz failed", "greylisted"),
        ("450 4.7.1 greylisted, try again later\n551 5.7.1 relaying not permitted", "relay_denied"),
        ("450 4.2.0 try again later 550 5.1.1 user unknown", "recipient_unknown"),
    ],
    "6-reply-class": [
        ("554 5.3.0 Service unavailable", "unknown"),
        ("554 Service temporarily unavailable, try again later", "unknown"),
        ("421 4.3.0 Service unavailable, try again later", "greylisted"),
    ],
    "7-stated-cause": [
        ("550 5.1.1 Recipient address rejected: internal system error", "unknown"),
        ("451 4.3.0 Recipient address rejected: internal system error", "greylisted"),
        ("554 5.7.1 Recipient address rejected for policy reasons", "policy"),
        ("421 Connection frequency limited", "rate_limited"),
        (
            "421 4.4.2 Message submission rate for this client has exceeded the configured limit",
            "rate_limited",
        ),
        ("550 SPF check result is none", "spf"),
        ("554 IP address is black listed.", "ip_reputation"),
        ("554 Connections from dynamically assigned IP space are not accepted", "ip_reputation"),
    ],
}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        pytest.param(t, c, id=f"{name}-{i}")
        for name, rows in CLASS_CASES.items()
        for i, (t, c) in enumerate(rows)
    ],
)
def test_the_classes_of_miss(text: str, category: str) -> None:
    """Expiry wordings, recipient-domain and directory wordings, sender versus recipient,
    the final reply over its wrapper, keywords out of context, the reply class and a
    stated cause over a generic "rejected"."""
    assert classify_bounce("Permanent", "General", None, text).category == category


def test_a_5xx_reply_is_never_a_deferral() -> None:
    """Whatever the wording, a final 5xx reply is not ``greylisted``; the same words in a
    4xx reply are."""
    for text in ("try again later", "greylisted", "temporary failure", "internal error"):
        assert classify_bounce("Permanent", "General", None, f"554 {text}").category != "greylisted"
        assert classify_bounce("Transient", "General", None, f"451 {text}").category == "greylisted"


def test_build_info_carries_the_classifier_version() -> None:
    """A step in the category dashboards after an upgrade can be matched to the version."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(Store(Snapshot(config=Config())).read, DnsQueryStats()))
    assert (
        registry.get_sample_value(
            "deliverability_build_info",
            {
                "version": __version__,
                "revision": revision(),
                "python_version": platform.python_version(),
                "classifier_version": CLASSIFIER_VERSION,
                "compiled": str(compiled()).lower(),
            },
        )
        == 1
    )


def test_a_suppression_subtype_beats_the_text() -> None:
    """SES never sent the message, whatever the text quotes."""
    diagnosis = classify_bounce("Permanent", "Suppressed", "5.1.1", "smtp; 550 5.1.1 user unknown")
    assert diagnosis.category == "suppressed"


def test_a_specific_subtype_beats_generic_wording_but_not_specific_wording() -> None:
    """ContentRejected explains a bare "550 Blocked"; it does not override "mailbox full"."""
    assert classify_bounce("Transient", "ContentRejected", None, "550 Blocked").category == (
        "content"
    )
    assert classify_bounce("Transient", "ContentRejected", None, "552 Mailbox full").category == (
        "mailbox_full"
    )


@pytest.mark.parametrize(
    "text",
    [
        (
            "smtp; 550-5.7.26 This mail is unauthenticated, which poses a security risk to the\n"
            "550-5.7.26 sender and Gmail users, and has been blocked. The sender must\n"
            "550 5.7.26 authenticate with at least one of SPF or DKIM."
        ),
        (
            "smtp; 550-5.7.26 This mail is unauthenticated, which poses a security risk to the "
            "550-5.7.26 sender and Gmail users, and has been blocked. The sender must 550-5.7.26 "
            "authenticate with at least one of SPF or DKIM."
        ),
    ],
    ids=["newlines", "flattened"],
)
def test_multi_line_replies(text: str) -> None:
    """Continuation codes are removed before wording is read, in either layout."""
    diagnosis = classify_bounce("Permanent", "General", None, text)
    assert (diagnosis.category, diagnosis.smtp_code, diagnosis.enhanced_status) == (
        "authentication",
        "550",
        "5.7.26",
    )


# --- explanation and remedy ----------------------------------------------------------------


def test_5_1_8_remedy_names_the_mail_from_domain() -> None:
    """The field report's 553 #5.1.8: the remedy says which record to publish, and where."""
    text = "smtp; 553 #5.1.8 Domain of sender address <bounce@mail.example.com> does not exist"
    named = classify_bounce(
        "Permanent", "General", "5.1.8", text, mail_from_domain="mail.example.com"
    )
    assert named.category == "sender_domain_dns"
    assert (named.smtp_code, named.enhanced_status, named.status_class) == ("553", "5.1.8", "5xx")
    assert named.remedy.startswith(
        "the MAIL FROM domain does not resolve: publish an A record for mail.example.com"
    )
    anonymous = classify_bounce("Permanent", "General", "5.1.8", text)
    assert "publish an A record for your custom MAIL FROM domain" in anonymous.remedy


def test_spf_remedy_names_the_mail_from_domain() -> None:
    """SPF is evaluated on the MAIL FROM domain, so that is where the record goes."""
    diagnosis = classify_bounce(
        None, None, None, "550 5.7.23 SPF validation failed", mail_from_domain="bounce.example.org"
    )
    assert diagnosis.category == "spf"
    assert "bounce.example.org" in diagnosis.remedy


@pytest.mark.parametrize("case", CORPUS_CASES[:20] + OWN_CASES[:20], ids=lambda c: c.raw[:30])
def test_explanation_is_one_line_with_the_codes(case: Case) -> None:
    """One line for a person, carrying the codes that were found."""
    diagnosis = diagnose(case)
    assert "\n" not in diagnosis.explanation
    assert diagnosis.remedy
    for code in (diagnosis.smtp_code, diagnosis.enhanced_status):
        if code:
            assert code in diagnosis.explanation


# --- robustness and speed ------------------------------------------------------------------

texts = st.one_of(
    st.none(),
    st.text(),
    st.sampled_from(["", " ", "General", "Suppressed", "5.1.1", "4xx", "smtp;", "550-"]),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from([c.raw for c in CORPUS_CASES + OWN_CASES]),
        st.text(max_size=40),
    ),
)


@settings(max_examples=400, deadline=None)
@given(texts, texts, texts, texts, texts)
def test_never_raises_and_stays_in_the_vocabulary(
    bounce_type: str | None,
    subtype: str | None,
    status: str | None,
    text: str | None,
    mail_from: str | None,
) -> None:
    """Any text or None in any argument gives a category of the vocabulary."""
    diagnosis = classify_bounce(bounce_type, subtype, status, text, mail_from_domain=mail_from)
    assert diagnosis.category in BOUNCE_CATEGORIES
    assert diagnosis.status_class in STATUS_CLASSES
    assert diagnosis.explanation
    assert "\n" not in diagnosis.explanation
    assert diagnosis.remedy


def test_non_string_arguments_count_as_absent() -> None:
    """Callers pass parsed JSON; a number or a list where a string belongs does not raise."""
    diagnosis = classify_bounce(1, ["x"], 5.1, {"a": 1})  # type: ignore[arg-type]
    assert diagnosis.category == "unknown"


def test_results_are_cached() -> None:
    """The pipeline calls this for every bounced recipient: a repeat is a cache hit."""
    first = classify_bounce("Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown")
    again = classify_bounce("Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown")
    assert first is again


@pytest.mark.parametrize(
    "text", ["x" * 5_000_000, "spf " * 500_000, "a@" * 1_000_000, "550-" * 500_000]
)
def test_a_huge_reply_is_cut(text: str) -> None:
    """Long or hostile text is cut at 8 KiB, so no reply can make a call slow: a reason
    written past the cut is not read."""
    assert classify_bounce("Permanent", "General", None, text).category == "unknown"
    assert classify_bounce(
        "Permanent", "General", None, text[:8000] + " user unknown"
    ).category == ("recipient_unknown")
    assert classify_bounce(
        "Permanent", "General", None, text[:8200] + " user unknown"
    ).category == ("unknown")


# The label values of the bounce metrics: renaming one would break every dashboard.
LABEL_VALUES = [
    "sender_domain_dns",
    "spf",
    "dkim",
    "dmarc",
    "authentication",
    "reverse_dns",
    "ip_reputation",
    "domain_reputation",
    "blocklist",
    "content",
    "recipient_unknown",
    "recipient_disabled",
    "mailbox_full",
    "message_too_large",
    "rate_limited",
    "greylisted",
    "tls_required",
    "recipient_domain_dns",
    "relay_denied",
    "policy",
    "expired",
    "suppressed",
    "unknown",
]


def test_categories_keep_their_label_values() -> None:
    """The StrEnum's values are the metric label values, in the documented order."""
    assert list(BOUNCE_CATEGORIES) == LABEL_VALUES
    assert [category.value for category in BounceCategory] == LABEL_VALUES
    diagnosis = classify_bounce("Permanent", "General", None, "550 5.1.1 user unknown")
    assert diagnosis.category is BounceCategory.RECIPIENT_UNKNOWN
    assert f"{diagnosis.category}" == "recipient_unknown"


if __name__ == "__main__":
    print(confusion_report())
