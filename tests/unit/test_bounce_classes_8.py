"""The classes of miss classifier 8 fixed after the fourth blind set was read
(``bounce_sets.md``), each with texts written for the test in the style of other MTAs'
replies (not the set's own texts), and a neighbour each class must leave alone.
"""

from __future__ import annotations

import pytest

from exporter.checks.bounce import classify_bounce

SPF_LINK = (
    "550 5.7.1 Rejected, see http://www.openspf.org/Why?s=mfrom&id=a%40b.example"
    "&ip=192.0.2.7&r=mx.example.net"
)
GAVE_UP = (
    "Delivery failed after 12 attempts over 3 days. Last reply: 451 4.3.0 Temporary"
    " server error, try again later"
)
TLS_WRAPPED = (
    "451 4.4.317 Cannot connect to remote server [Message=451 5.7.3 STARTTLS is"
    " required to send mail]"
)
GREYLISTED_RETRIES = (
    "Delivery failed after 5 attempts. Last reply: 450 4.7.1 Greylisted, please try again later"
)
EXPIRY_QUOTING = (
    "Message expired after 3 days. Last reply: 450 4.7.1 Client host rejected:"
    " cannot find your hostname"
)
CLASSES = {
    "SMTP AUTH wanted, worded as what must log in or relay without it": [
        ("550 5.7.1 Client must be authenticated to send mail", "relay_denied"),
        ("554 Relaying through this host without SMTP authentication is refused", "relay_denied"),
        ("550 5.7.1 Messages on the submission port require a login", "relay_denied"),
        ("550 5.7.9 Authentication mechanism not supported", "relay_denied"),
        ("550 5.7.26 Unauthenticated email from example.org is not accepted", "authentication"),
    ],
    "the sender's domain, named as 'your' domain by the receiver": [
        ("421 Your domain has no MX record", "sender_domain_dns"),
        ("550 5.4.0 your mail exchangers point to private addresses", "sender_domain_dns"),
        ("451 4.4.3 DNS resolving error for your domain", "sender_domain_dns"),
        ("550 Recipient domain has no MX record", "recipient_domain_dns"),
    ],
    "a DNS look-up failure however it is worded": [
        ("451 4.4.3 Temporary DNS resolution problem", "recipient_domain_dns"),
        ("450 Could not resolve DNS for example.org", "recipient_domain_dns"),
    ],
    "a count of mails in a time window, a number of recipients over its limit": [
        ("451 You sent more than 200 mails within the last 60 minutes", "rate_limited"),
        ("554 Number of RCPT TO commands is over the limit", "rate_limited"),
        ("552 Message size exceeds the limit of 10 MB", "message_too_large"),
        ("550 Message retried many times over the past 2 days, giving up", "expired"),
    ],
    "reverse DNS and TLS in free wording": [
        ("550 Your server has no reverse entry", "reverse_dns"),
        ("554 The connecting host lacks a reverse mapping", "reverse_dns"),
        ("550 5.7.1 Mail from this network must be sent encrypted", "tls_required"),
        ("550 5.7.1 Encrypted attachments must not be sent here", "content"),
        ("550 Null reverse-path not allowed here", "policy"),
    ],
    "SPF named only by its explanation link": [
        (
            SPF_LINK,
            "spf",
        ),
        ("550 5.7.1 Rejected, see http://www.example.net/why.html", "policy"),
    ],
    "the message's size as its length or its DATA's": [
        ("552 Length of data beyond the allowed maximum", "message_too_large"),
        ("554 DATA length exceeds the server's maximum", "message_too_large"),
        ("550 5.6.0 Line length exceeds 998 characters", "policy"),
        ("552 The length of the message line exceeds 998 characters", "policy"),
    ],
    "content named by the scanner or a threat verdict": [
        ("554 5.7.0 Refused by our scanner", "content"),
        ("550 Threat found: Trojan.Generic", "content"),
        ("554 Spearphishing attempt detected", "content"),
        ("554 5.7.1 Sender on our threat list", "ip_reputation"),
    ],
    "the sender refused for who it is: forged, null, not the login's": [
        ("550 Faked sender detected", "policy"),
        ("421 4.3.0 Bounces from the null sender temporarily refused", "policy"),
        ("451 4.0.0 Return path not owned by the authenticated user", "policy"),
        ("553 5.7.1 <a@b.example>: Sender address rejected: not logged in", "relay_denied"),
    ],
    "an envelope address without its domain is conformance": [
        ("501 Recipient address must include a domain", "policy"),
        ("501 5.1.3 Domain part required in MAIL FROM", "policy"),
        ("553 5.1.8 Sender domain must exist", "sender_domain_dns"),
    ],
    "a provider's own list of addresses that bounced, an address matching no user": [
        ("550 5.1.1 Address is known to bounce and was not sent", "suppressed"),
        ("550 The address does not match any mailbox on this server", "recipient_unknown"),
        ("550 5.7.1 Sender address does not match any allowed address", "policy"),
    ],
    "'not authenticated' with a code that names a recipient restriction": [
        ("550 5.7.135 Message rejected: sender not properly authenticated", "policy"),
        ("550 5.7.1 Message not authenticated", "authentication"),
        ("550 5.7.26 This message is not authenticated", "authentication"),
    ],
    "retried until it gave up, no deferral saying why": [
        (
            GAVE_UP,
            "expired",
        ),
        ("451 4.4.317 Cannot connect to remote server", "expired"),
        (GREYLISTED_RETRIES, "greylisted"),
        (
            TLS_WRAPPED,
            "tls_required",
        ),
        (
            EXPIRY_QUOTING,
            "reverse_dns",
        ),
    ],
}


@pytest.mark.parametrize(
    ("text", "category"),
    [case for cases in CLASSES.values() for case in cases],
    ids=[f"{name}: {text[:40]}" for name, cases in CLASSES.items() for text, _ in cases],
)
def test_wording_class(text: str, category: str) -> None:
    assert classify_bounce("Permanent", "General", None, text).category == category
