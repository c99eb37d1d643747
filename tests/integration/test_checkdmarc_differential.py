"""The `spf` and `dmarc` checks against checkdmarc (PyPI) on the same generated records.

Both read one BIND `named` serving a root zone (so every name outside the records is
NXDOMAIN, as on the public DNS); checkdmarc gets a dnspython resolver pinned to that
nameserver and port, and only its SPF and DMARC functions run (no MTA-STS or BIMI, which
would go out over HTTPS). What is compared:

- SPF: checkdmarc's "invalid" against the check's permerror `fail`, and "no record"
  against the check's "no SPF record";
- DMARC: checkdmarc's "invalid" (no record, a bad or repeated tag, several records)
  against the check's `fail`, and the `p=` both read.

`DISAGREEMENTS` lists every record on which they differ, with the reason; the test fails
on any other difference, and on a listed one that went away.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any

import dns.resolver
import pytest
from conftest import NamedServer, start_named, stop_named

from exporter.jobs.dns import check_domain
from exporter.model import CheckResult, DomainReport, DomainTarget, Status
from exporter.sources.dns import DnsClient

pytestmark = pytest.mark.integration

with warnings.catch_warnings():  # its dnspython import warns about DSA; not ours to fix
    warnings.simplefilter("ignore")
    from checkdmarc.dmarc import check_dmarc as cd_check_dmarc
    from checkdmarc.spf import check_spf as cd_check_spf

ZONE = "diff.test"
QUERY_TIMEOUT = 3.0  # named answers at once; a loaded box may still take a second

# label -> the SPF record(s) at <label>.diff.test; helper records follow in HELPERS
SPF: dict[str, tuple[str, ...]] = {
    "minus-all": ("v=spf1 -all",),
    "include": ("v=spf1 include:_inc.diff.test -all",),
    "plus-all": ("v=spf1 +all",),
    "t-macro": ("v=spf1 include:%{t}.diff.test -all",),
    "c-macro": ("v=spf1 exists:%{c}.diff.test -all",),
    "r-redirect": ("v=spf1 redirect=%{r}.diff.test",),
    "i-macro": ("v=spf1 exists:%{i}._x.diff.test -all",),
    "d-redirect": ("v=spf1 redirect=_r.%{d}",),
    "eleven": ("v=spf1 " + " ".join(f"a:_h{i}.diff.test" for i in range(11)) + " -all",),
    "ten": ("v=spf1 " + " ".join(f"a:_h{i}.diff.test" for i in range(10)) + " -all",),
    "void-3": ("v=spf1 a:_v1.diff.test a:_v2.diff.test a:_v3.diff.test -all",),
    "aaaa-void": ("v=spf1 " + " ".join(f"a:_h{i}.diff.test" for i in range(5)) + " -all",),
    "bad-ip4": ("v=spf1 ip4:192.0.2.300 -all",),
    "bad-cidr": ("v=spf1 ip6:2001:db8::/129 -all",),
    "two": ("v=spf1 -all", "v=spf1 ~all"),
    "redirect": ("v=spf1 redirect=_soft.diff.test",),
    "ip4-zero": ("v=spf1 ip4:0.0.0.0/0 -all",),
    "a-zero": ("v=spf1 a/0 -all",),
    "wide": ("v=spf1 ip4:10.0.0.0/4 -all",),
    "loop": ("v=spf1 include:_loop.diff.test -all",),
    "no-spf-include": ("v=spf1 include:_nothing.diff.test -all",),
    "many-mx": ("v=spf1 mx:_mx.diff.test -all",),
    "ptr": ("v=spf1 ptr -all",),
    "unknown-mod": ("v=spf1 foo=bar -all",),
    "all-then-redirect": ("v=spf1 -all redirect=_soft.diff.test",),
    "exp": ("v=spf1 -all exp=_exp.diff.test",),
    "neutral": ("v=spf1 ?all",),
    "no-all": ("v=spf1 ip4:192.0.2.1",),
    "unknown-mech": ("v=spf1 ip5:192.0.2.1 -all",),
}
# label -> the DMARC record(s) at _dmarc.<label>.diff.test
DMARC: dict[str, tuple[str, ...]] = {
    "reject": ("v=DMARC1; p=reject",),
    "none": ("v=DMARC1; p=none",),
    "quarantine": ("v=DMARC1; p=quarantine; sp=none",),
    "dup-p": ("v=DMARC1; p=reject; p=none",),
    "bad-fo": ("v=DMARC1; p=reject; fo=2",),
    "bad-adkim": ("v=DMARC1; p=reject; adkim=x",),
    "bad-aspf": ("v=DMARC1; p=reject; aspf=relaxed",),
    "np-none": ("v=DMARC1; p=reject; np=none",),
    "bad-np": ("v=DMARC1; p=reject; np=maybe",),
    "testing": ("v=DMARC1; p=reject; t=y",),
    "bad-t": ("v=DMARC1; p=reject; t=x",),
    "psd": ("v=DMARC1; p=reject; psd=n",),
    "bad-psd": ("v=DMARC1; p=reject; psd=z",),
    "pct": ("v=DMARC1; p=reject; pct=50",),
    "bad-pct": ("v=DMARC1; p=reject; pct=200",),
    "removed": ("v=DMARC1; p=reject; rf=afrf; ri=86400",),
    "unknown-tag": ("v=DMARC1; p=reject; xnew=1",),
    "hyphen-tag": ("v=DMARC1; p=reject; x-new=1",),
    "leading-space": (" v=DMARC1; p=reject",),
    "missing-p": ("v=DMARC1; sp=reject",),
    "bad-p": ("v=DMARC1; p=bogus",),
    "bad-sp": ("v=DMARC1; p=reject; sp=all",),
    "two": ("v=DMARC1; p=reject", "v=DMARC1; p=none"),
    "not-first": ("p=reject; v=DMARC1",),
}
# senders without their own record: label -> what they fall back to
DMARC_SENDERS = [*DMARC, "none-anywhere", "sub.reject", "deep.mid"]
SPF_SENDERS = [*SPF, "no-record"]
HELPERS = [
    '_inc TXT "v=spf1 ip4:192.0.2.0/24 -all"',
    '_soft TXT "v=spf1 ip4:192.0.2.0/24 ~all"',
    '_r.d-redirect TXT "v=spf1 ip4:192.0.2.0/24 -all"',
    '_loop TXT "v=spf1 include:_loop2.diff.test -all"',
    '_loop2 TXT "v=spf1 include:_loop.diff.test -all"',
    '_exp TXT "Not authorized: %{i}"',
    'no-record TXT "site-verification=abc"',
    "a-zero A 192.0.2.9",
    '_dmarc.mid TXT "v=DMARC1; p=quarantine"',
    "deep.mid A 192.0.2.8",
    "none-anywhere A 192.0.2.7",
    "sub.reject A 192.0.2.6",
    *(f"_h{i} A 192.0.2.{i + 10}" for i in range(11)),
    *(f"_mx MX 10 m{i}.diff.test." for i in range(11)),
]

# (check, label) -> why the check and checkdmarc differ there
DISAGREEMENTS: dict[tuple[str, str], str] = {
    ("dmarc", "bad-adkim"): (
        "checkdmarc follows RFC 9989 and uses the default for an invalid value; OpenDMARC "
        "rejects the record and applies no policy, so the check fails (receivers disagree)"
    ),
    ("dmarc", "bad-aspf"): "the same as bad-adkim",
    ("dmarc", "bad-pct"): (
        "checkdmarc ignores pct= (removed in RFC 9989); RFC 7489 receivers, still the most, "
        "read pct=200 as a syntax error and apply no policy"
    ),
    ("dmarc", "hyphen-tag"): (
        "checkdmarc's grammar rejects a tag name with '-'; receivers ignore unknown tags "
        "(RFC 9989), so x-new=1 changes nothing"
    ),
    ("dmarc", "leading-space"): (
        "checkdmarc refuses the record; some receivers discard it and others strip the "
        "whitespace and apply it, so the check warns (with the fixed record) and keeps p="
    ),
    ("dmarc", "missing-p"): (
        "RFC 9989 reads a missing p= as p=none (checkdmarc: valid, unenforced); RFC 7489 "
        "receivers discard the record, so no policy applies anywhere: the check fails"
    ),
}


def _zone() -> str:
    lines = [
        "$TTL 300",
        ". SOA ns1.suite. hostmaster.suite. 1 3600 600 86400 300",
        ". NS ns1.suite.",
        "ns1.suite. A 127.0.0.1",
        "healthy.example. A 192.0.2.1",  # what start_named asks to see the server is up
        f"$ORIGIN {ZONE}.",
    ]
    lines += [f'{label} TXT "{text}"' for label, texts in SPF.items() for text in texts]
    lines += [f'_dmarc.{label} TXT "{text}"' for label, texts in DMARC.items() for text in texts]
    return "\n".join([*lines, *HELPERS]) + "\n"


@pytest.fixture(name="root_named", scope="module")
def _root_named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamedServer]:
    workdir = tmp_path_factory.mktemp("differential")
    root = workdir / "root.zone"
    root.write_text(_zone(), encoding="ascii")
    zone = f'zone "." {{ type primary; file "{root}"; check-names ignore; }};'  # _h0 A ...
    server = start_named(workdir, {}, extra_conf=zone)
    yield server
    stop_named(server)


def _reports(server: NamedServer, domains: list[str]) -> dict[str, DomainReport]:
    async def cycle() -> dict[str, DomainReport]:
        client = DnsClient(nameservers=[(server.host, server.port)], timeout=QUERY_TIMEOUT)
        try:
            return {
                d: await check_domain(client, DomainTarget(d, None, (), None, None))
                for d in domains
            }
        finally:
            await client.aclose()

    return asyncio.run(cycle())


def _resolver(server: NamedServer) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.timeout = resolver.lifetime = QUERY_TIMEOUT
    return resolver


def _check(report: DomainReport, check: str) -> CheckResult:
    return next(c for c in report.checks if c.check == check)


def _spf_classes(ours: CheckResult, theirs: dict[str, Any]) -> tuple[str, str]:
    if ours.status is Status.WARN and "no SPF record" in ours.summary:
        mine = "none"
    elif ours.status is Status.FAIL and "permerror" in ours.summary:
        mine = "invalid"
    else:
        mine = "valid"
    if theirs.get("valid"):
        other = "valid"
    else:
        several = "multiple" in str(theirs.get("error", ""))
        other = "none" if theirs.get("record") is None and not several else "invalid"
    return mine, other


def _dmarc_classes(
    domain: str, ours: CheckResult, level: int | None, theirs: dict[str, Any]
) -> tuple[str, str]:
    policies = {-1: "", 0: "none", 1: "quarantine", 2: "reject"}
    mine = "invalid" if ours.status is Status.FAIL else f"p={policies.get(level or 0, '')}"
    if "testing" in ours.summary or "t=y" in ours.summary:
        mine = "p=reject"  # the level is one lower under t=y; p= as written is compared
    if not theirs.get("valid"):
        other = "invalid"
    else:
        tags = theirs.get("tags", {})
        applied = tags.get("sp" if theirs.get("location") != domain else "p", {})
        other = f"p={(applied or tags.get('p', {})).get('value', '')}"
    return mine, other


def test_spf_and_dmarc_agree_with_checkdmarc(root_named: NamedServer) -> None:
    """Every generated record gets the same verdict class from both, or a listed reason."""
    domains = {f"{label}.{ZONE}" for label in (*SPF_SENDERS, *DMARC_SENDERS)}
    reports = _reports(root_named, sorted(domains))
    resolver = _resolver(root_named)
    differences: dict[tuple[str, str], str] = {}
    for label in SPF_SENDERS:
        domain = f"{label}.{ZONE}"
        theirs = cd_check_spf(domain, resolver=resolver, timeout=QUERY_TIMEOUT)
        ours = _check(reports[domain], "spf")
        mine, other = _spf_classes(ours, theirs)
        if mine != other:
            differences["spf", label] = f"ours {mine} ({ours.summary}); checkdmarc {other} {theirs}"
    for label in DMARC_SENDERS:
        domain = f"{label}.{ZONE}"
        theirs = dict(cd_check_dmarc(domain, resolver=resolver, timeout=QUERY_TIMEOUT))
        ours = _check(reports[domain], "dmarc")
        mine, other = _dmarc_classes(domain, ours, reports[domain].dmarc_policy_level, theirs)
        if mine != other:
            differences["dmarc", label] = (
                f"ours {mine} ({ours.summary}); checkdmarc {other} {theirs}"
            )
    unexplained = {k: v for k, v in differences.items() if k not in DISAGREEMENTS}
    gone = set(DISAGREEMENTS) - set(differences)
    assert not unexplained, "\n".join(f"{k}: {v}" for k, v in unexplained.items())
    assert not gone, f"listed but now agreeing: {sorted(gone)}"
