"""`check` as a monitoring plugin and `check --from-ses`, run as a user runs them.

DNS is the session's `named` (tests/zones and the demo zones). SES is the local SESv2 fake
(tests/fakes/sesv2_server.py), not moto: moto's GetEmailIdentity returns no DKIM Tokens
and no MailFromAttributes (shared/test-peers.md §1), which are what `--from-ses` reads.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NamedServer
from fakes.sesv2_server import Sesv2Fake, dkim_tokens
from helpers.check_cli import HEALTHY_TOKENS, healthy_check_args, run_check
from helpers.moto_fixtures import daemon_env

pytestmark = pytest.mark.e2e

# monitoring-plugins guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
PERF = re.compile(r"^(?:'[^']+'|[^ '=]+)=-?[0-9.]+[a-zA-Z%]*(?:;[^; ]*){0,4}$")


def first_line(result: subprocess.CompletedProcess[str]) -> tuple[str, dict[str, str]]:
    """The status text and the performance data (label -> value and thresholds)."""
    line = result.stdout.splitlines()[0]
    assert line.count(" | ") == 1, line
    text, perf = line.split(" | ")
    items = perf.split(" ")
    assert all(PERF.match(item) for item in items), perf
    return text, dict(item.split("=", 1) for item in items)


def test_ok_line_and_perfdata(named: NamedServer) -> None:
    result = run_check(
        *healthy_check_args(named.nameserver),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text, perf = first_line(result)
    assert text == "SES-DELIVERABILITY OK - healthy.example: 8 checks pass"
    assert perf == {
        "spf_dns_lookups": "2;;10;0",
        "dmarc_policy_level": "2;;;-1;2",
        "mail_from_resolvable": "1;;;0;1",
        "failing": "0;;;0",
        "warning": "0;;;0",
        "unknown": "0;;;0",
    }
    # the report that existed before follows the first line, unchanged
    assert result.stdout.splitlines()[1] == "healthy.example"
    assert result.stdout.splitlines()[-1] == "worst: pass"
    assert "not checked" not in result.stdout


def test_warning_line(named: NamedServer) -> None:
    result = run_check("exchange-junk.example", "--nameserver", named.nameserver)
    assert result.returncode == 1, result.stdout
    text, perf = first_line(result)
    assert text.startswith("SES-DELIVERABILITY WARNING - dmarc warn: "), text
    assert perf["dmarc_policy_level"] == "0;;;-1;2"
    assert perf["failing"] == "0;;;0"
    assert int(perf["warning"].split(";")[0]) >= 1


def test_critical_line_names_fails_before_warnings(named: NamedServer) -> None:
    """Report 2: dkim and mail_from_spf fail, dmarc warns: fails first, in report order."""
    result = run_check(
        "exchange-junk.example",
        "--mail-from",
        "mail.exchange-junk.example",
        "--region",
        "us-east-1",
        "--dkim-token",
        "x1exchangeaaaaaaaaaaaaaaaaaaaaaa",
        "--nameserver",
        named.nameserver,
    )
    assert result.returncode == 2, result.stdout
    text, perf = first_line(result)
    assert text.startswith("SES-DELIVERABILITY CRITICAL - dkim fail: "), text
    also = text.split("; also ", 1)[1]
    assert also.index("mail_from_spf fail") < also.index("dmarc warn")
    assert perf["failing"].startswith("2;")


def test_critical_mail_from_without_address(named: NamedServer) -> None:
    result = run_check(
        "gateway553.example",
        "--mail-from",
        "mail.gateway553.example",
        "--nameserver",
        named.nameserver,
        "--format",
        "json",
    )
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["plugin_output"].startswith(
        "SES-DELIVERABILITY CRITICAL - mail_from_resolvable fail: "
    )
    assert "mail_from_resolvable=0;;;0;1" in doc["plugin_output"]
    # the keys that existed before are all still there
    assert set(doc) >= {
        "domain",
        "checks",
        "dmarc_policy_level",
        "spf_dns_lookups",
        "mail_from",
        "mail_from_resolvable",
        "worst_status",
    }


def test_unknown_line_leaves_out_unknown_values(named: NamedServer) -> None:
    """SERVFAIL: UNKNOWN (3); values DNS could not tell are absent, not printed as garbage."""
    result = run_check("broken.test", "--nameserver", named.nameserver)
    assert result.returncode == 3, result.stdout
    text, perf = first_line(result)
    assert text.startswith("SES-DELIVERABILITY UNKNOWN - "), text
    assert "spf_dns_lookups" not in perf
    assert "dmarc_policy_level" not in perf
    assert perf["failing"] == "0;;;0"
    assert int(perf["unknown"].split(";")[0]) >= 1


def test_dns_text_cannot_break_the_first_line(named: NamedServer, tmp_path: Path) -> None:
    """A `|` or a newline in a record would fake perfdata or a second status line."""
    zone = tmp_path / "pipe.example.zone"
    zone.write_text(
        "$ORIGIN pipe.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
        "@ NS ns1\nns1 A 192.0.2.10\n@ MX 10 mx1\nmx1 A 192.0.2.11\n"
        '@ TXT "v=spf1 a|b=1;;0 -all"\n'
        '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@pipe.example"\n'
    )
    result = run_check("pipe.example", "--nameserver", named.nameserver, "--zone-file", str(zone))
    assert result.returncode == 2, result.stdout
    text, perf = first_line(result)
    assert text.startswith("SES-DELIVERABILITY CRITICAL - spf fail: "), text
    assert "|" not in text
    assert set(perf) == {"dmarc_policy_level", "failing", "warning", "unknown"} | (
        {"spf_dns_lookups"} if "spf_dns_lookups" in perf else set()
    )


def test_dkim_not_checked_is_said(named: NamedServer) -> None:
    """No tokens: `dkim` is left out, and the output says so instead of staying silent."""
    result = run_check("gateway553.example", "--nameserver", named.nameserver)
    text, _ = first_line(result)
    assert text.endswith("; not checked: dkim"), text
    assert "  dkim: not checked, no tokens; use --from-ses\n" in result.stdout
    doc = json.loads(
        run_check("gateway553.example", "--nameserver", named.nameserver, "--format", "json").stdout
    )
    assert doc["not_checked"] == [{"check": "dkim", "reason": "no tokens; use --from-ses"}]


# --------------------------------------------------------------------------- --from-ses


@pytest.fixture(name="ses")
def _ses() -> Iterator[Sesv2Fake]:
    with Sesv2Fake() as fake:
        yield fake


def ses_env(fake: Sesv2Fake, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Dummy credentials, no AWS config files, SESv2 pointed at the fake."""
    return daemon_env(tmp_path, fake.endpoint, AWS_ENDPOINT_URL_SESV2=fake.endpoint, **extra)


def test_from_ses_reads_tokens_and_mail_from(
    named: NamedServer, ses: Sesv2Fake, tmp_path: Path
) -> None:
    ses.add_domain_identity(
        "healthy.example", tokens=HEALTHY_TOKENS, mail_from="mail.healthy.example"
    )
    result = run_check(
        "--from-ses",
        "healthy.example",
        "--region",
        "us-east-1",
        "--nameserver",
        named.nameserver,
        "--format",
        "json",
        env=ses_env(ses, tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    checks = {c["check"]: c for c in doc["checks"]}
    assert checks["dkim"]["status"] == "pass"
    assert checks["dkim"]["summary"] == "3 DKIM CNAMEs lead to SES keys"
    assert checks["mail_from_mx"]["status"] == "pass"
    assert doc["mail_from"] == "mail.healthy.example"
    assert doc["not_checked"] == []
    assert ses.requests["/v2/email/identities/healthy.example"] == 1


def test_from_ses_tokens_are_the_ones_checked(
    named: NamedServer, ses: Sesv2Fake, tmp_path: Path
) -> None:
    """SES's own tokens, not published in DNS: dkim fails naming them; region from the env."""
    ses.add_domain_identity("gateway553.example")  # tokens: three per-domain UUIDs
    result = run_check(
        "gateway553.example",
        "--from-ses",
        "gateway553.example",
        "--nameserver",
        named.nameserver,
        env=ses_env(ses, tmp_path),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    text, _ = first_line(result)
    assert text.startswith("SES-DELIVERABILITY CRITICAL - dkim fail: 3 of 3 DKIM tokens broken")
    for token in dkim_tokens("gateway553.example"):
        assert f"{token}._domainkey.gateway553.example. 3600 IN CNAME" in result.stdout
        assert f"{token}.dkim.amazonses.com." in result.stdout
    assert "mail_from" not in result.stdout  # no MAIL FROM domain in SES


def test_from_ses_byodkim_says_why_dkim_is_not_checked(
    named: NamedServer, ses: Sesv2Fake, tmp_path: Path
) -> None:
    ses.add_domain_identity("healthy.example", dkim_origin="EXTERNAL", tokens=["sel2025"])
    result = run_check(
        "--from-ses",
        "healthy.example",
        "--region",
        "us-east-1",
        "--nameserver",
        named.nameserver,
        env=ses_env(ses, tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  dkim: not checked, BYODKIM (origin EXTERNAL, selector sel2025)" in result.stdout
    assert first_line(result)[0].endswith("; not checked: dkim")
    assert not re.search(r"^  \w+ +dkim ", result.stdout, re.MULTILINE)  # no dkim check line


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "AccessDeniedException"), (404, "NotFoundException"), (429, "TooManyRequestsException")],
)
def test_from_ses_aws_error_is_unknown(
    ses: Sesv2Fake, tmp_path: Path, status: int, code: str
) -> None:
    """An AWS error: UNKNOWN (3) and one line on stderr naming the code; nothing on stdout."""
    ses.add_domain_identity("healthy.example")
    ses.fail("/v2/email/identities/healthy.example", code=code, status=status, times=None)
    result = run_check(
        "--from-ses", "healthy.example", "--region", "eu-west-1", env=ses_env(ses, tmp_path)
    )
    assert result.returncode == 3, result.stdout
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert code in result.stderr
    assert "GetEmailIdentity healthy.example in eu-west-1" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--from-ses", "healthy.example", "--dkim-token", "abc"],
        ["--from-ses", "healthy.example", "--mail-from", "mail.healthy.example"],
        ["other.example", "--from-ses", "healthy.example"],
        ["--from-ses", "192.0.2.1"],
        ["--from-ses", "healthy.example", "--region", "mars-north-1"],
        ["--from-ses", "healthy.example", "--nameserver", "127.0.0.1:notaport"],
        ["--from-ses", "healthy.example", "--timeout", "0"],
    ],
)
def test_from_ses_usage_errors_exit_3(ses: Sesv2Fake, tmp_path: Path, args: list[str]) -> None:
    """A usage error is UNKNOWN (3) and found before SES is asked."""
    ses.add_domain_identity("healthy.example")
    result = run_check(*args, env=ses_env(ses, tmp_path))
    assert result.returncode == 3, result.stdout
    assert "error" in result.stderr
    assert ses.requests["/v2/email/identities/healthy.example"] == 0


def test_from_ses_without_region_exit_3(ses: Sesv2Fake, tmp_path: Path) -> None:
    env = {k: v for k, v in ses_env(ses, tmp_path).items() if k != "AWS_DEFAULT_REGION"}
    env.pop("AWS_REGION", None)
    result = run_check("--from-ses", "healthy.example", env=env)
    assert result.returncode == 3
    assert "--from-ses needs a region" in result.stderr


def test_no_domain_and_no_from_ses_exit_3() -> None:
    result = run_check("--nameserver", "127.0.0.1:1")
    assert result.returncode == 3
    assert "--from-ses IDENTITY" in result.stderr
