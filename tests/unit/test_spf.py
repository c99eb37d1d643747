"""SPF: the RFC 7208 parser, the capped include/redirect walk, and the `spf` check."""

from __future__ import annotations

import pytest
from fakeview import DOMAIN, NODATA, NX, TIMEOUT, FakeView, good_table, rec, run, target

from exporter.checks.spf import (
    Mechanism,
    SpfOutcome,
    SpfPolicy,
    SpfRecord,
    SpfSyntaxError,
    evaluate_spf,
    is_spf_record,
    parse_spf,
)
from exporter.model import Answer, Status

SES = ("amazonses.com", "TXT")


def spf_table(*entries: tuple[str, str], apex: str | None = None) -> dict[tuple[str, str], Answer]:
    """`good_table` with the apex SPF record replaced and extra TXT records at other names."""
    table = good_table()
    if apex is not None:
        table[DOMAIN, "TXT"] = rec(apex)
    for name, text in entries:
        table[name, "TXT"] = rec(text)
    return table


def includes(prefix: str, count: int) -> str:
    return " ".join(f"include:{prefix}{i}.example.net" for i in range(count))


def leaf_table(prefix: str, count: int) -> dict[tuple[str, str], Answer]:
    return {
        (f"{prefix}{i}.example.net", "TXT"): rec("v=spf1 ip4:192.0.2.1 -all") for i in range(count)
    }


# --- parser -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=spf1", True),
        ("v=spf1 -all", True),
        ("V=SPF1 -ALL", True),
        ("v=spf10 -all", False),
        ("v=spf1\t-all", False),
        ("spf1 -all", False),
        ("", False),
    ],
)
def test_is_spf_record(text: str, expected: bool) -> None:
    """The version is v=spf1, case-insensitive, ended by a space or the end of the record."""
    assert is_spf_record(text) is expected


def test_parse_keeps_terms_in_order() -> None:
    """Qualifiers default to +, targets keep their spelling, cidr lengths are split off."""
    record = parse_spf("v=spf1 ip4:192.0.2.0/24 a:mail.example.com/24//64 ~include:x.example -all")
    assert record == SpfRecord(
        (
            Mechanism("+", "ip4", "192.0.2.0/24"),
            Mechanism("+", "a", "mail.example.com"),
            Mechanism("~", "include", "x.example"),
            Mechanism("-", "all"),
        )
    )


@pytest.mark.parametrize(
    "text",
    [
        "V=SPF1 INCLUDE:AmazonSES.com MX/24 A//64 PTR -ALL",
        "v=spf1  ip6:2001:db8::/32   ip6:::ffff:192.0.2.1 ?all  ",
        "v=spf1 exists:%{i}._spf.%{d} include:%{d2}.example.com -all",
        "v=spf1 include:_spf.google.com. ~all",
        "v=spf1 foo=bar unknown-mod=%{d} -all",
        "v=spf1 redirect=_spf.example.com exp=explain.%{d}",
        "v=spf1 a:%{d} mx:%{d}/24 ptr:example.com",
        "v=spf1 ip4:0.0.0.0/0 ip6:::/0 ip4:192.0.2.1/32 ip6:2001:db8::1/128",
        "v=spf1 v=spf1 -all",
    ],
)
def test_parse_accepts_valid_records(text: str) -> None:
    """Names are case-insensitive, runs of spaces separate terms, macros and unknown
    modifiers are legal (RFC 7208 §6: unknown modifiers are ignored)."""
    assert isinstance(parse_spf(text), SpfRecord)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("v=spf1x -all", "not an SPF record"),
        ("v=spf1 foo -all", "unknown mechanism"),
        ("v=spf1 ++all", "unknown mechanism"),
        ("v=spf1 !all", "unknown mechanism"),
        ("v=spf1 -", "unknown mechanism"),
        ("v=spf1 all:x", "all takes no such argument"),
        ("v=spf1 ptr/24", "ptr takes no such argument"),
        ("v=spf1 include -all", "include needs a domain"),
        ("v=spf1 include: -all", "invalid domain"),
        ("v=spf1 exists", "exists needs a domain"),
        ("v=spf1 include:localhost", "invalid domain"),
        ("v=spf1 a:192.0.2.1", "invalid domain"),
        ("v=spf1 include:%{z}.example.com", "invalid domain"),
        ("v=spf1 a:example.com/33", "invalid CIDR length"),
        ("v=spf1 mx//129", "invalid CIDR length"),
        ("v=spf1 a/024", "invalid CIDR length"),
        ("v=spf1 ip4", "ip4 needs a network"),
        ("v=spf1 ip4:192.0.2.0/33", "invalid CIDR length"),
        ("v=spf1 ip4:192.0.2.0/", "invalid CIDR length"),
        ("v=spf1 ip4:192.0.2", "invalid IPv4 address"),
        ("v=spf1 ip4:192.0.02.1", "invalid IPv4 address"),
        ("v=spf1 ip4:2001:db8::1", "invalid IPv4 address"),
        ("v=spf1 ip6:2001:db8::/129", "invalid CIDR length"),
        ("v=spf1 ip6:2001:db8::/064", "invalid CIDR length"),
        ("v=spf1 ip6:2001:db8::/x", "invalid CIDR length"),
        ("v=spf1 ip6:2001:db8::g", "invalid IPv6 address"),
        ("v=spf1 ip6:192.0.2.1", "invalid IPv6 address"),
        ("v=spf1 ip6:fe80::1%eth0", "invalid IPv6 address"),
        ("v=spf1 redirect=a.example redirect=b.example", "duplicate redirect= modifier"),
        ("v=spf1 exp=a.example EXP=b.example", "duplicate exp= modifier"),
        ("v=spf1 redirect=", "invalid domain in redirect="),
        ("v=spf1 foo=%x", "invalid macro string"),
        ("v=spf1 include:ex\u00e4mple.com", "invalid domain"),
    ],
)
def test_parse_rejects_syntax_errors(text: str, reason: str) -> None:
    """Each RFC 7208 §12 violation is a syntax error (a permerror at receivers)."""
    result = parse_spf(text)
    assert isinstance(result, SpfSyntaxError)
    assert reason in str(result)


def test_redirect_is_ignored_when_all_is_present() -> None:
    """RFC 7208 §6.1: a record with an all mechanism never follows its redirect."""
    record = parse_spf("v=spf1 -all redirect=other.example")
    assert isinstance(record, SpfRecord)
    assert record.redirect == "other.example"
    assert record.effective_redirect is None


# --- the spf check through evaluate_domain ----------------------------------------------


@pytest.mark.parametrize(
    ("apex", "status", "words"),
    [
        pytest.param("v=spf1 include:amazonses.com -all", Status.PASS, "-all", id="hardfail"),
        pytest.param("v=spf1 include:amazonses.com ~all", Status.PASS, "~all", id="softfail"),
        pytest.param("v=spf1 mx ?all", Status.WARN, "?all", id="neutral"),
        pytest.param("v=spf1 ip4:192.0.2.1", Status.WARN, "no all", id="no-all"),
        pytest.param("v=spf1 ip4:192.0.2.1 +all", Status.FAIL, "+all", id="plus-all"),
        pytest.param("v=spf1 all", Status.FAIL, "+all", id="bare-all"),
        pytest.param("v=spf1 -all +all", Status.PASS, "-all", id="first-all-wins"),
        pytest.param("V=SPF1 INCLUDE:AMAZONSES.COM -ALL", Status.PASS, "1/10", id="upper-case"),
        pytest.param("v=spf1 foo:bar -all", Status.FAIL, "unknown mechanism", id="syntax"),
        pytest.param("v=spf1 ip6:2001:db8::/200 -all", Status.FAIL, "CIDR", id="ip6-cidr"),
    ],
)
def test_spf_policy(apex: str, status: Status, words: str) -> None:
    """-all/~all pass; ?all or no all warn; +all or a bare all (the whole internet) and
    syntax errors fail. Evaluation stops at the first all, so later ones do not count."""
    result = run(target(), spf_table(apex=apex))["spf"]
    assert result.status is status
    assert words in result.summary


def test_lookup_count_is_reported() -> None:
    """The summary and the report carry the tree's DNS-querying term count."""
    checked = run(target(), spf_table(apex="v=spf1 a mx include:amazonses.com -all"))
    assert "3/10 DNS lookups" in checked["spf"].summary
    assert checked.report.spf_dns_lookups == 3


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(NX, id="nxdomain"),
        pytest.param(NODATA, id="nodata"),
        pytest.param(rec("google-site-verification=x", "v=spf10 -all"), id="other-txt"),
    ],
)
def test_no_spf_record_warns(answer: Answer) -> None:
    """Without a v=spf1 TXT the result is none: a warning, and no lookup count."""
    table = good_table() | {(DOMAIN, "TXT"): answer}
    checked = run(target(), table)
    assert checked.status("spf") is Status.WARN
    assert "no SPF record" in checked["spf"].summary
    assert "v=spf1" in checked["spf"].remedy
    assert checked.report.spf_dns_lookups is None


def test_two_spf_records_fail() -> None:
    """More than one v=spf1 record at a name is a permerror (RFC 7208 §4.5)."""
    table = good_table() | {
        (DOMAIN, "TXT"): rec("v=spf1 include:amazonses.com -all", "v=spf1 mx -all")
    }
    result = run(target(), table)["spf"]
    assert result.status is Status.FAIL
    assert "2 SPF records" in result.summary
    assert "merge" in result.remedy


@pytest.mark.parametrize(
    ("count", "status"),
    [pytest.param(10, Status.PASS, id="10-lookups"), pytest.param(11, Status.FAIL, id="11")],
)
def test_ten_lookups_pass_eleven_fail(count: int, status: Status) -> None:
    """RFC 7208 §4.6.4: more than 10 DNS-querying terms is a permerror."""
    table = spf_table(apex=f"v=spf1 {includes('i', count)} -all") | leaf_table("i", count)
    checked = run(target(), table)
    assert checked.status("spf") is status
    assert checked.report.spf_dns_lookups == count


def test_lookups_are_counted_across_the_tree() -> None:
    """Includes and redirects count, and so do the terms of the records they reach; ptr and
    exists count without being fetched; ip4/ip6/all/exp do not count."""
    table = spf_table(
        ("l1.example.net", "v=spf1 include:l2.example.net a mx ptr ~all"),
        ("l2.example.net", "v=spf1 exists:%{i}.x.example.net ip4:192.0.2.1 -all"),
        ("r.example.net", "v=spf1 include:amazonses.com ip6:2001:db8::/32 -all"),
        apex="v=spf1 include:l1.example.net exp=why.example.net redirect=r.example.net",
    )
    table |= {("l1.example.net", "A"): rec("192.0.2.1"), ("l1.example.net", "MX"): rec("10 m")}
    checked = run(target(), table)
    # include l1, include l2, a, mx, ptr, exists, redirect r, include amazonses.com
    assert checked.report.spf_dns_lookups == 8
    assert checked.status("spf") is Status.PASS
    assert ("why.example.net", "TXT") not in checked.asked
    assert not any(name.startswith("%") or "x.example.net" in name for name, _ in checked.asked)


def test_ptr_and_exists_push_the_count_over_ten() -> None:
    """ptr and exists count towards the limit although nothing is fetched for them."""
    table = spf_table(apex=f"v=spf1 {includes('i', 9)} ptr exists:%{{i}}.e.example -all")
    table |= leaf_table("i", 9)
    assert run(target(), table).status("spf") is Status.FAIL


def test_walk_stops_fetching_past_the_limit() -> None:
    """A wide tree is not fetched beyond the 11th term: the permerror is already certain,
    and asking for every name would let a hostile record make us send many queries."""
    apex = f"v=spf1 {includes('w', 10)} -all"
    table = spf_table(apex=apex) | {
        (f"w{i}.example.net", "TXT"): rec(f"v=spf1 {includes(f'w{i}x', 10)} -all")
        for i in range(10)
    }
    checked = run(target(), table)
    assert checked.status("spf") is Status.FAIL
    assert "at least 20 DNS lookups (limit 10)" in checked["spf"].summary
    spf_names = {n for n, t in checked.asked if t == "TXT" and n.endswith("example.net")}
    assert len(spf_names) <= 10
    assert checked.report.spf_dns_lookups is not None
    assert checked.report.spf_dns_lookups > 10


@pytest.mark.parametrize(
    ("targets", "status"),
    [
        pytest.param(("a:nx1.example", "mx:nx2.example"), Status.PASS, id="2-void"),
        pytest.param(("a:nx1.example", "mx:nx2.example", "a:nx3.example"), Status.FAIL, id="3"),
        pytest.param(("a", "mx", "a:nx3.example"), Status.FAIL, id="bare-a-mx-nodata"),
    ],
)
def test_void_lookups(targets: tuple[str, ...], status: Status) -> None:
    """RFC 7208 §4.6.4: more than 2 lookups answering NXDOMAIN or NODATA is a permerror;
    a/mx query the A/MX of their target, or of the record's own domain when bare."""
    table = spf_table(apex=f"v=spf1 {' '.join(targets)} include:amazonses.com -all")
    table |= {(DOMAIN, "A"): NODATA, (DOMAIN, "MX"): NODATA}
    checked = run(target(mail_from=None, tokens=()), table)
    assert checked.status("spf") is status
    if status is Status.FAIL:
        assert "3 void lookups" in checked["spf"].summary


def test_include_of_a_missing_domain_is_void_and_a_permerror() -> None:
    """An include whose target does not exist counts as a void lookup and, having no SPF
    record, is a permerror."""
    evaluation = evaluate_spf(DOMAIN, FakeView(spf_table(apex="v=spf1 include:gone.example -all")))
    assert evaluation.outcome is SpfOutcome.PERMERROR
    assert evaluation.void_lookups == 1
    assert [p.code for p in evaluation.problems] == ["include_without_spf"]


def test_include_of_a_domain_without_spf_fails() -> None:
    """An include target that publishes TXT but no SPF record is a permerror (RFC 7208 §5.2)."""
    table = spf_table(
        ("nospf.example", "some-verification=1"), apex="v=spf1 include:nospf.example -all"
    )
    result = run(target(), table)["spf"]
    assert result.status is Status.FAIL
    assert "include:nospf.example has no SPF record" in result.summary


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param((("a.example", "v=spf1 include:example.com -all"),), id="back-to-apex"),
        pytest.param(
            (
                ("a.example", "v=spf1 include:b.example -all"),
                ("b.example", "v=spf1 include:a.example -all"),
            ),
            id="two-step",
        ),
        pytest.param((("a.example", "v=spf1 redirect=a.example"),), id="self-redirect"),
    ],
)
def test_include_loop_fails(entries: tuple[tuple[str, str], ...]) -> None:
    """A record that includes or redirects back to one of its ancestors is a loop."""
    table = spf_table(*entries, apex="v=spf1 include:a.example -all")
    result = run(target(), table)["spf"]
    assert result.status is Status.FAIL
    assert "loops" in result.summary


def test_diamond_includes_are_not_a_loop() -> None:
    """Two branches reaching one domain is legal; its terms count once per branch."""
    table = spf_table(
        ("a.example", "v=spf1 include:c.example -all"),
        ("b.example", "v=spf1 include:c.example -all"),
        ("c.example", "v=spf1 a:c.example -all"),
        apex="v=spf1 include:a.example include:b.example -all",
    )
    table |= {("c.example", "A"): rec("192.0.2.1")}
    checked = run(target(), table)
    assert checked.status("spf") is Status.PASS
    assert checked.report.spf_dns_lookups == 6


@pytest.mark.parametrize(
    ("redirected", "status", "words"),
    [
        pytest.param("v=spf1 ip4:192.0.2.0/24 -all", Status.PASS, "-all", id="hardfail"),
        pytest.param("v=spf1 ip4:192.0.2.0/24 ?all", Status.WARN, "?all", id="neutral"),
        pytest.param("v=spf1 +all", Status.FAIL, "+all", id="plus-all"),
        pytest.param("v=spf1 redirect=_spf2.example.net", Status.PASS, "~all", id="chain"),
        pytest.param("not spf", Status.FAIL, "has no SPF record", id="no-spf"),
    ],
)
def test_redirect_takes_the_target_policy(redirected: str, status: Status, words: str) -> None:
    """Without an all, the policy is the redirect target's (RFC 7208 §6.1); a redirect to
    a domain without SPF is a permerror."""
    table = spf_table(
        ("_spf.example.net", redirected),
        ("_spf2.example.net", "v=spf1 ~all"),
        apex="v=spf1 mx redirect=_spf.example.net",
    )
    result = run(target(), table)["spf"]
    assert result.status is status
    assert words in result.summary


def test_redirect_with_all_is_not_followed() -> None:
    """An all mechanism makes redirect= dead: not fetched and not counted."""
    table = spf_table(apex="v=spf1 -all redirect=nowhere.example")
    checked = run(target(), table)
    assert checked.status("spf") is Status.PASS
    assert checked.report.spf_dns_lookups == 0
    assert ("nowhere.example", "TXT") not in checked.asked


def test_include_targets_do_not_define_the_policy() -> None:
    """An included record's +all only means "match" inside the include; the top-level
    record's own all decides the domain's policy."""
    table = spf_table(("wide.example", "v=spf1 +all"), apex="v=spf1 include:wide.example -all")
    assert run(target(), table).status("spf") is Status.PASS


def test_macro_targets_count_but_are_not_fetched() -> None:
    """Macros expand per message: the term counts, nothing is asked, and a redirect to a
    macro leaves the policy undetermined (a warning that does not claim a neutral result)."""
    table = spf_table(apex="v=spf1 include:%{i}.spf.example.net redirect=%{l}.r.example.net")
    checked = run(target(), table)
    assert checked.report.spf_dns_lookups == 2
    assert checked.status("spf") is Status.WARN
    assert "macro redirect" in checked["spf"].summary
    assert "depends on the message" in checked["spf"].summary
    assert "neutral" not in checked["spf"].summary
    assert not any("%" in name for name, _ in checked.asked)


def test_d_macro_expands_without_a_message() -> None:
    """%{d} is the domain whose record holds the term, so a redirect=%{d}... is followed
    and its target's ~all is the policy: softfail, not "a neutral result"."""
    table = spf_table(
        ("example.com._spf.example.net", "v=spf1 include:amazonses.com ~all"),
        ("com.example.r.example.net", "v=spf1 ip4:192.0.2.0/24 ~all"),
        apex="v=spf1 include:%{d}._spf.example.net redirect=%{dr}.r.example.net",
    )
    checked = run(target(), table)
    assert checked.status("spf") is Status.PASS, checked["spf"]
    assert "ends in ~all" in checked["spf"].summary
    assert ("example.com._spf.example.net", "TXT") in checked.asked


@pytest.mark.parametrize(
    "text",
    [
        "v=spf1 include:%{t}.example.net -all",
        "v=spf1 exists:%{c}.example.net -all",
        "v=spf1 redirect=%{r}.example.net",
        "v=spf1 -all exp=%{r}.example.net",
        "v=spf1 a:%{C}.example.net -all",
    ],
)
def test_explanation_only_macros_are_syntax_errors(text: str) -> None:
    """c, r and t expand only in explanation text (RFC 7208 §7.3): pyspf's permerror."""
    assert isinstance(parse_spf(text), SpfSyntaxError)
    assert run(target(), spf_table(apex=text)).status("spf") is Status.FAIL


def test_explanation_macros_allowed_in_unknown_modifiers() -> None:
    """An unknown modifier is never expanded, so its value may hold any macro letter."""
    assert isinstance(parse_spf("v=spf1 x-note=%{c} -all"), SpfRecord)


@pytest.mark.parametrize(
    "term",
    ["ip4:192.0.2.1/0", "ip6:2001:db8::/0", "a/0", "mx/0", "a//0", "+mx:example.com//0"],
)
def test_zero_prefix_terms_pass_every_sender_like_plus_all(term: str) -> None:
    """A /0 term matches every address of its family: the record passes everyone however it
    ends; the remedy removes the term and keeps the rest."""
    table = spf_table(apex=f"v=spf1 {term} include:amazonses.com -all")
    table[DOMAIN, "A"] = rec("192.0.2.7")
    table[DOMAIN, "AAAA"] = rec("2001:db8::7")
    result = run(target(), table)["spf"]
    assert result.status is Status.FAIL
    assert "like +all" in result.summary
    assert term.removeprefix("+") in result.summary
    assert [r.value for r in result.records] == ['"v=spf1 include:amazonses.com -all"']


def test_zero_prefix_in_an_include_passes_every_sender() -> None:
    """An included record that matches everything makes the include match everything."""
    table = spf_table(
        ("open.example.net", "v=spf1 ip4:0.0.0.0/0 -all"),
        apex="v=spf1 include:open.example.net -all",
    )
    result = run(target(), table)["spf"]
    assert result.status is Status.FAIL
    assert "ip4:0.0.0.0/0 (in open.example.net)" in result.summary
    assert result.records == ()
    for text in ("v=spf1 -include:open.example.net -all", "v=spf1 -all ip4:0.0.0.0/0"):
        # a match under - fails the sender; a term after all is never evaluated
        assert run(target(), table | {(DOMAIN, "TXT"): rec(text)}).status("spf") is Status.PASS


@pytest.mark.parametrize(
    ("term", "wide"),
    [
        ("ip4:10.0.0.0/7", True),
        ("ip6:2001::/31", True),
        ("ip4:10.0.0.0/8", False),
        ("ip6:2001:db8::/32", False),
        ("a/4", True),
        ("-ip4:10.0.0.0/1", False),
    ],
)
def test_very_wide_ranges_warn_naming_the_term(term: str, *, wide: bool) -> None:
    """Shorter than /8 (IPv4) or /32 (IPv6) passes a large part of the internet."""
    table = spf_table(apex=f"v=spf1 {term} include:amazonses.com -all")
    table[DOMAIN, "A"] = rec("192.0.2.7")
    table[DOMAIN, "AAAA"] = rec("2001:db8::7")
    result = run(target(), table)["spf"]
    assert result.status is (Status.WARN if wide else Status.PASS), result
    if wide:
        assert term in result.summary


def test_aaaa_void_lookups_warn_for_ipv6_senders() -> None:
    """Five a terms with A but no AAAA records: fine for an IPv4 sender, permerror for an
    IPv6 one (pyspf), so a warning naming the terms."""
    hosts = [f"h{i}.example.net" for i in range(5)]
    table = spf_table(apex="v=spf1 " + " ".join(f"a:{h}" for h in hosts) + " -all")
    for host in hosts:
        table[host, "A"] = rec("192.0.2.1")
        table[host, "AAAA"] = NODATA
    result = run(target(), table)["spf"]
    assert result.status is Status.WARN
    assert "IPv6" in result.summary
    assert "a:h0.example.net" in result.summary
    table |= {(host, "AAAA"): rec("2001:db8::1") for host in hosts[2:]}
    assert run(target(), table).status("spf") is Status.PASS  # two voids are within the limit


def test_mx_target_with_more_than_ten_mx_records_fails() -> None:
    """An mx term may not need more than 10 address lookups (RFC 7208 §4.6.4)."""
    table = spf_table(apex="v=spf1 mx:big.example -all")
    table |= {("big.example", "MX"): rec(*(f"10 mx{i}.big.example" for i in range(11)))}
    assert run(target(), table).status("spf") is Status.FAIL


def test_invalid_include_target_is_not_asked() -> None:
    """A target too long to be a DNS name is a permerror and never reaches the resolver."""
    long_label = "x" * 64
    table = spf_table(apex=f"v=spf1 include:{long_label}.example -all")
    checked = run(target(), table)
    assert checked.status("spf") is Status.FAIL
    assert not any(long_label in name for name, _ in checked.asked)


# --- errors: unknown, never a false verdict ---------------------------------------------


def test_apex_txt_error_is_unknown() -> None:
    """A failed lookup of the record itself says nothing: unknown, no lookup count."""
    checked = run(target(), good_table() | {(DOMAIN, "TXT"): TIMEOUT})
    assert checked.status("spf") is Status.UNKNOWN
    assert "timeout" in checked["spf"].summary
    assert checked.report.spf_dns_lookups is None


@pytest.mark.parametrize(
    ("name", "rdtype"),
    [("amazonses.com", "TXT"), ("host.example", "A"), ("mail.example", "MX")],
)
def test_error_inside_the_tree_is_unknown(name: str, rdtype: str) -> None:
    """An include, a or mx lookup that failed could hide a permerror: unknown."""
    table = spf_table(apex="v=spf1 include:amazonses.com a:host.example mx:mail.example -all")
    table |= {("host.example", "A"): rec("192.0.2.1"), ("mail.example", "MX"): rec("10 m")}
    table[name, rdtype] = TIMEOUT
    checked = run(target(), table)
    assert checked.status("spf") is Status.UNKNOWN
    assert checked.report.spf_dns_lookups is None


@pytest.mark.parametrize(
    "apex",
    [
        pytest.param("v=spf1 include:amazonses.com +all", id="plus-all"),
        pytest.param("v=spf1 include:amazonses.com include:nospf.example -all", id="no-spf"),
        pytest.param(f"v=spf1 include:amazonses.com {includes('i', 10)} -all", id="11-lookups"),
    ],
)
def test_definite_failure_wins_over_an_error_elsewhere(apex: str) -> None:
    """A failure read from fetched data does not depend on the errored answer: fail."""
    table = spf_table(("nospf.example", "hello"), apex=apex) | leaf_table("i", 10)
    table[SES] = TIMEOUT
    assert run(target(), table).status("spf") is Status.FAIL


@pytest.mark.parametrize(
    "apex",
    [
        "v=spf1 -all include:amazonses.com",  # after all: never evaluated
        "v=spf1 -include:amazonses.com ~all",  # a match fails SES's addresses
        "v=spf1 ?include:amazonses.com -all",
        "v=spf1 -include:a.example ~all",  # not passing, however deep
    ],
)
def test_only_passing_includes_before_all_authorize(apex: str) -> None:
    """mail_from_spf needs SES *passed*: qualifier and position both matter (RFC 7208 §5)."""
    table = spf_table(("a.example", "v=spf1 include:amazonses.com -all"), apex=apex)
    evaluation = evaluate_spf("example.com", FakeView(table))
    assert not evaluation.authorizes("amazonses.com")


def test_terms_after_all_are_not_counted() -> None:
    table = spf_table(apex="v=spf1 -all " + " ".join(f"include:i{n}.example" for n in range(12)))
    evaluation = evaluate_spf("example.com", FakeView(table))
    assert evaluation.lookups == 0
    assert evaluation.outcome is not SpfOutcome.PERMERROR


def test_authorizes_lists_include_and_redirect_targets() -> None:
    """`authorizes` answers "does the tree reach this domain", for mail_from_spf."""
    table = spf_table(
        ("a.example", "v=spf1 redirect=b.example"),
        ("b.example", "v=spf1 include:amazonses.com -all"),
        apex="v=spf1 include:a.example -all",
    )
    evaluation = evaluate_spf("EXAMPLE.COM.", FakeView(table))
    assert evaluation.policy is SpfPolicy.FAIL
    assert evaluation.authorized == {"a.example", "b.example", "amazonses.com"}
    assert evaluation.authorizes("AmazonSES.com.")
    assert not evaluation.authorizes("example.com")
