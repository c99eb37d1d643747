"""Property tests: no record text, however hostile, makes a parser or a check raise, and
the round loop always ends."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from fakeview import NODATA, NX, SERVFAIL, TIMEOUT, DrawnTable, rec, run
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.checks import CHECK_IDS
from exporter.checks.dkim import parse_dkim_key
from exporter.checks.dmarc import parse_dmarc
from exporter.checks.spf import SpfRecord, SpfSyntaxError, parse_spf
from exporter.model import Answer, DomainTarget, Status

NAMES = ["example.com", "a.example", "b.example", "amazonses.com", "mail.example.com"]
SPF_TERMS = [
    *(f"include:{n}" for n in NAMES),
    *(f"redirect={n}" for n in NAMES),
    "include:%{d}.x.example",
    "redirect=%{d}.x.example",
    "a",
    "mx",
    "a:b.example/24",
    "mx:a.example//64",
    "ptr",
    "exists:%{i}.x.example",
    "ip4:192.0.2.0/24",
    "ip6:2001:db8::/32",
    "-all",
    "~all",
    "?all",
    "+all",
    "all",
    "exp=x.example",
    "foo=bar",
]
DMARC_TAGS = [
    "p=none",
    "p=reject",
    "p=quarantine",
    "sp=none",
    "sp=bogus",
    "pct=50",
    "pct=999",
    "rua=mailto:r@example.com",
    "rua=mailto:r@vendor.example.net!10m",
    "rua=mailto:@",
    "rua=mailto:x@..",
    "ruf=mailto:f@example.com",
]
junk = st.text(max_size=30)
spf_like = st.lists(st.sampled_from(SPF_TERMS) | junk, max_size=8).map(
    lambda terms: " ".join(["v=spf1", *terms])
)
dmarc_like = st.lists(st.sampled_from(DMARC_TAGS) | junk, max_size=6).map(
    lambda tags: "; ".join(["v=DMARC1", *tags])
)
dkim_like = st.lists(st.sampled_from(["v=DKIM1", "k=rsa", "p=MIGf", "p=", "p=*"]) | junk).map(
    "; ".join
)
mx_like = st.builds(
    "{} {}".format, st.sampled_from(["0", "10", "x", "99999999"]), st.sampled_from([*NAMES, "."])
)
cname_like = st.sampled_from(
    [f"{t}.dkim.amazonses.com" for t in ("tok1", "tok2")] + ["elsewhere.example", "."]
)
record_text = st.one_of(st.text(max_size=80), spf_like, dmarc_like, dkim_like, mx_like, cname_like)
answers = st.one_of(
    st.sampled_from([NX, NODATA, TIMEOUT, SERVFAIL]),
    st.lists(record_text, min_size=1, max_size=3).map(lambda records: rec(*records)),
)


@given(st.text() | spf_like)
def test_parse_spf_never_raises(text: str) -> None:
    """Any text parses to a record or a syntax error."""
    assert isinstance(parse_spf(text), SpfRecord | SpfSyntaxError)


@given(st.text() | dmarc_like)
def test_parse_dmarc_never_raises(text: str) -> None:
    """Any text is a DMARC record or not; report addresses can always be listed."""
    record = parse_dmarc(text)
    if record is not None:
        assert isinstance(record.report_addresses, tuple)


@given(st.text() | dkim_like)
def test_parse_dkim_key_never_raises(text: str) -> None:
    """Any text is a key record or not; a key always has a string public key."""
    key = parse_dkim_key(text)
    assert key is None or isinstance(key.public_key, str)


@settings(deadline=None, max_examples=300)
@given(
    st.data(),
    st.sampled_from([None, "us-east-1", "af-south-1"]),
    st.sampled_from([None, "dkim.amazonses.com"]),
)
def test_evaluate_domain_never_raises_and_terminates(
    data: st.DataObject, region: str | None, zone: str | None
) -> None:
    """Arbitrary answers give a complete report within a bounded number of rounds."""
    domain_target = DomainTarget("example.com", "mail.example.com", ("tok1", "tok2"), region, zone)
    checked = run(domain_target, DrawnTable(data, answers), max_rounds=14)
    assert [c.check for c in checked.report.checks] == list(CHECK_IDS)
    assert all(c.summary != "pending" for c in checked.report.checks)
    assert checked.report.dmarc_policy_level in (None, -1, 0, 1, 2)


class ErroredTable(Mapping[tuple[str, str], Answer]):
    """``base`` with the answers to ``errored`` replaced by timeouts."""

    def __init__(self, base: Mapping[tuple[str, str], Answer], errored: set[tuple[str, str]]):
        self._base = base
        self._errored = errored

    def __getitem__(self, key: tuple[str, str]) -> Answer:
        return TIMEOUT if key in self._errored else self._base[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)


@settings(deadline=None, max_examples=200)
@given(st.data())
def test_a_failed_lookup_never_creates_a_failure(data: st.DataObject) -> None:
    """Turning answers into timeouts can hide a failure but never invent one: a check that
    did not fail with every answer in does not fail when some lookups time out.

    Except a public suffix's DMARC record (``_dmarc.com``): RFC 9989's tree walk asks it,
    RFC 7489 receivers never do, and in authoritative mode it cannot be answered at all, so
    a failure there is skipped (and named in the summary) and the domain's own verdict
    stands; ``test_failed_lookup_above_the_organizational_domain_is_skipped`` holds that."""
    domain_target = DomainTarget("example.com", "mail.example.com", ("tok1", "tok2"), "us-east-1")
    table = DrawnTable(data, answers)
    full = run(domain_target, table, max_rounds=14)
    askable = sorted(key for key in full.asked if key != ("_dmarc.com", "TXT"))
    errored = data.draw(st.sets(st.sampled_from(askable)), label="errored")
    degraded = run(domain_target, ErroredTable(table, errored), max_rounds=14)
    for check, result in degraded.by_check.items():
        if result.status is Status.FAIL:
            assert full.status(check) is Status.FAIL, (check, result, full[check])
