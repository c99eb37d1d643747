"""`doctor`: a preflight of the AWS side a configuration relies on, before `run` meets it.

With the credentials `run` would use, it tries each permission by the read-only call the
daemon makes, and checks that each queue exists, has a dead-letter queue, lets SNS deliver
and is subscribed to a topic SES publishes to; that each identity and configuration set
routes bounces and complaints somewhere a program can read; and that configured SMTP
credentials authenticate. One line per check with its fix; exit codes like `check`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import boto3

from exporter.aws import account_session, aws_error_code
from exporter.checks.ses import check_feedback_routing
from exporter.cli_check import EXIT_CRITICAL, EXIT_OK, EXIT_UNKNOWN, EXIT_WARN, printable
from exporter.config import (
    AwsAccountConfig,
    Config,
    ConfigError,
    QueueConfig,
    SmtpCredentialConfig,
    load_config,
)
from exporter.doctor_aws import AWS_ERRORS, Finding, Prober, client_for, queue_policy_finding
from exporter.jobs.smtp import check_smtp_credential
from exporter.model import Status
from exporter.sources.ses import Pacer, SesApiError, SesRegionSource

__all__ = ["doctor", "run_doctor"]

_EXIT = {
    Status.PASS: EXIT_OK,
    Status.WARN: EXIT_WARN,
    Status.FAIL: EXIT_CRITICAL,
    Status.UNKNOWN: EXIT_UNKNOWN,
}
_PROG = "ses-deliverability-exporter doctor"
_FEEDBACK = frozenset({"bounce", "complaint"})
_NO_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_MAX_PAGES = 100  # bounded listings: an account with more is told so, not walked forever
_DEPLOY = "deploy/aws/ creates it"


@dataclass
class _SesView:
    """The SNS topics SES publishes to, over every configured account and region; None
    once a part of it could not be read."""

    topics: set[str] | None = field(default_factory=set)

    def add(self, topic: str | None) -> None:
        if topic and self.topics is not None:
            self.topics.add(topic)

    def unknown(self) -> None:
        self.topics = None


def doctor(args: argparse.Namespace) -> int:
    """Run `doctor`; a configuration that cannot be read is UNKNOWN (3), like `check`."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"{_PROG}: {printable(exc.source)}: invalid configuration\n")
        for problem in exc.problems:
            sys.stderr.write(f"  {printable(problem)}\n")
        return EXIT_UNKNOWN
    except Exception as exc:  # noqa: BLE001 - the command line's boundary: one line
        sys.stderr.write(f"{_PROG}: error: {printable(f'{type(exc).__name__}: {exc}')}\n")
        return EXIT_UNKNOWN
    findings = run_doctor(config)
    worst = max((f.status for f in findings), key=lambda s: s.rank, default=Status.PASS)
    if args.format == "json":
        json.dump(
            {
                "checks": [
                    {
                        "check": f.check,
                        "subject": f.subject,
                        "status": f.status.value,
                        "summary": f.summary,
                        "fix": f.fix,
                    }
                    for f in findings
                ],
                "worst_status": worst.value,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        write_text(findings, worst, sys.stdout)
    return _EXIT[worst]


def write_text(findings: list[Finding], worst: Status, out: TextIO) -> None:
    """One line per check: verdict, check, subject and what was found, then the fix."""
    width = max((len(f.check) for f in findings), default=0)
    for f in findings:
        fix = f"  fix: {f.fix}" if f.fix and f.status is not Status.PASS else ""
        line = f"{f.status.value.upper():7} {f.check:{width}}  {f.subject}: {f.summary}{fix}"
        out.write(printable(line) + "\n")
    out.write(f"worst: {worst.value}\n")


def run_doctor(config: Config) -> list[Finding]:
    """Every check the configuration calls for, in order: SES accounts, queues, SMTP."""
    default = boto3.Session()
    region = next(
        (q.aws_region for q in config.events.queues),
        next((r for a in config.aws.accounts for r in a.regions), "us-east-1"),
    )
    prober = Prober(principal="the exporter's identity")
    needs_default = bool(config.events.queues or config.smtp_credentials)
    if needs_default:
        arn = _caller(prober, default, region, "default credential chain")
        prober.principal = arn or prober.principal
    own = prober.principal
    ses = _SesView()
    if not config.aws.accounts:
        ses.unknown()
    for account in config.aws.accounts:
        for account_region in account.regions:
            _ses_region(prober, config, account, account_region, ses)
    prober.principal = own
    for queue in config.events.queues:
        _queue(prober, default, queue, config, ses)
    for credential in config.smtp_credentials:
        _smtp(prober, default, credential)
    if not prober.findings:
        prober.findings.append(
            Finding(
                "config",
                "aws",
                Status.WARN,
                "nothing on the AWS side to check",
                "add [[aws.accounts]], [[events.queues]] or [[smtp_credentials]]",
            )
        )
    return prober.findings


def _caller(prober: Prober, session: Any, region: str, subject: str) -> str | None:
    """sts:GetCallerIdentity: whose policies every other answer reflects."""
    try:
        arn = str(client_for(session, "sts", region).get_caller_identity()["Arn"])
    except AWS_ERRORS as exc:
        prober.findings.append(
            Finding(
                "aws_credentials",
                subject,
                Status.FAIL,
                f"no usable AWS credentials ({aws_error_code(exc)})",
                "give the process credentials as for `run`: environment, profile, IRSA or "
                "EKS Pod Identity (and the role's trust policy, for role_arn)",
            )
        )
        return None
    prober.findings.append(Finding("aws_credentials", subject, Status.PASS, f"calls as {arn}"))
    return arn


def _ses_region(
    prober: Prober, config: Config, account: AwsAccountConfig, region: str, ses: _SesView
) -> None:
    settings = config.aws
    subject = f"{account.name}/{region}"
    session = account_session(account)
    arn = _caller(prober, session, region, subject)
    if arn is None:
        ses.unknown()
        return
    prober.principal = arn
    sesv2, ses_v1 = client_for(session, "sesv2", region), client_for(session, "ses", region)
    prober.call(sesv2, "ses:GetAccount", subject, "get_account")
    sample = config.domains[0].name if config.domains else "example.com"
    if settings.discover_identities:
        listed, _ = prober.call(
            ses_v1,
            "ses:ListIdentities",
            subject,
            "list_identities",
            IdentityType="Domain",
            MaxItems=1,
        )
        sample = next(iter((listed or {}).get("Identities", [])), sample)
    for action, operation in (
        ("ses:GetIdentityVerificationAttributes", "get_identity_verification_attributes"),
        ("ses:GetIdentityDkimAttributes", "get_identity_dkim_attributes"),
        ("ses:GetIdentityMailFromDomainAttributes", "get_identity_mail_from_domain_attributes"),
        ("ses:GetIdentityNotificationAttributes", "get_identity_notification_attributes"),
    ):
        prober.call(ses_v1, action, subject, operation, Identities=[sample])
    prober.call(sesv2, "ses:GetEmailIdentity", subject, "get_email_identity", EmailIdentity=sample)
    if settings.suppression_list:
        prober.call(
            sesv2,
            "ses:ListSuppressedDestinations",
            subject,
            "list_suppressed_destinations",
            PageSize=1,
        )
    if settings.recommendations:
        prober.call(
            sesv2,
            "ses:ListRecommendations",
            subject,
            "list_recommendations",
            Filter={"STATUS": "OPEN"},
            PageSize=1,
        )
    if settings.reputation_metrics:
        _reputation(prober, client_for(session, "cloudwatch", region), subject)
    _configuration_sets(prober, sesv2, subject, ses)
    if settings.discover_identities:
        _identities(prober, sesv2, ses_v1, subject=subject, config=config, ses=ses)


def _reputation(prober: Prober, cloudwatch: Any, subject: str) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415 - only with reputation_metrics

    end = datetime.now(UTC)
    prober.call(
        cloudwatch,
        "cloudwatch:GetMetricData",
        subject,
        "get_metric_data",
        MetricDataQueries=[
            {
                "Id": "bounce",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SES", "MetricName": "Reputation.BounceRate"},
                    "Period": 3600,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=end - timedelta(hours=1),
        EndTime=end,
    )


def _configuration_sets(prober: Prober, sesv2: Any, subject: str, ses: _SesView) -> None:
    """Each configuration set routes bounces and complaints to a machine-readable
    destination (SESv2 reads EventBridge and Firehose destinations too); collects the SNS
    topics they publish to."""
    token: str | None = None
    for _ in range(_MAX_PAGES):
        kwargs: dict[str, Any] = {"PageSize": 1000, **({"NextToken": token} if token else {})}
        listed, code = prober.call(
            sesv2, "ses:ListConfigurationSets", subject, "list_configuration_sets", **kwargs
        )
        if listed is None:
            ses.unknown()
            prober.findings.append(_routing_unknown(subject, code))
            return
        for name in listed.get("ConfigurationSets", []):
            described, code = prober.call(
                sesv2,
                "ses:GetConfigurationSetEventDestinations",
                subject,
                "get_configuration_set_event_destinations",
                ConfigurationSetName=name,
            )
            if described is None:
                ses.unknown()
                prober.findings.append(_routing_unknown(f"{name} ({subject})", code))
                continue
            prober.findings.append(_set_routing(name, subject, described, ses))
        token = listed.get("NextToken")
        if not token:
            return


def _set_routing(name: str, subject: str, described: dict[str, Any], ses: _SesView) -> Finding:
    covered: set[str] = set()
    for destination in described.get("EventDestinations", []):
        if not destination.get("Enabled"):
            continue
        topic = (destination.get("SnsDestination") or {}).get("TopicArn")
        ses.add(topic)
        readable = topic or any(
            destination.get(k)
            for k in ("KinesisFirehoseDestination", "EventBridgeDestination", "PinpointDestination")
        )
        if readable:
            covered.update(str(t).lower() for t in destination.get("MatchingEventTypes", []))
    missing = sorted(_FEEDBACK - covered)
    if not missing:
        return Finding(
            "ses_configuration_set_routing",
            f"{name} ({subject})",
            Status.PASS,
            "bounces and complaints reach an enabled SNS/EventBridge/Firehose destination",
        )
    return Finding(
        "ses_configuration_set_routing",
        f"{name} ({subject})",
        Status.FAIL,
        f"no enabled machine-readable event destination for {' and '.join(missing)}",
        "add an enabled event destination for BOUNCE and COMPLAINT publishing to the "
        f"exporter's SNS topic ({_DEPLOY})",
    )


def _routing_unknown(subject: str, code: str | None) -> Finding:
    return Finding(
        "ses_configuration_set_routing",
        subject,
        Status.UNKNOWN,
        f"event destinations could not be read ({code})",
        "grant ses:ListConfigurationSets and ses:GetConfigurationSetEventDestinations",
    )


def _identities(
    prober: Prober, sesv2: Any, ses_v1: Any, *, subject: str, config: Config, ses: _SesView
) -> None:
    """Every discovered identity's feedback routing, by the daemon's own reads and verdict."""
    settings = config.aws
    region = subject.rsplit("/", 1)[-1]
    source = SesRegionSource(
        region=region,
        sesv2=sesv2,
        ses=ses_v1,
        pacer=Pacer(settings.api_calls_per_second),
        dkim_lookups_per_discovery=0,  # signing attributes are not doctor's business
    )
    try:
        states = source.domain_identities(settings.identity_patterns)
    except SesApiError as exc:
        ses.unknown()
        prober.findings.append(
            Finding(
                "ses_feedback_routing",
                subject,
                Status.UNKNOWN,
                f"identities could not be read ({exc})",
                "grant the SES read actions of deploy/iam-policy.json",
            )
        )
        return
    for state in states:
        ses.add(state.bounce_topic)
        ses.add(state.complaint_topic)
        result = check_feedback_routing(state)
        prober.findings.append(
            Finding(
                "ses_feedback_routing",
                f"{state.identity} ({region})",
                result.status,
                result.summary,
                result.remedy or "",
            )
        )


def _queue(prober: Prober, session: Any, queue: QueueConfig, config: Config, ses: _SesView) -> None:
    subject = queue.name
    sqs = client_for(session, "sqs", queue.aws_region)
    attributes, code = prober.call(
        sqs,
        "sqs:GetQueueAttributes",
        subject,
        "get_queue_attributes",
        QueueUrl=queue.url,
        AttributeNames=["All"],
    )
    if attributes is None:
        missing = code in _NO_QUEUE
        prober.findings.append(
            Finding(
                "sqs_queue",
                subject,
                Status.FAIL if missing else Status.UNKNOWN,
                f"{queue.url} does not exist" if missing else f"could not be read ({code})",
                f"create the queue ({_DEPLOY}) or correct events.queues[].url"
                if missing
                else "grant sqs:GetQueueAttributes on the queue",
            )
        )
        return
    values = attributes.get("Attributes", {})
    arn = str(values.get("QueueArn", ""))
    prober.findings.append(Finding("sqs_queue", subject, Status.PASS, f"exists ({arn})"))
    prober.findings.append(_redrive(subject, values.get("RedrivePolicy")))
    prober.simulate(
        client_for(session, "iam", queue.aws_region),
        ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        arn,
        subject,
    )
    topics = _subscribed_topics(prober, client_for(session, "sns", queue.aws_region), arn, subject)
    if topics is not None:
        prober.findings.append(_subscription(subject, topics, config, ses))
        prober.findings.append(queue_policy_finding(subject, values.get("Policy"), topics))


def _redrive(subject: str, policy: object) -> Finding:
    try:
        parsed = json.loads(str(policy)) if policy else {}
    except ValueError:
        parsed = {}
    target = parsed.get("deadLetterTargetArn") if isinstance(parsed, dict) else None
    if target:
        count = parsed.get("maxReceiveCount")
        return Finding(
            "sqs_redrive_policy",
            subject,
            Status.PASS,
            f"dead-letter queue {str(target).rsplit(':', 1)[-1]} after {count} receives",
        )
    return Finding(
        "sqs_redrive_policy",
        subject,
        Status.FAIL,
        "no redrive policy: a body the exporter cannot read is received again and again",
        f"give the queue a redrive policy to a dead-letter queue ({_DEPLOY})",
    )


def _subscribed_topics(prober: Prober, sns: Any, queue_arn: str, subject: str) -> list[str] | None:
    """The topics with an SQS subscription to the queue (None: could not be listed)."""
    topics: list[str] = []
    token: str | None = None
    for _ in range(_MAX_PAGES):
        listed, code = prober.call(
            sns,
            "sns:ListSubscriptions",
            subject,
            "list_subscriptions",
            **({"NextToken": token} if token else {}),
        )
        if listed is None:
            prober.findings.append(
                Finding(
                    "sqs_subscription",
                    subject,
                    Status.UNKNOWN,
                    f"subscriptions could not be listed ({code})",
                    "grant sns:ListSubscriptions (deploy/iam-policy.json, DoctorOptional)",
                )
            )
            return None
        topics.extend(
            str(s.get("TopicArn"))
            for s in listed.get("Subscriptions", [])
            if s.get("Endpoint") == queue_arn and s.get("Protocol") == "sqs"
        )
        token = listed.get("NextToken")
        if not token:
            break
    return topics


def _subscription(subject: str, topics: list[str], config: Config, ses: _SesView) -> Finding:
    if not topics:
        return Finding(
            "sqs_subscription",
            subject,
            Status.FAIL,
            "no SNS topic is subscribed to the queue: no event reaches it",
            f"subscribe the queue to the topic SES publishes to ({_DEPLOY})",
        )
    named = ", ".join(topics)
    allowed = config.events.allowed_topic_arns
    if allowed and not set(topics) & set(allowed):
        return Finding(
            "sqs_subscription",
            subject,
            Status.FAIL,
            f"subscribed to {named}, which events.allowed_topic_arns does not name: every "
            "event would be refused",
            f"add {topics[0]} to events.allowed_topic_arns",
        )
    if ses.topics is None:
        return Finding(
            "sqs_subscription",
            subject,
            Status.UNKNOWN,
            f"subscribed to {named}; whether SES publishes there could not be read",
            "configure the SES account under [[aws.accounts]] and grant its SES read actions",
        )
    if set(topics) & ses.topics:
        return Finding(
            "sqs_subscription",
            subject,
            Status.PASS,
            f"subscribed to {named}, which SES publishes to",
        )
    return Finding(
        "sqs_subscription",
        subject,
        Status.WARN,
        f"subscribed to {named}, but no identity or configuration set of the configured "
        "accounts publishes there",
        "add an event destination to that topic and make its configuration set the "
        "identities' default (docs/aws-setup.md)",
    )


def _smtp(prober: Prober, session: Any, credential: SmtpCredentialConfig) -> None:
    subject = credential.name
    iam = client_for(session, "iam", "us-east-1") if credential.iam_user else None
    listed: dict[str, Any] | None = None
    if iam is not None:
        listed, _ = prober.call(
            iam, "iam:ListAccessKeys", subject, "list_access_keys", UserName=credential.iam_user
        )
    result = check_smtp_credential(credential, iam if listed is not None else None)
    if result.keys is not None:
        if any(key.active for key in result.keys):
            prober.findings.append(
                Finding(
                    "smtp_iam_key", subject, Status.PASS, f"{credential.iam_user} has an active key"
                )
            )
        else:
            prober.findings.append(
                Finding(
                    "smtp_iam_key",
                    subject,
                    Status.FAIL,
                    f"{credential.iam_user} has no active access key: its SMTP password fails",
                    "create a key and derive the SMTP password from it "
                    "(ses-deliverability-exporter smtp-password)",
                )
            )
    if credential.username_env is None:
        return
    probe = result.probe
    host, port = credential.endpoint
    if probe is None:
        prober.findings.append(
            Finding(
                "smtp_auth",
                subject,
                Status.UNKNOWN,
                result.error or "not probed",
                f"export {credential.username_env} and {credential.password_env} as for `run`",
            )
        )
    elif probe.status == "ok":
        prober.findings.append(
            Finding("smtp_auth", subject, Status.PASS, f"authenticates at {host}:{port}")
        )
    elif probe.status == "auth_failed":
        prober.findings.append(
            Finding(
                "smtp_auth",
                subject,
                Status.FAIL,
                f"{host}:{port} refused the credentials ({probe.smtp_code})",
                "derive the password from the current secret key "
                "(ses-deliverability-exporter smtp-password) and update every relay",
            )
        )
    else:
        prober.findings.append(
            Finding(
                "smtp_auth",
                subject,
                Status.UNKNOWN,
                f"no verdict from {host}:{port}: {probe.error}",
                "check that the endpoint is reachable on that port",
            )
        )
