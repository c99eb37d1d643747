"""`doctor` against real peers: moto in server mode for SQS, SNS, IAM, STS and SES v1, and
the SESv2 fake for what moto lacks (configuration sets' event destinations, an identity's
default configuration set, GetAccount): moto answers those with a 404 page.

The missing-permission case switches moto's IAM enforcement on (``/moto-api/reset-auth``,
the server form of INITIAL_NO_AUTH_ACTION_COUNT) for a user with a restricted policy. The
fake has no IAM at all, so what is asked of it is reported as not verifiable.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from fakes.sesv2_server import Sesv2Fake, sns_destination
from helpers.moto_fixtures import REGION, Moto
from smtp_server import Recorder, TlsFiles, start_smtp

from exporter.cli import main
from exporter.doctor_aws import queue_policy_finding, role_principal
from exporter.model import Status

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
QUEUE_POLICY = (ROOT / "deploy" / "sqs-queue-policy.json").read_text()
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ses-events"
CONFIG_SET = "exporter"


@dataclass
class AwsSide:
    moto: Moto
    fake: Sesv2Fake
    queue_url: str
    queue_arn: str
    tmp_path: Path

    def config(self, queue_url: str | None = None, extra: str = "") -> Path:
        path = self.tmp_path / "config.toml"
        path.write_text(
            f"""
[aws]
api_calls_per_second = 100
[[aws.accounts]]
name = "prod"
regions = ["{REGION}"]
[events]
allowed_topic_arns = ["{TOPIC}"]
[[events.queues]]
url = "{queue_url or self.queue_url}"
aws_region = "{REGION}"
{extra}
"""
        )
        return path


@pytest.fixture(name="aws")
def _aws(moto: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AwsSide]:
    """What deploy/aws/ sets up, by hand: a queue with a DLQ, subscribed to the topic its
    policy names; a configuration set publishing feedback there, the default of
    good.example; bad.example routes nowhere."""
    _, dlq_arn = moto.create_queue("exporter-dlq")
    url, arn = moto.create_queue("exporter", dead_letter_arn=dlq_arn)
    topic = moto.sns_topic_to_queue("ses-events", arn, raw=False)
    assert topic == TOPIC
    policy = QUEUE_POLICY.replace("${QueueArn}", arn).replace("${TopicArn}", topic)
    moto.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    ses = moto.client("ses")
    for domain in ("good.example", "bad.example"):
        ses.verify_domain_identity(Domain=domain)
    with Sesv2Fake() as fake:
        fake.event_destinations[CONFIG_SET] = [
            sns_destination("feedback", "ses-events", ["BOUNCE", "COMPLAINT", "DELIVERY"])
        ]
        fake.add_domain_identity("good.example", configuration_set=CONFIG_SET)
        fake.add_domain_identity("bad.example")
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", fake.endpoint)
        yield AwsSide(moto, fake, url, arn, tmp_path)


def doctor(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "--config", str(config), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def line(report: dict[str, Any], check: str, subject: str) -> dict[str, Any]:
    (found,) = [c for c in report["checks"] if c["check"] == check and c["subject"] == subject]
    return found


def test_healthy_side_without_touching_the_queue(
    aws: AwsSide, capsys: pytest.CaptureFixture[str]
) -> None:
    """Everything routed: no failure. A waiting event is neither received nor hidden, and
    moto (no IAM enforcement by default) cannot prove a permission: not verifiable."""
    aws.moto.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody="an event")
    code, report = doctor(aws.config(), capsys)
    statuses = {(c["check"], c["subject"]): c["status"] for c in report["checks"]}
    assert statuses[("sqs_queue", "exporter")] == "pass"
    assert statuses[("sqs_redrive_policy", "exporter")] == "pass"
    assert statuses[("sqs_queue_policy", "exporter")] == "pass"
    assert statuses[("sqs_subscription", "exporter")] == "pass"
    assert statuses[("ses_configuration_set_routing", f"{CONFIG_SET} (prod/{REGION})")] == "pass"
    assert statuses[("ses_feedback_routing", f"good.example ({REGION})")] == "pass"
    delete = line(report, "permission", "sqs:DeleteMessage exporter")
    assert delete["status"] == "unknown"
    assert "not verifiable" in delete["summary"]
    account = line(report, "permission", f"ses:GetAccount prod/{REGION}")
    assert account["status"] == "unknown"
    assert "accepts any credentials" in account["summary"]
    assert aws.moto.depth(aws.queue_url) == (1, 0)  # still there, never received
    (message,) = aws.moto.take_all(aws.queue_url)
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # this receive only
    assert report["worst_status"] == "fail"  # bad.example routes nowhere
    assert code == 2


def test_queue_without_dlq_and_identity_without_routing(
    aws: AwsSide, capsys: pytest.CaptureFixture[str]
) -> None:
    url, arn = aws.moto.create_queue("exporter-no-dlq")
    aws.moto.sns_topic_to_queue("ses-events", arn, raw=False)
    code, report = doctor(aws.config(queue_url=url), capsys)
    redrive = line(report, "sqs_redrive_policy", "exporter-no-dlq")
    assert redrive["status"] == "fail"
    assert "dead-letter queue" in redrive["fix"]
    policy = line(report, "sqs_queue_policy", "exporter-no-dlq")
    assert policy["status"] == "fail"
    assert "deploy/sqs-queue-policy.json" in policy["fix"]
    routing = line(report, "ses_feedback_routing", f"bad.example ({REGION})")
    assert routing["status"] == "fail"
    assert "event destination" in routing["fix"]
    assert code == 2
    capsys.readouterr()
    assert main(["doctor", "--config", str(aws.config(queue_url=url))]) == 2
    text = capsys.readouterr().out.splitlines()
    (printed,) = [t for t in text if t.startswith("FAIL") and "sqs_redrive_policy" in t]
    assert "exporter-no-dlq: no redrive policy" in printed
    assert "fix: give the queue a redrive policy" in printed
    assert text[-1] == "worst: fail"


def test_missing_queue_and_unsubscribed_queue(
    aws: AwsSide, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = aws.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    _, report = doctor(aws.config(queue_url=gone), capsys)
    assert line(report, "sqs_queue", "no-such-queue")["status"] == "fail"
    url, _ = aws.moto.create_queue("lonely")
    _, report = doctor(aws.config(queue_url=url), capsys)
    subscription = line(report, "sqs_subscription", "lonely")
    assert subscription["status"] == "fail"
    assert "no SNS topic" in subscription["summary"]


def _reset_auth(moto: Moto, count: str) -> None:
    request = urllib.request.Request(
        f"{moto.endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def test_missing_permission_with_iam_enforced(
    aws: AwsSide, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user whose policy lacks ses:ListIdentities, sqs:GetQueueAttributes and
    iam:GetAccessKeyLastUsed: each is named with the fix; what the policy grants passes; the SESv2 fake (no IAM) is not
    verifiable."""
    iam = aws.moto.client("iam")
    iam.create_user(UserName="exporter")
    granted = [
        "sts:GetCallerIdentity",
        "ses:GetIdentityVerificationAttributes",
        "ses:GetIdentityDkimAttributes",
        "ses:GetIdentityMailFromDomainAttributes",
        "ses:GetIdentityNotificationAttributes",
        "sns:ListSubscriptions",
        "iam:ListAccessKeys",
    ]
    iam.put_user_policy(
        UserName="exporter",
        PolicyName="restricted",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": granted, "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="exporter")["AccessKey"]
    iam.create_user(UserName="ses-smtp")
    iam.create_access_key(UserName="ses-smtp")
    smtp = f"""
[[smtp_credentials]]
name = "relay"
region = "{REGION}"
iam_user = "ses-smtp"
"""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    _reset_auth(aws.moto, "0")
    try:
        code, report = doctor(aws.config(extra=smtp), capsys)
    finally:
        _reset_auth(aws.moto, "inf")
    subject = f"prod/{REGION}"
    listed = line(report, "permission", f"ses:ListIdentities {subject}")
    assert listed["status"] == "fail"
    assert listed["summary"] == f"denied (AccessDenied) for arn:aws:iam::{ACCOUNT}:user/exporter"
    assert "grant ses:ListIdentities" in listed["fix"]
    attributes = line(report, "permission", "sqs:GetQueueAttributes exporter")
    assert attributes["status"] == "fail"
    assert line(report, "sqs_queue", "exporter")["status"] == "unknown"
    dkim = line(report, "permission", f"ses:GetIdentityDkimAttributes {subject}")
    assert dkim["status"] == "pass"
    assert line(report, "aws_credentials", subject)["summary"].endswith("user/exporter")
    fake = line(report, "permission", f"ses:GetAccount {subject}")
    assert fake["status"] == "unknown"
    assert aws.fake.endpoint in fake["summary"]
    assert "accepts any credentials" in fake["summary"]
    assert line(report, "permission", "iam:ListAccessKeys relay")["status"] == "pass"
    last_used = line(report, "permission", "iam:GetAccessKeyLastUsed relay")
    assert last_used["status"] == "fail"
    assert "grant iam:GetAccessKeyLastUsed" in last_used["fix"]
    assert code == 2


def test_smtp_credentials_that_no_longer_authenticate(
    aws: AwsSide, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A relay's password from a rotated key: the endpoint answers 535 (over STARTTLS, as
    SES does), and the IAM user behind it has no active key left. No mail is sent."""
    ca = trustme.CA()
    ca_file = aws.tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server = start_smtp(
        Recorder("smtp-user", "right"), tls=TlsFiles(server_context, ssl.create_default_context())
    )
    iam = aws.moto.client("iam")
    iam.create_user(UserName="ses-smtp")
    key = iam.create_access_key(UserName="ses-smtp")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="ses-smtp", AccessKeyId=key, Status="Inactive")
    monkeypatch.setenv("SMTP_USER", "smtp-user")
    extra = f"""
[[smtp_credentials]]
name = "relay"
region = "{REGION}"
iam_user = "ses-smtp"
username_env = "SMTP_USER"
password_env = "SMTP_PASSWORD"
endpoint = "127.0.0.1:{server.port}"
ca_file = "{ca_file}"
"""
    try:
        monkeypatch.setenv("SMTP_PASSWORD", "wrong")
        code, report = doctor(aws.config(extra=extra), capsys)
        auth = line(report, "smtp_auth", "relay")
        assert auth["status"] == "fail"
        assert "(535)" in auth["summary"]
        assert "smtp-password" in auth["fix"]
        keys = line(report, "smtp_iam_key", "relay")
        assert keys["status"] == "fail"
        assert "no active access key" in keys["summary"]
        assert code == 2
        monkeypatch.setenv("SMTP_PASSWORD", "right")
        _, report = doctor(aws.config(extra=extra), capsys)
        assert line(report, "smtp_auth", "relay")["status"] == "pass"
    finally:
        server.stop()
    assert server.recorder.sent_mail_commands() == []


def test_config_errors_and_usage_are_unknown(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[events]\npollers = 0\n")
    assert main(["doctor", "--config", str(bad)]) == 3
    assert main(["doctor", "--config", str(tmp_path / "missing.toml")]) == 3
    assert main(["doctor"]) == 3


def test_role_principal_of_an_assumed_role() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/ses-exporter/botocore-session-1"
    assert role_principal(session) == f"arn:aws:iam::{ACCOUNT}:role/ses-exporter"
    user = f"arn:aws:iam::{ACCOUNT}:user/exporter"
    assert role_principal(user) == user


def test_queue_policy_open_to_every_topic_is_a_warning() -> None:
    open_policy = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": "*",
                }
            ]
        }
    )
    assert queue_policy_finding("q", open_policy, [TOPIC]).status is Status.WARN
    other = QUEUE_POLICY.replace("${TopicArn}", TOPIC + "-other")
    assert queue_policy_finding("q", other, [TOPIC]).status is Status.FAIL
