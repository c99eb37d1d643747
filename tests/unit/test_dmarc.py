"""DMARC: record parsing, discovery with the organizational-domain fallback, the `dmarc`
and `dmarc_reports` checks."""

from __future__ import annotations

import pytest
from fakeview import DOMAIN, NODATA, NX, SERVFAIL, TIMEOUT, good_table, rec, run, target

from exporter.checks.dmarc import DmarcRecord, organizational_domain, parse_dmarc
from exporter.model import Answer, CheckResult, DomainTarget, RecordAction, Status

DMARC = f"_dmarc.{DOMAIN}"
SUB = "news.example.com"


def with_dmarc(*records: str, name: str = DMARC) -> dict[tuple[str, str], Answer]:
    return good_table() | {(name, "TXT"): rec(*records)}


def sub_target() -> DomainTarget:
    """A subdomain sender with only the DMARC inputs, to exercise the fallback."""
    return target(SUB, mail_from=None, tokens=())


# --- parser -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "v=spf1 -all",
        "p=reject; v=DMARC1",
        "v=dmarc1; p=reject",
        "v=DMARC2; p=reject",
        "v=DMARC1p=reject",
        "",
        "; ; ;",
    ],
)
def test_not_a_dmarc_record(text: str) -> None:
    """Only a record whose first tag is exactly v=DMARC1 is DMARC (RFC 7489 §6.4)."""
    assert parse_dmarc(text) is None


def test_parse_tags_with_spaces_and_case() -> None:
    """Whitespace around tags and '=' is allowed; policy values are case-insensitive;
    unknown tags are ignored; rua lists comma-separated URIs."""
    record = parse_dmarc(
        "v = DMARC1 ; p = REJECT ; sp=Quarantine; pct=50; fo=1; x-new=1;"
        " rua=mailto:a@example.com!10m, https://r.example/x , mailto:b@r.example.net ;"
    )
    assert isinstance(record, DmarcRecord)
    assert (record.policy, record.subdomain_policy, record.pct) == ("reject", "quarantine", 50)
    assert record.problems == ()
    assert record.report_addresses == ("a@example.com", "b@r.example.net")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("v=DMARC1", "missing p="),
        ("v=DMARC1; rua=mailto:a@example.com", "missing p="),
        ("v=DMARC1; p=block", "invalid p=block"),
        ("v=DMARC1; p=", "invalid p="),
        ("v=DMARC1; p=reject; sp=maybe", "invalid sp=maybe"),
        ("v=DMARC1; p=reject; pct=101", "invalid pct=101"),
        ("v=DMARC1; p=reject; pct=-1", "invalid pct=-1"),
        ("v=DMARC1; p=reject; pct=abc", "invalid pct=abc"),
        ("v=DMARC1; p=reject; pct=" + "9" * 5000, "invalid pct="),
    ],
)
def test_invalid_records(text: str, problem: str) -> None:
    """A missing or unknown p=, an invalid sp= or a pct outside 0-100 invalidates it."""
    record = parse_dmarc(text)
    assert record is not None
    assert any(p.startswith(problem) for p in record.problems)
    assert record.applied_policy(for_subdomain=False) is None


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("example.com", "example.com"),
        ("a.b.example.com", "example.com"),
        ("Mail.Example.CO.UK.", "example.co.uk"),
        ("co.uk", "co.uk"),
        ("user.github.io", "user.github.io"),
    ],
)
def test_organizational_domain(domain: str, org: str) -> None:
    """The Public Suffix List gives the organizational domain; a suffix is its own."""
    assert organizational_domain(domain) == org


# --- the dmarc check --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "status", "level", "words"),
    [
        pytest.param(("v=DMARC1; p=reject",), Status.PASS, 2, "p=reject", id="reject"),
        pytest.param(("v=DMARC1; p=quarantine",), Status.PASS, 1, "p=quarantine", id="quar"),
        pytest.param(("v=DMARC1; p=none",), Status.WARN, 0, "monitoring only", id="none"),
        pytest.param(("v=DMARC1; p=reject; pct=50",), Status.WARN, 2, "50%", id="pct"),
        pytest.param(("v=DMARC1; p=quarantine; pct=0",), Status.WARN, 1, "0%", id="pct-0"),
        pytest.param(("v=DMARC1; p=reject; pct=100",), Status.PASS, 2, "reject", id="pct-100"),
        pytest.param(("v=DMARC1; rua=mailto:a@x.com",), Status.FAIL, -1, "missing p=", id="no-p"),
        pytest.param(("v=DMARC1; p=nil",), Status.FAIL, -1, "invalid p=nil", id="bad-p"),
        pytest.param(("v=DMARC1; p=reject; sp=x",), Status.FAIL, -1, "sp=x", id="bad-sp"),
        pytest.param(("v=DMARC1; p=reject; pct=200",), Status.FAIL, -1, "pct=200", id="pct-200"),
        pytest.param(
            ("v=DMARC1; p=reject", "v=DMARC1; p=none"),
            Status.FAIL,
            -1,
            "several DMARC records",
            id="two-records",
        ),
        pytest.param(
            ("spf-ish text", "v=DMARC1; p=reject"), Status.PASS, 2, "reject", id="other-txt"
        ),
    ],
)
def test_dmarc_policy(records: tuple[str, ...], status: Status, level: int, words: str) -> None:
    """quarantine/reject pass; none warns (level 0); pct<100 warns; an invalid record or
    several records fail with level -1; non-DMARC TXT records are ignored."""
    checked = run(target(), with_dmarc(*records))
    assert checked.status("dmarc") is status
    assert words in checked["dmarc"].summary
    assert checked.report.dmarc_policy_level == level


@pytest.mark.parametrize("answer", [NX, NODATA, rec("v=spf1 -all")])
def test_no_dmarc_record_fails(answer: Answer) -> None:
    """No record at _dmarc.<domain> (and example.com is its own organizational domain)."""
    checked = run(target(), good_table() | {(DMARC, "TXT"): answer})
    result = checked["dmarc"]
    assert result.status is Status.FAIL
    assert checked.report.dmarc_policy_level == -1
    assert lines(result) == [
        (
            '+ _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=quarantine; '
            'rua=mailto:dmarc-reports@example.com"'
        )
    ]
    assert "mailbox you read" in result.remedy
    assert ("_dmarc.com", "TXT") in checked.asked  # the RFC 9989 tree walk reaches the TLD


def lines(result: CheckResult) -> list[str]:
    """A remedy's records as action marks and pasteable zone lines."""
    marks = {RecordAction.ADD: "+", RecordAction.REPLACE: "=", RecordAction.DELETE: "-"}
    return [f"{marks[r.action]} {r.zone_line()}" for r in result.records]


def test_p_none_remedy_raises_p_and_keeps_every_other_tag() -> None:
    """The second field report: p=none warns; the remedy edits the record in place, so the
    report addresses and alignment settings a team chose survive."""
    published = (
        "v=DMARC1; p=none; rua=mailto:a@example.com; ruf=mailto:f@example.com; adkim=s; fo=1"
    )
    result = run(target(), with_dmarc(published))["dmarc"]
    assert result.status is Status.WARN
    assert "reject" in result.remedy
    assert lines(result) == [
        (
            '= _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:a@example.com; '
            'ruf=mailto:f@example.com; adkim=s; fo=1"'
        )
    ]


def test_subdomain_under_a_reject_org_with_sp_none_raises_only_sp() -> None:
    """The org publishes p=reject; sp=none: a subdomain that falls back gets none. The
    remedy raises sp= and keeps p=reject and the report address (never a downgrade)."""
    org = "v=DMARC1; p=reject; sp=none; rua=mailto:a@example.com"
    table = with_dmarc(org) | {(f"_dmarc.{SUB}", "TXT"): NX}
    result = run(sub_target(), table)["dmarc"]
    assert result.status is Status.WARN
    assert lines(result) == [
        (
            '= _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=reject; sp=reject; '
            'rua=mailto:a@example.com"'
        )
    ]


def test_pct_remedy_drops_only_pct() -> None:
    result = run(target(), with_dmarc("v=DMARC1; p=reject; pct=20; rua=mailto:a@example.com"))
    assert lines(result["dmarc"]) == [
        '= _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:a@example.com"'
    ]


def test_invalid_record_remedy_fixes_only_the_invalid_tags() -> None:
    result = run(target(), with_dmarc("v=DMARC1; p=block; sp=reject; pct=300; aspf=s"))["dmarc"]
    assert result.status is Status.FAIL
    assert lines(result) == [
        '= _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=quarantine; sp=reject; aspf=s"'
    ]


def test_several_records_remedy_keeps_the_strongest() -> None:
    result = run(target(), with_dmarc("v=DMARC1; p=none", "v=DMARC1; p=reject; fo=1"))["dmarc"]
    assert result.status is Status.FAIL
    assert lines(result) == ['- _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=none"']


def test_several_invalid_records_remedy_keeps_one_repaired() -> None:
    result = run(target(), with_dmarc("v=DMARC1; p=bad", "v=DMARC1; p=worse; fo=1"))["dmarc"]
    assert lines(result) == [
        '- _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=worse; fo=1"',
        '= _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=quarantine"',
    ]


def test_missing_rua_remedy_adds_rua_and_keeps_the_policy() -> None:
    result = run(target(), with_dmarc("v=DMARC1; p=reject; adkim=s"))["dmarc_reports"]
    assert result.status is Status.WARN
    assert lines(result) == [
        (
            '= _dmarc.example.com. 3600 IN TXT "v=DMARC1; p=reject; adkim=s; '
            'rua=mailto:dmarc-reports@example.com"'
        )
    ]


@pytest.mark.parametrize(
    ("org_record", "status", "level", "words"),
    [
        pytest.param("v=DMARC1; p=reject; sp=none", Status.WARN, 0, "sp=none", id="sp-none"),
        pytest.param("v=DMARC1; p=none; sp=reject", Status.PASS, 2, "sp=reject", id="sp-reject"),
        pytest.param("v=DMARC1; p=quarantine", Status.PASS, 1, "p=quarantine", id="no-sp"),
    ],
)
def test_subdomain_falls_back_to_the_organizational_domain(
    org_record: str, status: Status, level: int, words: str
) -> None:
    """RFC 7489 §6.6.3: without _dmarc.<sub>, the organizational domain's record applies,
    with sp= (when present) instead of p=."""
    checked = run(sub_target(), with_dmarc(org_record))
    assert checked.status("dmarc") is status
    assert checked.report.dmarc_policy_level == level
    assert words in checked["dmarc"].summary
    assert ("_dmarc.news.example.com", "TXT") in checked.asked


def test_subdomain_record_wins_over_the_fallback() -> None:
    """A record at _dmarc.<sub> applies with its own p=; the parent is not asked."""
    table = with_dmarc("v=DMARC1; p=reject; sp=reject") | {
        (f"_dmarc.{SUB}", "TXT"): rec("v=DMARC1; p=none")
    }
    checked = run(sub_target(), table)
    assert checked.status("dmarc") is Status.WARN
    assert checked.report.dmarc_policy_level == 0
    assert (DMARC, "TXT") not in checked.asked


def test_sp_is_ignored_for_the_organizational_domain_itself() -> None:
    """sp= governs subdomains only: the domain that publishes the record gets p=."""
    checked = run(target(), with_dmarc("v=DMARC1; p=reject; sp=none"))
    assert checked.status("dmarc") is Status.PASS
    assert checked.report.dmarc_policy_level == 2


def test_several_records_at_the_subdomain_do_not_fall_back() -> None:
    """Several records stop discovery (RFC 7489 §6.6.3): no fallback to the parent."""
    table = with_dmarc("v=DMARC1; p=reject") | {
        (f"_dmarc.{SUB}", "TXT"): rec("v=DMARC1; p=reject", "v=DMARC1; p=quarantine")
    }
    checked = run(sub_target(), table)
    assert checked.status("dmarc") is Status.FAIL
    assert checked.report.dmarc_policy_level == -1
    assert (DMARC, "TXT") not in checked.asked


def test_dmarc_through_a_cname() -> None:
    """A CNAMEd _dmarc name (the DNS source follows it) works and the summary says so."""
    answer = rec("v=DMARC1; p=reject", via=(DMARC, "example-com.dmarc.provider.example"))
    checked = run(target(), good_table() | {(DMARC, "TXT"): answer})
    assert checked.status("dmarc") is Status.PASS
    assert "via CNAME" in checked["dmarc"].summary


@pytest.mark.parametrize(
    ("sub_answer", "org_answer"),
    [
        pytest.param(TIMEOUT, rec("v=DMARC1; p=reject"), id="sub-timeout"),
        pytest.param(NX, SERVFAIL, id="org-servfail"),
    ],
)
def test_lookup_error_is_unknown(sub_answer: Answer, org_answer: Answer) -> None:
    """A failed lookup on the discovery path leaves the policy unknown (level None)."""
    table = good_table() | {(f"_dmarc.{SUB}", "TXT"): sub_answer, (DMARC, "TXT"): org_answer}
    checked = run(sub_target(), table)
    assert checked.status("dmarc") is Status.UNKNOWN
    assert checked.status("dmarc_reports") is Status.UNKNOWN
    assert checked.report.dmarc_policy_level is None


# --- the dmarc_reports check ------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "extra", "status", "words"),
    [
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:d@example.com",
            {},
            Status.PASS,
            "d@example.com",
            id="own-domain",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:d@reports.example.com",
            {},
            Status.PASS,
            "reports",
            id="own-subdomain",
        ),
        pytest.param("v=DMARC1; p=reject", {}, Status.WARN, "no rua", id="no-rua"),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://r.example/x", {}, Status.WARN, "no rua", id="https"
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:d@vendor.example.net",
            {("example.com._report._dmarc.vendor.example.net", "TXT"): rec("v=DMARC1")},
            Status.PASS,
            "vendor",
            id="external-authorized",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:d@vendor.example.net",
            {("example.com._report._dmarc.vendor.example.net", "TXT"): rec("other")},
            Status.WARN,
            "do not authorize",
            id="external-not-authorized",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:d@vendor.example.net",
            {},
            Status.WARN,
            "example.com._report._dmarc.vendor.example.net",
            id="external-nxdomain",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:d@vendor.example.net",
            {("example.com._report._dmarc.vendor.example.net", "TXT"): TIMEOUT},
            Status.UNKNOWN,
            "failed",
            id="external-error",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:d@bad..host",
            {},
            Status.WARN,
            "without a valid domain",
            id="bad-mailbox",
        ),
        pytest.param(
            "v=DMARC1; p=bogus; rua=mailto:d@example.com",
            {},
            Status.WARN,
            "no valid DMARC record",
            id="invalid-record",
        ),
    ],
)
def test_dmarc_reports(
    record: str, extra: dict[tuple[str, str], Answer], status: Status, words: str
) -> None:
    """Someone must get aggregate reports; a mailbox on another organizational domain
    needs that domain's <domain>._report._dmarc authorization (RFC 7489 §7.1)."""
    result = run(target(), with_dmarc(record) | extra)["dmarc_reports"]
    assert result.status is status
    assert words in result.summary


def test_no_dmarc_record_means_no_reports_warning() -> None:
    """The dmarc check carries the failure; dmarc_reports only warns."""
    checked = run(target(), good_table() | {(DMARC, "TXT"): NX})
    assert checked.status("dmarc") is Status.FAIL
    assert checked.status("dmarc_reports") is Status.WARN


def test_external_reports_use_the_policy_domain_for_fallback() -> None:
    """For a subdomain using the parent's record, the authorization name is built from
    the domain that published the record."""
    table = with_dmarc("v=DMARC1; p=reject; rua=mailto:d@vendor.example.net") | {
        ("example.com._report._dmarc.vendor.example.net", "TXT"): rec("v=DMARC1"),
    }
    checked = run(sub_target(), table)
    assert checked.status("dmarc_reports") is Status.PASS
    assert ("news.example.com._report._dmarc.vendor.example.net", "TXT") not in checked.asked


# --- RFC 9989 ---------------------------------------------------------------------------

DEEP = "a.b.news.example.com"


def deep_target() -> DomainTarget:
    return target(DEEP, mail_from=None, tokens=())


def test_tree_walk_finds_an_intermediate_record_psl_discovery_skips() -> None:
    """RFC 9989 walks up label by label and stops at _dmarc.news.example.com; RFC 7489
    jumps from the domain to the organizational domain. The receivers disagree: a warning
    that says who sees what, and a record at the domain itself that both read first."""
    table = with_dmarc("v=DMARC1; p=reject") | {
        (f"_dmarc.{SUB}", "TXT"): rec("v=DMARC1; p=quarantine; rua=mailto:r@example.com")
    }
    checked = run(deep_target(), table)
    result = checked["dmarc"]
    assert result.status is Status.WARN
    assert checked.report.dmarc_policy_level == 1  # the tree walk's record applies
    assert "RFC 9989 receivers (DNS tree walk) apply quarantine from _dmarc.news" in result.summary
    assert "RFC 7489 receivers (Public Suffix List) apply reject from _dmarc.example.com" in (
        result.summary
    )
    assert [(r.action, r.name, r.value) for r in result.records] == [
        (
            RecordAction.ADD,
            f"_dmarc.{DEEP}",
            '"v=DMARC1; p=reject; rua=mailto:r@example.com"',
        )
    ]
    assert (f"_dmarc.b.{SUB}", "TXT") in checked.asked


def test_tree_walk_reaches_a_public_suffix_record() -> None:
    """A record at the top-level domain (a public suffix's policy, psd=y) applies under
    RFC 9989; RFC 7489 receivers never ask there and apply nothing."""
    table = good_table() | {
        (DMARC, "TXT"): NX,
        ("_dmarc.com", "TXT"): rec("v=DMARC1; p=reject; psd=y"),
    }
    result = run(target(), table)["dmarc"]
    assert result.status is Status.WARN
    assert "RFC 7489 receivers (Public Suffix List) apply no policy (no record)" in result.summary


def test_tree_walk_asks_at_most_eight_names() -> None:
    """A long name jumps to its last 7 labels after the first query (RFC 9989 §4.10)."""
    long_name = ".".join(f"l{i}" for i in range(12)) + ".example.com"
    checked = run(target(long_name, mail_from=None, tokens=()), good_table() | {(DMARC, "TXT"): NX})
    dmarc_names = sorted(n for n, t in checked.asked if n.startswith("_dmarc."))
    assert len(dmarc_names) == 8
    assert f"_dmarc.{long_name}" in dmarc_names
    assert "_dmarc.l7.l8.l9.l10.l11.example.com" in dmarc_names
    assert "_dmarc.l6.l7.l8.l9.l10.l11.example.com" not in dmarc_names


def test_failed_lookup_above_the_organizational_domain_is_skipped() -> None:
    """A public suffix's _dmarc lookup failing does not hide the domain's own verdict."""
    table = good_table() | {(DMARC, "TXT"): NX, ("_dmarc.com", "TXT"): SERVFAIL}
    checked = run(target(), table)
    assert checked.status("dmarc") is Status.FAIL
    assert checked.report.dmarc_policy_level == -1
    assert ("_dmarc.com", "TXT") in checked.asked
    assert "_dmarc.com: servfail" in checked["dmarc"].summary
    table[DMARC, "TXT"] = rec("v=DMARC1; p=reject; t=n; np=reject; psd=n")  # all valid
    assert run(target(), table).status("dmarc") is Status.PASS


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("v=DMARC1; p=reject; np=maybe", "invalid np=maybe"),
        ("v=DMARC1; p=reject; psd=x", "invalid psd=x"),
        ("v=DMARC1; p=reject; t=yes", "invalid t=yes"),
        ("v=DMARC1; p=reject; adkim=strict", "invalid adkim=strict"),
        ("v=DMARC1; p=reject; aspf=x", "invalid aspf=x"),
        ("v=DMARC1; p=reject; fo=2", "invalid fo=2"),
        ("v=DMARC1; p=reject; fo=1:x", "invalid fo=1:x"),
        ("v=DMARC1; p=reject; p=none", "duplicate p="),
        ("v=DMARC1; p=reject; rua=mailto:a@x.com; rua=mailto:b@x.com", "duplicate rua="),
    ],
)
def test_values_receivers_reject_fail(text: str, problem: str) -> None:
    """OpenDMARC treats a bad adkim/aspf/fo as a permerror and applies no policy, and
    checkdmarc rejects these records: a fail with a repair, never a silent pass."""
    record = parse_dmarc(text)
    assert record is not None
    assert any(p.startswith(problem) for p in record.problems), record.problems
    result = run(target(), with_dmarc(text))["dmarc"]
    assert result.status is Status.FAIL
    assert len(result.records) == 1
    repaired = parse_dmarc(result.records[0].value.strip('"'))
    assert repaired is not None
    assert not repaired.problems


def test_duplicate_policy_repair_keeps_the_strongest() -> None:
    """OpenDMARC applies the last p=, others the first: the repair keeps the strongest, so
    no receiver's policy drops."""
    result = run(target(), with_dmarc("v=DMARC1; p=none; sp=quarantine; p=reject"))["dmarc"]
    assert result.status is Status.FAIL
    assert [r.value for r in result.records] == ['"v=DMARC1; p=reject; sp=quarantine"']


@pytest.mark.parametrize(
    ("text", "level", "words"),
    [
        ("v=DMARC1; p=reject; t=y", 1, "apply quarantine instead of reject"),
        ("v=DMARC1; p=quarantine; t=Y", 0, "apply none instead of quarantine"),
    ],
)
def test_testing_mode_lowers_the_effective_level(text: str, level: int, words: str) -> None:
    """t=y is RFC 9989's testing mode: one step lower, said in the summary."""
    checked = run(target(), with_dmarc(text))
    result = checked["dmarc"]
    assert result.status is Status.WARN
    assert checked.report.dmarc_policy_level == level
    assert words in result.summary
    assert [r.value for r in result.records] == [f'"{text.rsplit(";", 1)[0]}"']


def test_pct_warning_says_it_is_removed() -> None:
    result = run(target(), with_dmarc("v=DMARC1; p=reject; pct=50"))["dmarc"]
    assert "removed in RFC 9989" in result.summary
    assert "t=y" in result.summary


def test_np_none_under_reject_warns() -> None:
    """np=none leaves spoofed non-existent subdomains without policy."""
    result = run(target(), with_dmarc("v=DMARC1; p=reject; np=none"))["dmarc"]
    assert result.status is Status.WARN
    assert "np=none" in result.summary
    assert [r.value for r in result.records] == ['"v=DMARC1; p=reject; np=reject"']


def test_leading_whitespace_warns() -> None:
    """Some receivers discard a record that does not start with v=DMARC1."""
    result = run(target(), with_dmarc(" v=DMARC1; p=reject"))["dmarc"]
    assert result.status is Status.WARN
    assert "whitespace" in result.summary
    assert [(r.action, r.value) for r in result.records] == [
        (RecordAction.DELETE, '" v=DMARC1; p=reject"'),
        (RecordAction.ADD, '"v=DMARC1; p=reject"'),
    ]
