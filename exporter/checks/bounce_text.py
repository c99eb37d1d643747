"""What the bounce classifier says to people: a one-line explanation of each category and
the remedy, naming the custom MAIL FROM domain where the fix is a DNS record on it."""

from __future__ import annotations

from exporter.checks.bounce_rules_categories import BounceCategory

C = BounceCategory

EXPLANATIONS: dict[BounceCategory, str] = {
    C.SENDER_DOMAIN_DNS: "the receiver could not resolve the envelope sender (MAIL FROM) domain",
    C.SPF: "the receiver's SPF check of the MAIL FROM domain failed",
    C.DKIM: "the receiver found no valid DKIM signature",
    C.DMARC: "the message failed DMARC for its From domain (no aligned SPF or DKIM pass)",
    C.AUTHENTICATION: "the message was unauthenticated: neither SPF nor DKIM passed",
    C.REVERSE_DNS: "the sending IP has no matching reverse DNS (PTR) record",
    C.IP_REPUTATION: "the receiver's own reputation system blocked the sending IP",
    C.DOMAIN_REPUTATION: "the receiver blocked the sending domain for its reputation",
    C.BLOCKLIST: "the sending IP or domain is on a blocklist the receiver uses",
    C.CONTENT: "the receiver's filter rejected the content (spam, virus, links, attachments)",
    C.RECIPIENT_UNKNOWN: "the recipient address does not exist",
    C.RECIPIENT_DISABLED: "the recipient mailbox exists but is disabled or inactive",
    C.MAILBOX_FULL: "the recipient mailbox is full",
    C.MESSAGE_TOO_LARGE: "the message is larger than the receiver accepts",
    C.RATE_LIMITED: "the receiver is limiting the rate or volume of mail it accepts",
    C.GREYLISTED: "the receiver deferred the message without a reason (greylisting or similar)",
    C.TLS_REQUIRED: "the receiving side requires TLS that the connection did not provide",
    C.RECIPIENT_DOMAIN_DNS: "the recipient domain does not exist or has no usable MX",
    C.RELAY_DENIED: "the server refused to accept or relay mail for this recipient from you",
    C.POLICY: "a policy of the receiver or the recipient's organisation rejected the message",
    C.EXPIRED: "delivery was given up after retries or timeouts",
    C.SUPPRESSED: "SES did not send: the address is on a suppression list",
    C.UNKNOWN: "the bounce gives no reason this classifier recognises",
}


REMEDIES: dict[BounceCategory, str] = {
    C.DKIM: "turn on Easy DKIM for the From domain and publish its three _domainkey CNAMEs; "
    "check that they still resolve",
    C.AUTHENTICATION: "authenticate every message: Easy DKIM on the From domain and a custom "
    "MAIL FROM whose SPF includes amazonses.com",
    C.REVERSE_DNS: "give the sending IP a PTR record whose name resolves back to it (SES shared "
    "IPs have one; fix it for dedicated IPs or BYOIP)",
    C.IP_REPUTATION: "ask the receiver's postmaster to delist the IP (e.g. Microsoft's delist "
    "portal); on shared SES IPs open an AWS support case, on dedicated IPs warm up and cut "
    "complaints and bounces",
    C.DOMAIN_REPUTATION: "cut complaints and bounces, mail only engaged recipients and watch "
    "Google Postmaster Tools / Microsoft SNDS until the domain's reputation recovers",
    C.BLOCKLIST: "look the sending IP or domain up on the named list (Spamhaus, SpamCop, "
    "SORBS, Barracuda, ...) and follow its removal procedure; for shared SES IPs tell AWS",
    C.CONTENT: "review links (URL blocklists), attachments and wording; test the message with "
    "a spam checker before sending it again",
    C.RECIPIENT_UNKNOWN: "remove the address from the list (SES suppresses hard bounces) and "
    "validate addresses at sign-up",
    C.RECIPIENT_DISABLED: "stop mailing the address and remove it from the list",
    C.MAILBOX_FULL: "nothing to fix on your side: SES already retried; suppress the address if "
    "it keeps bouncing",
    C.MESSAGE_TOO_LARGE: "shrink the message: link to large files instead of attaching them",
    C.RATE_LIMITED: "slow down sending to this receiver, spread bulk sends over time and keep "
    "complaint rates low",
    C.GREYLISTED: "nothing to do: SES retries deferrals on its own; look closer only if the "
    "same receiver keeps deferring",
    C.TLS_REQUIRED: "check the recipient server's STARTTLS and certificate with its admin (SES "
    "uses TLS whenever offered; a configuration set TlsPolicy of Require never sends in clear)",
    C.RECIPIENT_DOMAIN_DNS: "check the address for typos; remove it if the domain has no MX or "
    "A record",
    C.RELAY_DENIED: "the recipient domain's MX points at a server that does not accept its "
    "mail from the Internet: verify the address with the recipient",
    C.POLICY: "ask the recipient's mail administrator to allow your sending domain and IPs, "
    "quoting the bounce text; if it names the message's form (RFC 5322 headers, a line over "
    "998 characters), fix how the message is built or encoded",
    C.EXPIRED: "the receiving servers were unreachable or kept deferring: check the recipient "
    "domain's MX hosts; send again later",
    C.SUPPRESSED: "remove the address from the account-level suppression list only if you know "
    "it works again; never re-add hard bounces",
    C.UNKNOWN: "read the diagnostic text and the receiver's postmaster documentation",
}


def remedy(category: BounceCategory, mail_from_domain: str | None) -> str:
    """The category's remedy; the DNS ones name the MAIL FROM domain the record goes on."""
    mail_from = mail_from_domain or "your custom MAIL FROM domain"
    if category == C.SENDER_DOMAIN_DNS:
        return (
            f"the MAIL FROM domain does not resolve: publish an A record for {mail_from} "
            "(strict gateways want A/AAAA, not only the MX to "
            "feedback-smtp.<region>.amazonses.com), or drop the custom MAIL FROM"
        )
    if category == C.SPF:
        return (
            f"publish an SPF TXT record on {mail_from} that includes amazonses.com "
            "(v=spf1 include:amazonses.com ~all); SPF is checked on the exact MAIL FROM "
            "domain and is not inherited from the parent domain"
        )
    if category == C.DMARC:
        return (
            "make DKIM (Easy DKIM on the From domain) or SPF (a custom MAIL FROM such as "
            f"{mail_from} under the From domain) pass and align with the From domain, then "
            "review the _dmarc policy"
        )
    return REMEDIES[category]
