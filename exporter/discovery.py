"""Configured domains merged with the domain identities SES knows, without duplicates.

SES is authoritative for what it will actually use: its DKIM tokens, MAIL FROM domain and
region replace hand-kept values, so DNS is checked exactly as SES needs it. Configured
values fill what SES does not say (and owner labels stay with the configuration). A domain
verified in several regions gets the union of its tokens; MAIL FROM and region come from
the first region, in sorted order, that sets them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from exporter.checks.ses import IdentityState
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
    for state in sorted(identities, key=lambda s: (s.identity, s.region)):
        tokens = state.dkim_tokens if state.dkim_enabled else ()
        current = targets.get(state.identity)
        if current is None:
            targets[state.identity] = DomainTarget(
                name=state.identity,
                mail_from=state.mail_from_domain,
                dkim_tokens=tokens,
                region=state.region,
            )
        elif state.identity not in discovered:
            targets[state.identity] = replace(
                current,
                mail_from=state.mail_from_domain or current.mail_from,
                dkim_tokens=tokens or current.dkim_tokens,
                region=state.region,
            )
        else:
            extra = tuple(t for t in tokens if t not in current.dkim_tokens)
            targets[state.identity] = replace(current, dkim_tokens=current.dkim_tokens + extra)
        discovered.add(state.identity)
    return list(targets.values())
