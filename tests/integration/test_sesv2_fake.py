"""A real boto3 sesv2 client against tests/fakes/sesv2_server.py, over loopback HTTP.

moto does not implement these SESv2 operations (it answers an HTML 404), so the fake
stands in. The first tests prove that botocore signs, sends and **parses** every response
the fake gives (so the fake's shapes are the service model's), and that an injected error
arrives as a ``ClientError`` with the right code. The last ones run SuppressionTracker end
to end: real query strings (``StartDate`` as ISO 8601, ``NextToken``), real pages, real
errors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fakes.sesv2_server import (
    Sesv2Fake,
    SuppressedEntry,
    eventbridge_destination,
    recommendation,
    requests_for,
    sns_destination,
)

from exporter.sources.ses import Cancelled
from exporter.sources.suppression import SuppressionTracker, SuppressionUnavailable

pytestmark = pytest.mark.integration

SUPPRESSION = "/v2/email/suppression/addresses"


@pytest.fixture(name="fake")
def _fake() -> Iterator[Sesv2Fake]:
    with Sesv2Fake() as fake:
        yield fake


@pytest.fixture(name="client")
def _client(fake: Sesv2Fake) -> Any:
    return fake.client()


def epoch(value: datetime) -> float:
    return value.timestamp()


# ---------------------------------------------------------------------- every response parses


def test_get_account_parses(fake, client):
    """GetAccount: sending/production flags, enforcement, quota, details, suppression, VDM."""
    fake.account["ProductionAccessEnabled"] = False
    fake.account["EnforcementStatus"] = "PROBATION"
    account = client.get_account()
    assert account["SendingEnabled"] is True
    assert account["ProductionAccessEnabled"] is False
    assert account["EnforcementStatus"] == "PROBATION"
    assert account["SendQuota"] == {
        "Max24HourSend": 50000.0,
        "MaxSendRate": 14.0,
        "SentLast24Hours": 1234.0,
    }
    assert account["Details"]["ReviewDetails"]["Status"] == "GRANTED"
    assert account["SuppressionAttributes"]["SuppressedReasons"] == ["BOUNCE", "COMPLAINT"]
    assert account["VdmAttributes"]["VdmEnabled"] == "ENABLED"


def test_list_suppressed_destinations_pages_and_filters(fake, client):
    """Pages follow NextToken; Reason and StartDate filter; LastUpdateTime is a datetime."""
    base = 1_800_000_000.0
    fake.suppressed = [
        SuppressedEntry(f"u{i}@d{i % 2}.example", "BOUNCE" if i % 3 else "COMPLAINT", base + i)
        for i in range(5)
    ]
    seen: list[tuple[str, str, float]] = []
    kwargs: dict[str, Any] = {"PageSize": 2}
    pages = 0
    while True:
        response = client.list_suppressed_destinations(**kwargs)
        pages += 1
        seen += [
            (s["EmailAddress"], s["Reason"], epoch(s["LastUpdateTime"]))
            for s in response["SuppressedDestinationSummaries"]
        ]
        if "NextToken" not in response:
            break
        kwargs["NextToken"] = response["NextToken"]
    assert pages == 3
    assert seen == [(e.email, e.reason, e.last_update) for e in fake.suppressed]

    complaints = client.list_suppressed_destinations(Reasons=["COMPLAINT"])
    assert [s["EmailAddress"] for s in complaints["SuppressedDestinationSummaries"]] == [
        "u0@d0.example",
        "u3@d1.example",
    ]
    recent = client.list_suppressed_destinations(StartDate=datetime.fromtimestamp(base + 3, tz=UTC))
    assert [s["EmailAddress"] for s in recent["SuppressedDestinationSummaries"]] == [
        "u3@d1.example",
        "u4@d0.example",
    ]
    (logged,) = [r for r in requests_for(fake.log, SUPPRESSION) if "StartDate" in r.query]
    assert logged.query["StartDate"] == ["2027-01-15T08:00:03Z"]  # botocore: ISO 8601, UTC


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"PageSize": 1001}, "BadRequestException"),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ],
)
def test_list_suppressed_destinations_rejects_bad_requests(client, kwargs, code):
    """The fake validates like the API: PageSize at most 1000, tokens it issued."""
    with pytest.raises(ClientError) as caught:
        client.list_suppressed_destinations(**kwargs)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_list_and_get_email_identities_parse(fake, client):
    """ListEmailIdentities pages; GetEmailIdentity has DKIM, MAIL FROM and the config set."""
    fake.add_domain_identity(
        "example.com", mail_from="bounce.example.com", configuration_set="default"
    )
    fake.add_domain_identity("pending.example", verification_status="PENDING")
    first = client.list_email_identities(PageSize=1)
    second = client.list_email_identities(PageSize=1, NextToken=first["NextToken"])
    assert "NextToken" not in second
    names = [i["IdentityName"] for i in first["EmailIdentities"] + second["EmailIdentities"]]
    assert names == ["example.com", "pending.example"]
    assert second["EmailIdentities"][0] == {
        "IdentityType": "DOMAIN",
        "IdentityName": "pending.example",
        "SendingEnabled": True,
        "VerificationStatus": "PENDING",
    }

    identity = client.get_email_identity(EmailIdentity="example.com")
    assert identity["IdentityType"] == "DOMAIN"
    assert identity["VerifiedForSendingStatus"] is True
    assert identity["FeedbackForwardingStatus"] is True
    dkim = identity["DkimAttributes"]
    assert dkim["Status"] == "SUCCESS"
    assert len(dkim["Tokens"]) == 3
    assert dkim["SigningAttributesOrigin"] == "AWS_SES"
    assert dkim["CurrentSigningKeyLength"] == "RSA_2048_BIT"
    assert identity["MailFromAttributes"] == {
        "MailFromDomain": "bounce.example.com",
        "MailFromDomainStatus": "SUCCESS",
        "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
    }
    assert identity["ConfigurationSetName"] == "default"
    other = client.get_email_identity(EmailIdentity="pending.example")
    assert other["DkimAttributes"]["Tokens"] != dkim["Tokens"]  # per-domain, unlike moto
    assert "MailFromAttributes" not in other

    with pytest.raises(ClientError) as caught:
        client.get_email_identity(EmailIdentity="someone@nowhere.example")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    assert fake.requests["/v2/email/identities/someone@nowhere.example"] == 1


def test_event_destinations_parse(fake, client):
    """GetConfigurationSetEventDestinations: SNS and EventBridge destinations."""
    fake.event_destinations["default"] = [
        sns_destination("to-sns", "ses-events", ["BOUNCE", "COMPLAINT", "DELIVERY"]),
        eventbridge_destination("to-bus", ["SEND"]),
    ]
    destinations = client.get_configuration_set_event_destinations(ConfigurationSetName="default")[
        "EventDestinations"
    ]
    assert destinations[0]["SnsDestination"]["TopicArn"].endswith(":ses-events")
    assert destinations[0]["MatchingEventTypes"] == ["BOUNCE", "COMPLAINT", "DELIVERY"]
    assert destinations[1]["EventBridgeDestination"]["EventBusArn"].endswith("event-bus/default")
    with pytest.raises(ClientError) as caught:
        client.get_configuration_set_event_destinations(ConfigurationSetName="missing")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_list_configuration_sets_pages(fake, client):
    """ListConfigurationSets: the names, paged on NextToken."""
    for i in range(3):
        fake.event_destinations[f"set{i}"] = []
    first = client.list_configuration_sets(PageSize=2)
    assert first["ConfigurationSets"] == ["set0", "set1"]
    rest = client.list_configuration_sets(PageSize=2, NextToken=first["NextToken"])
    assert rest["ConfigurationSets"] == ["set2"]
    assert "NextToken" not in rest


def test_list_recommendations_parses_and_filters(fake, client):
    """ListRecommendations is a POST with a JSON Filter; timestamps parse as datetimes."""
    fake.recommendations = [
        recommendation("example.com", "DMARC", created=1_700_000_000, updated=1_700_000_500),
        recommendation("example.com", "SPF", status="FIXED", impact="LOW"),
    ]
    everything = client.list_recommendations()["Recommendations"]
    assert [r["Type"] for r in everything] == ["DMARC", "SPF"]
    dmarc = everything[0]
    assert dmarc["ResourceArn"] == "arn:aws:ses:us-east-1:123456789012:identity/example.com"
    assert epoch(dmarc["CreatedTimestamp"]) == 1_700_000_000
    assert epoch(dmarc["LastUpdatedTimestamp"]) == 1_700_000_500
    assert dmarc["Impact"] == "HIGH"
    open_only = client.list_recommendations(Filter={"STATUS": "OPEN"})["Recommendations"]
    assert [r["Type"] for r in open_only] == ["DMARC"]
    logged = list(requests_for(fake.log, "/v2/email/vdm/recommendations"))
    assert [r.method for r in logged] == ["POST", "POST"]
    assert logged[-1].body == {"Filter": {"STATUS": "OPEN"}}


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda c: c.get_account(), "/v2/email/account"),
        (lambda c: c.list_suppressed_destinations(), SUPPRESSION),
        (lambda c: c.list_email_identities(), "/v2/email/list-identities"),
        (
            lambda c: c.get_email_identity(EmailIdentity="a.example"),
            "/v2/email/identities/a.example",
        ),
        (
            lambda c: c.get_configuration_set_event_destinations(ConfigurationSetName="cs"),
            "/v2/email/configuration-sets/cs/event-destinations",
        ),
        (lambda c: c.list_recommendations(), "/v2/email/vdm/recommendations"),
    ],
)
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "TooManyRequestsException"),
        (403, "AccessDeniedException"),
        (500, "InternalFailure"),
    ],
)
def test_injected_errors_arrive_as_client_errors(  # noqa: PLR0917 - fixtures + parameters
    fake, client, call, path, status, code
):
    """An error answer (x-amzn-ErrorType + {"message"}) parses to ClientError(code)."""
    fake.fail(path, code=code, status=status, message=f"scripted {code}")
    with pytest.raises(ClientError) as caught:
        call(client)
    error = caught.value.response["Error"]
    assert error["Code"] == code
    assert error["Message"] == f"scripted {code}"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert fake.requests[path] == 1  # the client made no retry of its own


def test_unknown_operations_answer_404(fake, client):
    """Anything the fake does not serve says so, instead of an empty success."""
    with pytest.raises(ClientError) as caught:
        client.get_deliverability_dashboard_options()
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"


# ---------------------------------------------------------------------- the tracker over HTTP


class Clock:
    """Real time plus an offset the test can move; sleeps are recorded, not slept."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


def domain_of(i: int) -> str:
    """1000 Big, 700 Mid (mixed case), 500 bücher (IDNA), 300 spread over 50 tail domains."""
    if i < 1000:
        return "Big.example"
    if i < 1700:
        return "Mid.Example"
    if i < 2200:
        return "bücher.example"
    return f"tail{i % 50}.example"


def test_tracker_end_to_end(fake, client):
    """Full count over 3 pages, an incremental refresh, then a full recount with a deletion."""
    clock = Clock()
    now = clock()
    fake.suppressed = [
        SuppressedEntry(
            f"user{i}@{domain_of(i)}", "COMPLAINT" if i % 10 == 0 else "BOUNCE", now - 3 * 86400 + i
        )
        for i in range(2500)
    ]
    tracker = SuppressionTracker(
        client,
        max_requests_per_second=5.0,
        top_domains=3,
        full_recount_seconds=3600,
        clock=clock,
        sleep=clock.sleep,
    )
    state = tracker.refresh()
    assert state.total == 2500
    assert state.by_reason == {"BOUNCE": 2250, "COMPLAINT": 250}
    assert state.top_recipient_domains == (
        ("big.example", 1000),
        ("mid.example", 700),
        ("xn--bcher-kva.example", 500),
    )
    assert state.api_calls == 3
    # 3 pages at 5 req/s: two waits, each 0.2 s minus the time the previous page took
    assert len(clock.sleeps) <= 2
    assert all(0 < s <= 0.2 + 1e-6 for s in clock.sleeps)
    assert [r.query["PageSize"] for r in requests_for(fake.log, SUPPRESSION)] == [["1000"]] * 3

    fake.suppress("new@Fresh.example", "BOUNCE", clock())
    fake.suppress("user7@Big.example", "COMPLAINT", clock())  # re-suppressed: moves
    state = tracker.refresh()
    last = list(requests_for(fake.log, SUPPRESSION))[-1]
    assert "StartDate" in last.query
    assert state.total == 2501
    assert state.by_reason == {"BOUNCE": 2250, "COMPLAINT": 251}
    assert state.added_last_24h == 2
    assert state.api_calls == 4

    fake.unsuppress("user1@Big.example")
    clock.offset += 3600
    state = tracker.refresh()
    assert "StartDate" not in list(requests_for(fake.log, SUPPRESSION))[-1].query
    assert state.total == 2500
    assert state.top_recipient_domains[0] == ("big.example", 999)  # deletion seen
    assert state.api_calls == 7


def test_tracker_retries_throttling_from_the_real_api_shape(fake, client):
    """Two 429 TooManyRequestsException answers, then success: one refresh, backoff 1 s, 2 s."""
    clock = Clock()
    fake.suppressed = [SuppressedEntry("a@x.example", "BOUNCE", clock() - 10)]
    fake.fail(SUPPRESSION, code="TooManyRequestsException", status=429, times=2)
    tracker = SuppressionTracker(client, clock=clock, sleep=clock.sleep)
    state = tracker.refresh()
    assert state.total == 1
    assert state.added_last_24h == 1
    assert fake.requests[SUPPRESSION] == 3
    assert [round(s, 1) for s in clock.sleeps] == [1.0, 2.0]


def test_tracker_reports_access_denied(fake, client):
    """A role without ses:ListSuppressedDestinations: SuppressionUnavailable, no retry."""
    fake.fail(SUPPRESSION, code="AccessDeniedException", status=403, times=None)
    tracker = SuppressionTracker(client)
    with pytest.raises(SuppressionUnavailable) as caught:
        tracker.refresh()
    assert caught.value.error_code == "AccessDeniedException"
    assert fake.requests[SUPPRESSION] == 1
    assert tracker.state is None


def test_tracker_stops_between_pages_and_keeps_its_state(fake, client):
    """The daemon's stop event: once it is set, a refresh raises Cancelled before its next
    call, and the aggregate stays the previous refresh's."""
    now = time.time()
    fake.suppressed = [
        SuppressedEntry(f"user{i}@corp.example", "BOUNCE", now - 86400 * 2) for i in range(3000)
    ]
    stop = threading.Event()
    tracker = SuppressionTracker(
        client,
        max_requests_per_second=1000.0,
        full_recount_seconds=0.001,  # every refresh is a full count
        stop=stop,
    )
    first = tracker.refresh()
    assert first.total == 3000
    fake.suppressed = [*fake.suppressed, SuppressedEntry("late@corp.example", "BOUNCE", now)]
    calls = fake.requests[SUPPRESSION]
    stop.set()
    with pytest.raises(Cancelled):
        tracker.refresh()
    assert fake.requests[SUPPRESSION] == calls
    assert tracker.state is first
    assert tracker.state.total == 3000
