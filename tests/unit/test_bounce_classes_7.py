"""The classes of miss classifier 7 fixed after the second and third blind sets' parts B were
read (``bounce_sets.md``), each with texts written for the test in the style of other MTAs'
replies (not the sets' own texts), and a neighbour each class must leave alone.
"""

from __future__ import annotations

import pytest

from exporter.checks.bounce import classify_bounce

FOLDED = (
    "host mx.example.net[192.0.2.9] said: 452-4.2.2 The mailbox of this user is over its"
    " 452-4.2.2 storage quota. See 452 4.2.2 our spam and virus policy page."
    " (in reply to RCPT TO command)"
)
TRANSCRIPT = (
    "host mx.example.net[192.0.2.9] said: 450-4.7.1 Come back later 450 4.7.1 see the help"
    " page 550 5.1.1 <a@b.example>: Recipient address rejected: User unknown"
)
CLASSES = {
    "a multi-line reply folded onto one line ends with its own last line": [
        (FOLDED, "mailbox_full"),
        (TRANSCRIPT, "recipient_unknown"),
    ],
    "SPF named as what forbids the mail": [
        ("550 5.7.1 Mail from 192.0.2.7 is forbidden by the SPF policy of example.org", "spf"),
        ("554 SPF: sender unauthorized for example.org", "spf"),
        ("550 5.7.1 The SPF record of example.org does not authorize 192.0.2.7", "spf"),
        ("550 5.7.1 Relaying denied", "relay_denied"),
    ],
    "the sending host's address as what is blocked": [
        ("550 Connection from [192.0.2.7] blocked", "ip_reputation"),
        ("421 4.7.0 Host 2001:db8::7 is temporarily banned", "ip_reputation"),
        ("554 Sender x.x.x.x banned", "ip_reputation"),
        ("550 5.7.1 <spammer@example.org> is blocked", "policy"),
        ("554 <bob@example.org> is banned", "policy"),
    ],
    "a third-party list named by its zone, or used to defer": [
        ("550 Your IP is in the blocklist truncate.gbudb.net", "blocklist"),
        ("451 Client host [192.0.2.7] deferred using truncate.gbudb.net", "blocklist"),
        ("554 5.7.1 Client host 192.0.2.7 listed in hostkarma.junkemailfilter.com", "blocklist"),
        ("554 Your IP is on our blacklist: see www.example.net/unblock", "ip_reputation"),
    ],
    "an unknown recipient: a failed verification, a service without that account": [
        ("554 Recipient verification failed for <a@b.example>", "recipient_unknown"),
        ("550 This user does not have a Example Mail Plus account", "recipient_unknown"),
        ("550 Sender verify failed", "sender_domain_dns"),
    ],
    "a valid sender domain as a requirement": [
        ("553 Your sender domain must be valid", "sender_domain_dns"),
        ("550 This server requires a resolvable sender domain", "sender_domain_dns"),
        ("550 A valid sender domain is required", "sender_domain_dns"),
        ("553 5.7.1 Sender domain example.org is not valid", "sender_domain_dns"),
        ("550 Recipient domain must exist", "recipient_domain_dns"),
    ],
    "the receiver does not serve the domain (qmail's rcpthosts, reworded)": [
        ("553 sorry, that domain isn't in my list of permitted domains (#5.7.1)", "relay_denied"),
        ("550 Sorry, example.org is not in my list of relay domains", "relay_denied"),
        ("550 5.7.1 Sender not in the allowed senders list", "policy"),
    ],
    "an address as the subject of an existence verdict, its side by the code": [
        ("550 <bob@example.org> not found", "recipient_unknown"),
        ("553 5.1.8 <bob@example.org> does not exist", "sender_domain_dns"),
        ("550 5.1.7 user unknown", "sender_domain_dns"),
        ("550 5.1.1 <bob@example.org> does not exist", "recipient_unknown"),
    ],
    "other MTAs' wording for a missing or inactive user, a members-only group, a back end": [
        ("550 nonexistent user", "recipient_unknown"),
        ("551 User not local; please try <bob@example.net>", "recipient_unknown"),
        ("553 5.7.1 <a@b.example>: Sender address rejected: not logged in", "relay_denied"),
        ("550 user not active", "recipient_disabled"),
        ("550 The sender is not subscribed to this group", "policy"),
        ("451 4.4.3 Unable to contact LDAP server", "greylisted"),
    ],
    "RFC 5321/5322's line limit is conformance, not size": [
        ("550 5.6.0 Message rejected: text line longer than 998 characters", "policy"),
        ("552 5.3.0 Message has lines too long for transport", "policy"),
        ("552 5.3.4 Message size exceeds fixed limit", "message_too_large"),
        ("552 Header size exceeds limit", "message_too_large"),
    ],
}


@pytest.mark.parametrize(
    ("text", "category"),
    [case for cases in CLASSES.values() for case in cases],
    ids=[f"{name}: {text[:40]}" for name, cases in CLASSES.items() for text, _ in cases],
)
def test_wording_class(text: str, category: str) -> None:
    assert classify_bounce("Permanent", "General", None, text).category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            r"SMTPDataError: (550, b'5.7.1 Refused: the reputation of the sending\n5.7.1 IP is low')",
            "ip_reputation",
        ),
        (
            r"SMTPDataError: (554, b'5.7.1 Refused: your sending\n5.7.1 patterns look like spam')",
            "ip_reputation",
        ),
    ],
)
def test_a_client_librarys_escaped_line_breaks_join_one_reply(text: str, category: str) -> None:
    """smtplib prints a multi-line reply's lines as "\\n5.7.1 ...": one reply, whose phrases
    run across those breaks."""
    assert classify_bounce("Permanent", "General", None, text).category == category


@pytest.mark.parametrize(
    ("text", "category", "code", "status_class"),
    [
        (
            "SMTPDataError: (451, b'Unable to process connection at this time')",
            "greylisted",
            "451",
            "4xx",
        ),
        (
            "SMTPRecipientsRefused: {'a@b.example': (554, b'Transaction failed')}",
            "unknown",
            "554",
            "5xx",
        ),
        (
            "SMTPDataError: (421, 'Service not available, closing channel')",
            "greylisted",
            "421",
            "4xx",
        ),
    ],
)
def test_a_client_librarys_code_and_text_pair_is_the_reply(
    text: str, category: str, code: str, status_class: str
) -> None:
    """Python smtplib's "(451, b'...')" (an exception's repr in an issue thread): the code
    opens the reply, so a deferral without a reason is one, and the class is known."""
    diagnosis = classify_bounce("Permanent", "General", None, text)
    assert (diagnosis.category, diagnosis.smtp_code, diagnosis.status_class) == (
        category,
        code,
        status_class,
    )
