"""Which mailbox provider or gateway receives a domain's mail, told from its MX hosts.

A corporate gateway problem (say, Mimecast rejecting a DKIM failure) shows across every
domain behind that gateway; grouping recipient domains by provider makes it visible.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PROVIDERS", "provider_from_domain", "provider_from_mx"]

# MX host suffixes per provider; the first match wins.
_MX_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "microsoft",
        ("mail.protection.outlook.com", "olc.protection.outlook.com", "hotmail.com", "outlook.com"),
    ),
    ("google", ("google.com", "googlemail.com")),
    ("yahoo", ("yahoodns.net", "yahoo.com")),
    ("icloud", ("mail.icloud.com", "me.com")),
    ("mimecast", ("mimecast.com", "mimecast.co.za", "mimecast-offshore.com")),
    ("proofpoint", ("pphosted.com", "ppe-hosted.com", "proofpoint.com")),
    ("barracuda", ("barracudanetworks.com", "cudamail.com")),
    ("cisco", ("iphmx.com",)),
)
# Consumer domains whose provider is known without asking DNS.
_WELL_KNOWN = {
    "gmail.com": "google",
    "googlemail.com": "google",
    "outlook.com": "microsoft",
    "hotmail.com": "microsoft",
    "live.com": "microsoft",
    "msn.com": "microsoft",
    "yahoo.com": "yahoo",
    "ymail.com": "yahoo",
    "aol.com": "yahoo",
    "icloud.com": "icloud",
    "me.com": "icloud",
    "mac.com": "icloud",
}
PROVIDERS: tuple[str, ...] = (*(name for name, _ in _MX_SUFFIXES), "other", "unknown")


def provider_from_domain(domain: str) -> str | None:
    """The provider of a well-known consumer domain, or None when DNS must tell."""
    return _WELL_KNOWN.get(domain)


def provider_from_mx(hosts: Iterable[str]) -> str:
    """The provider behind a set of MX hosts (lower case, no trailing dot); ``other`` if none."""
    for host in hosts:
        for provider, suffixes in _MX_SUFFIXES:
            if any(host == s or host.endswith("." + s) for s in suffixes):
                return provider
    return "other"
