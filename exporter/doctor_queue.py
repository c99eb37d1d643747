"""`doctor`'s checks of the event queue and of SMTP credentials (see exporter/doctor.py).

The queue is only ever asked ``GetQueueAttributes``: receiving would hide real events and
push them towards the dead-letter queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from exporter.config import Config, QueueConfig, SmtpCredentialConfig
from exporter.doctor_aws import Finding, Prober, client_for, queue_policy_finding
from exporter.jobs.smtp import check_smtp_credential
from exporter.model import Status

__all__ = ["SesView", "check_queue", "check_smtp"]

_NO_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_MAX_PAGES = 100  # bounded listings
DEPLOY = "deploy/aws/ creates it"


@dataclass
class SesView:
    """The SNS topics SES publishes to, over every configured account and region; None
    once a part of it could not be read."""

    topics: set[str] | None = field(default_factory=set)

    def add(self, topic: str | None) -> None:
        if topic and self.topics is not None:
            self.topics.add(topic)

    def unknown(self) -> None:
        self.topics = None


def check_queue(
    prober: Prober, session: Any, queue: QueueConfig, config: Config, ses: SesView
) -> None:
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
                f"create the queue ({DEPLOY}) or correct events.queues[].url"
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
        f"give the queue a redrive policy to a dead-letter queue ({DEPLOY})",
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


def _subscription(subject: str, topics: list[str], config: Config, ses: SesView) -> Finding:
    if not topics:
        return Finding(
            "sqs_subscription",
            subject,
            Status.FAIL,
            "no SNS topic is subscribed to the queue: no event reaches it",
            f"subscribe the queue to the topic SES publishes to ({DEPLOY})",
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


def check_smtp(prober: Prober, session: Any, credential: SmtpCredentialConfig) -> None:
    subject = credential.name
    iam = client_for(session, "iam", "us-east-1") if credential.iam_user else None
    listed: dict[str, Any] | None = None
    if iam is not None:
        listed, _ = prober.call(
            iam, "iam:ListAccessKeys", subject, "list_access_keys", UserName=credential.iam_user
        )
    result = check_smtp_credential(credential, iam if listed is not None else None)
    if listed is not None and result.keys is None and result.error.startswith("iam:"):
        # ListAccessKeys passed: the failing read is GetAccessKeyLastUsed
        prober.findings.append(
            Finding(
                "permission",
                f"iam:GetAccessKeyLastUsed {subject}",
                Status.FAIL,
                f"the key reads failed ({result.error})",
                f"grant iam:GetAccessKeyLastUsed to {prober.principal} (deploy/iam-policy.json)",
            )
        )
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
