"""The wording classes classifier 6 added after the fourth labelled set (``bounce_dev4.tsv``,
``bounce_sets.md``), each with texts written for the test in the style of real replies, and
a neighbour each class must leave alone.
"""

from __future__ import annotations

import pytest

from exporter.checks.bounce import classify_bounce

CLASSES = {
    "an ESP's own list of addresses it no longer sends to": [
        ("You tried to email an address that is flagged as inactive on this server.", "suppressed"),
        ("Not delivering to previously bounced address", "suppressed"),
        ("Skipped: recipient previously hard-bounced on this list", "suppressed"),
        ("Send failed: the addresses were suppressed by your account settings", "suppressed"),
        ("550 5.2.1 Mailbox inactive", "recipient_disabled"),
    ],
    "SPF or DKIM named as what refused the message": [
        ("550 5.7.1 Message blocked due to SPF for sender domain example.org", "spf"),
        ("550 Message blocked because of DKIM on example.org", "dkim"),
    ],
    "the session must log in first (SMTP AUTH)": [
        ("530 5.7.0 Please authenticate first", "relay_denied"),
        ("530 Send an AUTH command before MAIL", "relay_denied"),
        ("553 sorry, you don't authenticate, so no mail from you", "relay_denied"),
        ("550 Unauthenticated senders not allowed on this port", "relay_denied"),
        ("550 5.7.26 Unauthenticated email from example.org is not accepted", "authentication"),
    ],
    "ARC named as failed": [
        ("550 5.7.29 ARC chain validation failed for the forwarded message", "authentication"),
        ("550 5.7.29 Message refused: it was not sent over a TLS connection", "tls_required"),
    ],
    "the reputation of a domain": [
        ("554 Rejected due to the low reputation of a domain in the message", "domain_reputation"),
        ("554 Rejected due to the low reputation of your sending IP", "ip_reputation"),
    ],
    "the sending host judged by its address or its sending": [
        ("554 Black IP 192.0.2.7", "ip_reputation"),
        ("554 blacklisted IP 192.0.2.7, go away", "ip_reputation"),
        ("554 Mail from 192.0.2.7 refused: sending patterns typical of spam", "ip_reputation"),
        ("421 cmsmtp 192.0.2.7 blocked. See the postmaster page. AUP#1260", "ip_reputation"),
        ("421 Your IP 192.0.2.7 is filtered, try again later", "ip_reputation"),
        ("550 Message content matches known spam patterns", "content"),
        ("550 Message filtered as spam", "content"),
    ],
    "Proofpoint's reputation lookup": [
        ("550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.7", "blocklist"),
    ],
    "the sender, not its host, on the receiver's or the user's list": [
        ("550 5.7.1 <a@b.example> sender is blacklisted, message refused", "policy"),
        ("553 Mail server denies the sender", "policy"),
        ("553 Sorry, black mail address", "policy"),
        ("550 You are on the user's block list", "policy"),
        ("550 Sender IP 192.0.2.7 is blacklisted", "ip_reputation"),
    ],
    "a relay refused, the verb first": [
        ("554 This server denies relaying to external domains", "relay_denied"),
        ("553 relay check for your domain failed", "relay_denied"),
    ],
    "the HELO name in error": [
        ("550 5.7.1 HELO name mismatch", "policy"),
        ("554 EHLO check failed for your host", "policy"),
    ],
    "a domain without MX records": [
        ("501 5.7.27 Sender domain has no MX record", "sender_domain_dns"),
        ("550 Recipient domain does not have any MX records", "recipient_domain_dns"),
    ],
    "a disabled mailbox in short words": [
        ("550 5.1.1 Suspended mbox for this user", "recipient_disabled"),
    ],
    "the message size as one word": [
        ("552 Mailsize exceeds the limit of this server", "message_too_large"),
    ],
}


@pytest.mark.parametrize(
    ("text", "category"),
    [case for cases in CLASSES.values() for case in cases],
    ids=[f"{name}: {text[:40]}" for name, cases in CLASSES.items() for text, _ in cases],
)
def test_wording_class(text: str, category: str) -> None:
    assert classify_bounce("Permanent", "General", None, text).category == category
