"""deploy/aws/ses-deliverability-exporter.yaml: linted, deployed, and read.

moto's CloudFormation (server mode) really creates the topic with its inline subscription,
both queues with the redrive policy, the managed policy and the role: the deployment test
publishes SES events to the stack's topic and the exporter, configured from the stack's
outputs, counts them from the stack's queue. moto only stubs AWS::SNS::TopicPolicy,
AWS::SQS::QueuePolicy and the SES resources (a UserWarning each, allowed by name below):
those are proven by reading the template (the policy condition, the event types, the
default configuration set), against the shipped policy files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.sesv2_server import Sesv2Fake, sns_destination
from helpers.moto_fixtures import Moto, daemon_env, event
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "aws" / "ses-deliverability-exporter.yaml"
QUEUE_ARN = {"Fn::GetAtt": ["Queue", "Arn"]}
TOPIC = {"Ref": "Topic"}
EVENT_TYPES = {"send", "reject", "bounce", "complaint", "delivery", "deliveryDelay"}
# The resource types moto's CloudFormation stubs, each with one warning: allowed by name.
STUBBED = (
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SES::ConfigurationSet",
    "AWS::SES::ConfigurationSetEventDestination",
)
MOTO_STUBS = [
    # a filter's fields are separated by colons: each "::" of the type name is matched by ".."
    pytest.mark.filterwarnings(
        "ignore:Tried to parse "
        + kind.replace("::", "..")
        + " but it's not supported by moto's CloudFormation:UserWarning"
    )
    for kind in STUBBED
]


def template() -> dict[str, Any]:
    """The template as plain YAML (its intrinsic functions are in the long form)."""
    return yaml.safe_load(TEMPLATE.read_text())  # type: ignore[no-any-return]


def resource(name: str) -> dict[str, Any]:
    return template()["Resources"][name]["Properties"]  # type: ignore[no-any-return]


def placeholders(node: Any, values: dict[str, Any]) -> Any:
    """``node`` with each intrinsic in ``values`` (by its JSON text) replaced."""
    text = json.dumps(node)
    for placeholder, intrinsic in values.items():
        text = text.replace(json.dumps(intrinsic), json.dumps(placeholder))
    return json.loads(text)


def test_cfn_lint_passes() -> None:
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_queue_policy_is_the_shipped_one_on_the_stacks_queue_and_topic() -> None:
    """Only SNS, only from the stack's topic (aws:SourceArn), the rest denied."""
    document = resource("QueuePolicy")["PolicyDocument"]
    shipped = json.loads((ROOT / "deploy" / "sqs-queue-policy.json").read_text())
    assert placeholders(document, {"${QueueArn}": QUEUE_ARN, "${TopicArn}": TOPIC}) == shipped
    assert resource("QueuePolicy")["Queues"] == [{"Ref": "Queue"}]


def test_iam_policy_is_the_shipped_one_with_the_stacks_queue() -> None:
    document = resource("ExporterPolicy")["PolicyDocument"]
    shipped = json.loads((ROOT / "deploy" / "iam-policy.json").read_text())
    (queue,) = [s for s in document["Statement"] if s["Sid"] == "OwnEventQueue"]
    assert queue["Resource"] == QUEUE_ARN
    queue["Resource"] = "arn:aws:sqs:*:*:ses-deliverability-exporter*"
    assert document == shipped


def test_event_destination_publishes_every_event_type_to_the_topic() -> None:
    destination = resource("EventDestination")
    assert destination["ConfigurationSetName"] == {"Ref": "ConfigurationSet"}
    published = destination["EventDestination"]
    assert published["Enabled"] is True
    assert set(published["MatchingEventTypes"]) == EVENT_TYPES
    assert published["SnsDestination"] == {"TopicARN": TOPIC}
    topic_policy = resource("TopicPolicy")["PolicyDocument"]["Statement"]
    assert [s["Principal"] for s in topic_policy] == [{"Service": "ses.amazonaws.com"}]


def test_identity_gets_the_configuration_set_as_its_default() -> None:
    """Without a default configuration set, an identity's sends publish no event."""
    identity = template()["Resources"]["SendingIdentityDefaults"]
    assert identity["Type"] == "AWS::SES::EmailIdentity"
    assert identity["Properties"]["EmailIdentity"] == {"Ref": "SendingIdentity"}
    assert identity["Properties"]["ConfigurationSetAttributes"] == {
        "ConfigurationSetName": {"Ref": "ConfigurationSet"}
    }


def _deploy(moto: Moto, name: str, parameters: dict[str, str]) -> dict[str, str]:
    cloudformation = moto.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def allow_moto_stubs(test: Any) -> Any:
    for mark in MOTO_STUBS:
        test = mark(test)
    return test


@allow_moto_stubs
def test_stack_events_reach_the_exporter(moto: Moto, tmp_path: Path) -> None:
    """Deployed to moto: what it creates is wired as the exporter needs, and the exporter,
    configured from the outputs alone, counts the events published to the stack's topic."""
    outputs = _deploy(
        moto,
        "exporter",
        {
            "RoleTrust": "cross-account",
            "TrustedPrincipalArn": "arn:aws:iam::111111111111:role/exporter",
            "ExternalId": "ses-exporter-1",
        },
    )
    sqs, sns, iam = moto.client("sqs"), moto.client("sns"), moto.client("iam")
    queue_arn = outputs["QueueArn"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=outputs["QueueUrl"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": 5,
    }
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=outputs["TopicArn"])["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("sqs", queue_arn)
    policy = iam.get_policy(PolicyArn=outputs["PolicyArn"])["Policy"]
    document = iam.get_policy_version(
        PolicyArn=outputs["PolicyArn"], VersionId=policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    (own_queue,) = [s for s in document["Statement"] if s["Sid"] == "OwnEventQueue"]
    assert own_queue["Resource"] == queue_arn
    role = iam.get_role(RoleName=outputs["RoleArn"].rsplit("/", 1)[-1])["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::111111111111:role/exporter"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "ses-exporter-1"}}
    # moto creates the role but leaves ManagedPolicyArns unattached: read from the template
    assert resource("ExporterRole")["ManagedPolicyArns"] == [{"Ref": "ExporterPolicy"}]

    corpus = (
        "raw-event-send",
        "raw-event-reject-bad-content",
        "raw-event-bounce-permanent-general",
        "raw-event-complaint-abuse",
        "raw-event-delivery",
        "raw-event-deliverydelay-transientcommunicationfailure",
    )
    for name in corpus:
        sns.publish(TopicArn=outputs["TopicArn"], Message=json.dumps(event(name)))
    config = tmp_path / "config.toml"
    config.write_text(
        outputs["ConfigSnippet"].replace(
            "[events]\n", "[events]\nwait_time_seconds = 1\nprovider_lookup = false\n"
        )
    )
    result = run_cli_env(["collect", "--config", str(config)], daemon_env(tmp_path, moto.endpoint))
    assert result.returncode == 0, result.stderr
    counted = {
        sample.labels["event_type"]: sample.value
        for family in text_string_to_metric_families(result.stdout)
        for sample in family.samples
        if sample.name == "deliverability_ses_events_total"
    }
    assert len(counted) == len(corpus), counted
    assert sum(counted.values()) == len(corpus)
    assert moto.depth(outputs["QueueUrl"]) == (0, 0)  # counted, then deleted


def run_cli_env(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m exporter ARGS` in ``env`` (helpers.daemon.run_cli inherits this one's)."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@allow_moto_stubs
def test_doctor_on_the_deployed_stack(moto: Moto, tmp_path: Path) -> None:
    """The newcomer's path: deploy, paste the snippet, run `doctor`. The configuration set's
    event destination comes from the SESv2 fake (moto stubs the SES resources and has no
    SESv2 event destinations); the queue policy is a moto stub too, so its check fails
    here, which is what doctor must say of a queue without one."""
    outputs = _deploy(moto, "exporter", {})
    with Sesv2Fake() as fake:
        topic = outputs["TopicArn"].rsplit(":", 1)[-1]
        fake.event_destinations[outputs["ConfigurationSetName"]] = [
            sns_destination("exporter", topic, ["SEND", "BOUNCE", "COMPLAINT", "DELIVERY"])
        ]
        config = tmp_path / "config.toml"
        config.write_text(
            outputs["ConfigSnippet"]
            + '[aws]\napi_calls_per_second = 100\n[[aws.accounts]]\nname = "main"\n'
            'regions = ["us-east-1"]\n'
        )
        env = daemon_env(tmp_path, moto.endpoint, AWS_ENDPOINT_URL_SESV2=fake.endpoint)
        result = run_cli_env(["doctor", "--config", str(config), "--format", "json"], env)
    report = json.loads(result.stdout)
    queue = outputs["QueueUrl"].rsplit("/", 1)[-1]
    statuses = {(c["check"], c["subject"]): c["status"] for c in report["checks"]}
    assert statuses[("sqs_queue", queue)] == "pass"
    assert statuses[("sqs_redrive_policy", queue)] == "pass"
    assert statuses[("sqs_subscription", queue)] == "pass"
    set_subject = f"{outputs['ConfigurationSetName']} (main/us-east-1)"
    assert statuses[("ses_configuration_set_routing", set_subject)] == "pass"
    assert statuses[("sqs_queue_policy", queue)] == "fail"
    assert result.returncode == 2
