"""The tables of the AWS side: SES polling, the SES event consumer and SMTP credentials.

Written like the tables in ``model.py``: each field carries its type, default, limits,
validators and description, and loading validates straight into these dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WrapValidator

from exporter.config.fields import (
    FORBID,
    SMTP_PORT,
    Between,
    Bool,
    DomainName,
    ExistingFile,
    Float,
    FromString,
    Int,
    Labels,
    Region,
    SesRegion,
    SiblingKeyError,
    TopicArn,
    check_external_id,
    check_role_arn,
    credential_name,
    no_default,
    parse_hostport,
    queue_region,
    queue_url,
)
from exporter.config.lists import default_account_names, unique


def _name_defaulted(schema: dict[str, Any]) -> None:
    """An account's name defaults to its position, filled in before validation."""
    schema["required"].remove("name")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """An SQS queue subscribed to the SES SNS topic."""

    __pydantic_config__ = FORBID
    url: Annotated[
        str,
        AfterValidator(queue_url),
        Field(description="the exporter's own SQS queue, subscribed to the SES SNS topic"),
    ]
    aws_region: Annotated[
        str,
        AfterValidator(queue_region),
        Field(
            validate_default=True,
            json_schema_extra=no_default,
            description="the queue's region; taken from the URL when it names one",
        ),
    ] = ""

    @property
    def name(self) -> str:
        """The queue's name (the URL's last path segment): the bounded `queue` label."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """The SES event consumer: its own SQS queue(s), subscribed to the SES SNS topic."""

    __pydantic_config__ = FORBID
    queues: Annotated[
        tuple[QueueConfig, ...], Field(description="the queues to consume ([[events.queues]])")
    ] = ()
    pollers: Annotated[Int, Between(1, 32), Field(description="poller threads per queue")] = 2
    # SIGTERM waits for a long poll in flight: keep it short enough to stop in 10 s.
    wait_time_seconds: Annotated[
        Int, Between(0, 5), Field(description="SQS long poll, 0 to 5 seconds")
    ] = 5
    visibility_timeout_seconds: Annotated[
        Annotated[Int, Between(10, 43200)] | None,
        Field(description="override per receive; default: the queue's own setting"),
    ] = None
    max_recipient_domains: Annotated[
        Int,
        Between(1, 5000),
        Field(description="top-K recipient domains with a label of their own"),
    ] = 100
    watch_recipient_domains: Annotated[
        tuple[DomainName, ...],
        Field(description="recipient domains that always keep their own label"),
    ] = ()
    dedupe_window: Annotated[
        Int,
        Between(1000, 10_000_000),
        Field(description="event keys remembered to recognise SQS redeliveries"),
    ] = 100_000
    provider_lookup: Annotated[
        Bool, Field(description="tell `recipient_provider` from the recipient domain's MX")
    ] = True
    allowed_topic_arns: Annotated[
        tuple[TopicArn, ...],
        Field(
            description="SNS topic ARNs whose envelopes are read; an envelope from any other "
            "topic is refused; empty: every topic; restart to change"
        ),
    ] = ()


@dataclass(frozen=True, slots=True)
class AwsAccountConfig:
    """One AWS account: the default credential chain, or a role assumed from it."""

    __pydantic_config__ = ConfigDict(extra="forbid", json_schema_extra=_name_defaulted)
    name: Annotated[
        str, Field(description="a name for the account (collector label); default `account<N>`")
    ]
    regions: Annotated[
        tuple[SesRegion, ...],
        Field(min_length=1, description="SES regions to poll"),
    ]
    role_arn: Annotated[
        Annotated[str, AfterValidator(check_role_arn)] | None,
        Field(description="assume this IAM role from the default credential chain"),
    ] = None
    external_id: Annotated[
        Annotated[str, AfterValidator(check_external_id)] | None,
        Field(description="the external ID the role's trust policy asks for"),
    ] = None


@dataclass(frozen=True, slots=True)
class IdentityLabelRule:
    """Owner labels for discovered identities whose name matches ``pattern``."""

    __pydantic_config__ = FORBID
    pattern: Annotated[str, Field(description="fnmatch pattern on the identity (domain) name")]
    labels: Annotated[
        Labels,
        Field(
            json_schema_extra={"default": {}},
            description='owner labels (`{ team = "payments" }`) on the identity\'s '
            "`deliverability_domain_info`",
        ),
    ] = ()


@dataclass(frozen=True, slots=True)
class AwsConfig:
    """Polling SES: account state, identities, suppression list, reputation."""

    __pydantic_config__ = FORBID
    accounts: Annotated[
        tuple[AwsAccountConfig, ...],
        WrapValidator(unique("name", "is used by another account")),
        BeforeValidator(default_account_names),
        Field(description="the AWS accounts to poll ([[aws.accounts]])"),
    ] = ()
    interval_seconds: Annotated[
        Float,
        Between(10, 86400),
        Field(description="between polls of account state, suppression list, recommendations"),
    ] = 300.0
    discovery_interval_seconds: Annotated[
        Float, Between(60, 7 * 86400), Field(description="between identity rediscoveries")
    ] = 3600.0
    api_calls_per_second: Annotated[
        Float,
        Between(0.01, 100),
        Field(description="pacing of SES calls per region (shared with your own tooling)"),
    ] = 1.0
    discover_identities: Annotated[
        Bool, Field(description="check the DNS of every SES domain identity")
    ] = True
    identity_patterns: Annotated[
        tuple[str, ...],
        Field(description="fnmatch filters on discovered identities; empty: all"),
    ] = ()
    identity_labels: Annotated[
        tuple[IdentityLabelRule, ...],
        Field(
            description="owner labels for discovered identities ([[aws.identity_labels]]): the "
            "first rule whose pattern matches wins; a configured [[domains]] entry's own labels "
            "win over every rule"
        ),
    ] = ()
    suppression_list: Annotated[Bool, Field(description="count the account suppression list")] = (
        True
    )
    suppression_full_recount_seconds: Annotated[
        Float,
        Between(600, 30 * 86400),
        Field(description="between full recounts (deletions are seen only then)"),
    ] = 86400.0
    reputation_metrics: Annotated[
        Bool, Field(description="CloudWatch reputation metrics (GetMetricData costs money)")
    ] = False
    extra_regions: Annotated[
        tuple[Region, ...],
        Field(
            description="regions newer than the installed botocore, accepted as SES and SQS "
            "regions as written (every other region must be one botocore knows)"
        ),
    ] = ()
    recommendations: Annotated[
        Bool, Field(description="Deliverability Manager recommendations")
    ] = True


def _secrets_and_probe(password_env: str | None, info: Any) -> str | None:
    """Checked on password_env, the last of the keys involved (validated even when absent)."""
    if (info.data.get("username_env") is None) != (password_env is None):
        raise ValueError("username_env and password_env go together")
    if info.data.get("iam_user") is None and password_env is None:
        raise SiblingKeyError(
            "", "needs iam_user (key status) and/or username_env + password_env (AUTH probe)"
        )
    return password_env


def _endpoint_part(index: int) -> FromString:
    return FromString(lambda text: parse_hostport(text, SMTP_PORT)[index])


_ENDPOINT = "`host:port` of the SMTP endpoint; default `email-smtp.<region>.amazonaws.com:587`"


@dataclass(frozen=True, slots=True)
class SmtpCredentialConfig:
    """An SES SMTP credential to watch; the secrets come from environment variables."""

    __pydantic_config__ = FORBID
    name: Annotated[
        str,
        AfterValidator(credential_name),
        Field(description="label of the credential; never the username or the secret"),
    ]
    region: Annotated[SesRegion, Field(description="SES region of its SMTP endpoint")]
    iam_user: Annotated[
        str | None, Field(description="the IAM user whose keys the SMTP password derives from")
    ] = None
    username_env: Annotated[
        str | None, Field(description="environment variable holding the SMTP username")
    ] = None
    password_env: Annotated[
        str | None,
        AfterValidator(_secrets_and_probe),
        Field(
            validate_default=True,
            description="environment variable holding the SMTP password (with username_env)",
        ),
    ] = None
    # host and port are both read from the one `endpoint` key (the schema shows it once).
    host: Annotated[
        str,
        _endpoint_part(0),
        Field(validation_alias="endpoint"),
    ] = ""
    port: Annotated[
        int,
        _endpoint_part(1),
        Field(validation_alias="endpoint", description=_ENDPOINT, json_schema_extra=no_default),
    ] = SMTP_PORT
    probe_interval_seconds: Annotated[
        Float, Between(1, 86400), Field(description="between AUTH probes")
    ] = 900.0
    ca_file: Annotated[
        ExistingFile | None,
        Field(
            description="PEM CA to trust instead of the system's (a private relay), "
            "relative to this file"
        ),
    ] = None

    @property
    def endpoint(self) -> tuple[str, int]:
        return (self.host or f"email-smtp.{self.region}.amazonaws.com", self.port)
