"""The bounce classifier's vocabulary: its categories and the shape of a wording rule, shared
by the rule modules (`exporter.checks.bounce_rules` and its parts), the code tables and the
texts for people.
"""

from __future__ import annotations

from enum import StrEnum


class BounceCategory(StrEnum):
    """A bounce's root cause. The values are the ``category`` label of the bounce metrics
    (and the corpus vocabulary), so they never change."""

    SENDER_DOMAIN_DNS = "sender_domain_dns"
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    AUTHENTICATION = "authentication"
    REVERSE_DNS = "reverse_dns"
    IP_REPUTATION = "ip_reputation"
    DOMAIN_REPUTATION = "domain_reputation"
    BLOCKLIST = "blocklist"
    CONTENT = "content"
    RECIPIENT_UNKNOWN = "recipient_unknown"
    RECIPIENT_DISABLED = "recipient_disabled"
    MAILBOX_FULL = "mailbox_full"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    GREYLISTED = "greylisted"
    TLS_REQUIRED = "tls_required"
    RECIPIENT_DOMAIN_DNS = "recipient_domain_dns"
    RELAY_DENIED = "relay_denied"
    POLICY = "policy"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
    UNKNOWN = "unknown"


# A wording rule: a category and its alternatives (regular expressions over the lower-cased,
# flattened text, each starting at a word boundary). The category None marks where the
# engine asks whether SPF or DKIM was named as failed.
Rule = tuple[BounceCategory | None, tuple[str, ...]]
