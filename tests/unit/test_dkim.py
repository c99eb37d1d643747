"""DKIM: the key-record parser and the `dkim` check on SES Easy DKIM tokens."""

from __future__ import annotations

import pytest
from fakeview import (
    DOMAIN,
    KEY,
    NODATA,
    NX,
    SERVFAIL,
    TIMEOUT,
    TOKENS,
    good_table,
    rec,
    run,
    target,
)

from exporter.checks.dkim import DkimKey, parse_dkim_key
from exporter.model import Answer, Status

T1, T2, T3 = TOKENS


def cname_name(token: str) -> tuple[str, str]:
    return f"{token}._domainkey.{DOMAIN}", "CNAME"


# --- parser -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DKIM1; k=rsa; p=MIGfMA0G", DkimKey("rsa", "MIGfMA0G")),
        ("p=MIGfMA0G", DkimKey("rsa", "MIGfMA0G")),
        (" v = DKIM1 ;\tk=ed25519 ; p = MIG fMA\t0G ; ", DkimKey("ed25519", "MIGfMA0G")),
        ("v=DKIM1; p=", DkimKey("rsa", "")),
        ("k=rsa; v=DKIM1; p=MIGf", None),
        ("v=DKIM2; p=MIGf", None),
        ("v=DKIM1; k=rsa", None),
        ("v=spf1 include:amazonses.com -all", None),
        ("hello world", None),
        ("", None),
    ],
)
def test_parse_dkim_key(text: str, expected: DkimKey | None) -> None:
    """RFC 6376 §3.6.1: p= is required (empty = revoked), v= if present is first and
    DKIM1, whitespace inside values is folding and is dropped."""
    assert parse_dkim_key(text) == expected


# --- the dkim check ---------------------------------------------------------------------


def test_all_tokens_published_pass() -> None:
    """Every token CNAMEs to <token>.dkim.amazonses.com, which holds a key."""
    result = run(target(), good_table())["dkim"]
    assert result.status is Status.PASS
    assert "3 DKIM" in result.summary


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        pytest.param({cname_name(T1): NX}, "no CNAME", id="nxdomain"),
        pytest.param({cname_name(T1): NODATA}, "no CNAME", id="nodata"),
        pytest.param({cname_name(T1): rec(f"{T1}.dkim.example.net")}, "points to", id="elsewhere"),
        pytest.param({cname_name(T1): rec(f"{T2}.dkim.amazonses.com")}, "points to", id="swap"),
        pytest.param(
            {cname_name(T1): rec(f"{T1}.dkim.eu-west-1.amazonses.com")},
            "points to",
            id="other-region",
        ),
        pytest.param({(f"{T1}.dkim.amazonses.com", "TXT"): NX}, "no DKIM key", id="no-key"),
        pytest.param(
            {(f"{T1}.dkim.amazonses.com", "TXT"): rec("v=spf1 -all")}, "no DKIM key", id="no-p"
        ),
        pytest.param(
            {(f"{T1}.dkim.amazonses.com", "TXT"): rec("v=DKIM1; p=")}, "revoked", id="revoked"
        ),
        pytest.param(
            {(f"{T1}.dkim.amazonses.com", "TXT"): rec("p=not*base64")}, "bad", id="not-base64"
        ),
    ],
)
def test_broken_token_fails(changes: dict[tuple[str, str], Answer], words: str) -> None:
    """A missing CNAME, a CNAME to anything but SES's zone, or no usable key at the target
    fails; the summary names the token and, where the CNAME is what is wrong, the remedy
    gives its exact line (a right CNAME to a missing or bad key is SES's side: words only)."""
    result = run(target(), good_table() | changes)["dkim"]
    assert result.status is Status.FAIL
    assert f"1 of 3 DKIM tokens broken: {T1} (" in result.summary
    assert words in result.summary
    cname_wrong = words in {"no CNAME", "points to"}
    assert [r.zone_line() for r in result.records] == [
        f"{T1}._domainkey.example.com. 3600 IN CNAME {T1}.dkim.amazonses.com."
    ] * cname_wrong
    assert T2 not in result.remedy


def test_unpublished_cnames_fail_with_every_line() -> None:
    """The second field report: no DKIM CNAME published at all."""
    table = good_table() | {cname_name(t): NX for t in TOKENS}
    result = run(target(), table)["dkim"]
    assert result.status is Status.FAIL
    assert "3 of 3" in result.summary
    for token in TOKENS:
        line = f"{token}._domainkey.example.com. 3600 IN CNAME {token}.dkim.amazonses.com."
        assert line in [r.zone_line() for r in result.records]


def regional_table(zone: str) -> dict[tuple[str, str], Answer]:
    table = good_table()
    for token in TOKENS:
        table[cname_name(token)] = rec(f"{token}.{zone}")
        table[f"{token}.{zone}", "TXT"] = rec(KEY)
    return table


@pytest.mark.parametrize(
    ("region", "signing_zone", "zone", "status"),
    [
        pytest.param("af-south-1", None, "dkim.af-south-1.amazonses.com", Status.PASS, id="af"),
        pytest.param("AF-South-1", None, "dkim.af-south-1.amazonses.com", Status.PASS, id="AF"),
        pytest.param("af-south-1", None, "dkim.amazonses.com", Status.PASS, id="af-global"),
        pytest.param("us-east-1", None, "dkim.us-east-1.amazonses.com", Status.PASS, id="own"),
        pytest.param("us-east-1", None, "dkim.eu-south-1.amazonses.com", Status.FAIL, id="other"),
        pytest.param(None, None, "dkim.me-central-1.amazonses.com", Status.PASS, id="any"),
        pytest.param(None, None, "dkim.amazonses.com.example.net", Status.FAIL, id="lookalike"),
        pytest.param(
            "af-south-1",
            "dkim.af-south-1.amazonses.com",
            "dkim.af-south-1.amazonses.com",
            Status.PASS,
            id="zone-given",
        ),
        pytest.param(
            "af-south-1",
            "dkim.af-south-1.amazonses.com",
            "dkim.amazonses.com",
            Status.FAIL,
            id="zone-given-global",
        ),
        pytest.param(
            None, "DKIM.AmazonSES.com.", "dkim.amazonses.com", Status.PASS, id="zone-case"
        ),
    ],
)
def test_signing_zone(
    region: str | None, signing_zone: str | None, zone: str, status: Status
) -> None:
    """With SES's SigningHostedZone known only <token>.<zone> is right; otherwise the
    global zone and dkim.<region>.amazonses.com are accepted (any region when no region
    is configured), and the key lookup at the target decides."""
    checked = run(target(region=region, signing_zone=signing_zone), regional_table(zone))
    assert checked.status("dkim") is status


def test_remedy_uses_the_regional_zone() -> None:
    """For a region SES signs from a regional zone, the remedy names that zone."""
    table = good_table() | {cname_name(T1): NX}
    result = run(target(region="AF-SOUTH-1"), table)["dkim"]
    assert any(r.value == f"{T1}.dkim.af-south-1.amazonses.com." for r in result.records)


def test_upper_case_cname_target_is_normalized() -> None:
    """DNS names compare case-insensitively, with or without the trailing dot."""
    table = good_table() | {cname_name(T1): rec(f"{T1.upper()}.DKIM.AMAZONSES.COM.")}
    assert run(target(), table).status("dkim") is Status.PASS


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({cname_name(T1): TIMEOUT}, id="cname-timeout"),
        pytest.param({(f"{T1}.dkim.amazonses.com", "TXT"): SERVFAIL}, id="key-servfail"),
    ],
)
def test_lookup_error_is_unknown(changes: dict[tuple[str, str], Answer]) -> None:
    """A failed lookup for one token, with the others fine, is unknown, not a failure."""
    result = run(target(), good_table() | changes)["dkim"]
    assert result.status is Status.UNKNOWN
    assert "DKIM lookup failed" in result.summary


def test_broken_token_wins_over_an_error_on_another() -> None:
    """Tokens are independent: one missing CNAME breaks signing whatever the others say."""
    table = good_table() | {cname_name(T1): TIMEOUT, cname_name(T2): NX}
    result = run(target(), table)["dkim"]
    assert result.status is Status.FAIL
    assert T2 in result.summary
    assert T1 not in result.summary


def test_no_tokens_no_dkim_check() -> None:
    """Without tokens there is nothing to check: the check is left out, not unknown."""
    checked = run(target(tokens=()), good_table())
    assert "dkim" not in checked.by_check
    assert not any(rdtype == "CNAME" for _, rdtype in checked.asked)


def test_each_token_costs_one_question() -> None:
    """One TXT question per selector, all in the first round: the resolver's answer holds
    the CNAME and the key it leads to, so neither is asked on its own."""
    checked = run(target(), good_table())
    selectors = {(f"{t}._domainkey.{DOMAIN}", "TXT") for t in TOKENS}
    assert selectors <= checked.first_round
    dkim = {q for q in checked.asked if "dkim" in q[0] or "_domainkey" in q[0]}
    assert dkim == selectors


def selector(token: str) -> tuple[str, str]:
    return f"{token}._domainkey.{DOMAIN}", "TXT"


@pytest.mark.parametrize(
    ("changes", "status", "words", "asks_cname"),
    [
        pytest.param(
            {selector(T1): SERVFAIL, cname_name(T1): rec(f"{T1}.dkim.example.net")},
            Status.FAIL,
            f"{T1} (CNAME points to {T1}.dkim.example.net)",
            True,
            id="failure-hides-a-wrong-cname",
        ),
        pytest.param(
            {selector(T1): SERVFAIL},
            Status.UNKNOWN,
            f"TXT {T1}.dkim.amazonses.com: servfail",
            True,
            id="failure-behind-a-right-cname-is-the-key-lookup",
        ),
        pytest.param(
            {selector(T1): TIMEOUT, cname_name(T1): TIMEOUT},
            Status.UNKNOWN,
            f"CNAME {T1}._domainkey.{DOMAIN}: timeout",
            True,
            id="both-fail",
        ),
        pytest.param(
            {selector(T1): SERVFAIL, cname_name(T1): NODATA},
            Status.FAIL,
            f"{T1} (no CNAME)",
            True,
            id="failure-and-no-cname",
        ),
        pytest.param(
            {selector(T1): rec(KEY), cname_name(T1): NODATA},
            Status.FAIL,
            f"{T1} (no CNAME)",
            False,
            id="key-published-without-the-cname",
        ),
        pytest.param(
            {
                selector(T1): rec(
                    KEY,
                    via=(selector(T1)[0], "hop.example.net"),
                    canonical=f"{T1}.dkim.amazonses.com",
                )
            },
            Status.FAIL,
            f"{T1} (CNAME points to hop.example.net)",
            False,
            id="chain-judged-by-its-first-alias",
        ),
    ],
)
def test_one_answer_tells_cname_and_key_apart(
    changes: dict[tuple[str, str], Answer], status: Status, words: str, asks_cname: bool
) -> None:
    """The selector's TXT answer carries the CNAME and the key; only a failed answer, which
    may hide a CNAME, costs the CNAME question, so that a wrong CNAME behind a failing key
    zone still fails and a failed key lookup is named as such."""
    checked = run(target(), good_table() | changes)
    result = checked["dkim"]
    assert result.status is status
    assert words in result.summary
    assert (cname_name(T1) in checked.asked) is asks_cname
