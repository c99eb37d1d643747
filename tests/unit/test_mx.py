"""The `mx` check: the From domain must be able to receive replies and bounces."""

from __future__ import annotations

import pytest
from fakeview import DOMAIN, NODATA, NX, SERVFAIL, TIMEOUT, good_table, rec, run, target

from exporter.checks.mx import MxHost, parse_mx
from exporter.model import Answer, Status


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10 mx.example.com", MxHost(10, "mx.example.com")),
        ("0 .", MxHost(0, "")),
        (" 5  MX.Example.COM. ", MxHost(5, "mx.example.com")),
        ("mx.example.com", MxHost(65535, "mx.example.com")),
        ("x mx.example.com", MxHost(65535, "mx.example.com")),
        ("9" * 5000 + " mx.example.com", MxHost(65535, "mx.example.com")),
    ],
)
def test_parse_mx(text: str, expected: MxHost) -> None:
    """Exchanges are normalized; "." is the null MX; malformed preferences sort last."""
    assert parse_mx(text) == expected


def test_mx_hosts_pass_in_preference_order() -> None:
    """MX records pass, and the summary lists the hosts by preference."""
    table = good_table() | {(DOMAIN, "MX"): rec("20 b.example.com", "10 a.example.com")}
    checked = run(target(), table, strict=True)
    result = checked["mx"]
    assert result.status is Status.PASS
    assert "a.example.com, b.example.com" in result.summary
    assert (DOMAIN, "A") not in checked.asked


@pytest.mark.parametrize(
    ("answers", "status", "words"),
    [
        pytest.param({(DOMAIN, "MX"): rec("0 .")}, Status.FAIL, "null MX", id="null-mx"),
        pytest.param(
            {(DOMAIN, "MX"): rec("0 .", "10 mx.example.com")},
            Status.FAIL,
            "null MX",
            id="null-mx-mixed",
        ),
        pytest.param({(DOMAIN, "MX"): NX}, Status.FAIL, "does not exist", id="nxdomain"),
        pytest.param(
            {(DOMAIN, "MX"): NODATA, (DOMAIN, "A"): rec("192.0.2.1"), (DOMAIN, "AAAA"): NODATA},
            Status.PASS,
            "implicit MX",
            id="a-only",
        ),
        pytest.param(
            {(DOMAIN, "MX"): NODATA, (DOMAIN, "A"): NODATA, (DOMAIN, "AAAA"): rec("2001:db8::1")},
            Status.PASS,
            "implicit MX",
            id="aaaa-only",
        ),
        pytest.param(
            {(DOMAIN, "MX"): NODATA, (DOMAIN, "A"): NODATA, (DOMAIN, "AAAA"): NODATA},
            Status.FAIL,
            "no MX and no A/AAAA",
            id="nothing",
        ),
        pytest.param({(DOMAIN, "MX"): TIMEOUT}, Status.UNKNOWN, "timeout", id="mx-timeout"),
        pytest.param(
            {(DOMAIN, "MX"): NODATA, (DOMAIN, "A"): SERVFAIL, (DOMAIN, "AAAA"): NODATA},
            Status.UNKNOWN,
            "lookup failed",
            id="a-servfail",
        ),
        pytest.param(
            {(DOMAIN, "MX"): NODATA, (DOMAIN, "A"): SERVFAIL, (DOMAIN, "AAAA"): rec("2001:db8::1")},
            Status.PASS,
            "implicit MX",
            id="aaaa-despite-a-error",
        ),
    ],
)
def test_mx_verdicts(answers: dict[tuple[str, str], Answer], status: Status, words: str) -> None:
    """Null MX (RFC 7505), NXDOMAIN, or neither MX nor A/AAAA fail; A/AAAA alone is the
    implicit MX; errors are unknown unless an address record already answers."""
    result = run(target(), good_table() | answers)["mx"]
    assert result.status is status
    assert words in result.summary
    if status is Status.FAIL:
        assert "MX 10" in result.remedy


def test_address_records_only_asked_when_mx_is_nodata() -> None:
    """A and AAAA are asked in the round after MX came back NODATA, both at once."""
    table = good_table() | {(DOMAIN, "MX"): NODATA, (DOMAIN, "A"): rec("192.0.2.1")}
    checked = run(target(), table)
    assert (DOMAIN, "A") not in checked.first_round
    assert {(DOMAIN, "A"), (DOMAIN, "AAAA")} <= checked.asked
