"""The custom MAIL FROM checks: resolvable, MX to SES feedback, SPF including SES."""

from __future__ import annotations

import pytest
from fakeview import DOMAIN, MAIL_FROM, NODATA, NX, SERVFAIL, TIMEOUT, good_table, rec, run, target

from exporter.model import Answer, Status

A, AAAA, MX, TXT = ((MAIL_FROM, t) for t in ("A", "AAAA", "MX", "TXT"))


# --- mail_from_resolvable ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "aaaa", "status", "resolvable"),
    [
        pytest.param(rec("192.0.2.1"), NODATA, Status.PASS, True, id="a"),
        pytest.param(NODATA, rec("2001:db8::1"), Status.PASS, True, id="aaaa"),
        pytest.param(TIMEOUT, rec("2001:db8::1"), Status.PASS, True, id="aaaa-despite-error"),
        pytest.param(NODATA, NODATA, Status.FAIL, False, id="nodata"),
        pytest.param(NX, NX, Status.FAIL, False, id="nxdomain"),
        pytest.param(TIMEOUT, NODATA, Status.UNKNOWN, None, id="a-timeout"),
        pytest.param(NX, SERVFAIL, Status.UNKNOWN, None, id="aaaa-servfail"),
    ],
)
def test_mail_from_resolvable(
    a: Answer, aaaa: Answer, status: Status, resolvable: bool | None
) -> None:
    """A or AAAA records pass; none fails; an error with no records is unknown. The
    report's mail_from_resolvable follows the verdict."""
    checked = run(target(), good_table() | {A: a, AAAA: aaaa})
    assert checked.status("mail_from_resolvable") is status
    assert checked.report.mail_from_resolvable is resolvable


@pytest.mark.parametrize(
    ("a", "asks_aaaa"),
    [
        pytest.param(rec("192.0.2.1"), False, id="a-records"),
        pytest.param(NODATA, True, id="a-nodata"),
        pytest.param(NX, True, id="a-nxdomain"),
        pytest.param(SERVFAIL, True, id="a-servfail"),
    ],
)
def test_aaaa_is_asked_only_when_a_has_no_records(a: Answer, asks_aaaa: bool) -> None:
    """An A record decides the check alone: AAAA costs a question only without one."""
    checked = run(target(), good_table() | {A: a, AAAA: rec("2001:db8::1")})
    assert (AAAA in checked.asked) is asks_aaaa
    assert AAAA not in checked.first_round
    assert checked.status("mail_from_resolvable") is Status.PASS


def test_unresolvable_mail_from_explains_the_553() -> None:
    """The failure names the gateway rejection and what to publish."""
    result = run(target(), good_table() | {A: NODATA})["mail_from_resolvable"]
    assert "553 5.1.8 Domain of sender address does not exist" in result.summary
    assert "publish an A (and AAAA) record for mail.example.com" in result.remedy


# --- mail_from_mx -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "answer", "status", "words"),
    [
        pytest.param(
            "us-east-1",
            rec("10 feedback-smtp.us-east-1.amazonses.com"),
            Status.PASS,
            "us-east-1",
            id="region",
        ),
        pytest.param(
            "US-EAST-1",
            rec("10 Feedback-SMTP.us-east-1.amazonses.com."),
            Status.PASS,
            "us-east-1",
            id="case",
        ),
        pytest.param(
            None,
            rec("10 feedback-smtp.eu-west-1.amazonses.com"),
            Status.PASS,
            "eu-west-1",
            id="no-region",
        ),
        pytest.param(
            "us-east-1",
            rec("10 feedback-smtp.eu-west-1.amazonses.com"),
            Status.FAIL,
            "not feedback-smtp.us-east-1.amazonses.com",
            id="wrong-region",
        ),
        pytest.param(
            "us-east-1",
            rec("10 mx.example.com"),
            Status.FAIL,
            "points to mx.example.com",
            id="elsewhere",
        ),
        pytest.param(
            "us-east-1",
            rec("20 mx.example.com", "10 feedback-smtp.us-east-1.amazonses.com"),
            Status.PASS,
            "us-east-1",
            id="preferred-among-others",
        ),
        pytest.param(
            "us-east-1",
            rec("5 mx.example.com", "10 feedback-smtp.us-east-1.amazonses.com"),
            Status.FAIL,
            "prefers mx.example.com over feedback-smtp.us-east-1.amazonses.com",
            id="other-preferred",
        ),
        pytest.param(
            "us-east-1",
            rec("10 mx.example.com", "10 feedback-smtp.us-east-1.amazonses.com"),
            Status.FAIL,
            "prefers mx.example.com",
            id="other-at-same-preference",
        ),
        pytest.param(
            None,
            rec("5 mx.example.com", "10 feedback-smtp.eu-west-1.amazonses.com"),
            Status.FAIL,
            "prefers mx.example.com",
            id="other-preferred-no-region",
        ),
        pytest.param(
            "us-east-1",
            rec(
                "5 feedback-smtp.eu-west-1.amazonses.com",
                "10 feedback-smtp.us-east-1.amazonses.com",
            ),
            Status.FAIL,
            "prefers feedback-smtp.eu-west-1.amazonses.com",
            id="other-region-preferred",
        ),
        pytest.param("us-east-1", rec("0 ."), Status.FAIL, "null MX", id="null-mx"),
        pytest.param("us-east-1", NODATA, Status.FAIL, "no MX", id="nodata"),
        pytest.param("us-east-1", NX, Status.FAIL, "does not exist", id="nxdomain"),
        pytest.param("us-east-1", TIMEOUT, Status.UNKNOWN, "timeout", id="timeout"),
    ],
)
def test_mail_from_mx(region: str | None, answer: Answer, status: Status, words: str) -> None:
    """The most preferred MX must be feedback-smtp.<region>.amazonses.com (any region when
    none is configured): bounces go to the lowest preference first, and only SES's host
    lets SES learn of them; a foreign host at the same preference takes a share."""
    result = run(target(region=region), good_table() | {MX: answer})["mail_from_mx"]
    assert result.status is status
    assert words in result.summary


def test_mail_from_mx_remedy_when_another_host_is_preferred() -> None:
    """The remedy names the host to remove or demote, never a record that leaves it first."""
    answer = rec("5 mx.example.com", "10 feedback-smtp.us-east-1.amazonses.com")
    result = run(target(region="us-east-1"), good_table() | {MX: answer})["mail_from_mx"]
    assert "remove the MX record of mx.example.com or give it a higher preference" in result.remedy


@pytest.mark.parametrize(
    ("region", "remedy"),
    [
        ("eu-west-1", "mail.example.com. MX 10 feedback-smtp.eu-west-1.amazonses.com."),
        (None, "mail.example.com. MX 10 feedback-smtp.<region>.amazonses.com."),
    ],
)
def test_mail_from_mx_remedy(region: str | None, remedy: str) -> None:
    """The remedy is the exact MX line, with a placeholder when the region is unknown."""
    result = run(target(region=region), good_table() | {MX: NODATA})["mail_from_mx"]
    assert remedy in result.remedy


# --- mail_from_spf ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "extra", "status", "words"),
    [
        pytest.param(rec("v=spf1 include:amazonses.com -all"), {}, Status.PASS, "-all", id="ok"),
        pytest.param(
            rec("v=spf1 include:_spf.example.com ~all"),
            {("_spf.example.com", "TXT"): rec("v=spf1 include:amazonses.com -all")},
            Status.PASS,
            "includes amazonses.com",
            id="nested",
        ),
        pytest.param(rec("v=spf1 redirect=amazonses.com"), {}, Status.PASS, "-all", id="redirect"),
        pytest.param(NX, {}, Status.FAIL, "no SPF record", id="nxdomain"),
        pytest.param(rec("hello"), {}, Status.FAIL, "does not inherit", id="no-spf"),
        pytest.param(
            rec("v=spf1 ip4:192.0.2.1 -all"), {}, Status.FAIL, "does not include", id="no-ses"
        ),
        pytest.param(
            rec("v=spf1 include:amazonses.com +all"), {}, Status.FAIL, "+all", id="plus-all"
        ),
        pytest.param(rec("v=spf1 include:amazonses.com"), {}, Status.WARN, "no all", id="no-all"),
        pytest.param(
            rec("v=spf1 include:amazonses.com ?all"), {}, Status.WARN, "?all", id="neutral"
        ),
        pytest.param(
            rec("v=spf1 include:amazonses.com", "v=spf1 -all"),
            {},
            Status.FAIL,
            "permerror",
            id="two-records",
        ),
        pytest.param(
            rec("v=spf1 include:amazonses.com ~all"),
            {("amazonses.com", "TXT"): TIMEOUT},
            Status.UNKNOWN,
            "timeout",
            id="error",
        ),
        pytest.param(
            rec("v=spf1 include:other.example ~all"),
            {("other.example", "TXT"): TIMEOUT},
            Status.UNKNOWN,
            "timeout",
            id="error-hides-include",
        ),
        pytest.param(TIMEOUT, {}, Status.UNKNOWN, "timeout", id="top-error"),
    ],
)
def test_mail_from_spf(
    answer: Answer, extra: dict[tuple[str, str], Answer], status: Status, words: str
) -> None:
    """The MAIL FROM domain's own SPF must reach amazonses.com (directly or via nested
    include/redirect) and end in ~all/-all; no record, permerror or +all fail."""
    result = run(target(), good_table() | {TXT: answer} | extra)["mail_from_spf"]
    assert result.status is status
    assert words in result.summary


def test_mail_from_spf_does_not_inherit_from_the_parent() -> None:
    """The parent's strict SPF does not cover the MAIL FROM subdomain (RFC 7208)."""
    table = good_table() | {TXT: NX, (DOMAIN, "TXT"): rec("v=spf1 include:amazonses.com -all")}
    checked = run(target(), table)
    assert checked.status("spf") is Status.PASS
    result = checked["mail_from_spf"]
    assert result.status is Status.FAIL
    assert [r.zone_line() for r in result.records] == [
        'mail.example.com. 3600 IN TXT "v=spf1 include:amazonses.com ~all"'
    ]


def test_no_mail_from_leaves_the_checks_out() -> None:
    """Without a custom MAIL FROM the three checks are absent and nothing is asked."""
    checked = run(target(mail_from=None), good_table())
    assert not any(c.startswith("mail_from") for c in checked.by_check)
    assert not any(name == MAIL_FROM for name, _ in checked.asked)
    assert checked.report.mail_from is None
    assert checked.report.mail_from_resolvable is None


def test_mail_from_spf_with_a_term_matching_every_address_fails_like_plus_all() -> None:
    """`ip4:0.0.0.0/0` passes every IPv4 sender: the MAIL FROM domain authorizes the
    internet; the remedy removes that term and keeps the others."""
    table = good_table() | {TXT: rec("v=spf1 include:amazonses.com ip4:0.0.0.0/0 -all")}
    result = run(target(), table)["mail_from_spf"]
    assert result.status is Status.FAIL
    assert "passes every sender like +all: ip4:0.0.0.0/0" in result.summary
    assert [r.zone_line() for r in result.records] == [
        'mail.example.com. 3600 IN TXT "v=spf1 include:amazonses.com -all"'
    ]


def test_mail_from_spf_macro_redirect_does_not_claim_neutral() -> None:
    table = good_table() | {TXT: rec("v=spf1 include:amazonses.com redirect=%{l}.spf.example.com")}
    result = run(target(), table)["mail_from_spf"]
    assert "neutral" not in result.summary
    assert "depends on the message" in result.summary
