"""`ses-deliverability-exporter check` as a user runs it, against `named` on loopback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import DEMO_ZONES, NamedServer
from helpers.check_cli import healthy_check_args, run_check

pytestmark = pytest.mark.e2e


def as_json(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(result.stdout)


def statuses(doc: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {c["check"]: c["status"] for c in doc["checks"]}


def test_healthy_domain_passes_exit_0(named: NamedServer) -> None:
    """Every check passes on the control domain; the pinned JSON keys are present."""
    result = run_check(
        *healthy_check_args(named.nameserver),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = as_json(result)
    assert doc["domain"] == "healthy.example"
    assert set(statuses(doc).values()) == {"pass"}
    assert list(statuses(doc)) == [
        "mx",
        "spf",
        "dkim",
        "dmarc",
        "dmarc_reports",
        "mail_from_resolvable",
        "mail_from_mx",
        "mail_from_spf",
    ]
    assert doc["dmarc_policy_level"] == 2
    assert doc["spf_dns_lookups"] == 2
    for check in doc["checks"]:
        assert set(check) >= {"check", "status", "summary", "remedy"}


def test_field_report_1_mail_from_without_a_record_exit_2(named: NamedServer) -> None:
    """Report 1: MX and SPF on the MAIL FROM subdomain, but no A/AAAA -> fail, with the remedy."""
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
    doc = as_json(result)
    checks = {c["check"]: c for c in doc["checks"]}
    assert checks["mail_from_resolvable"]["status"] == "fail"
    assert "mail.gateway553.example" in checks["mail_from_resolvable"]["remedy"]
    assert checks["mail_from_mx"]["status"] == "pass"
    assert (
        "us-east-1" in checks["mail_from_mx"]["summary"]
    )  # no region given: it names the one found
    assert checks["mail_from_spf"]["status"] == "pass"
    assert "dkim" not in checks  # no tokens given: left out, not unknown
    assert doc["mail_from_resolvable"] is False


def test_field_report_2_exchange_online(named: NamedServer) -> None:
    """Report 2: DMARC p=none warns, MAIL FROM SPF without SES fails, unpublished DKIM fails."""
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
        "--format",
        "json",
    )
    assert result.returncode == 2
    s = statuses(as_json(result))
    assert s["dmarc"] == "warn"
    assert s["mail_from_spf"] == "fail"
    assert s["dkim"] == "fail"
    assert as_json(result)["dmarc_policy_level"] == 0


def test_warn_only_exits_1(named: NamedServer) -> None:
    result = run_check(
        "exchange-junk.example", "--nameserver", named.nameserver, "--format", "json"
    )
    assert statuses(as_json(result))["dmarc"] == "warn"
    assert result.returncode == 1, result.stdout


def test_unreachable_resolver_is_unknown_exit_3(silent_udp: str) -> None:
    """A resolver that never answers gives unknown (3), never fail."""
    result = run_check(
        "healthy.example",
        "--mail-from",
        "mail.healthy.example",
        "--nameserver",
        silent_udp,
        "--timeout",
        "0.2",
        "--format",
        "json",
    )
    assert result.returncode == 3, result.stdout
    assert set(statuses(as_json(result)).values()) == {"unknown"}
    assert as_json(result)["dmarc_policy_level"] is None


def test_servfail_zone_is_unknown(named: NamedServer) -> None:
    result = run_check("broken.test", "--nameserver", named.nameserver, "--format", "json")
    assert result.returncode == 3, result.stdout
    assert set(statuses(as_json(result)).values()) == {"unknown"}


def test_ipv6_nameserver(named: NamedServer) -> None:
    result = run_check("healthy.example", "--nameserver", f"[::1]:{named.port}", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_nameserver_by_host_name(named: NamedServer) -> None:
    """`--nameserver HOST[:PORT]` takes a name too (resolved once; localhost is 127.0.0.1 or
    ::1 here, and named listens on both)."""
    result = run_check(
        "healthy.example", "--nameserver", f"localhost:{named.port}", "--format", "json"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zone_file_checks_a_fix_before_publishing(named: NamedServer, tmp_path: Path) -> None:
    """A corrected zone file turns report 1's fail into pass without touching DNS."""
    fixed = tmp_path / "gateway553.example.zone"
    text = (DEMO_ZONES / "gateway553.example.zone").read_text()
    fixed.write_text(text + "mail    A   192.0.2.20\n")
    before = run_check(
        "gateway553.example",
        "--mail-from",
        "mail.gateway553.example",
        "--nameserver",
        named.nameserver,
        "--format",
        "json",
    )
    after = run_check(
        "gateway553.example",
        "--mail-from",
        "mail.gateway553.example",
        "--nameserver",
        named.nameserver,
        "--zone-file",
        str(fixed),
        "--format",
        "json",
    )
    assert statuses(as_json(before))["mail_from_resolvable"] == "fail"
    assert statuses(as_json(after))["mail_from_resolvable"] == "pass"


def test_text_output_names_checks_and_remedies(named: NamedServer) -> None:
    result = run_check(
        "gateway553.example",
        "--mail-from",
        "mail.gateway553.example",
        "--nameserver",
        named.nameserver,
    )
    assert result.returncode == 2
    assert "FAIL" in result.stdout
    assert "mail_from_resolvable" in result.stdout
    assert "remedy:" in result.stdout
    assert "\033[" not in result.stdout  # no colour when not on a terminal


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["not a domain"],
        ["example.com", "--nameserver", "127.0.0.1:notaport"],
        ["example.com", "--format", "xml"],
        ["example.com", "--zone-file", "/nonexistent.zone"],
        ["example.com", "--timeout", "0"],
    ],
)
def test_usage_errors_exit_3(args: list[str]) -> None:
    """Usage errors are UNKNOWN (3) as in monitoring plugins, not argparse's 2."""
    result = run_check(*args)
    assert result.returncode == 3, result.stderr
    assert "error" in result.stderr
