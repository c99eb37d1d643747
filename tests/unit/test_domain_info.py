"""deliverability_domain_info for discovered identities: alerts join it for owner labels, so
an identity SES discovered (never configured) must carry its team too."""

from __future__ import annotations

from helpers.fleet import exposition, report, samples, snapshot

from exporter.checks.ses import IdentityState
from exporter.config import parse_config
from exporter.jobs.ses import SesRegionResult
from exporter.store import Snapshot


def test_discovered_identities_get_info_with_owner_labels_from_identity_rules() -> None:
    config = parse_config(
        {
            "domains": [{"name": "shop.example.com", "labels": {"team": "web"}}],
            "aws": {
                "identity_labels": [
                    {"pattern": "*.pay.example.com", "labels": {"team": "payments"}},
                    {"pattern": "*.example.com", "labels": {"team": "platform", "tier": "1"}},
                ]
            },
        }
    )
    identities = tuple(
        IdentityState(name, "eu-west-1", mail_from_domain=f"mail.{name}")
        for name in ("a.pay.example.com", "b.example.com", "other.test", "shop.example.com")
    )
    ses = {"ses:prod:eu-west-1": SesRegionResult("prod", "1", "eu-west-1", identities=identities)}
    base = snapshot([report("shop.example.com")], ses=ses)
    snap = Snapshot(config=config, dns=base.dns, ses=base.ses)
    info = {
        dict(labels)["domain"]: dict(labels)
        for (name, labels), _ in samples(exposition(snap)).items()
        if name == "deliverability_domain_info"
    }
    assert info["shop.example.com"]["team"] == "web"  # configured labels win over rules
    assert info["shop.example.com"]["aws_region"] == ""  # as configured (no region given)
    assert info["a.pay.example.com"]["team"] == "payments"  # first matching rule
    assert info["a.pay.example.com"]["tier"] == ""
    assert info["b.example.com"] == {
        "domain": "b.example.com",
        "mail_from_domain": "mail.b.example.com",
        "aws_region": "eu-west-1",
        "team": "platform",
        "tier": "1",
    }
    assert info["other.test"]["team"] == ""  # no rule: still present, for left joins
