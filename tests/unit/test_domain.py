"""`evaluate_domain`: order, which checks run, the pending protocol, the field reports."""

from __future__ import annotations

import pytest
from fakeview import (
    DOMAIN,
    MAIL_FROM,
    NODATA,
    NX,
    TIMEOUT,
    TOKENS,
    FakeView,
    good_table,
    rec,
    run,
    target,
)

from exporter.checks import CHECK_IDS, evaluate_domain
from exporter.model import DomainTarget, Status


def test_everything_passes_on_a_good_domain() -> None:
    """The baseline the other tests modify: every check passes, in the documented order."""
    checked = run(target(), good_table(), strict=True)
    assert [c.check for c in checked.report.checks] == list(CHECK_IDS)
    assert {c.status for c in checked.report.checks} == {Status.PASS}
    assert checked.report.worst is Status.PASS
    assert checked.report.domain == DOMAIN
    assert checked.report.mail_from == MAIL_FROM
    assert checked.report.mail_from_resolvable is True
    assert checked.report.dmarc_policy_level == 2
    assert checked.report.spf_dns_lookups == 1


@pytest.mark.parametrize(
    ("domain_target", "expected"),
    [
        pytest.param(DomainTarget(DOMAIN), ["mx", "spf", "dmarc", "dmarc_reports"], id="name-only"),
        pytest.param(
            DomainTarget(DOMAIN, dkim_tokens=TOKENS),
            ["mx", "spf", "dkim", "dmarc", "dmarc_reports"],
            id="dkim",
        ),
        pytest.param(
            DomainTarget(DOMAIN, mail_from=MAIL_FROM),
            [
                "mx",
                "spf",
                "dmarc",
                "dmarc_reports",
                "mail_from_resolvable",
                "mail_from_mx",
                "mail_from_spf",
            ],
            id="mail-from",
        ),
    ],
)
def test_checks_without_inputs_are_left_out(
    domain_target: DomainTarget, expected: list[str]
) -> None:
    """DKIM needs tokens and the MAIL FROM checks a MAIL FROM domain; without them the
    checks are absent rather than unknown."""
    checked = run(domain_target, good_table())
    assert [c.check for c in checked.report.checks] == expected


def test_first_round_asks_every_independent_question() -> None:
    """Round one asks everything that needs no other answer, so rounds stay few."""
    checked = run(target(), good_table())
    assert checked.first_round == {
        (DOMAIN, "MX"),
        (DOMAIN, "TXT"),
        (f"_dmarc.{DOMAIN}", "TXT"),
        *((f"{t}._domainkey.{DOMAIN}", "TXT") for t in TOKENS),
        (MAIL_FROM, "A"),
        (MAIL_FROM, "MX"),
        (MAIL_FROM, "TXT"),
    }
    assert checked.rounds == 3  # + SES's SPF, + the final call


def test_spf_includes_of_one_level_are_asked_together() -> None:
    """The SPF walk is breadth-first: one round per include depth, not per include."""
    table = good_table() | {
        (DOMAIN, "TXT"): rec("v=spf1 include:a.example include:b.example include:c.example -all"),
        ("a.example", "TXT"): rec("v=spf1 include:d.example -all"),
        ("b.example", "TXT"): rec("v=spf1 ip4:192.0.2.1 -all"),
        ("c.example", "TXT"): rec("v=spf1 ip4:192.0.2.2 -all"),
        ("d.example", "TXT"): rec("v=spf1 ip4:192.0.2.3 -all"),
    }
    checked = run(target(), table)
    assert checked.status("spf") is Status.PASS
    assert checked.rounds == 4  # apex, {a,b,c}, {d}, final


def test_the_final_report_has_no_pending_result() -> None:
    """Only the last call counts; it must never carry a provisional "pending"."""
    table = good_table() | {(DOMAIN, "MX"): NODATA, (MAIL_FROM, "TXT"): NX}
    checked = run(target(), table)
    assert all(c.summary != "pending" for c in checked.report.checks)


def test_a_call_with_nothing_fetched_is_all_unknown() -> None:
    """Before any answer is in, every check is unknown and the gauges are None."""
    report = evaluate_domain(target(), FakeView(good_table(), fetched=set()))
    assert {c.status for c in report.checks} == {Status.UNKNOWN}
    assert report.dmarc_policy_level is None
    assert report.spf_dns_lookups is None
    assert report.mail_from_resolvable is None


def test_every_lookup_timing_out_is_unknown_never_fail() -> None:
    """A resolver outage must not page: every check is unknown, none fails."""
    table = dict.fromkeys(good_table(), TIMEOUT)
    checked = run(target(), table)
    assert {c.status for c in checked.report.checks} == {Status.UNKNOWN}
    assert checked.report.dmarc_policy_level is None
    assert checked.report.mail_from_resolvable is None
    assert checked.report.spf_dns_lookups is None


def test_names_are_normalized() -> None:
    """Upper-case or dotted names in the target still ask lower-case, dotless questions."""
    checked = run(
        DomainTarget(
            "Example.COM.", mail_from="Mail.Example.com.", dkim_tokens=TOKENS, region="us-east-1"
        ),
        good_table(),
    )
    assert {c.status for c in checked.report.checks} == {Status.PASS}
    assert checked.report.domain == "Example.COM."


def test_field_report_1_mail_from_without_address_records() -> None:
    """Report 1 (553 5.1.8 from corporate gateways): the MAIL FROM domain has its SES MX
    and SPF but no A/AAAA. Only mail_from_resolvable fails; everything else passes."""
    table = good_table() | {(MAIL_FROM, "A"): NODATA, (MAIL_FROM, "AAAA"): NODATA}
    checked = run(target(), table)
    failing = {c.check for c in checked.report.checks if c.status is not Status.PASS}
    assert failing == {"mail_from_resolvable"}
    assert checked.status("mail_from_resolvable") is Status.FAIL
    assert "553 5.1.8" in checked["mail_from_resolvable"].summary
    assert checked.report.mail_from_resolvable is False


def test_field_report_2_dmarc_none_spf_without_ses_no_dkim() -> None:
    """Report 2 (Exchange Online rejections): DMARC p=none warns, the MAIL FROM SPF lacks
    include:amazonses.com and fails, and the DKIM CNAMEs are not published and fail."""
    table = good_table() | {
        (f"_dmarc.{DOMAIN}", "TXT"): rec(
            f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{DOMAIN}; fo=1"
        ),
        (MAIL_FROM, "TXT"): rec(
            "v=spf1 mx ip4:192.0.2.0/24 include:spf.protection.outlook.com -all"
        ),
        ("spf.protection.outlook.com", "TXT"): rec("v=spf1 ip4:40.92.0.0/15 -all"),
        (MAIL_FROM, "MX"): rec("10 feedback-smtp.us-east-1.amazonses.com"),
        **{(f"{t}._domainkey.{DOMAIN}", "CNAME"): NX for t in TOKENS},
    }
    checked = run(target(), table)
    assert checked.status("dmarc") is Status.WARN
    assert checked.report.dmarc_policy_level == 0
    assert checked.status("mail_from_spf") is Status.FAIL
    assert "does not include amazonses.com" in checked["mail_from_spf"].summary
    assert checked.status("dkim") is Status.FAIL
    assert checked.report.worst is Status.FAIL
    assert checked.status("mx") is Status.PASS
    assert checked.status("mail_from_resolvable") is Status.PASS
