"""SuppressionTracker: paging, counting, incremental refreshes, pacing and errors.

moto (5.2) does not implement the SESv2 suppression-list API (it answers an HTML 404, see
shared/test-peers.md §1), so botocore's ``Stubber`` stands in for AWS here. The Stubber
validates every request we send and every response we script against botocore's sesv2
service model; the responses follow the shapes of the AWS API reference
(https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_ListSuppressedDestinations.html:
``SuppressedDestinationSummaries[{EmailAddress, Reason, LastUpdateTime}]``, ``NextToken``),
with ``LastUpdateTime`` as the aware datetime botocore's parser produces. The same tracker
runs over real HTTP against tests/fakes/sesv2_server.py in
tests/integration/test_sesv2_fake.py.

Time is a fake clock: the tracker's injected ``sleep`` only records and advances it, so
nothing here really sleeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from exporter.sources.suppression import (
    INVALID_DOMAIN,
    SuppressionState,
    SuppressionTracker,
    SuppressionUnavailable,
    recipient_domain,
)

NOW = 1_800_000_000.0  # 2027-01-15, any fixed instant works
OLD = NOW - 10 * 86400  # well outside the 24-hour window
OP = "list_suppressed_destinations"


class FakeTime:
    """A clock that only moves when the tracker sleeps (or the test advances it)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def entry(email: str, reason: str = "BOUNCE", updated: float = OLD) -> dict[str, Any]:
    return {"EmailAddress": email, "Reason": reason, "LastUpdateTime": at(updated)}


_SESSION = boto3.session.Session()  # one session: its loader parses the sesv2 model once


@pytest.fixture(name="client")
def _client() -> Any:
    return _SESSION.client(
        "sesv2",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(name="stubber")
def _stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(name="fake_time")
def _fake_time() -> FakeTime:
    return FakeTime()


def add_page(
    stubber: Stubber,
    summaries: list[dict[str, Any]],
    *,
    cursor_in: str | None = None,
    cursor_out: str | None = None,
    start: float | None = None,
    page_size: int = 1000,
) -> None:
    """Script one ListSuppressedDestinations call: the request expected, the page returned."""
    expected: dict[str, Any] = {"PageSize": page_size}
    if start is not None:
        expected["StartDate"] = at(start)
    if cursor_in is not None:
        expected["NextToken"] = cursor_in
    response: dict[str, Any] = {"SuppressedDestinationSummaries": summaries}
    if cursor_out is not None:
        response["NextToken"] = cursor_out
    stubber.add_response(OP, response, expected)


def expect_pages(
    stubber: Stubber,
    *pages: list[dict[str, Any]],
    start: float | None = None,
    page_size: int = 1000,
) -> None:
    """Script one whole walk: page n answers NextToken t<n+1>, the last none."""
    for number, summaries in enumerate(pages):
        add_page(
            stubber,
            summaries,
            cursor_in=f"t{number}" if number else None,
            cursor_out=f"t{number + 1}" if number + 1 < len(pages) else None,
            start=start,
            page_size=page_size,
        )


def expect_error(
    stubber: Stubber, code: str, status: int, expected: dict[str, Any] | None = None
) -> None:
    stubber.add_client_error(
        OP,
        service_error_code=code,
        service_message=f"{code} (scripted)",
        http_status_code=status,
        expected_params=expected if expected is not None else {"PageSize": 1000},
    )


def tracker(client: Any, fake_time: FakeTime, **options: Any) -> SuppressionTracker:
    options.setdefault("max_requests_per_second", 1000.0)
    return SuppressionTracker(client, clock=fake_time.clock, sleep=fake_time.sleep, **options)


# ---------------------------------------------------------------------- full count


def test_first_refresh_follows_next_token_through_every_page(client, stubber, fake_time):
    """The first refresh reads every page (PageSize 1000, NextToken chained) and counts."""
    expect_pages(
        stubber,
        [entry("a@x.example"), entry("b@x.example", "COMPLAINT")],
        [],  # AWS may return an empty page that still carries a NextToken
        [entry("c@y.example")],
        [entry("d@z.example", "COMPLAINT"), entry("e@z.example", "COMPLAINT")],
    )
    state = tracker(client, fake_time).refresh()
    assert state.by_reason == {"BOUNCE": 2, "COMPLAINT": 3}
    assert state.total == 5
    assert state.api_calls == 4
    assert state.full_recount_at == NOW
    assert state.added_last_24h == 0


def test_reasons_are_zero_initialised(client, stubber, fake_time):
    """An empty list still reports BOUNCE and COMPLAINT (as 0), with no domains."""
    expect_pages(stubber, [])
    state = tracker(client, fake_time).refresh()
    assert state.by_reason == {"BOUNCE": 0, "COMPLAINT": 0}
    assert state.total == 0
    assert state.top_recipient_domains == ()


def test_top_domains_are_bounded_ordered_and_never_addresses(client, stubber, fake_time):
    """Top K by entries, ties by name; domains are lower-case IDNA; no local part leaks."""
    expect_pages(
        stubber,
        [entry(f"u{i}@big.example") for i in range(4)]
        + [entry(f"u{i}@Mid.EXAMPLE") for i in range(3)]
        + [entry(f"u{i}@bücher.example") for i in range(3)],
        [entry(f"u{i}@two.example") for i in range(2)]
        + [entry("lonely@one.example"), entry("not-an-address")],
    )
    state = tracker(client, fake_time, top_domains=3).refresh()
    assert state.top_recipient_domains == (
        ("big.example", 4),
        ("mid.example", 3),
        ("xn--bcher-kva.example", 3),
    )
    assert state.total == 14
    assert "@" not in repr(state)
    assert "lonely" not in repr(state)


def test_top_domains_zero_reports_none(client, stubber, fake_time):
    """top_domains=0 turns the per-domain series off; the counts stay."""
    expect_pages(stubber, [entry("a@x.example")])
    state = tracker(client, fake_time, top_domains=0).refresh()
    assert state.top_recipient_domains == ()
    assert state.total == 1


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("User@Example.COM", "example.com"),
        ('"odd@local"@example.org', "example.org"),  # the domain is after the LAST @
        ("x@bücher.example", "xn--bcher-kva.example"),
        ("x@BÜCHER.example", "xn--bcher-kva.example"),
        ("x@example.com.", "example.com"),
        ("x@[192.0.2.1]", "[192.0.2.1]"),
        ("no-at-sign", INVALID_DOMAIN),
        ("x@", INVALID_DOMAIN),
        ("x@a..example", INVALID_DOMAIN),
        ("x@exa mple.com", INVALID_DOMAIN),
        ("x@<script>.example", INVALID_DOMAIN),
        ("x@" + "a" * 64 + ".example", INVALID_DOMAIN),  # IDNA: label longer than 63
        ("x@" + ".".join(["abcdefghi"] * 30), INVALID_DOMAIN),  # longer than 253
    ],
)
def test_recipient_domain(address, domain):
    """The domain label: lower-case, IDNA, or '(invalid)'; never anything with an @."""
    assert recipient_domain(address) == domain


def test_added_last_24h_counts_entries_updated_within_a_day(client, stubber, fake_time):
    """Entries whose LastUpdateTime is within 24 h of the refresh are 'added or updated'."""
    expect_pages(
        stubber,
        [
            entry("a@x.example", updated=NOW - 60),
            entry("b@x.example", updated=NOW - 86000),
            entry("c@x.example", updated=NOW - 86401),
            entry("d@x.example", updated=OLD),
        ],
    )
    state = tracker(client, fake_time).refresh()
    assert state.added_last_24h == 2
    assert state.total == 4


def test_an_address_listed_twice_in_one_full_count_counts_once(client, stubber, fake_time):
    """Updated while the pages were read: one entry, the later read's reason wins."""
    expect_pages(
        stubber,
        [entry("a@x.example", "BOUNCE"), entry("b@y.example")],
        [entry("a@x.example", "COMPLAINT", updated=NOW - 5)],
    )
    state = tracker(client, fake_time).refresh()
    assert state.total == 2
    assert state.by_reason == {"BOUNCE": 1, "COMPLAINT": 1}
    assert dict(state.top_recipient_domains) == {"x.example": 1, "y.example": 1}
    assert state.added_last_24h == 1


def test_a_reason_the_api_adds_later_is_counted_under_its_name(client, stubber, fake_time):
    """Forward compatible: an unknown Reason gets its own key instead of breaking."""
    expect_pages(stubber, [entry("a@x.example", "FUTURE_REASON"), entry("b@x.example")])
    state = tracker(client, fake_time).refresh()
    assert state.by_reason == {"BOUNCE": 1, "COMPLAINT": 0, "FUTURE_REASON": 1}


# ---------------------------------------------------------------------- incremental


def test_incremental_refresh_sends_start_date_and_counts_only_new(client, stubber, fake_time):
    """Later refreshes ask from the last start minus the overlap; re-listed entries are not new."""
    expect_pages(stubber, [entry("a@x.example"), entry("b@x.example")])
    suppression = tracker(client, fake_time, overlap_seconds=300)
    first = suppression.refresh()
    assert first.total == 2

    fake_time.now = NOW + 600
    expect_pages(
        stubber,
        [
            entry("c@y.example", updated=NOW + 500),  # new
            entry("a@x.example", updated=NOW + 400),  # suppressed again: updated, not new
        ],
        [entry("c@y.example", updated=NOW + 500)],  # seen twice (overlap): still one
        start=NOW - 300,
    )
    second = suppression.refresh()
    assert second.total == 3
    assert second.by_reason == {"BOUNCE": 3, "COMPLAINT": 0}
    assert second.top_recipient_domains == (("x.example", 2), ("y.example", 1))
    assert second.added_last_24h == 2  # c added, a updated: "added or updated"
    assert second.full_recount_at == NOW  # no full count happened
    assert second.api_calls == 3

    fake_time.now = NOW + 1200
    expect_pages(stubber, [], start=NOW + 600 - 300)
    third = suppression.refresh()
    assert third.total == 3
    assert third.api_calls == 4


def test_incremental_reason_change_moves_the_entry(client, stubber, fake_time):
    """A BOUNCE entry suppressed again as COMPLAINT moves between reasons; total unchanged."""
    expect_pages(stubber, [entry("a@x.example"), entry("b@x.example")])
    suppression = tracker(client, fake_time, overlap_seconds=0)
    suppression.refresh()
    fake_time.now = NOW + 60
    expect_pages(stubber, [entry("a@x.example", "COMPLAINT", updated=NOW + 30)], start=NOW)
    state = suppression.refresh()
    assert state.by_reason == {"BOUNCE": 1, "COMPLAINT": 1}
    assert state.total == 2
    assert state.top_recipient_domains == (("x.example", 2),)
    # and back again: the overlay entry is updated, not added
    fake_time.now = NOW + 120
    expect_pages(stubber, [entry("a@x.example", "BOUNCE", updated=NOW + 90)], start=NOW + 60)
    state = suppression.refresh()
    assert state.by_reason == {"BOUNCE": 2, "COMPLAINT": 0}
    assert state.total == 2


def test_added_last_24h_ages_out_without_new_data(client, stubber, fake_time):
    """An entry leaves the 24-hour count once its LastUpdateTime is more than a day old."""
    expect_pages(stubber, [entry("a@x.example", updated=NOW - 3600)])
    suppression = tracker(client, fake_time, overlap_seconds=0)
    assert suppression.refresh().added_last_24h == 1
    fake_time.now = NOW + 86400 - 3600 + 1
    expect_pages(stubber, [], start=NOW)
    state = suppression.refresh()
    assert state.added_last_24h == 0
    assert state.total == 1


def test_full_recount_after_interval_sees_deletions(client, stubber, fake_time):
    """After full_recount_seconds the whole list is read again, so removals show."""
    expect_pages(
        stubber, [entry("a@x.example"), entry("b@y.example"), entry("c@z.example", "COMPLAINT")]
    )
    suppression = tracker(client, fake_time, full_recount_seconds=3600, overlap_seconds=0)
    assert suppression.refresh().total == 3

    fake_time.now = NOW + 1800
    expect_pages(stubber, [], start=NOW)  # incremental: nothing changed, deletions unseen
    assert suppression.refresh().total == 3

    fake_time.now = NOW + 3600
    expect_pages(stubber, [entry("a@x.example")])  # full again: no StartDate
    state = suppression.refresh()
    assert state.total == 1
    assert state.by_reason == {"BOUNCE": 1, "COMPLAINT": 0}
    assert state.top_recipient_domains == (("x.example", 1),)
    assert state.full_recount_at == NOW + 3600

    fake_time.now = NOW + 3700
    expect_pages(stubber, [entry("b@y.example", updated=NOW + 3650)], start=NOW + 3600)
    state = suppression.refresh()
    assert state.total == 2  # b was deleted, so adding it again is new again


# ---------------------------------------------------------------------- pacing and errors


def test_rate_limit_paces_every_call(client, stubber, fake_time):
    """N pages at R req/s sleep (N - 1)/R in total, across refreshes too."""
    expect_pages(stubber, *([entry(f"u{i}@x.example")] for i in range(5)))
    suppression = tracker(client, fake_time, max_requests_per_second=2.0, overlap_seconds=0)
    suppression.refresh()
    assert fake_time.sleeps == [0.5] * 4
    assert sum(fake_time.sleeps) == pytest.approx((5 - 1) / 2.0)

    expect_pages(stubber, [], start=NOW)  # immediately again: waits for its slot
    suppression.refresh()
    assert fake_time.sleeps == [0.5] * 5


def test_rate_limit_counts_the_time_a_call_takes(client, stubber, fake_time):
    """Pacing is start to start: a call that takes 0.3 s leaves 0.2 s to wait at 2 req/s."""

    def slow_call(**_: Any) -> None:
        fake_time.now += 0.3

    client.meta.events.register(
        "before-parameter-build.sesv2.ListSuppressedDestinations", slow_call
    )
    expect_pages(stubber, *([entry(f"u{i}@x.example")] for i in range(4)))
    tracker(client, fake_time, max_requests_per_second=2.0).refresh()
    assert fake_time.sleeps == pytest.approx([0.2] * 3)


def test_default_rate_is_one_request_per_second(client, stubber, fake_time):
    """The default pacing is AWS's documented 1 request/s: 3 pages wait 2 s."""
    expect_pages(stubber, [], [], [])
    SuppressionTracker(client, clock=fake_time.clock, sleep=fake_time.sleep).refresh()
    assert fake_time.sleeps == [1.0, 1.0]


def test_throttling_is_retried_with_backoff_within_the_refresh(client, stubber, fake_time):
    """TooManyRequestsException: the same page again after 1 s, then 2 s; no page skipped."""
    add_page(stubber, [entry("a@x.example")], cursor_out="t1")
    second_page = {"PageSize": 1000, "NextToken": "t1"}
    expect_error(stubber, "TooManyRequestsException", 429, second_page)
    expect_error(stubber, "TooManyRequestsException", 429, second_page)
    add_page(stubber, [entry("b@x.example")], cursor_in="t1")
    state = tracker(client, fake_time, max_requests_per_second=10.0).refresh()
    assert fake_time.sleeps == pytest.approx([0.1, 1.0, 2.0])  # pace, backoff, backoff
    assert state.total == 2
    assert state.api_calls == 4


def test_throttling_gives_up_after_max_retries_and_keeps_state(client, stubber, fake_time):
    """Bounded: after max_throttle_retries the refresh fails; state and watermark are kept."""
    expect_pages(stubber, [entry("a@x.example")])
    suppression = tracker(client, fake_time, max_throttle_retries=2, overlap_seconds=0)
    before = suppression.refresh()

    fake_time.now = NOW + 100
    incremental = {"PageSize": 1000, "StartDate": at(NOW)}
    for _ in range(3):
        expect_error(stubber, "TooManyRequestsException", 429, incremental)
    with pytest.raises(SuppressionUnavailable) as caught:
        suppression.refresh()
    assert caught.value.error_code == "TooManyRequestsException"
    assert fake_time.sleeps == [1.0, 2.0]
    assert suppression.state is before

    expect_pages(stubber, [entry("b@x.example", updated=NOW + 50)], start=NOW)  # same fetch
    state = suppression.refresh()
    assert state.total == 2
    assert state.api_calls == 5  # 1 + 3 failed + 1


@pytest.mark.parametrize(
    ("code", "status", "reported"),
    [
        ("BadRequestException", 400, "BadRequestException"),
        ("NotFoundException", 404, "NotFoundException"),
        ("InvalidNextTokenException", 400, "InvalidNextTokenException"),
        ("AccessDeniedException", 403, "AccessDeniedException"),
        ("AccessDenied", 403, "AccessDeniedException"),
        ("InternalFailure", 500, "InternalFailure"),
    ],
)
def test_other_client_errors_raise_suppression_unavailable(  # noqa: PLR0917 - fixtures + params
    client, stubber, fake_time, code, status, reported
):
    """Anything but throttling fails the refresh at once, with the AWS error code."""
    expect_error(stubber, code, status)
    suppression = tracker(client, fake_time)
    with pytest.raises(SuppressionUnavailable) as caught:
        suppression.refresh()
    assert caught.value.error_code == reported
    assert fake_time.sleeps == []
    assert suppression.state is None


def test_an_error_mid_full_count_keeps_the_previous_aggregate(client, stubber, fake_time):
    """A full count that fails on page 2 changes nothing; the next refresh is full again."""
    expect_pages(stubber, [entry("a@x.example"), entry("b@x.example")])
    suppression = tracker(client, fake_time, full_recount_seconds=3600)
    before = suppression.refresh()

    fake_time.now = NOW + 4000
    add_page(stubber, [entry("a@x.example")], cursor_out="t1")
    expect_error(stubber, "InvalidNextTokenException", 400, {"PageSize": 1000, "NextToken": "t1"})
    with pytest.raises(SuppressionUnavailable):
        suppression.refresh()
    assert suppression.state is before

    fake_time.now = NOW + 5000
    expect_pages(stubber, [entry("a@x.example")])  # full again (no StartDate)
    state = suppression.refresh()
    assert state.total == 1
    assert state.full_recount_at == NOW + 5000


def test_botocore_errors_raise_suppression_unavailable(client, fake_time):
    """Transport errors (timeouts, DNS, TLS) become SuppressionUnavailable(<error type>)."""

    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    client.meta.events.register("before-call.sesv2.ListSuppressedDestinations", timeout)
    with pytest.raises(SuppressionUnavailable) as caught:
        tracker(client, fake_time).refresh()
    assert caught.value.error_code == "ReadTimeoutError"


def test_a_repeated_next_token_stops_the_walk(client, stubber, fake_time):
    """A NextToken seen before would loop forever: the refresh fails instead."""
    stubber.add_response(
        OP, {"SuppressedDestinationSummaries": [], "NextToken": "same"}, {"PageSize": 1000}
    )
    stubber.add_response(
        OP,
        {"SuppressedDestinationSummaries": [], "NextToken": "same"},
        {"PageSize": 1000, "NextToken": "same"},
    )
    with pytest.raises(SuppressionUnavailable) as caught:
        tracker(client, fake_time).refresh()
    assert caught.value.error_code == "NextTokenLoop"


def test_page_size_is_configurable(client, stubber, fake_time):
    """PageSize is sent as configured (1000, the API maximum, by default)."""
    expect_pages(stubber, [entry("a@x.example")], page_size=250)
    assert tracker(client, fake_time, page_size=250).refresh().total == 1


@pytest.mark.parametrize(
    "options",
    [
        {"max_requests_per_second": 0},
        {"max_requests_per_second": -1},
        {"page_size": 0},
        {"page_size": 1001},
        {"top_domains": -1},
        {"full_recount_seconds": 0},
        {"overlap_seconds": -1},
        {"max_throttle_retries": -1},
    ],
)
def test_bad_options_are_rejected(client, options):
    """Options that would hammer the API or never recount fail at construction."""
    with pytest.raises(ValueError):
        SuppressionTracker(client, **options)


# ---------------------------------------------------------------------- memory and privacy


def _strings_with_at(value: Any, seen: set[int]) -> list[str]:
    """Every str containing '@' reachable from ``value`` (containers and plain objects)."""
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, str):
        return [value] if "@" in value else []
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    elif hasattr(value, "__dict__") or hasattr(type(value), "__slots__"):
        names = list(getattr(value, "__dict__", {})) + list(getattr(type(value), "__slots__", ()))
        items = [getattr(value, n) for n in names if hasattr(value, n) and n != "_client"]
    else:
        return []
    found: list[str] = []
    for item in items:
        found.extend(_strings_with_at(item, seen))
    return found


def test_memory_is_compact_and_no_address_is_kept(client, stubber, fake_time):
    """20,000 entries: about 9 bytes each for the digests, and no address string retained."""
    pages = [
        [
            entry(f"user{p}-{i}@d{i % 97}.example", "BOUNCE" if i % 5 else "COMPLAINT")
            for i in range(1000)
        ]
        for p in range(20)
    ]
    expect_pages(stubber, *pages)
    suppression = tracker(client, fake_time)
    state = suppression.refresh()
    assert state.total == 20_000
    assert state.by_reason == {"BOUNCE": 16_000, "COMPLAINT": 4_000}
    usage = suppression.memory_usage()
    assert usage["digests"] < 20_000 * 9 + 1024
    assert usage["recent"] < 1024
    assert _strings_with_at(suppression, set()) == []


def test_state_is_frozen():
    """A published state cannot be changed by a reader."""
    state = SuppressionState({"BOUNCE": 0, "COMPLAINT": 0}, 0, (), 0, NOW, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.total = 1  # type: ignore[misc]
