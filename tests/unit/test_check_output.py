"""The pure parts of `check`'s plugin output and of `--from-ses`: performance data syntax,
and how a GetEmailIdentity response becomes check inputs (shapes from
API_GetEmailIdentity.html; the subprocess tests in tests/e2e/test_check_plugin.py run the
same code against named and the SESv2 fake)."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.check_from_ses import inputs_from_response
from exporter.check_plugin import perf_value

TOKENS = ["t1aaaa", "t2bbbb", "t3cccc"]


@pytest.mark.parametrize(
    ("label", "value", "options", "expected"),
    [
        ("spf_dns_lookups", 3, {"crit": "10", "low": 0}, "spf_dns_lookups=3;;10;0"),
        ("dmarc_policy_level", -1, {"low": -1, "high": 2}, "dmarc_policy_level=-1;;;-1;2"),
        ("failing", 0, {}, "failing=0"),
        ("two words", 1, {}, "'two words'=1"),
        ("it's", 1, {}, "'it''s'=1"),
        ("a=b", 1, {}, "'a=b'=1"),
        ("unknown_value", None, {"low": 0}, ""),
    ],
)
def test_perf_value(label: str, value: int | None, options: Any, expected: str) -> None:
    assert perf_value(label, value, **options) == expected


def identity(dkim: dict[str, Any], mail_from: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"IdentityType": "DOMAIN", "DkimAttributes": dkim}
    if mail_from is not None:
        response["MailFromAttributes"] = {"MailFromDomain": mail_from}
    return response


def test_easy_dkim_with_regional_signing_zone() -> None:
    found = inputs_from_response(
        "example.com",
        "af-south-1",
        identity(
            {
                "SigningEnabled": True,
                "Status": "SUCCESS",
                "Tokens": [t.upper() for t in TOKENS],
                "SigningAttributesOrigin": "AWS_SES",
                "SigningHostedZone": "dkim.af-south-1.amazonses.com.",
            },
            mail_from="Mail.Example.com",
        ),
    )
    assert found.dkim_tokens == tuple(TOKENS)
    assert found.dkim_signing_zone == "dkim.af-south-1.amazonses.com"
    assert found.mail_from == "mail.example.com"
    assert found.dkim_not_checked is None


@pytest.mark.parametrize(
    ("dkim", "reason"),
    [
        ({"SigningEnabled": False, "Tokens": TOKENS}, "DKIM signing is disabled"),
        (
            {"SigningEnabled": True, "Tokens": ["sel1"], "SigningAttributesOrigin": "EXTERNAL"},
            "BYODKIM (origin EXTERNAL, selector sel1)",
        ),
        ({"SigningEnabled": True, "SigningAttributesOrigin": "AWS_SES"}, "no DKIM tokens"),
        ({"SigningEnabled": True, "Tokens": ["sel1"]}, "1 DKIM token(s) and no signing origin"),
    ],
)
def test_dkim_left_out_says_why(dkim: dict[str, Any], reason: str) -> None:
    found = inputs_from_response("example.com", "us-east-1", identity(dkim))
    assert found.dkim_tokens == ()
    assert found.dkim_signing_zone is None
    assert found.dkim_not_checked is not None
    assert reason in found.dkim_not_checked
    assert found.mail_from is None
