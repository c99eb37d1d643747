"""SES state against moto in server mode (real HTTP), and Stubber where moto has no peer.

moto implements SES v1 identities, DKIM, MAIL FROM and notification attributes, config
sets, CloudWatch metric data and STS, two regions apart. It does not implement SESv2
GetAccount or ListRecommendations (404): those tests use botocore's Stubber, which
validates requests and responses against the service model, with response shapes from the
SES API reference.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest
from botocore.stub import Stubber
from moto_fixtures import Moto, _moto, _moto_server  # noqa: F401 - fixtures by name

from exporter.checks.ses import feedback_path
from exporter.config import AwsAccountConfig, AwsConfig, ClusterConfig
from exporter.ses_cycle import SesRegionCollector, build_region_collector
from exporter.sharding import owns, shard_of
from exporter.sources.ses import SesApiError, SesRegionSource

pytestmark = pytest.mark.integration


def region_source(moto: Moto, region: str = "us-east-1", **kw: Any) -> SesRegionSource:
    client = moto.client("ses")
    if region != "us-east-1":
        import boto3  # noqa: PLC0415

        client = boto3.session.Session().client(
            "ses", endpoint_url=moto.endpoint, region_name=region
        )
    return SesRegionSource(region=region, sesv2=moto.client("sesv2"), ses=client, **kw)


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


def test_configuration_set_event_destination_routes_feedback(moto: Moto) -> None:
    """An enabled SNS event destination for bounce+complaint on the identity's default
    configuration set counts as machine-readable routing (GetEmailIdentity stubbed:
    moto never returns ConfigurationSetName)."""
    ses = moto.client("ses")
    ses.verify_domain_identity(Domain="routed.example")
    ses.create_configuration_set(ConfigurationSet={"Name": "transactional"})
    ses.create_configuration_set_event_destination(
        ConfigurationSetName="transactional",
        EventDestination={
            "Name": "to-sns",
            "Enabled": True,
            "MatchingEventTypes": ["bounce", "complaint", "delivery"],
            "SNSDestination": {"TopicARN": "arn:aws:sns:us-east-1:123456789012:ses-events"},
        },
    )
    sesv2 = moto.client("sesv2")
    with Stubber(sesv2) as stub:
        stub.add_response(
            "get_email_identity",
            {"IdentityType": "DOMAIN", "ConfigurationSetName": "transactional"},
            {"EmailIdentity": "routed.example"},
        )
        (state,) = SesRegionSource(region="us-east-1", sesv2=sesv2, ses=ses).domain_identities()
    assert state.event_destination_feedback == {"bounce", "complaint"}
    assert feedback_path(state, "bounce") == "event_destination"


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
