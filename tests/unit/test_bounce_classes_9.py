"""The general mechanisms classifier 9 added after the fifth blind set was read
(``bounce_sets.md``), each with texts written for the test (not the set's own), and a
neighbour each mechanism must leave alone.
"""

from __future__ import annotations

import pytest

from exporter.checks.bounce import classify_bounce

CLASSES = {
    "words joined by '_' (qmail's logs, filters' map names)": [
        ("Remote_host_said:_550_5.1.1_User_unknown/Giving_up_on_192.0.2.9.", "recipient_unknown"),
        ("554 5.7.1 Rule hit: BLOCKED_ATTACHMENT_TYPE", "content"),
        ("554 5.7.1 Matched rule: DANGEROUS_FILE", "content"),
    ],
    "a count of tries in words or 'tried N times', a connect that timed out": [
        ("Could not deliver: failed three attempts to reach the remote host", "expired"),
        ("Connecting to mx.example.net failed. Tried 4 times", "expired"),
        ("Net::OpenTimeout: execution expired", "expired"),
        (
            "The remote party did not properly respond after a period of time (10060)",
            "expired",
        ),
        ("550 5.1.1 No such user; failed three attempts", "recipient_unknown"),
    ],
    "a quota that says what it counts": [
        ("452 4.7.1 Over quota: count of messages per hour for your account", "rate_limited"),
        ("452 Connection quota used up for 192.0.2.4, try later", "rate_limited"),
        ("552 Quota limit: size of a single message is 20 MB at most", "message_too_large"),
        ("552 5.2.2 Quota exceeded for user@example.com", "mailbox_full"),
    ],
    "a sender not allowed to send: unverified identity, a refused-senders list, no right": [
        ("550 Sender address is not verified for this account", "policy"),
        ("554 The From header does not match a verified domain on the account", "policy"),
        ("553 sorry, that sender is listed in badmailfrom", "policy"),
        ("550 You don't have the right to send to this group", "policy"),
        ("550 5.1.1 Recipient address not verified: no such mailbox", "recipient_unknown"),
    ],
    "a login wanted, worded as what the sender must do": [
        ("530 5.7.0 You must sign in before sending mail", "relay_denied"),
        ("550 Please log in to send mail", "unknown"),
    ],
    "a sending IP without reverse DNS, in other word orders": [
        ("550 Connecting IP address must resolve to a host name", "reverse_dns"),
        ("554 Rejected: no name reverse for 192.0.2.8", "reverse_dns"),
        ("550 5.1.2 Host name does not resolve", "recipient_domain_dns"),
    ],
    "a limit on what one host or session may send": [
        ("550 Reached maximum number of recipients for this session", "rate_limited"),
        ("451 Limit hit for processing requests from your IP, retry later", "rate_limited"),
        ("550 Maximum number of hops exceeded", "unknown"),
    ],
    "a size passed as a number, RFC 5321's 'too much mail data'": [
        ("552 Message is larger than 31457280 bytes", "message_too_large"),
        ("552 Too much mail data.", "message_too_large"),
        ("552 Mailbox is full", "mailbox_full"),
    ],
    "SPF's question in plain words": [
        ("550 That host is not authorized to send email for this domain", "spf"),
        ("550 You are not authorized to send mail from this domain", "policy"),
    ],
    "an X.7.y code names the policy a bare 'policy' word only wraps": [
        ("451 4.7.28 Policy violation detected", "rate_limited"),
        ("550 5.7.25 Policy violation", "reverse_dns"),
        ("550 5.7.1 Message refused by local policy", "policy"),
    ],
    "no usable MX, however phrased, for the recipient's or (5.1.7) the sender's domain": [
        ("550 Cannot find a usable MX for example.net", "recipient_domain_dns"),
        ("554 Bad MX for domain example.net", "recipient_domain_dns"),
        ("553 5.1.7 Sender domain has no valid MX", "sender_domain_dns"),
    ],
    "an address part over RFC 5321's length limit": [
        ("501 Local-part is too long", "policy"),
        ("552 Message is too long", "message_too_large"),
    ],
    "a public list named by its name or DNS zone": [
        ("554 Your host is listed on DSBL", "blocklist"),
        ("550 Sending IP is in the relays.example.org block list", "blocklist"),
        ("550 Sending IP is in our block list", "ip_reputation"),
    ],
    "the sending domain blocked by name": [
        ("550 Your domain has been blocked for abuse", "domain_reputation"),
        ("550 Recipient domain blocked", "policy"),
    ],
    "the recipient named, then not known, not recognised or not valid (either order)": [
        ("550 The addressee is not known at this site", "recipient_unknown"),
        ("550 Unrecognised recipient", "recipient_unknown"),
        ("550 The mailbox you wrote to is not recognized", "recipient_unknown"),
        ("550 Recipient domain name is unknown", "recipient_domain_dns"),
        ("553 5.1.8 Sender domain unknown", "sender_domain_dns"),
    ],
    "the core vocabulary in other languages, noun and verdict in either order": [
        ("550 Der Empfänger ist hier nicht vorhanden", "recipient_unknown"),
        ("550 Unbekannte Adresse", "recipient_unknown"),
        ("550 Destinataire inconnu sur ce serveur", "recipient_unknown"),
        ("550 La cuenta de correo no existe", "recipient_unknown"),
        ("550 Endereço inexistente", "recipient_unknown"),
        ("550 Indirizzo sconosciuto", "recipient_unknown"),
        ("550 Ontvanger onbekend", "recipient_unknown"),
        ("550 Odbiorca nie istnieje", "recipient_unknown"),
        ("550 Die Domäne existiert nicht", "recipient_domain_dns"),
        ("452 Das Postfach ist voll", "mailbox_full"),
        ("552 La casella è piena", "mailbox_full"),
        ("452 Speicherplatz des Kontos überschritten", "mailbox_full"),
        ("552 Die Nachricht ist zu groß", "message_too_large"),
        ("552 Message trop volumineux", "message_too_large"),
        ("550 Konto wurde deaktiviert", "recipient_disabled"),
        ("550 Cuenta suspendida", "recipient_disabled"),
        ("550 Relaying ist nicht erlaubt", "relay_denied"),
        ("550 IP-Adresse gesperrt", "unknown"),
    ],
}


@pytest.mark.parametrize(
    ("text", "category"),
    [case for cases in CLASSES.values() for case in cases],
    ids=[f"{name}: {text[:40]}" for name, cases in CLASSES.items() for text, _ in cases],
)
def test_wording_class(text: str, category: str) -> None:
    assert classify_bounce("Permanent", "General", None, text).category == category
