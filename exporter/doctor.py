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
from typing import Any, TextIO

import boto3

from exporter.aws import account_session, aws_error_code
from exporter.checks.ses import check_feedback_routing
from exporter.cli_check import EXIT_CRITICAL, EXIT_OK, EXIT_UNKNOWN, EXIT_WARN, printable
from exporter.config import (
    AwsAccountConfig,
    Config,
    ConfigError,
    load_config,
)
from exporter.doctor_aws import AWS_ERRORS, Finding, Prober, client_for
from exporter.doctor_queue import DEPLOY, SesView, check_queue, check_smtp
from exporter.logs import configure_logging
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
_MAX_PAGES = 100  # bounded listings: an account with more is told so, not walked forever


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
    # The findings say it all: the daemon's own warnings (a rejected SMTP login, ...) would
    # repeat them, and must never reach stdout, where --format json is.
    configure_logging("error", config.log.format)
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
    ses = SesView()
    if not config.aws.accounts:
        ses.unknown()
    for account in config.aws.accounts:
        for account_region in account.regions:
            _ses_region(prober, config, account, account_region, ses)
    prober.principal = own
    for queue in config.events.queues:
        check_queue(prober, default, queue, config, ses)
    for credential in config.smtp_credentials:
        check_smtp(prober, default, credential)
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
    prober: Prober, config: Config, account: AwsAccountConfig, region: str, ses: SesView
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


def _configuration_sets(prober: Prober, sesv2: Any, subject: str, ses: SesView) -> None:
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


def _set_routing(name: str, subject: str, described: dict[str, Any], ses: SesView) -> Finding:
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
        f"exporter's SNS topic ({DEPLOY})",
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
    prober: Prober, sesv2: Any, ses_v1: Any, *, subject: str, config: Config, ses: SesView
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
