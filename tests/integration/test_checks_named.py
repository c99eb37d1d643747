"""Every check's verdicts through the real path: DnsClient -> BIND's `named` -> check_domain.

The zones are tests/zones/chk-*.zone (one or more per check) plus the demo's amazonses.com.
Names under broken.test SERVFAIL (named refuses to load that zone) and names in zones named
does not serve are REFUSED, so a record that leads there makes exactly one lookup fail.
Each case's id says the behaviour it pins: ``<check>-<status>-<what>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from conftest import NamedServer

from exporter.checks import CHECK_IDS
from exporter.jobs.dns import check_domain
from exporter.model import CheckResult, DomainReport, DomainTarget, Status
from exporter.sources.dns import TRANSPORTS, DnsClient

pytestmark = pytest.mark.integration

PASS, WARN, FAIL, UNKNOWN = Status.PASS, Status.WARN, Status.FAIL, Status.UNKNOWN

# SES Easy DKIM tokens. H1-H3 have keys in the demo amazonses.com zone; NOKEY has none
# there; BADKEY only exists in chk-dkim.test's own signing zone.
H1 = "h1healthyaaaaaaaaaaaaaaaaaaaaaaa"
H2 = "h2healthybbbbbbbbbbbbbbbbbbbbbbb"
H3 = "h3healthyccccccccccccccccccccccc"
HEALTHY = (H1, H2, H3)
NOKEY = "k1nokeyaaaaaaaaaaaaaaaaaaaaaaaaa"
BADKEY = "r1badkeyaaaaaaaaaaaaaaaaaaaaaaaa"
OWN_KEYS = "keys.chk-dkim.test"  # a known SigningHostedZone whose keys chk-dkim.test serves
BROKEN_KEYS = "dkim.broken.test"  # a signing zone whose key lookups SERVFAIL
MAIL_FROM_DOMAIN = "chk-mailfrom.test"


TRANSPORT = "wire"


@pytest.fixture(autouse=True, params=TRANSPORTS)
def _transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case runs on both DNS paths: the verdicts must be identical."""
    monkeypatch.setitem(globals(), "TRANSPORT", request.param)


def run_checks(
    nameservers: list[tuple[str, int]], target: DomainTarget, timeout: float = 0.5
) -> DomainReport:
    """One check cycle for one domain, as the exporter runs it."""

    async def cycle() -> DomainReport:
        client = DnsClient(nameservers=nameservers, timeout=timeout, transport=TRANSPORT)
        try:
            return await check_domain(client, target)
        finally:
            await client.aclose()

    return asyncio.run(cycle())


def ns(named: NamedServer) -> list[tuple[str, int]]:
    return [(named.host, named.port)]


def by_check(report: DomainReport) -> dict[str, CheckResult]:
    return {result.check: result for result in report.checks}


@dataclass(frozen=True)
class Case:
    """One verdict to reproduce: ``summary``/``remedy`` are fragments they must contain;
    ``report`` holds expected DomainReport fields (dmarc_policy_level, ...)."""

    target: DomainTarget
    check: str
    status: Status
    summary: str = ""
    remedy: str = ""
    report: Mapping[str, object] = field(default_factory=dict)


def case(  # noqa: PLR0917 -- table rows read id, domain, check, status, summary, remedy
    case_id: str,
    domain: str,
    check: str,
    status: Status,
    summary: str = "",
    remedy: str = "",
    *,
    mail_from: str | None = None,
    tokens: tuple[str, ...] = (),
    region: str | None = None,
    signing_zone: str | None = None,
    **report: object,
):
    """One row of the verdict table."""
    target = DomainTarget(domain, mail_from, tokens, region, signing_zone)
    return pytest.param(Case(target, check, status, summary, remedy, report), id=case_id)


def mail_from_case(  # noqa: PLR0917 -- same row shape as case()
    case_id: str,
    label: str,
    check: str,
    status: Status,
    summary: str = "",
    remedy: str = "",
    *,
    region: str | None = "us-east-1",
    **report: object,
):
    """A MAIL FROM check on <label>.chk-mailfrom.test (the sending domain is healthy)."""
    return case(
        case_id,
        MAIL_FROM_DOMAIN,
        check,
        status,
        summary,
        remedy,
        mail_from=f"{label}.{MAIL_FROM_DOMAIN}",
        region=region,
        **report,
    )


MX_CASES = [
    case("mx-pass-two-mx-by-preference", "two-mx.chk-mx.test", "mx", PASS,
         "MX two-mx.chk-mx.test: mx1.chk-mx.test, mx2.chk-mx.test"),
    case("mx-pass-via-cname", "alias.chk-mx.test", "mx", PASS, "mx1.chk-mx.test, mx2.chk-mx.test"),
    case("mx-pass-name-case-and-trailing-dot-ignored", "Two-MX.CHK-MX.test.", "mx", PASS,
         "MX two-mx.chk-mx.test: "),
    case("mx-pass-implicit-mx-a-only", "a-only.chk-mx.test", "mx", PASS,
         "its A/AAAA is the implicit MX"),
    case("mx-pass-implicit-mx-aaaa-only", "aaaa-only.chk-mx.test", "mx", PASS,
         "its A/AAAA is the implicit MX"),
    case("mx-fail-null-mx", "null.chk-mx.test", "mx", FAIL, "null MX (RFC 7505)",
         "remove the null MX (null.chk-mx.test. MX 0 .)"),
    case("mx-fail-nxdomain-apex", "nx.chk-mx.test", "mx", FAIL,
         "nx.chk-mx.test does not exist (NXDOMAIN)", "publish nx.chk-mx.test. MX 10"),
    case("mx-fail-no-mx-no-address", "no-address.chk-mx.test", "mx", FAIL,
         "has no MX and no A/AAAA record"),
    case("mx-unknown-servfail", "down.chk-mx.test", "mx", UNKNOWN,
         "MX down.chk-mx.test lookup failed: servfail"),
]  # fmt: skip

SPF_CASES = [
    case("spf-pass-minus-all", "fail-all.chk-spf.test", "spf", PASS,
         "ends in -all, 0/10 DNS lookups", spf_dns_lookups=0),
    case("spf-pass-tilde-all", "softfail.chk-spf.test", "spf", PASS,
         "ends in ~all, 1/10 DNS lookups", spf_dns_lookups=1),
    case("spf-pass-multi-string-txt-joined", "split.chk-spf.test", "spf", PASS,
         "ends in ~all, 1/10", spf_dns_lookups=1),
    case("spf-pass-redirect-takes-target-policy", "redirect.chk-spf.test", "spf", PASS,
         "ends in -all, 2/10", spf_dns_lookups=2),
    case("spf-pass-exactly-10-lookups", "lookups-10.chk-spf.test", "spf", PASS, "10/10",
         spf_dns_lookups=10),
    case("spf-pass-2-void-lookups", "void-2.chk-spf.test", "spf", PASS, "~all",
         spf_dns_lookups=2),
    case("spf-warn-neutral-all", "neutral.chk-spf.test", "spf", WARN,
         "ends in ?all, 0/10 DNS lookups: unauthorized mail gets a neutral result",
         "end the record in ~all (or -all)", spf_dns_lookups=0),
    case("spf-warn-no-record", "no-spf.chk-spf.test", "spf", WARN,
         "no SPF record at no-spf.chk-spf.test", 'TXT "v=spf1 include:amazonses.com ~all"',
         spf_dns_lookups=None),
    case("spf-warn-no-all-no-redirect", "no-all.chk-spf.test", "spf", WARN, "ends in no all"),
    case("spf-warn-redirect-to-neutral", "redirect-neutral.chk-spf.test", "spf", WARN,
         "ends in ?all, 1/10", spf_dns_lookups=1),
    case("spf-warn-all-overrides-redirect", "all-wins.chk-spf.test", "spf", WARN,
         "ends in ?all, 0/10", spf_dns_lookups=0),
    case("spf-fail-plus-all", "plus-all.chk-spf.test", "spf", FAIL,
         "ends in +all and authorizes the whole internet", "end the record in ~all (or -all)"),
    case("spf-fail-ip4-zero-prefix-like-plus-all", "ip4-zero.chk-spfopen.test", "spf", FAIL,
         "passes every sender like +all: ip4:192.0.2.0/0",
         'TXT "v=spf1 include:amazonses.com -all"'),
    case("spf-fail-a-zero-prefix-like-plus-all", "a-zero.chk-spfopen.test", "spf", FAIL,
         "passes every sender like +all: a/0", 'TXT "v=spf1 include:amazonses.com ~all"'),
    case("spf-fail-bare-all-is-plus-all", "bare-all.chk-spf.test", "spf", FAIL, "+all"),
    case("spf-fail-two-records", "two-records.chk-spf.test", "spf", FAIL,
         "two-records.chk-spf.test has 2 SPF records", "merge them into one TXT record"),
    case("spf-fail-syntax-bad-ip4", "syntax.chk-spf.test", "spf", FAIL,
         "invalid IPv4 address: 'ip4:192.0.2.300'", "fix the syntax"),
    case("spf-fail-syntax-unknown-mechanism", "typo.chk-spf.test", "spf", FAIL,
         "unknown mechanism: 'ipv4:192.0.2.1'"),
    case("spf-fail-11-lookups", "lookups-11.chk-spf.test", "spf", FAIL,
         "at least 11 DNS lookups (limit 10)", "cut DNS-querying terms", spf_dns_lookups=11),
    case("spf-fail-3-void-lookups", "void-3.chk-spf.test", "spf", FAIL,
         "3 void lookups (limit 2)", "remove a:, mx: and include: terms", spf_dns_lookups=3),
    case("spf-fail-mx-term-with-11-mx-records", "mx-11.chk-spf.test", "spf", FAIL,
         "mx:many-mx.chk-spf.test has more than 10 MX records", "at most 10 MX records"),
    case("spf-fail-include-without-spf", "include-nospf.chk-spf.test", "spf", FAIL,
         "include:no-spf.chk-spf.test has no SPF record", "remove the include/redirect"),
    case("spf-fail-include-nxdomain", "include-nx.chk-spf.test", "spf", FAIL,
         "include:nx.chk-spf.test has no SPF record"),
    case("spf-fail-redirect-without-spf", "redirect-nospf.chk-spf.test", "spf", FAIL,
         "redirect:no-spf.chk-spf.test has no SPF record"),
    case("spf-fail-include-of-two-records", "include-two.chk-spf.test", "spf", FAIL,
         "two-records.chk-spf.test has 2 SPF records"),
    case("spf-fail-include-loop", "loop-a.chk-spf.test", "spf", FAIL,
         "include:loop-a.chk-spf.test in loop-b.chk-spf.test loops",
         "remove the include/redirect that leads back"),
    case("spf-fail-self-include", "self.chk-spf.test", "spf", FAIL,
         "include:self.chk-spf.test in self.chk-spf.test loops"),
    case("spf-fail-plus-all-despite-failed-include", "plus-all-down.chk-spf.test", "spf", FAIL,
         "+all", spf_dns_lookups=None),
    case("spf-fail-permerror-despite-failed-include", "permerror-down.chk-spf.test", "spf", FAIL,
         "include:no-spf.chk-spf.test has no SPF record", spf_dns_lookups=2),
    case("spf-unknown-include-servfail", "include-down.chk-spf.test", "spf", UNKNOWN,
         "TXT spf.broken.test: servfail", spf_dns_lookups=None),
    case("spf-unknown-a-mechanism-servfail", "a-down.chk-spf.test", "spf", UNKNOWN,
         "A host.broken.test: servfail", spf_dns_lookups=None),
    case("spf-unknown-redirect-servfail", "redirect-down.chk-spf.test", "spf", UNKNOWN,
         "TXT spf.broken.test: servfail", spf_dns_lookups=None),
    case("spf-unknown-include-refused", "include-refused.chk-spf.test", "spf", UNKNOWN,
         "TXT spf.not-served.example: refused", spf_dns_lookups=None),
]  # fmt: skip

DKIM_CASES = [
    case("dkim-pass-three-tokens", "pass.chk-dkim.test", "dkim", PASS,
         "3 DKIM CNAMEs lead to SES keys", tokens=HEALTHY),
    case("dkim-pass-regional-region-with-global-cname", "pass.chk-dkim.test", "dkim", PASS,
         tokens=HEALTHY, region="af-south-1"),
    case("dkim-pass-known-signing-zone", "own-zone.chk-dkim.test", "dkim", PASS,
         "1 DKIM CNAMEs lead to SES keys", tokens=(H1,), signing_zone=OWN_KEYS),
    case("dkim-pass-key-split-over-strings", "split-key.chk-dkim.test", "dkim", PASS,
         tokens=(H2,), signing_zone=OWN_KEYS),
    case("dkim-fail-missing-cname", "missing.chk-dkim.test", "dkim", FAIL,
         f"1 of 3 DKIM tokens broken: {H3} (no CNAME)",
         f"{H3}._domainkey.missing.chk-dkim.test. 3600 IN CNAME {H3}.dkim.amazonses.com.",
         tokens=HEALTHY),
    case("dkim-fail-missing-cname-remedy-names-regional-zone", "missing.chk-dkim.test", "dkim",
         FAIL, f"{H3} (no CNAME)", f"CNAME {H3}.dkim.af-south-1.amazonses.com.",
         tokens=HEALTHY, region="af-south-1"),
    case("dkim-fail-cname-to-wrong-target", "wrong.chk-dkim.test", "dkim", FAIL,
         f"{H1} (CNAME points to {H1}.amazonses.com)", tokens=(H1,)),
    case("dkim-fail-txt-key-instead-of-cname", "txt-key.chk-dkim.test", "dkim", FAIL,
         f"{H1} (no CNAME)", tokens=(H1,)),
    case("dkim-fail-target-without-key", "no-key.chk-dkim.test", "dkim", FAIL,
         f"no DKIM key at {NOKEY}.dkim.amazonses.com", tokens=(NOKEY,)),
    case("dkim-fail-regional-cname-accepted-for-its-region-no-key", "regional.chk-dkim.test",
         "dkim", FAIL, f"no DKIM key at {H1}.dkim.af-south-1.amazonses.com", tokens=(H1,),
         region="af-south-1"),
    case("dkim-fail-regional-cname-accepted-without-region-no-key", "regional.chk-dkim.test",
         "dkim", FAIL, f"no DKIM key at {H1}.dkim.af-south-1.amazonses.com", tokens=(H1,)),
    case("dkim-fail-regional-cname-of-another-region", "regional.chk-dkim.test", "dkim", FAIL,
         f"CNAME points to {H1}.dkim.af-south-1.amazonses.com", tokens=(H1,),
         region="eu-west-1"),
    case("dkim-fail-known-signing-zone-rejects-global-cname", "pass.chk-dkim.test", "dkim", FAIL,
         "3 of 3 DKIM tokens broken", f"CNAME {H1}.dkim.af-south-1.amazonses.com.",
         tokens=HEALTHY, signing_zone="dkim.af-south-1.amazonses.com"),
    case("dkim-fail-revoked-key", "revoked.chk-dkim.test", "dkim", FAIL,
         f"key at {H3}.keys.chk-dkim.test is revoked", tokens=(H3,), signing_zone=OWN_KEYS),
    case("dkim-fail-key-not-base64", "bad-key.chk-dkim.test", "dkim", FAIL,
         f"key at {BADKEY}.keys.chk-dkim.test is bad", tokens=(BADKEY,), signing_zone=OWN_KEYS),
    case("dkim-fail-broken-token-beats-lookup-error", "down-and-missing.chk-dkim.test", "dkim",
         FAIL, f"1 of 2 DKIM tokens broken: {H2} (no CNAME)", tokens=(H1, H2),
         signing_zone=BROKEN_KEYS),
    case("dkim-unknown-key-lookup-servfail", "down.chk-dkim.test", "dkim", UNKNOWN,
         f"DKIM lookup failed: TXT {H1}.dkim.broken.test: servfail", tokens=(H1,),
         signing_zone=BROKEN_KEYS),
]  # fmt: skip

DMARC_CASES = [
    case("dmarc-pass-reject", "reject.chk-dmarc.test", "dmarc", PASS,
         "DMARC p=reject for reject.chk-dmarc.test at _dmarc.reject.chk-dmarc.test",
         dmarc_policy_level=2),
    case("dmarc-pass-quarantine-without-spaces", "quarantine.chk-dmarc.test", "dmarc", PASS,
         "DMARC p=quarantine", dmarc_policy_level=1),
    case("dmarc-pass-multi-string-txt-joined", "split.chk-dmarc.test", "dmarc", PASS,
         "DMARC p=reject", dmarc_policy_level=2),
    case("dmarc-pass-org-domain-itself-gets-p-not-sp", "chk-dmarc.test", "dmarc", PASS,
         "DMARC p=reject for chk-dmarc.test at _dmarc.chk-dmarc.test", dmarc_policy_level=2),
    case("dmarc-warn-testing-mode-one-step-lower", "testing.chk-rfc9989.test", "dmarc", WARN,
         "t=y (testing, RFC 9989): receivers that follow it apply quarantine instead of reject",
         "remove t=y", dmarc_policy_level=1),
    case("dmarc-warn-np-none-under-reject", "np-none.chk-rfc9989.test", "dmarc", WARN,
         "np=none: spoofed mail from non-existent subdomains", "set np=reject"),
    case("dmarc-fail-duplicate-p", "dup.chk-rfc9989.test", "dmarc", FAIL, "duplicate p=",
         "p=reject", dmarc_policy_level=-1),
    case("dmarc-fail-invalid-fo", "bad-fo.chk-rfc9989.test", "dmarc", FAIL,
         "invalid fo=2 (OpenDMARC applies no policy)", dmarc_policy_level=-1),
    case("dmarc-warn-leading-whitespace", "lead.chk-rfc9989.test", "dmarc", WARN,
         "starts with whitespace: some receivers discard it", dmarc_policy_level=2),
    case("dmarc-warn-tree-walk-and-psl-disagree", "deep.mid.chk-rfc9989.test", "dmarc", WARN,
         "RFC 9989 receivers (DNS tree walk) apply quarantine from _dmarc.mid.chk-rfc9989.test, "
         "RFC 7489 receivers (Public Suffix List) apply reject from _dmarc.chk-rfc9989.test",
         '_dmarc.deep.mid.chk-rfc9989.test. 3600 IN TXT "v=DMARC1; p=reject',
         dmarc_policy_level=1),
    # RFC 9989's tree walk stops at _dmarc.b; RFC 7489 jumps to the org's sp=quarantine
    case("dmarc-warn-tree-walk-finds-intermediate-record", "a.b.chk-dmarc.test", "dmarc", WARN,
         "DMARC p=none for a.b.chk-dmarc.test at _dmarc.b.chk-dmarc.test: spoofed mail is "
         "delivered (monitoring only) (RFC 7489 receivers apply quarantine from "
         "_dmarc.chk-dmarc.test)", dmarc_policy_level=0),
    case("dmarc-pass-non-dmarc-txt-discarded-falls-back", "not-dmarc.chk-dmarc.test", "dmarc",
         PASS, "sp=quarantine for not-dmarc.chk-dmarc.test at _dmarc.chk-dmarc.test",
         dmarc_policy_level=1),
    case("dmarc-pass-dangling-cname-falls-back", "dangling.chk-dmarc.test", "dmarc", PASS,
         "sp=quarantine for dangling.chk-dmarc.test at _dmarc.chk-dmarc.test",
         dmarc_policy_level=1),
    case("dmarc-pass-fallback-without-sp-applies-p", "sub.chk-vendor.test", "dmarc", PASS,
         "DMARC p=quarantine for sub.chk-vendor.test at _dmarc.chk-vendor.test",
         dmarc_policy_level=1),
    case("dmarc-pass-via-cname-to-other-zone", "cname.chk-dmarc.test", "dmarc", PASS,
         "DMARC p=quarantine for cname.chk-dmarc.test at _dmarc.cname.chk-dmarc.test "
         "(via CNAME _dmarc.cname.chk-dmarc.test)", dmarc_policy_level=1),
    case("dmarc-pass-org-domain-with-sp-none", "chk-dmarcsp.test", "dmarc", PASS,
         "DMARC p=reject", dmarc_policy_level=2),
    case("dmarc-warn-p-none", "none.chk-dmarc.test", "dmarc", WARN,
         "DMARC p=none for none.chk-dmarc.test", "p=quarantine", dmarc_policy_level=0),
    case("dmarc-warn-pct-below-100", "pct.chk-dmarc.test", "dmarc", WARN,
         "pct=50: RFC 7489 receivers apply it to only 50% of failing mail", "remove pct=", dmarc_policy_level=2),
    case("dmarc-warn-subdomain-falls-back-to-sp-none", "sub.chk-dmarcsp.test", "dmarc", WARN,
         "DMARC sp=none for sub.chk-dmarcsp.test at _dmarc.chk-dmarcsp.test",
         '_dmarc.chk-dmarcsp.test. 3600 IN TXT "v=DMARC1; p=reject; sp=reject; '
         'rua=mailto:dmarc@chk-dmarcsp.test"', dmarc_policy_level=0),
    case("dmarc-fail-missing", "chk-nodmarc.test", "dmarc", FAIL,
         "no DMARC record for chk-nodmarc.test", '_dmarc.chk-nodmarc.test. 3600 IN TXT "v=DMARC1',
         dmarc_policy_level=-1),
    case("dmarc-fail-missing-at-subdomain-and-org", "sub.chk-nodmarc.test", "dmarc", FAIL,
         "no DMARC record for sub.chk-nodmarc.test", dmarc_policy_level=-1),
    case("dmarc-fail-several-records", "several.chk-dmarc.test", "dmarc", FAIL,
         "_dmarc.several.chk-dmarc.test has several DMARC records", "keep exactly one",
         dmarc_policy_level=-1),
    case("dmarc-fail-invalid-p", "invalid-p.chk-dmarc.test", "dmarc", FAIL, "invalid p=block",
         dmarc_policy_level=-1),
    case("dmarc-fail-missing-p", "missing-p.chk-dmarc.test", "dmarc", FAIL, "missing p=",
         dmarc_policy_level=-1),
    case("dmarc-fail-invalid-sp", "invalid-sp.chk-dmarc.test", "dmarc", FAIL,
         "invalid sp=everything", dmarc_policy_level=-1),
    case("dmarc-fail-invalid-pct", "invalid-pct.chk-dmarc.test", "dmarc", FAIL,
         "invalid pct=150", dmarc_policy_level=-1),
    case("dmarc-unknown-cname-servfail", "down.chk-dmarc.test", "dmarc", UNKNOWN,
         "TXT _dmarc.down.chk-dmarc.test lookup failed: servfail", dmarc_policy_level=None),
]  # fmt: skip

REPORTS_CASES = [
    case("dmarc_reports-pass-own-domain", "own.chk-rua.test", "dmarc_reports", PASS,
         "aggregate reports go to dmarc@chk-rua.test"),
    case("dmarc_reports-pass-same-org-subdomain-mailbox", "own-sub.chk-rua.test",
         "dmarc_reports", PASS, "dmarc@reports.chk-rua.test"),
    case("dmarc_reports-pass-external-authorized", "ext-ok.chk-rua.test", "dmarc_reports",
         PASS, "aggregate reports go to agg@chk-vendor.test"),
    case("dmarc_reports-pass-external-with-size-limit", "size.chk-rua.test", "dmarc_reports",
         PASS, "agg@chk-vendor.test"),
    case("dmarc_reports-pass-fallback-authorized-for-org-domain", "sub.chk-rua.test",
         "dmarc_reports", PASS, "agg@chk-vendor.test"),
    case("dmarc_reports-pass-via-cname-authorized-for-alias-owner", "cname.chk-dmarc.test",
         "dmarc_reports", PASS, "agg@chk-vendor.test"),
    case("dmarc_reports-pass-with-p-none", "monitoring.chk-rua.test", "dmarc_reports", PASS,
         dmarc_policy_level=0),
    case("dmarc_reports-warn-external-not-authorized", "ext-unauth.chk-rua.test",
         "dmarc_reports", WARN,
         "do not authorize reports for ext-unauth.chk-rua.test: "
         "ext-unauth.chk-rua.test._report._dmarc.chk-vendor.test",
         'ext-unauth.chk-rua.test._report._dmarc.chk-vendor.test. 3600 IN TXT "v=DMARC1"'),
    case("dmarc_reports-warn-authorization-not-dmarc", "ext-not-dmarc.chk-rua.test",
         "dmarc_reports", WARN, "ext-not-dmarc.chk-rua.test._report._dmarc.chk-vendor.test"),
    case("dmarc_reports-warn-unauthorized-beats-failed-lookup", "unauth-down.chk-rua.test",
         "dmarc_reports", WARN, "unauth-down.chk-rua.test._report._dmarc.chk-vendor.test"),
    case("dmarc_reports-warn-no-rua", "no-rua.chk-rua.test", "dmarc_reports", WARN,
         "no rua=mailto:", "rua=mailto:dmarc-reports@no-rua.chk-rua.test"),
    case("dmarc_reports-warn-https-rua-only", "https-only.chk-rua.test", "dmarc_reports", WARN,
         "no rua=mailto:"),
    case("dmarc_reports-warn-invalid-mailbox-domain", "bad-host.chk-rua.test", "dmarc_reports",
         WARN, "without a valid domain: reports..chk-rua.test"),
    case("dmarc_reports-warn-no-dmarc-record", "chk-nodmarc.test", "dmarc_reports", WARN,
         "no valid DMARC record"),
    case("dmarc_reports-warn-invalid-dmarc-record", "invalid-p.chk-dmarc.test", "dmarc_reports",
         WARN, "no valid DMARC record"),
    case("dmarc_reports-unknown-authorization-servfail", "down.chk-rua.test", "dmarc_reports",
         UNKNOWN, "TXT lookup failed: down.chk-rua.test._report._dmarc.rua.broken.test",
         dmarc_policy_level=2),
    case("dmarc_reports-unknown-one-authorized-one-failed", "mixed-down.chk-rua.test",
         "dmarc_reports", UNKNOWN, "mixed-down.chk-rua.test._report._dmarc.rua.broken.test"),
    case("dmarc_reports-unknown-authorization-refused", "refused.chk-rua.test", "dmarc_reports",
         UNKNOWN, "refused.chk-rua.test._report._dmarc.not-served.example"),
    case("dmarc_reports-unknown-when-dmarc-unknown", "down.chk-dmarc.test", "dmarc_reports",
         UNKNOWN, "DMARC unknown", dmarc_policy_level=None),
]  # fmt: skip

MAIL_FROM_CASES = [
    mail_from_case("mail_from_resolvable-pass-a", "ok", "mail_from_resolvable", PASS,
                   "ok.chk-mailfrom.test resolves to 192.0.2.41", mail_from_resolvable=True),
    mail_from_case("mail_from_resolvable-pass-aaaa-only", "ok-v6", "mail_from_resolvable", PASS,
                   "resolves to 2001:db8::41", mail_from_resolvable=True),
    mail_from_case("mail_from_resolvable-fail-mx-and-spf-but-no-address", "no-address",
                   "mail_from_resolvable", FAIL, '"553 5.1.8 Domain of sender address',
                   "publish an A (and AAAA) record for no-address.chk-mailfrom.test",
                   mail_from_resolvable=False),
    mail_from_case("mail_from_resolvable-fail-nxdomain", "nx", "mail_from_resolvable", FAIL,
                   "has no A/AAAA record", mail_from_resolvable=False),
    mail_from_case("mail_from_resolvable-unknown-servfail", "down", "mail_from_resolvable",
                   UNKNOWN, "A/AAAA down.chk-mailfrom.test lookup failed: servfail; if the zone is "
                   "broken (DNSSEC, lame delegation) rather than the resolver, receiving gateways "
                   "fail this lookup too",
                   mail_from_resolvable=None),
    mail_from_case("mail_from_mx-pass-with-region", "ok", "mail_from_mx", PASS,
                   "MX ok.chk-mailfrom.test -> feedback-smtp.us-east-1.amazonses.com"),
    mail_from_case("mail_from_mx-pass-region-case-insensitive", "ok", "mail_from_mx", PASS,
                   "feedback-smtp.us-east-1.amazonses.com", region="US-EAST-1"),
    mail_from_case("mail_from_mx-pass-without-region-names-it", "ok-v6", "mail_from_mx", PASS,
                   "-> feedback-smtp.eu-west-1.amazonses.com", region=None),
    mail_from_case("mail_from_mx-pass-ses-next-to-other-mx", "two-mx", "mail_from_mx", PASS,
                   "feedback-smtp.us-east-1.amazonses.com"),
    mail_from_case("mail_from_mx-fail-other-region", "ok-v6", "mail_from_mx", FAIL,
                   "points to feedback-smtp.eu-west-1.amazonses.com, "
                   "not feedback-smtp.us-east-1.amazonses.com",
                   "publish ok-v6.chk-mailfrom.test. MX 10 feedback-smtp.us-east-1.amazonses.com."),
    mail_from_case("mail_from_mx-fail-other-mx-preferred", "ses-second", "mail_from_mx", FAIL,
                   "prefers mx1.chk-mailfrom.test over feedback-smtp.us-east-1.amazonses.com",
                   "remove the MX record of mx1.chk-mailfrom.test"),
    mail_from_case("mail_from_mx-fail-not-ses", "other-mx", "mail_from_mx", FAIL,
                   "points to mx1.chk-mailfrom.test"),
    mail_from_case("mail_from_mx-fail-no-mx", "no-mx", "mail_from_mx", FAIL,
                   "MAIL FROM no-mx.chk-mailfrom.test has no MX"),
    mail_from_case("mail_from_mx-fail-no-mx-without-region", "no-mx", "mail_from_mx", FAIL,
                   "has no MX", "MX 10 feedback-smtp.<region>.amazonses.com.", region=None),
    mail_from_case("mail_from_mx-fail-null-mx", "null-mx", "mail_from_mx", FAIL,
                   "publishes a null MX", "remove the null MX"),
    mail_from_case("mail_from_mx-fail-nxdomain", "nx", "mail_from_mx", FAIL,
                   "MAIL FROM nx.chk-mailfrom.test does not exist"),
    mail_from_case("mail_from_mx-unknown-servfail", "down", "mail_from_mx", UNKNOWN,
                   "MX down.chk-mailfrom.test lookup failed: servfail"),
    mail_from_case("mail_from_spf-pass-include", "ok", "mail_from_spf", PASS,
                   "includes amazonses.com, ends in ~all, 1/10 DNS lookups"),
    mail_from_case("mail_from_spf-pass-redirect", "spf-redirect", "mail_from_spf", PASS,
                   "includes amazonses.com, ends in -all"),
    mail_from_case("mail_from_spf-pass-nested-include", "spf-nested", "mail_from_spf", PASS,
                   "ends in -all, 2/10 DNS lookups"),
    mail_from_case("mail_from_spf-warn-neutral-all", "spf-neutral", "mail_from_spf", WARN,
                   "ends in ?all: unauthorized mail gets a neutral result", "~all (or -all)"),
    mail_from_case("mail_from_spf-warn-no-all", "spf-no-all", "mail_from_spf", WARN,
                   "ends in no all"),
    mail_from_case("mail_from_spf-fail-no-record-not-inherited", "no-spf", "mail_from_spf",
                   FAIL, "SPF does not inherit from the parent",
                   'no-spf.chk-mailfrom.test. 3600 IN TXT "v=spf1 include:amazonses.com ~all"'),
    mail_from_case("mail_from_spf-fail-nxdomain", "nx", "mail_from_spf", FAIL,
                   "no SPF record at MAIL FROM nx.chk-mailfrom.test"),
    mail_from_case("mail_from_spf-fail-ses-not-included", "spf-no-ses", "mail_from_spf", FAIL,
                   "does not include amazonses.com", "add include:amazonses.com"),
    mail_from_case("mail_from_spf-fail-plus-all", "spf-plus-all", "mail_from_spf", FAIL,
                   "ends in +all"),
    mail_from_case("mail_from_spf-fail-two-records", "spf-two", "mail_from_spf", FAIL,
                   "spf-two.chk-mailfrom.test has 2 SPF records"),
    mail_from_case("mail_from_spf-fail-syntax", "spf-syntax", "mail_from_spf", FAIL,
                   "unknown mechanism: '~al'"),
    mail_from_case("mail_from_spf-fail-include-after-all-is-dead", "spf-dead-include",
                   "mail_from_spf", FAIL, "amazonses.com"),
    mail_from_case("mail_from_spf-fail-minus-include", "spf-minus-include", "mail_from_spf",
                   FAIL, "amazonses.com"),
    mail_from_case("mail_from_spf-unknown-include-servfail", "spf-down", "mail_from_spf",
                   UNKNOWN, "TXT spf.broken.test: servfail"),
    mail_from_case("mail_from_spf-unknown-cname-servfail", "down", "mail_from_spf", UNKNOWN,
                   "TXT down.chk-mailfrom.test: servfail"),
]  # fmt: skip

CASES = MX_CASES + SPF_CASES + DKIM_CASES + DMARC_CASES + REPORTS_CASES + MAIL_FROM_CASES


def advice(result: CheckResult) -> str:
    """A remedy's words and its records as pasteable zone lines, as `check` prints them."""
    return "\n".join([result.remedy, *(r.zone_line() for r in result.records)])


@pytest.mark.parametrize("case", CASES)
def test_check_verdict(named: NamedServer, case: Case) -> None:
    """The check's status (and summary/remedy fragments, report fields) for real records;
    a warn or fail always names a remedy, a pass or unknown never does."""
    report = run_checks(ns(named), case.target)
    result = by_check(report)[case.check]
    assert result.status is case.status, result
    assert case.summary in result.summary, result
    assert case.remedy in advice(result), result
    assert bool(result.remedy) == (case.status in (WARN, FAIL)), result
    for name, expected in case.report.items():
        assert getattr(report, name) == expected, (name, report)


def _all(status: Status) -> dict[str, Status]:
    return dict.fromkeys(CHECK_IDS, status)


def partial(
    case_id: str,
    label: str,
    down: tuple[str, ...],
    *,
    mail_from: str = "mail.chk-partial.test",
    signing_zone: str | None = None,
    **report: object,
):
    """<label>.chk-partial.test: every check passes except ``down``, which are unknown."""
    target = DomainTarget(f"{label}.chk-partial.test", mail_from, (H1,), "us-east-1", signing_zone)
    expected = _all(PASS) | dict.fromkeys(down, UNKNOWN)
    return pytest.param(target, expected, report, id=case_id)


PARTIAL_CASES = [
    partial("control-all-pass", "ok", (), dmarc_policy_level=2, spf_dns_lookups=1,
            mail_from_resolvable=True),
    partial("mx-spf-unknown-domain-cname-servfail", "mx-down", ("mx", "spf"),
            dmarc_policy_level=2, spf_dns_lookups=None, mail_from_resolvable=True),
    partial("spf-unknown-include-servfail", "spf-down", ("spf",), spf_dns_lookups=None,
            dmarc_policy_level=2),
    partial("spf-unknown-include-refused", "spf-refused", ("spf",), spf_dns_lookups=None),
    partial("dkim-unknown-key-servfail", "dkim-down", ("dkim",), signing_zone=BROKEN_KEYS,
            spf_dns_lookups=1),
    partial("dmarc-unknown-record-servfail", "dmarc-down", ("dmarc", "dmarc_reports"),
            dmarc_policy_level=None, spf_dns_lookups=1, mail_from_resolvable=True),
    partial("dmarc_reports-unknown-authorization-servfail", "reports-down", ("dmarc_reports",),
            dmarc_policy_level=2),
    partial("mail_from-unknown-cname-servfail", "mail-from-down",
            ("mail_from_resolvable", "mail_from_mx", "mail_from_spf"),
            mail_from="mail.mail-from-down.chk-partial.test", mail_from_resolvable=None,
            dmarc_policy_level=2, spf_dns_lookups=1),
    partial("mail_from_spf-unknown-include-servfail", "mail-from-spf-down", ("mail_from_spf",),
            mail_from="mail.mail-from-spf-down.chk-partial.test", mail_from_resolvable=True),
]  # fmt: skip


@pytest.mark.parametrize(("target", "expected", "fields"), PARTIAL_CASES)
def test_partial_failure_stays_partial(
    named: NamedServer,
    target: DomainTarget,
    expected: dict[str, Status],
    fields: dict[str, object],
) -> None:
    """One failed lookup makes only the checks that read it unknown; the others still give
    their real verdicts, and the report's worst verdict is unknown, never fail."""
    report = run_checks(ns(named), target)
    assert {r.check: r.status for r in report.checks} == expected, report.checks
    assert report.worst is (UNKNOWN if UNKNOWN in expected.values() else PASS)
    for name, value in fields.items():
        assert getattr(report, name) == value, (name, report)


@pytest.mark.parametrize(
    ("outage", "domain", "error"),
    [
        pytest.param("servfail", "broken.test", "servfail", id="all-unknown-servfail"),
        pytest.param("refused", "not-served.example", "refused", id="all-unknown-refused"),
        pytest.param("timeout", "chk-mailfrom.test", "timeout", id="all-unknown-timeout"),
    ],
)
def test_dns_outage_is_unknown_never_fail(
    request: pytest.FixtureRequest, named: NamedServer, outage: str, domain: str, error: str
) -> None:
    """SERVFAIL (a zone named cannot load), REFUSED (a zone it does not serve) and a silent
    nameserver make every check unknown, none fail, and the numeric facts None."""
    if outage == "timeout":
        host, port = request.getfixturevalue("silent_udp").split(":")
        nameservers, timeout = [(host, int(port))], 0.2
    else:
        nameservers, timeout = ns(named), 0.5
    target = DomainTarget(domain, f"mail.{domain}", HEALTHY, "us-east-1")
    report = run_checks(nameservers, target, timeout)
    statuses = {r.check: r.status for r in report.checks}
    assert statuses == _all(UNKNOWN), report.checks
    assert all(not r.remedy for r in report.checks)
    assert f"MX {domain} lookup failed: {error}" in by_check(report)["mx"].summary
    assert f"lookup failed: {error}" in by_check(report)["dmarc"].summary
    assert report.dmarc_policy_level is None
    assert report.mail_from_resolvable is None
    assert report.spf_dns_lookups is None
