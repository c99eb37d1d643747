"""The bounce classifier on the development and blind sets (``bounce_sets.md``), and the
structural decisions of classifiers 3 to 5, each with texts written for the test.

``python -m pytest tests/unit/test_bounce_sets.py -s -k scores`` prints every set's figures
and misses. The parts B of the second and third blind sets (``[blind2-B]``, ``[blind3-B]``)
were held back until classifier 6 and are development data since classifier 7; the fourth
blind set was held back until classifier 7 and is development data since classifier 8, the
fifth held back until classifier 8 and development data since classifier 9, the sixth held
back until classifier 9 and development data since classifier 10. The seventh blind set
(``bounce_blind7.tsv``) is held back: only its figures are printed, never its misses.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_bounce_classifier import CORPUS, EVAL, OWN, Case, load_cases

from exporter.checks.bounce import BOUNCE_CATEGORIES, classify_bounce

HERE = Path(__file__).resolve().parent
DEV = load_cases(HERE / "bounce_dev.tsv")
DEV4 = load_cases(HERE / "bounce_dev4.tsv")
BLIND = load_cases(HERE / "bounce_blind.tsv")
BLIND2 = load_cases(HERE / "bounce_blind2.tsv")
BLIND2_SEEN = [case for case in BLIND2 if "[blind2-A]" in case.source]
BLIND2_B = [case for case in BLIND2 if "[blind2-B" in case.source]
BLIND3 = load_cases(HERE / "bounce_blind3.tsv")
BLIND3_SEEN = [case for case in BLIND3 if "[blind3-A]" in case.source]
BLIND3_B = [case for case in BLIND3 if "[blind3-B]" in case.source]
BLIND4 = load_cases(HERE / "bounce_blind4.tsv")
BLIND5 = load_cases(HERE / "bounce_blind5.tsv")
BLIND6 = load_cases(HERE / "bounce_blind6.tsv")
BLIND7 = load_cases(HERE / "bounce_blind7.tsv")

# Classifier 8 scores 97.9 % on the development set, 99.0 % on the fourth, 97.8 % on the first
# blind set, 98.0 % and 100 % on the second blind set's parts A and B, 98.9 % and 100 % on the
# third's, 99.2 % on the fourth, with at most 3.7 % "unknown". Before it read them, classifier
# 6 scored 92.0 % on the second set's part B and 84.3 % on the third's (5.7 % unknown), and
# classifier 7 79.3 % on the fourth blind set (5.8 % unknown). Classifier 9 scores the same on
# all of them and 96.8 % on the fifth blind set (2.6 % unknown), where classifier 8 scored
# 77.9 % (10.4 % unknown) before it was read. Classifier 10 scores the same on all of them and
# 97.9 % on the sixth (4.1 % unknown, its rows labelled "unknown"), where classifiers 8 and 9
# scored 78.4 % (16.5 % unknown) before it was read. The bars sit about two points under.
UNKNOWN_BAR = 0.05
SETS = {
    "development": (DEV, 0.95, UNKNOWN_BAR),
    "development 4": (DEV4, 0.97, UNKNOWN_BAR),
    "blind": (BLIND, 0.93, UNKNOWN_BAR),
    "blind2-A": (BLIND2_SEEN, 0.95, UNKNOWN_BAR),
    "blind2-B": (BLIND2_B, 0.97, UNKNOWN_BAR),
    "blind3-A": (BLIND3_SEEN, 0.96, UNKNOWN_BAR),
    "blind3-B": (BLIND3_B, 0.97, UNKNOWN_BAR),
    "blind4": (BLIND4, 0.97, UNKNOWN_BAR),
    "blind5": (BLIND5, 0.94, UNKNOWN_BAR),
    "blind6": (BLIND6, 0.95, UNKNOWN_BAR),
}
# Held back (misses never printed): classifiers 9 and 10 score 81.7 % on it, 9.2 % "unknown".
# Far under the 95 % target; these bars only keep a later version from losing ground there.
HELD_BACK = {"blind7": (BLIND7, 0.79, 0.12)}


def scores(cases: list[Case]) -> tuple[float, float, list[tuple[Case, str]]]:
    """Accuracy, share of "unknown" and the misses, texts classified as the pipeline does."""
    got = [
        (case, classify_bounce("Permanent", "General", None, case.raw).category) for case in cases
    ]
    wrong = [(case, category) for case, category in got if category != case.category]
    unknown = sum(category == "unknown" for _, category in got)
    return 1 - len(wrong) / len(cases), unknown / len(cases), wrong


def test_scores() -> None:
    """Prints the figures and the misses (visible with ``-s``)."""
    for name, (cases, _, _) in SETS.items():
        accuracy, unknown, wrong = scores(cases)
        print(f"{name}: {accuracy:.1%} of {len(cases)}, unknown {unknown:.1%}")
        for case, category in wrong:
            print(f"  {case.category} -> {category}: {case.raw[:100]!r}")
    assert len(DEV) >= 180
    assert len(DEV4) >= 100
    assert len(BLIND) >= 130
    assert len(BLIND2_SEEN) >= 100
    assert len(BLIND2_B) >= 50
    assert len(BLIND3_SEEN) >= 90
    assert len(BLIND3_B) >= 70
    assert len(BLIND4) >= 120
    assert len(BLIND5) >= 150
    for name, (cases, _, _) in HELD_BACK.items():
        accuracy, unknown, _ = scores(cases)
        print(f"{name} (held back): {accuracy:.1%} of {len(cases)}, unknown {unknown:.1%}")
    assert len(BLIND6) >= 95
    assert len(BLIND7) >= 140


@pytest.mark.parametrize("name", [*SETS, *HELD_BACK])
def test_accuracy_and_unknown_share(name: str) -> None:
    cases, bar, unknown_bar = SETS[name] if name in SETS else HELD_BACK[name]
    accuracy, unknown, _ = scores(cases)
    assert accuracy >= bar
    assert unknown <= unknown_bar


def test_the_sets_are_disjoint_labelled_and_sourced() -> None:
    """No text is in two sets (a blind set shares none with what the rules were fitted on),
    every label is a category and every row says where it came from."""
    others = {
        c.raw.strip().lower() for c in load_cases(CORPUS) + load_cases(OWN) + load_cases(EVAL)
    }
    dev = {c.raw.strip().lower() for c in DEV}
    dev4 = {c.raw.strip().lower() for c in DEV4}
    blind = {c.raw.strip().lower() for c in BLIND}
    blind2 = {c.raw.strip().lower() for c in BLIND2}
    blind3 = {c.raw.strip().lower() for c in BLIND3}
    blind4 = {c.raw.strip().lower() for c in BLIND4}
    blind5 = {c.raw.strip().lower() for c in BLIND5}
    blind6 = {c.raw.strip().lower() for c in BLIND6}
    blind7 = {c.raw.strip().lower() for c in BLIND7}
    assert len(dev) == len(DEV)
    assert len(dev4) == len(DEV4)
    assert len(blind) == len(BLIND)
    assert len(blind2) == len(BLIND2) == len(BLIND2_SEEN) + len(BLIND2_B)
    assert len(blind3) == len(BLIND3) == len(BLIND3_SEEN) + len(BLIND3_B)
    assert len(blind4) == len(BLIND4)
    assert len(blind5) == len(BLIND5)
    assert len(blind6) == len(BLIND6)
    assert len(blind7) == len(BLIND7)
    assert not dev & blind
    assert not (dev | blind | others) & blind2
    assert not (dev | blind | blind2 | others) & blind3
    assert not dev & others
    assert not blind & others
    assert not (dev | blind | blind2 | blind3 | others) & dev4
    assert not (dev | dev4 | blind | blind2 | blind3 | others) & blind4
    assert not (dev | dev4 | blind | blind2 | blind3 | blind4 | others) & blind5
    assert not (dev | dev4 | blind | blind2 | blind3 | blind4 | blind5 | others) & blind6
    earlier = dev | dev4 | blind | blind2 | blind3 | blind4 | blind5 | blind6 | others
    assert not earlier & blind7
    for case in DEV + DEV4 + BLIND + BLIND2 + BLIND3 + BLIND4 + BLIND5 + BLIND6 + BLIND7:
        assert case.category in BOUNCE_CATEGORIES
        assert len(case.source) > 10


STRUCTURE_CASES = {
    "quota-wording": [
        ("552 Recipient quota limit has been reached", "mailbox_full"),
        ("550 The user has exceeded the allowed mailbox quota", "mailbox_full"),
        ("452 Mailbox does not have enough space for this message", "mailbox_full"),
        ("550 5.4.5 Daily quota for sending messages exceeded", "rate_limited"),
    ],
    "recipient-then-verdict": [
        ("550 User <jane@example.org> is unknown here", "recipient_unknown"),
        ("554 5.1.1 All recipients are invalid", "recipient_unknown"),
        ("550 Mailbox (jane@example.org) not found", "recipient_unknown"),
        ("550 Account closed by its owner", "recipient_disabled"),
        ("550 Mailbox has expired", "recipient_disabled"),
    ],
    "answered-mail-from": [
        (
            "SMTP error from remote mail server after MAIL FROM:<a@b.example>:\n550 5.1.1 user unknown",
            "sender_domain_dns",
        ),
        (
            (
                "host mx.example.org[192.0.2.1] said: 553 5.1.0 b.example does not exist (in reply to "
                "MAIL FROM command)"
            ),
            "sender_domain_dns",
        ),
        (
            (
                "host mx.example.org[192.0.2.1] said: 550 5.1.1 user unknown (in reply to RCPT TO "
                "command)"
            ),
            "recipient_unknown",
        ),
        (
            (
                "... while talking to mx.example.org.:\n>>> MAIL From:<a@b.example> SIZE=1024\n"
                "<<< 250 2.1.0 Sender ok\n>>> RCPT To:<jane@example.org>\n"
                "<<< 550 5.1.1 <jane@example.org>... User unknown"
            ),
            "recipient_unknown",
        ),
    ],
    "answered-rcpt-to": [
        (
            "host mx.example.org[192.0.2.1] said: 550 5.0.0 not OK (in reply to RCPT TO command)",
            "recipient_unknown",
        ),
        (
            (
                "host mx.example.org[192.0.2.1] said: 550 5.0.0 not OK (in reply to end of DATA "
                "command)"
            ),
            "unknown",
        ),
        ("554 Transaction failed (in reply to RCPT TO command)", "unknown"),
        ("554 5.0.0 Service unavailable (in reply to RCPT TO command)", "unknown"),
    ],
    "cause-before-a-final-fault": [
        (
            (
                "554 5.0.0 MX list for example.org. points back to mx.example.net\n"
                "554 5.3.5 Local configuration error"
            ),
            "recipient_domain_dns",
        ),
        ("451 4.3.0 Local configuration error", "greylisted"),
    ],
    "greeting-refusal": [
        (
            "host mx.example.org[192.0.2.1] refused to talk to me: 554 not in the approved list",
            "policy",
        ),
        (
            (
                "host mx.example.org[192.0.2.1] refused to talk to me: 554 mx.example.org ESMTP "
                "not accepting messages"
            ),
            "ip_reputation",
        ),
        ("502 5.5.1 Unrecognized command", "unknown"),
    ],
    "words-in-between": [
        ("550 Relaying to <jane@example.org> is prohibited", "relay_denied"),
        ("550 Unauthorized relay attempt", "relay_denied"),
        ("550 5.7.1 This mail server does not relay for your domain", "relay_denied"),
        ("550 Rejected by Bayesian filter", "content"),
        ("554 Your host is a known spam source", "ip_reputation"),
        ("554 5.7.1 Your server 192.0.2.1 is sending spam; connection refused", "ip_reputation"),
        ("554 5.7.1 Rejected: your IP 192.0.2.1 has sent too much spam", "ip_reputation"),
        (
            "550 5.7.1 Connection from 192.0.2.1 refused: host has a poor sender score",
            "ip_reputation",
        ),
        ("554 5.7.1 Message rejected: contains a link to a site flagged as malicious", "content"),
        ("550 Message looks like spam", "content"),
        ("450 Sending frequency of your domain is limited", "rate_limited"),
    ],
    "help-pointer": [
        (
            (
                "550 5.7.1 Rejected: the sending IP is listed on Spamhaus. For more information "
                "about IP reputation, see https://example.org/help."
            ),
            "blocklist",
        ),
        ("550 5.7.1 Your IP has a poor reputation. For details, see our help.", "ip_reputation"),
    ],
    "only-a-wrapper-before-the-reply": [
        (
            (
                "** Address not found **\n\nYour message wasn't delivered to jane@example.org "
                "because the address couldn't be found.\n\nThe response was:\n\n"
                "421 4.4.5 Server busy, try again later."
            ),
            "rate_limited",
        ),
        (
            (
                "Final-Recipient: rfc822; jane@example.org\nAction: failed\nStatus: 5.0.0\n"
                "Diagnostic-Code: smtp; 451 4.4.1 No answer from host"
            ),
            "expired",
        ),
        (
            (
                "5.1.1 <jane@example.org>: Recipient address rejected: failed recipient check: "
                "host 127.0.0.1[127.0.0.1] said: 554 5.7.1 verify failed"
            ),
            "recipient_unknown",
        ),
    ],
    "sendmail-own-summary": [
        (
            (
                "... while talking to mx.example.org.:\n>>> DATA\n<<< 550 Account suspended\n"
                "550 5.1.1 <jane@example.org>... User unknown\n<<< 503 5.5.1 No recipients"
            ),
            "recipient_disabled",
        ),
        (
            (
                "... while talking to mx.example.org.:\n>>> RCPT To:<jane@example.org>\n"
                "<<< 550 No such mailbox\n550 5.1.1 <jane@example.org>... User unknown"
            ),
            "recipient_unknown",
        ),
    ],
    "mailbox-unavailable-with-codes": [
        ("550 5.2.1 Mailbox unavailable", "recipient_disabled"),
        ("550 5.2.1 <jane@example.org>: user unknown", "recipient_unknown"),
        ("450 Requested mail action not taken: mailbox unavailable", "greylisted"),
        ("450 4.1.1 Mailbox unavailable", "recipient_unknown"),
    ],
    "spam-before-data": [
        (
            "host mx.example.org[192.0.2.1] said: 554 Sender refused as spam (in reply to MAIL FROM command)",
            "policy",
        ),
        (
            "host mx.example.org[192.0.2.1] said: 550 Rejected as spam (in reply to RCPT TO command)",
            "ip_reputation",
        ),
        (
            "host mx.example.org[192.0.2.1] said: 550 Rejected as spam (in reply to end of DATA command)",
            "content",
        ),
        (
            "host mx.example.org[192.0.2.1] refused to talk to me: 554 Looks like spam",
            "ip_reputation",
        ),
        (
            "host mx.example.org[192.0.2.1] said: 552 Virus infected message rejected (in reply to RCPT TO command)",
            "content",
        ),
    ],
    "unnamed-list": [
        ("451 IP temporarily blacklisted", "ip_reputation"),
        ("550 Your host is on our blacklist", "ip_reputation"),
        ("550 Client host blocked using zen.spamhaus.org", "blocklist"),
        ("550 Sender address is blacklisted", "policy"),
        ("550 5.7.1 Sender address is on the recipient's block list", "policy"),
        ("550 5.7.1 Your IP address is on our block list", "ip_reputation"),
        ("550 Rejected: 192.0.2.1 is listed in our internal reputation list", "ip_reputation"),
        ("550 5.7.1 Rejected: 192.0.2.1 is on the reputation list of bl.example.net", "blocklist"),
    ],
    "spf-explanation": [
        ("550 192.0.2.1 is not allowed to send mail from example.org", "spf"),
        ("550 You are not allowed to send mail from this address", "policy"),
    ],
    "advice-is-not-the-verdict": [
        (
            "554 5.7.1 Message rejected as spam. Please make sure your server has a PTR record.",
            "content",
        ),
    ],
    "domain-does-not-exist": [
        ("550 5.4.310 DNS domain example.org does not exist", "recipient_domain_dns"),
        ("554 Rcpt <jane@example.org> does not exist", "recipient_unknown"),
    ],
    # Classifier 5, from the misses of the third blind set's read part.
    "a-restriction-whose-reason-is-to-come-back-later": [
        (
            "450 4.7.1 <mail.example.net>: Helo command rejected: Please try again later",
            "greylisted",
        ),
        ("Client host rejected: Retry later", "greylisted"),
        ("550 5.7.1 <bob@example.net>: Sender address rejected: try again later", "unknown"),
        ("554 5.7.1 <mail.example.net>: Helo command rejected: Host not found", "policy"),
    ],
    "dns-failure-of-the-side-named": [
        (
            "553 5.7.0 <bob@example.net>: Sender address rejected: Domain example.net does not accept mail",
            "sender_domain_dns",
        ),
        (
            "556 5.1.10 <jane@example.org>: Recipient address rejected: Domain example.org does not accept mail",
            "recipient_domain_dns",
        ),
        ("550 5.1.2 No MX record for your from address", "sender_domain_dns"),
        ("554 Your FROM address domain has no MX", "sender_domain_dns"),
        ("550 5.7.1 Sender domain example.net has no MX or A record", "sender_domain_dns"),
        ("550 5.1.2 No MX record found for example.org", "recipient_domain_dns"),
    ],
    "receiver-fault-and-domain-reputation": [
        (
            "host mx.example.org[192.0.2.1] said: 554 5.3.5 Server configuration problem (in reply to RCPT TO command)",
            "unknown",
        ),
        (
            "host mx.example.org[192.0.2.1] said: 550 5.3.5 System incorrectly configured (in reply to RCPT TO command)",
            "unknown",
        ),
        ("451 4.3.5 Server configuration problem", "greylisted"),
        (
            "554 5.7.1 Message rejected due to the low reputation of the sender's domain",
            "domain_reputation",
        ),
    ],
    "sender-restriction-answered-at-rcpt-to": [
        (
            (
                "host mx.example.org[192.0.2.1] said: 550 5.1.0 <bob@example.net>: Sender address "
                "rejected: unverified address: host mx.example.net said: 550 5.1.1 User unknown "
                "(in reply to RCPT TO command)"
            ),
            "sender_domain_dns",
        ),
        (
            (
                "host mx.example.org[192.0.2.1] said: 554 5.7.1 <bob@example.net>: Sender address "
                "rejected: undeliverable address: 550 No such user (in reply to RCPT TO command)"
            ),
            "sender_domain_dns",
        ),
    ],
    "access-denied-read-with-its-code": [
        ("554 5.7.1 <jane@example.org>: Recipient address rejected: Access denied", "policy"),
        (
            (
                "host mx.example.org[192.0.2.1] said: 550 <jane@example.org>: Recipient address "
                "rejected: Access denied (in reply to RCPT TO command)"
            ),
            "policy",
        ),
        (
            (
                "550 5.4.1 [jane@example.org]: Recipient address rejected: Access denied "
                "[DB5PEPF00000001.eurprd01.prod.outlook.com]"
            ),
            "recipient_unknown",
        ),
    ],
    "helo-name-checks": [
        ("550 HELO must be a hostname, not an IP address", "policy"),
        ("550 Bare IP address not allowed in HELO", "policy"),
        ("554 Your EHLO contains an invalid character", "policy"),
        (
            (
                "SMTP error from remote mail server after EHLO mx.example.net:\n"
                "421 4.3.2 Too many concurrent connections, try again later"
            ),
            "rate_limited",
        ),
    ],
    "volume-in-a-time": [
        (
            "450 4.2.1 <jane@example.org>: Mailbox has received too much mail in a short period, try again later",
            "rate_limited",
        ),
        ("452 4.2.1 Recipient is receiving too much email right now", "rate_limited"),
        ("421 Too much traffic from your server in a short amount of time", "rate_limited"),
        ("552 5.2.2 Mailbox full: too much mail data stored", "mailbox_full"),
    ],
    "blocked-using-a-filter-is-no-list": [
        ("554 5.7.1 Blocked using content filter, your message looks like spam", "content"),
        ("550 Message blocked using our spam rules", "content"),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.example.net",
            "blocklist",
        ),
    ],
    "disabled-without-a-verb": [
        ("550 Inbox frozen for non-payment", "recipient_disabled"),
        (
            "554 5.7.1 <jane@example.org>: Recipient address rejected: Account locked",
            "recipient_disabled",
        ),
        (
            (
                "554 5.7.1 <mx.example.net[192.0.2.1]>: Client host rejected: Address deactivated, see "
                "https://help.example.org/deactivated"
            ),
            "recipient_disabled",
        ),
    ],
}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        pytest.param(t, c, id=f"{name}-{i}")
        for name, rows in STRUCTURE_CASES.items()
        for i, (t, c) in enumerate(rows)
    ],
)
def test_structural_decisions(text: str, category: str) -> None:
    """Quota and existence verdicts however worded, the SMTP stage a reply answered, a final
    receiver fault that does not hide a named cause, the greeting refusal as a last resort;
    Sendmail's own summary under the receiver's reply, codes that explain "unavailable", no
    content verdict before DATA, unnamed lists, advice that is no verdict; a restriction's
    reason over its prefix, the side a DNS failure or a sender restriction names, "Access
    denied" read with its code, HELO name checks, a volume in a time, a filter that is no block
    list, a disabled state without a verb, a receiver's configuration fault."""
    assert classify_bounce("Permanent", "General", None, text).category == category


# The labelled sets whose replies the wrapper and folding tests quote (read sets only).
QUOTED_SETS = load_cases(OWN) + load_cases(EVAL) + DEV + DEV4 + BLIND + BLIND2 + BLIND3 + BLIND4

# How MTAs quote a receiver's reply without naming another SMTP stage than DATA (Sendmail
# adds its own summary line under the reply).
WRAPPERS = {
    "postfix": "host mx.example.org[192.0.2.1] said: {} (in reply to end of DATA command)",
    "exim": "SMTP error from remote mail server after end of data:\n    host mx.example.org [192.0.2.1]: {}",
    "exchange": "Remote Server returned '{}'",
    "gmail": "The response from the remote server was:\n{}",
    "dsn": "smtp; {}",
    "qmail": "<jane@example.org>:\n192.0.2.1 failed after I sent the message.\nRemote host said: {}",
    "sendmail": "... while talking to mx.example.org.:\n>>> DATA\n<<< {}\n554 5.0.0 Service unavailable",
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
def test_a_reply_quoted_by_another_mta_keeps_its_category(wrapper: str) -> None:
    """Every labelled one-line reply keeps the category it gets alone when an MTA's wrapper
    quotes it."""
    replies = [
        case.raw.strip()
        for case in QUOTED_SETS
        if "\n" not in case.raw.strip() and case.raw.strip()[:3].isdigit()
    ]
    alone = [classify_bounce("Permanent", "General", None, reply).category for reply in replies]
    wrapped = [
        classify_bounce("Permanent", "General", None, WRAPPERS[wrapper].format(reply)).category
        for reply in replies
    ]
    assert len(replies) > 300
    assert [(r, a, w) for r, a, w in zip(replies, alone, wrapped, strict=True) if a != w] == []


def test_a_reply_folded_like_a_dsn_header_keeps_its_category() -> None:
    """A DSN folds a long Diagnostic-Code at about 70 columns ("...\\n    ..."): every labelled
    one-line reply keeps its category folded (read sets only, as above)."""
    replies = [case.raw.strip() for case in QUOTED_SETS if "\n" not in case.raw.strip()]
    changed = [
        reply
        for reply in replies
        if classify_bounce("Permanent", "General", None, reply).category
        != classify_bounce(
            "Permanent", "General", None, "\n    ".join(textwrap.wrap(reply, 70))
        ).category
    ]
    assert len(replies) > 500
    assert changed == []
