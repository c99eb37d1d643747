"""SES state against moto in server mode (real HTTP), and Stubber where moto has no peer.

moto implements SES v1 identities, DKIM, MAIL FROM and notification attributes,
CloudWatch metric data and STS, two regions apart. It does not implement SESv2 GetAccount,
ListRecommendations or configuration-set event destinations (404): GetAccount uses
botocore's Stubber, which validates requests and responses against the service model,
with response shapes from the SES API reference; configuration sets, their event
destinations and GetEmailIdentity come from the loopback SESv2 fake (tests/fakes).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

import pytest
from botocore.stub import Stubber
from fakes.sesv2_server import Sesv2Fake, eventbridge_destination
from helpers.moto_fixtures import Moto
from prometheus_client import CollectorRegistry

from exporter.checks import evaluate_domain
from exporter.checks.dkim import check_dkim
from exporter.checks.ses import (
    check_dkim_status,
    check_feedback_routing,
    dns_dkim_tokens,
    feedback_path,
)
from exporter.collector import ExporterCollector
from exporter.config import AwsAccountConfig, AwsConfig, ClusterConfig, Config
from exporter.jobs.discovery import merge_targets
from exporter.jobs.ses import (
    ACCOUNT_JOB,
    IDENTITIES_JOB,
    SUPPRESSION_JOB,
    SesRegionCollector,
    build_region_collector,
)
from exporter.model import Answer, AnswerKind, Status
from exporter.sharding import owns, shard_of
from exporter.sources.dns import DnsQueryStats
from exporter.sources.ses import SesApiError, SesRegionSource
from exporter.store import Snapshot, Store
from exporter.web import render_metrics

pytestmark = pytest.mark.integration


def region_source(moto: Moto, region: str = "us-east-1", **kw: Any) -> SesRegionSource:
    client = moto.client("ses")
    if region != "us-east-1":
        import boto3  # noqa: PLC0415

        client = boto3.session.Session().client(
            "ses", endpoint_url=moto.endpoint, region_name=region
        )
    return SesRegionSource(region=region, sesv2=moto.client("sesv2"), ses=client, **kw)


def prod_collector(ses: Any, sesv2: Any, **settings: Any) -> SesRegionCollector:
    """Account prod (123456789012) in us-east-1: SES v1 calls to ``ses``, SESv2 to ``sesv2``."""
    return SesRegionCollector(
        account_name="prod",
        account_id="123456789012",
        source=SesRegionSource(region="us-east-1", sesv2=sesv2, ses=ses),
        settings=AwsConfig(**settings),
        sesv2_client=sesv2,
    )


def test_domain_identities_with_batched_attributes(moto: Moto) -> None:
    """Domains only (no email identities), with tokens, MAIL FROM and verification."""
    ses = moto.client("ses")
    for domain in ("a.example", "b.example", "skip.other"):
        ses.verify_domain_identity(Domain=domain)
        ses.verify_domain_dkim(Domain=domain)
    ses.verify_email_identity(EmailAddress="someone@a.example")
    ses.set_identity_mail_from_domain(Identity="a.example", MailFromDomain="mail.a.example")
    states = region_source(moto).domain_identities(["*.example"])
    assert [s.identity for s in states] == ["a.example", "b.example"]
    a = states[0]
    assert a.verification_status == "Success"
    assert a.dkim_enabled
    assert len(a.dkim_tokens) == 3
    assert a.mail_from_domain == "mail.a.example"
    assert a.mail_from_status == "Success"
    assert states[1].mail_from_domain is None
    # moto never returns notification topics: feedback is email only, as SES's default.
    assert feedback_path(a, "bounce") == "email_only"


def test_regions_are_separate(moto: Moto) -> None:
    moto.client("ses").verify_domain_identity(Domain="east.example")
    west = region_source(moto, "eu-west-1")
    assert west.domain_identities() == []


@pytest.fixture(name="sesv2_fake")
def _sesv2_fake() -> Iterator[Sesv2Fake]:
    with Sesv2Fake() as fake:
        yield fake


def cloudwatch_destination(name: str, events: list[str]) -> dict[str, Any]:
    """An EventDestination with only CloudWatch dimensions (API_EventDestination.html)."""
    return {
        "Name": name,
        "Enabled": True,
        "MatchingEventTypes": events,
        "CloudWatchDestination": {
            "DimensionConfigurations": [
                {
                    "DimensionName": "ses:configuration-set",
                    "DimensionValueSource": "MESSAGE_TAG",
                    "DefaultDimensionValue": "none",
                }
            ]
        },
    }


def test_eventbridge_event_destination_routes_feedback(moto: Moto, sesv2_fake: Sesv2Fake) -> None:
    """Identities from moto (SES v1); configuration sets, their event destinations and the
    identities' default set from the SESv2 fake (moto has no sesv2 event destinations).
    An enabled EventBridge destination for BOUNCE and COMPLAINT routes feedback (the v1
    DescribeConfigurationSet model would have dropped it); a set with CloudWatch
    dimensions only does not; an identity without a default set is email only."""
    ses = moto.client("ses")
    for domain in ("routed.example", "metrics.example", "plain.example"):
        ses.verify_domain_identity(Domain=domain)
    sesv2_fake.event_destinations["transactional"] = [
        eventbridge_destination("to-bus", ["SEND", "BOUNCE", "COMPLAINT", "DELIVERY"])
    ]
    sesv2_fake.event_destinations["dashboards"] = [
        cloudwatch_destination("dims", ["BOUNCE", "COMPLAINT"])
    ]
    sesv2_fake.add_domain_identity("routed.example", configuration_set="transactional")
    sesv2_fake.add_domain_identity("metrics.example", configuration_set="dashboards")
    sesv2_fake.add_domain_identity("plain.example")
    source = SesRegionSource(region="us-east-1", sesv2=sesv2_fake.client(), ses=ses)
    states = {s.identity: s for s in source.domain_identities()}
    routed = states["routed.example"]
    assert routed.event_destination_feedback == {"bounce", "complaint"}
    assert feedback_path(routed, "bounce") == "event_destination"
    assert check_feedback_routing(routed).status is Status.PASS
    for name in ("metrics.example", "plain.example"):
        assert feedback_path(states[name], "complaint") == "email_only"
        assert check_feedback_routing(states[name]).status is Status.FAIL
    assert sesv2_fake.requests["/v2/email/configuration-sets/transactional/event-destinations"] == 1


def test_no_get_email_identity_when_no_set_routes_feedback(
    moto: Moto, sesv2_fake: Sesv2Fake
) -> None:
    """When no configuration set routes bounces or complaints anywhere machine-readable, an
    identity's default set cannot change its verdict: no GetEmailIdentity per identity."""
    ses = moto.client("ses")
    for i in range(5):
        ses.verify_domain_identity(Domain=f"shop{i}.example")
    sesv2_fake.event_destinations["dashboards"] = [
        cloudwatch_destination("dims", ["BOUNCE", "COMPLAINT"])
    ]
    states = SesRegionSource(  # no DKIM signing reads: this test counts routing's calls
        region="us-east-1", sesv2=sesv2_fake.client(), ses=ses, dkim_lookups_per_discovery=0
    ).domain_identities()
    assert len(states) == 5
    assert all(feedback_path(s, "bounce") == "email_only" for s in states)
    assert not [r for r in sesv2_fake.log if r.path.startswith("/v2/email/identities/")]


@pytest.mark.parametrize(
    ("path", "method", "code", "status"),
    [
        ("/v2/email/list-configuration-sets", "POST", "ThrottlingException", 400),
        (
            "/v2/email/configuration-sets/transactional/event-destinations",
            "GET",
            "AccessDeniedException",
            403,
        ),
        ("/v2/email/identities/routed.example", "GET", "TooManyRequestsException", 429),
    ],
    ids=["list-configuration-sets", "event-destinations", "get-email-identity"],
)
def test_routing_lookup_error_is_unknown_never_fail(  # noqa: PLR0917 - fixtures + parameters
    moto: Moto, sesv2_fake: Sesv2Fake, path: str, method: str, code: str, status: int
) -> None:
    """An AWS error on a lookup that decides routing: the identity's routing is unknown
    (check unknown, no feedback_routed series), never email_only/fail; discovery itself
    still succeeds and the error is counted as part "routing"."""
    ses = moto.client("ses")
    ses.verify_domain_identity(Domain="routed.example")
    sesv2_fake.event_destinations["transactional"] = [
        eventbridge_destination("to-bus", ["BOUNCE", "COMPLAINT"])
    ]
    sesv2_fake.add_domain_identity("routed.example", configuration_set="transactional")
    sesv2_fake.fail(path, code=code, status=status, times=None, method=method)
    client = sesv2_fake.client()
    collector = prod_collector(ses, client, suppression_list=False, recommendations=False)
    result = collector.run()
    (state,) = result.identities or ()
    assert state.identity == "routed.example"
    assert state.verification_status == "Success"  # the rest of discovery is fresh
    assert state.routing_error == code
    assert feedback_path(state, "bounce") == "unknown"
    check = check_feedback_routing(state)
    assert check.status is Status.UNKNOWN
    assert code in check.summary
    assert result.errors["routing"] == code
    assert result.error_counts[("routing", code)] == 1
    store = Store(Snapshot(config=Config()))
    store.record_ses(result, finished=0.0, duration_seconds=0.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(store.read, DnsQueryStats()))
    body = render_metrics(registry)[0].decode()
    assert "deliverability_ses_feedback_routed{" not in body
    assert (
        'deliverability_check_status{check="ses_feedback_routing",domain="routed.example",'
        'status="unknown"} 1.0'
    ) in body


def test_get_account_shapes_stubbed() -> None:
    """GetAccount (moto: 404) parsed from the documented response shape."""
    import boto3  # noqa: PLC0415

    sesv2 = boto3.session.Session().client(
        "sesv2",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with Stubber(sesv2) as stub:
        stub.add_response(
            "get_account",
            {
                "SendingEnabled": True,
                "ProductionAccessEnabled": False,
                "EnforcementStatus": "PROBATION",
                "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 12.0},
                "DedicatedIpAutoWarmupEnabled": False,
            },
        )
        account = SesRegionSource(region="us-east-1", sesv2=sesv2, ses=None).account()
    assert account.enforcement_status == "PROBATION"
    assert not account.production_access_enabled
    assert account.max_24_hour_send == 200.0


def test_reputation_from_cloudwatch(moto: Moto) -> None:
    cloudwatch = moto.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    for name, value in (("Reputation.BounceRate", 0.031), ("Reputation.ComplaintRate", 0.0007)):
        cloudwatch.put_metric_data(
            Namespace="AWS/SES",
            MetricData=[
                {"MetricName": name, "Value": value, "Timestamp": now - dt.timedelta(minutes=5)}
            ],
        )
    bounce, complaint = region_source(moto, cloudwatch=cloudwatch).reputation()
    assert bounce == pytest.approx(0.031)
    assert complaint == pytest.approx(0.0007)


def test_collector_keeps_last_values_and_disables_denied_optional_parts(moto: Moto) -> None:
    """GetAccount fails on moto (404): the part is down, identities still come in; a denied
    optional part (recommendations) is disabled after one try, not retried every run."""
    moto.client("ses").verify_domain_identity(Domain="kept.example")
    sesv2 = moto.client("sesv2")
    collector = SesRegionCollector(
        account_name="prod",
        account_id="123456789012",
        source=region_source(moto),
        settings=AwsConfig(suppression_list=False, recommendations=True),
        sesv2_client=sesv2,
    )
    first = collector.run()
    assert first.errors.get("account")
    assert first.account is None
    assert [i.identity for i in first.identities or ()] == ["kept.example"]
    assert "recommendations" in first.disabled
    assert not first.ok
    second = collector.run()
    assert second.identities == first.identities  # kept (rediscovery is not due yet)
    assert second.error_counts[("account", first.errors["account"])] == 2


def test_assumed_role_account(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another account through AssumeRole: the role's account id labels its metrics."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    role = "arn:aws:iam::210987654321:role/ses-deliverability-exporter"
    collector = build_region_collector(
        AwsAccountConfig(
            name="other", regions=("eu-west-1",), role_arn=role, external_id="ses-exporter"
        ),
        "eu-west-1",
        AwsConfig(),
    )
    assert collector.result.account_id == "210987654321"


def test_build_region_collector_reads_the_account_id(
    moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ENDPOINT_URL points every client at moto without code changes."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    collector = build_region_collector(
        AwsAccountConfig(name="prod", regions=("us-east-1",)), "us-east-1", AwsConfig()
    )
    assert collector.result.account_id == "123456789012"


def test_unreachable_endpoint_is_an_api_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(SesApiError):
        build_region_collector(
            AwsAccountConfig(name="p", regions=("us-east-1",)), "us-east-1", AwsConfig()
        )


def test_shards_split_identities_and_only_the_ses_shard_polls_the_account(moto: Moto) -> None:
    """Three check shards against one moto account: each asks attributes for its own
    identities only (the listing is shared), together they cover every identity exactly
    once, and only shard 0 (cluster.ses_shard) calls GetAccount and the suppression list."""
    ses = moto.client("ses")
    names = [f"shop{i:02d}.example" for i in range(12)]
    for name in names:
        ses.verify_domain_identity(Domain=name)
        ses.verify_domain_dkim(Domain=name)
    per_shard: list[list[str]] = []
    for index in range(3):
        cluster = ClusterConfig("checks", 3, index)
        calls: list[tuple[str, tuple[str, ...]]] = []

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls.append((model.name, tuple(params.get("Identities", ()))))  # noqa: B023

        ses_client, sesv2 = moto.client("ses"), moto.client("sesv2")
        for client in (ses_client, sesv2):
            client.meta.events.register("provide-client-params.*.*", record)
        collector = SesRegionCollector(
            account_name="prod",
            account_id="123456789012",
            source=SesRegionSource(region="us-east-1", sesv2=sesv2, ses=ses_client),
            settings=AwsConfig(),
            sesv2_client=sesv2,
            account_parts=cluster.polls_ses_account,
            owns=partial(owns, cluster),
        )
        result = collector.run()
        mine = [i.identity for i in result.identities or ()]
        assert mine == [n for n in names if shard_of(n, 3) == index]
        asked = {n for op, ids in calls if op == "GetIdentityDkimAttributes" for n in ids}
        assert asked == set(mine)  # no attribute call for another shard's identity
        operations = {op for op, _ in calls}
        account_calls = {"GetAccount", "ListSuppressedDestinations", "ListRecommendations"}
        if index == 0:
            assert "GetAccount" in operations
            assert "account" in result.errors  # moto has no SESv2 GetAccount: 404
        else:
            assert not operations & account_calls, operations
            assert result.account is None
            assert result.ok
        per_shard.append(mine)
    assert sorted(n for shard in per_shard for n in shard) == names


def record_operations(*clients: Any) -> list[str]:
    """The operation names the clients send, in order."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    for client in clients:
        client.meta.events.register("provide-client-params.*.*", record)
    return calls


def test_discovery_calls_per_identity_count(moto: Moto, sesv2_fake: Sesv2Fake) -> None:
    """The call budget the README states: per 1,000 identities one ListIdentities page and
    4 batched attribute calls per 100, plus ListConfigurationSets and one destinations call
    per set; one GetEmailIdentity per DKIM-enabled identity whose signing attributes are
    not known yet (none once read), and one per identity without topics once some set
    routes bounces or complaints (which also serves the DKIM read)."""
    ses = moto.client("ses", retries={"max_attempts": 1})
    names = [f"shop{i:03d}.example" for i in range(250)]
    for name in names:
        ses.verify_domain_identity(Domain=name)  # moto: DKIM enabled, three tokens
        sesv2_fake.add_domain_identity(name)
    sesv2 = sesv2_fake.client()
    calls = record_operations(ses, sesv2)
    sesv2_fake.event_destinations["dashboards"] = [
        cloudwatch_destination("dims", ["BOUNCE", "COMPLAINT"])
    ]
    source = SesRegionSource(region="us-east-1", sesv2=sesv2, ses=ses)
    assert len(source.domain_identities()) == 250
    batches = 3  # 250 identities, 100 per attribute call
    batched = {
        "ListIdentities": 1,
        "ListConfigurationSets": 1,
        "GetConfigurationSetEventDestinations": 1,
        "GetIdentityVerificationAttributes": batches,
        "GetIdentityDkimAttributes": batches,
        "GetIdentityMailFromDomainAttributes": batches,
        "GetIdentityNotificationAttributes": batches,
    }
    assert Counter(calls) == batched | {"GetEmailIdentity": 250}  # the first discovery
    calls.clear()
    assert all(s.dkim_origin == "AWS_SES" for s in source.domain_identities())
    assert Counter(calls) == batched  # signing attributes known: no per-identity call
    calls.clear()
    sesv2_fake.event_destinations["transactional"] = [
        eventbridge_destination("to-bus", ["BOUNCE", "COMPLAINT"])
    ]
    source.domain_identities()
    assert Counter(calls)["GetEmailIdentity"] == 250  # now each identity's set matters


def test_dkim_signing_reads_are_budgeted_per_discovery(moto: Moto, sesv2_fake: Sesv2Fake) -> None:
    """At most dkim_lookups_per_discovery GetEmailIdentity DKIM reads per discovery, the
    rest on the next ones; identities not read yet keep their Easy DKIM expectations."""
    ses = moto.client("ses", retries={"max_attempts": 1})
    for i in range(25):
        ses.verify_domain_identity(Domain=f"shop{i:02d}.example")
        sesv2_fake.add_domain_identity(f"shop{i:02d}.example")
    sesv2 = sesv2_fake.client()
    calls = record_operations(sesv2)
    source = SesRegionSource(
        region="us-east-1", sesv2=sesv2, ses=ses, dkim_lookups_per_discovery=10
    )
    known = []
    for _ in range(4):
        calls.clear()
        states = source.domain_identities()
        known.append(sum(s.dkim_origin is not None for s in states))
        assert Counter(calls)["GetEmailIdentity"] == known[-1] - (
            known[-2] if len(known) > 1 else 0
        )
        assert all(len(dns_dkim_tokens(s)) == 3 for s in states)
    assert known == [10, 20, 25, 25]


class _Dns:
    """A DnsView over a dict; a question not in it is NXDOMAIN."""

    def __init__(self, answers: dict[tuple[str, str], Answer]) -> None:
        self.answers = answers

    def get(self, name: str, rdtype: str) -> Answer:
        return self.answers.get((name, rdtype), Answer(AnswerKind.NXDOMAIN))


def _published(domain: str, tokens: Iterable[str], zone: str) -> dict[tuple[str, str], Answer]:
    """Easy DKIM as published: <token>._domainkey.<domain> CNAME <token>.<zone>, and a key,
    both in the answer a resolver gives to the selector's TXT question."""
    key = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDGMjj8"
    answers = {}
    for token in tokens:
        selector, target = f"{token}._domainkey.{domain}", f"{token}.{zone}"
        answers[selector, "CNAME"] = Answer(AnswerKind.RECORDS, (target,))
        answers[selector, "TXT"] = Answer(AnswerKind.RECORDS, (key,), "", (selector,), target)
        answers[target, "TXT"] = Answer(AnswerKind.RECORDS, (key,))
    return answers


def _dkim_collector(moto: Moto, sesv2_fake: Sesv2Fake) -> tuple[SesRegionCollector, list[str]]:
    """easy.example (Easy DKIM), byo.example (BYODKIM, selector sel2024) and
    deed.example (deterministic Easy DKIM replicated from af-south-1) in us-east-1: SES
    v1 from moto (which gives every domain three tokens, even byo.example), SESv2
    GetEmailIdentity from the fake."""
    ses = moto.client("ses", retries={"max_attempts": 1})
    for domain in ("easy.example", "byo.example", "deed.example"):
        ses.verify_domain_identity(Domain=domain)
    tokens = ses.get_identity_dkim_attributes(Identities=["easy.example"])["DkimAttributes"][
        "easy.example"
    ]["DkimTokens"]
    sesv2_fake.add_domain_identity("easy.example", tokens=tokens)
    sesv2_fake.add_domain_identity("byo.example", dkim_origin="EXTERNAL", tokens=["sel2024"])
    sesv2_fake.add_domain_identity(
        "deed.example",
        dkim_origin="AWS_SES_AF_SOUTH_1",
        signing_hosted_zone="dkim.af-south-1.amazonses.com",
        tokens=tokens,
    )
    sesv2 = sesv2_fake.client()
    collector = prod_collector(ses, sesv2, suppression_list=False, recommendations=False)
    return collector, [str(t).lower() for t in tokens]


def _exposition(result: Any) -> str:
    store = Store(Snapshot(config=Config()))
    store.record_ses(result, finished=0.0, duration_seconds=0.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(store.read, DnsQueryStats()))
    return render_metrics(registry)[0].decode()


def test_dkim_signing_origin_easy_byodkim_and_deterministic(
    moto: Moto, sesv2_fake: Sesv2Fake
) -> None:
    """Easy DKIM is checked as before; BYODKIM gets no DNS dkim check at all (its selector
    is a TXT key: as a CNAME it would be a false fail paging DeliverabilityDkimBroken) and
    its origin is exported; deterministic Easy DKIM expects CNAMEs into SES's
    SigningHostedZone, of another region than the identity's."""
    collector, tokens = _dkim_collector(moto, sesv2_fake)
    result = collector.run()
    assert result.ok, result.errors
    states = {s.identity: s for s in result.identities or ()}
    assert states["byo.example"].dkim_origin == "EXTERNAL"
    assert states["byo.example"].dkim_tokens == ("sel2024",)
    assert states["deed.example"].dkim_signing_zone == "dkim.af-south-1.amazonses.com"
    targets = {t.name: t for t in merge_targets([], states.values())}

    easy = targets["easy.example"]
    assert easy.dkim_tokens == tuple(tokens)
    assert easy.dkim_signing_zone == "dkim.amazonses.com"
    easy_dns = _published("easy.example", tokens, "dkim.amazonses.com")
    assert check_dkim(easy, _Dns(easy_dns)).status is Status.PASS

    byo = targets["byo.example"]
    assert byo.dkim_tokens == ()  # the selector never reaches the Easy DKIM CNAME check
    byo_dns = _Dns(
        {
            ("sel2024._domainkey.byo.example", "TXT"): Answer(
                AnswerKind.RECORDS, ("v=DKIM1; p=AAAA",)
            )
        }
    )
    assert "dkim" not in {c.check for c in evaluate_domain(byo, byo_dns).checks}
    assert check_dkim_status(states["byo.example"]).status is Status.PASS  # SES's view stays

    deed = targets["deed.example"]
    assert deed.region == "us-east-1"
    assert deed.dkim_signing_zone == "dkim.af-south-1.amazonses.com"
    deed_dns = _published("deed.example", tokens, "dkim.af-south-1.amazonses.com")
    assert check_dkim(deed, _Dns(deed_dns)).status is Status.PASS
    wrong = check_dkim(deed, _Dns(_published("deed.example", tokens, "dkim.amazonses.com")))
    assert wrong.status is Status.FAIL  # the zone SES named is the one expected
    assert all(  # the records to publish point at that zone
        change.value.endswith(".dkim.af-south-1.amazonses.com.") for change in wrong.records
    )
    assert len(wrong.records) == len(tokens)

    body = _exposition(result)
    acct = 'aws_account_id="123456789012",aws_region="us-east-1"'
    assert (
        f'deliverability_ses_identity_dkim_info{{{acct},dkim_origin="EXTERNAL",'
        'dkim_selector="sel2024",identity="byo.example",signing_hosted_zone=""} 1.0'
    ) in body
    assert (
        f'deliverability_ses_identity_dkim_info{{{acct},dkim_origin="AWS_SES_AF_SOUTH_1",'
        'dkim_selector="",identity="deed.example",'
        'signing_hosted_zone="dkim.af-south-1.amazonses.com"} 1.0'
    ) in body
    assert 'dkim_origin="AWS_SES",dkim_selector="",identity="easy.example"' in body


def test_dkim_signing_read_error_keeps_expectations_never_fail(
    moto: Moto, sesv2_fake: Sesv2Fake
) -> None:
    """An AWS error on GetEmailIdentity: that identity's origin is unknown and its DNS
    expectations are those of before (Easy DKIM's three tokens, global or own-region
    zone), counted as part dkim_origin; the next run's discovery reads it again (not only
    after a discovery interval: the collector would stay down that long)."""
    collector, tokens = _dkim_collector(moto, sesv2_fake)
    sesv2_fake.fail(
        "/v2/email/identities/deed.example", code="TooManyRequestsException", status=429
    )
    result = collector.run()
    states = {s.identity: s for s in result.identities or ()}
    deed = states["deed.example"]
    assert deed.dkim_origin is None
    assert deed.dkim_origin_error == "TooManyRequestsException"
    assert states["byo.example"].dkim_origin == "EXTERNAL"  # the others are read
    assert result.errors == {"dkim_origin": "TooManyRequestsException"}
    assert result.error_counts[("dkim_origin", "TooManyRequestsException")] == 1
    target = {t.name: t for t in merge_targets([], states.values())}["deed.example"]
    assert target.dkim_tokens == tuple(tokens)
    assert target.dkim_signing_zone is None
    global_dns = _published("deed.example", tokens, "dkim.amazonses.com")
    assert check_dkim(target, _Dns(global_dns)).status is Status.PASS  # as before
    assert 'dkim_origin="unknown",dkim_selector="",identity="deed.example"' in _exposition(result)
    assert check_dkim_status(deed).status is Status.PASS

    again = collector.run((IDENTITIES_JOB,))  # at once, not a discovery interval later
    assert again.ok
    (deed_again,) = (s for s in again.identities or () if s.identity == "deed.example")
    assert deed_again.dkim_signing_zone == "dkim.af-south-1.amazonses.com"


def test_jobs_run_their_own_parts_and_keep_each_others_errors(
    moto: Moto, sesv2_fake: Sesv2Fake
) -> None:
    """The daemon's three jobs on one collector: the account job asks no identity call,
    the discovery job no GetAccount; a part's error stays until that part runs again,
    whichever job published last."""
    ses = moto.client("ses")
    ses.verify_domain_identity(Domain="kept.example")
    sesv2 = sesv2_fake.client()
    calls = record_operations(ses, sesv2)
    collector = prod_collector(ses, sesv2, recommendations=False)
    sesv2_fake.fail("/v2/email/account", code="ThrottlingException", times=1)
    first = collector.run((ACCOUNT_JOB,))
    assert set(calls) == {"GetAccount"}
    assert first.errors == {"account": "ThrottlingException"}
    calls.clear()
    second = collector.run((IDENTITIES_JOB,))
    assert "GetAccount" not in calls
    assert "ListSuppressedDestinations" not in calls
    assert [i.identity for i in second.identities or ()] == ["kept.example"]
    assert second.errors == {"account": "ThrottlingException"}  # still the latest outcome
    calls.clear()
    third = collector.run((SUPPRESSION_JOB,))
    assert set(calls) == {"ListSuppressedDestinations"}
    assert third.suppression is not None
    calls.clear()
    assert collector.run((IDENTITIES_JOB,)).identities == second.identities
    assert not calls  # rediscovery is not due yet: the job costs nothing
    fourth = collector.run((ACCOUNT_JOB,))
    assert fourth.ok
    assert fourth.account is not None
    assert fourth.identities == second.identities
    assert fourth.suppression == third.suppression


def test_a_denied_optional_part_is_retried_each_discovery_interval(
    moto: Moto, sesv2_fake: Sesv2Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ListRecommendations denied (the SESv2 fake answers AccessDeniedException): the part is
    disabled, not asked again within aws.discovery_interval_seconds, asked again after it
    (still denied: still 0), and enabled again once the IAM policy lets it through."""
    path = "/v2/email/vdm/recommendations"
    sesv2_fake.fail(path, code="AccessDeniedException", status=403, times=2)
    sesv2 = sesv2_fake.client()
    collector = prod_collector(
        moto.client("ses"), sesv2, suppression_list=False, recommendations=True
    )
    enabled = (
        'deliverability_ses_optional_part_enabled{aws_account_id="123456789012",'
        'aws_region="us-east-1",part="recommendations"}'
    )
    clock = [1_000_000.0]
    monkeypatch.setattr("exporter.jobs.ses.time.time", lambda: clock[0])

    first = collector.run()
    assert "recommendations" in first.disabled
    assert "recommendations" not in first.errors  # disabled is not a failure
    assert f"{enabled} 0.0" in _exposition(first)
    assert sesv2_fake.requests[path] == 1

    clock[0] += 60  # within the interval: not asked
    collector.run()
    assert sesv2_fake.requests[path] == 1

    clock[0] += 3600  # the interval has passed: asked again, still denied
    collector.run()
    assert sesv2_fake.requests[path] == 2

    clock[0] += 3600  # the policy was fixed meanwhile: enabled again
    fixed = collector.run()
    assert sesv2_fake.requests[path] == 3
    assert "recommendations" not in fixed.disabled
    assert fixed.recommendations == {}
    assert f"{enabled} 1.0" in _exposition(fixed)
