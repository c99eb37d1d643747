"""Configured domains merged with the domain identities SES knows, without duplicates.

SES is authoritative for what it will actually use: its DKIM tokens, signing zone
(SigningHostedZone), MAIL FROM domain and region replace hand-kept values, so DNS is
checked exactly as SES needs it. Configured values fill what SES does not say (and owner
labels stay with the configuration). A domain verified in several regions gets the union of
its tokens; MAIL FROM and region come from the first region, in sorted order, that sets
them; the signing zone only when every region with tokens names the same one.

A BYODKIM identity (origin EXTERNAL) hands no tokens on: its selector names a TXT key, not
an Easy DKIM CNAME, so the DNS ``dkim`` check is left out (``ses_dkim_status`` still
applies), and tokens configured by hand for it are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from exporter.checks.ses import (
    BYODKIM_ORIGIN,
    IdentityState,
    dns_dkim_signing_zone,
    dns_dkim_tokens,
)
from exporter.config import DomainConfig
from exporter.model import DomainTarget

__all__ = ["merge_targets"]


def merge_targets(
    configured: Iterable[DomainConfig], identities: Iterable[IdentityState]
) -> list[DomainTarget]:
    targets: dict[str, DomainTarget] = {
        d.name: DomainTarget(
            name=d.name, mail_from=d.mail_from, dkim_tokens=d.dkim_tokens, region=d.region
        )
        for d in configured
    }
    discovered: set[str] = set()
    zones: dict[str, set[str | None]] = {}
    for state in sorted(identities, key=lambda s: (s.identity, s.region)):
        tokens = dns_dkim_tokens(state)
        if tokens:
            zones.setdefault(state.identity, set()).add(dns_dkim_signing_zone(state))
        current = targets.get(state.identity)
        if current is None:
            targets[state.identity] = DomainTarget(
                name=state.identity,
                mail_from=state.mail_from_domain,
                dkim_tokens=tokens,
                region=state.region,
            )
        elif state.identity not in discovered:
            byodkim = state.dkim_enabled and state.dkim_origin == BYODKIM_ORIGIN
            targets[state.identity] = replace(
                current,
                mail_from=state.mail_from_domain or current.mail_from,
                dkim_tokens=tokens or (() if byodkim else current.dkim_tokens),
                region=state.region,
            )
        else:
            extra = tuple(t for t in tokens if t not in current.dkim_tokens)
            targets[state.identity] = replace(current, dkim_tokens=current.dkim_tokens + extra)
        discovered.add(state.identity)
    for name, named in zones.items():
        if len(named) == 1 and (zone := next(iter(named))) is not None:
            targets[name] = replace(targets[name], dkim_signing_zone=zone)
    return list(targets.values())
