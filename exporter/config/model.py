"""The configuration's tables: frozen slotted dataclasses the daemon holds, and the schema.

Each key is written once: its field here carries the type, default, limits, validators and
the description the reference (docs/configuration.md) is generated from. Pydantic reads
these fields to validate a TOML document straight into the dataclasses, so loading builds
no second set of objects. Constructing a dataclass in code does not validate.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WrapValidator

from exporter.config.aws_tables import AwsConfig, EventsConfig, SmtpCredentialConfig
from exporter.config.fields import (
    DEFAULT_PORT,
    FORBID,
    Between,
    Bool,
    DnsLabel,
    DomainName,
    ExistingFile,
    Float,
    Int,
    Labels,
    Nameserver,
    Retired,
    SesRegion,
    ShardIndex,
    SiblingKeyError,
    below,
    hostport,
    lower,
    unique_domains,
)
from exporter.config.lists import unique, unique_domain_names

Role = Literal["all", "checks", "events"]
ROLES: tuple[str, ...] = get_args(Role)


PROCESSES_RETIRED = Retired(
    "resolver.processes",
    "the DNS cycle runs in one process; use cluster.shard_count to spread domains over "
    "processes or pods",
)
RUNBOOK_BASE_URL = (
    "https://github.com/ses-deliverability-exporter/ses-deliverability-exporter"
    "/blob/main/docs/runbooks.md"
)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The HTTP listener (a change needs a restart)."""

    __pydantic_config__ = FORBID
    listen_address: Annotated[
        tuple[str, int],
        hostport(DEFAULT_PORT),
        Field(
            description="`host:port`, `[v6]:port` or `:port` (all IPv4 interfaces); "
            "restart to change",
            json_schema_extra={"default": f":{DEFAULT_PORT}"},
        ),
    ] = ("", DEFAULT_PORT)
    web_config_file: Annotated[
        ExistingFile | None,
        Field(
            description="TLS and basic auth for `/metrics` and `/`, in the Prometheus "
            "exporter-toolkit format (`tls_server_config.cert_file`/`key_file`, "
            "`basic_auth_users` with bcrypt hashes), relative to this file; `/healthz` and "
            "`/readyz` stay open"
        ),
    ] = None
    runbook_base_url: Annotated[
        str,
        Field(
            description="where the landing page's runbook links point: the runbooks page, each "
            "failing check linking to the section of the alert that covers it (`#anchor` "
            "appended); an `http(s)` URL or a path, empty for no links",
            pattern=r"^(?:https?://[^\s\"'<>`]+|[^\s\"'<>`:]*)$",
        ),
    ] = RUNBOOK_BASE_URL

    @property
    def listen_host(self) -> str:
        return self.listen_address[0]

    @property
    def listen_port(self) -> int:
        return self.listen_address[1]


def _nameservers_or_zones(zone_files: tuple[Path, ...], info: Any) -> tuple[Path, ...]:
    if info.data.get("nameservers") == () and not zone_files:
        raise SiblingKeyError("nameservers", "is empty and no zone_files are given: nothing to ask")
    return zone_files


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    """How DNS is asked."""

    __pydantic_config__ = FORBID
    nameservers: Annotated[
        tuple[Nameserver, ...] | None,
        Field(
            description="`IP` or `IP:PORT` (`[::1]:53` for IPv6); absent: the system's "
            "`/etc/resolv.conf`; an empty list answers only from `zone_files`"
        ),
    ] = None
    timeout_seconds: Annotated[
        Float, Between(0.05, 60), Field(description="per query and attempt")
    ] = 2.0
    attempts: Annotated[
        Int, Between(1, 10), Field(description="tries per question, rotating over the nameservers")
    ] = 2
    concurrency: Annotated[
        Int,
        Between(1, 10_000),
        Field(description="questions in flight at once (and domains checked in parallel)"),
    ] = 64
    max_queries_per_second: Annotated[
        Float,
        Between(0, 1_000_000),
        Field(
            description="pacing; `0` = no limit. AWS VPC resolvers drop traffic above 1,024 "
            "packets/s per network interface"
        ),
    ] = 500.0
    zone_files: Annotated[
        tuple[ExistingFile, ...],
        AfterValidator(_nameservers_or_zones),
        Field(
            validate_default=True,
            description="zone files answered locally instead of by DNS, to check a change "
            "before publishing it (paths relative to this file)",
        ),
    ] = ()
    transport: Annotated[
        Literal["wire", "dnspython"],
        Field(
            description="`wire`: a small pool of UDP sockets per nameserver whose source "
            "ports keep changing (RFC 5452) and a lean parser (TCP through dnspython when "
            "truncated); `dnspython`: dnspython's query per "
            "question. Both give identical verdicts"
        ),
    ] = "wire"
    authoritative: Annotated[
        Bool,
        Field(
            description="ask each domain's own authoritative servers (found through "
            "`nameservers`, asked without recursion) instead of a recursive resolver, whose "
            "negative cache can hide a fix for up to the zone's SOA minimum TTL"
        ),
    ] = False
    processes: Annotated[
        Int,
        Between(1, 64),
        PROCESSES_RETIRED,
        Field(description=f"deprecated and ignored: {PROCESSES_RETIRED.reason}"),
    ] = 1


def _jitter_below_interval(jitter: float, info: Any) -> float:
    interval = info.data.get("interval_seconds")
    if interval is not None and jitter >= interval:
        raise ValueError(f"must be smaller than interval_seconds ({interval:g})")
    return jitter


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """When the DNS checks run."""

    __pydantic_config__ = FORBID
    interval_seconds: Annotated[
        Float, Between(1, 7 * 86400), Field(description="between DNS check cycles")
    ] = 300.0
    jitter_seconds: Annotated[
        Float,
        Between(0, 86400),
        AfterValidator(_jitter_below_interval),
        Field(
            description="random delay added to each run, smaller than the interval; default "
            "15, or a tenth of `interval_seconds` when that is smaller"
        ),
    ] = 15.0


def _default_jitter(table: Any) -> Any:
    """The default jitter is a tenth of a short interval, so a 30 s cycle stays valid."""
    if isinstance(table, dict) and "jitter_seconds" not in table:
        interval = table.get("interval_seconds")
        if isinstance(interval, int | float) and not isinstance(interval, bool):
            return {**table, "jitter_seconds": min(15.0, interval / 10)}
    return table


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Logging on stderr."""

    __pydantic_config__ = FORBID
    level: Annotated[
        Literal["debug", "info", "warning", "error"],
        BeforeValidator(lower),
        Field(description="the lowest level logged"),
    ] = "info"
    format: Annotated[
        Literal["auto", "json", "console"],
        BeforeValidator(lower),
        Field(description="`auto`: JSON when stderr is not a terminal"),
    ] = "auto"


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """What /metrics exports per domain.

    ``series_budget`` caps the ``deliverability_check_status`` series and the
    ``deliverability_check_unknown_reason`` series of the same domains (0 = no cap: every
    domain x check x status). With a cap, only ``watch_domains`` and domains with a check that
    is not passing get per-domain check series, in that order, until the budget is used up.
    """

    __pydantic_config__ = FORBID
    series_budget: Annotated[
        Int,
        Between(0, 100_000_000),
        Field(
            description="cap on `deliverability_check_status` series plus the "
            "`deliverability_check_unknown_reason` series of the same domains; `0` = every "
            "domain x check x status"
        ),
    ] = 0
    watch_domains: Annotated[
        tuple[DomainName, ...],
        AfterValidator(unique_domains),
        Field(description="domains that keep their check series in budget mode (first)"),
    ] = ()


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Which share of the work this process does when several run side by side.

    ``role``: ``all`` does everything; ``checks`` the DNS checks of its shard (and SES
    polling and SMTP probes on ``ses_shard``); ``events`` only consumes SQS. Domains are
    split over ``shard_count`` shards by a stable hash of the name; SQS consumers compete,
    so any number of processes may consume the same queue.
    """

    __pydantic_config__ = FORBID
    role: Annotated[
        Role,
        Field(
            description="`all`: everything; `checks`: the DNS checks of this shard (and SES "
            "and SMTP on `ses_shard`); `events`: only the SQS consumer"
        ),
    ] = "all"
    shard_count: Annotated[
        Int,
        Between(1, 1024),
        Field(description="shards the domains are split into, by a stable hash of the name"),
    ] = 1
    shard_index: Annotated[
        ShardIndex,
        Strict(),
        Between(0, 1023),
        AfterValidator(below("shard_count")),
        Field(
            description='this process\'s shard, `0`..`shard_count`-1, or `"auto"`: the '
            "ordinal at the end of the hostname (a StatefulSet pod `name-2` is shard 2)"
        ),
    ] = 0
    ses_shard: Annotated[
        Int,
        Between(0, 1023),
        AfterValidator(below("shard_count")),
        Field(description="the one shard that polls SES account state and probes SMTP credentials"),
    ] = 0

    @property
    def runs_checks(self) -> bool:
        return self.role in ("all", "checks")

    @property
    def runs_events(self) -> bool:
        return self.role in ("all", "events")

    @property
    def polls_ses_account(self) -> bool:
        return self.runs_checks and self.shard_index == self.ses_shard


def _mail_from_below_name(mail_from: str | None, info: Any) -> str | None:
    # SES requires the custom MAIL FROM domain to be a subdomain of the identity.
    name = info.data.get("name")
    if mail_from is not None and name is not None and not mail_from.endswith("." + name):
        raise ValueError(f"{mail_from} must be a subdomain of {name}")
    return mail_from


@dataclass(frozen=True, slots=True)
class DomainConfig:
    """A sending domain (the RFC5322.From domain of an SES identity)."""

    __pydantic_config__ = FORBID
    name: Annotated[
        DomainName, Field(description="the sending (RFC5322.From) domain; IDNs are accepted")
    ]
    mail_from: Annotated[
        DomainName | None,
        AfterValidator(_mail_from_below_name),
        Field(description="the custom MAIL FROM domain; must be a subdomain of `name`"),
    ] = None
    dkim_tokens: Annotated[tuple[DnsLabel, ...], Field(description="the SES Easy DKIM tokens")] = ()
    region: Annotated[
        SesRegion | None,
        Field(description="the SES region (for the MAIL FROM MX and DKIM signing zone)"),
    ] = None
    labels: Annotated[
        Labels,
        Field(
            json_schema_extra={"default": {}},
            description='owner labels (`{ team = "payments" }`) exported on '
            "`deliverability_domain_info` for alert routing",
        ),
    ] = ()


@dataclass(frozen=True, slots=True)
class Config:
    """The whole file."""

    __pydantic_config__ = FORBID
    server: ServerConfig = field(default_factory=ServerConfig)
    resolver: ResolverConfig = field(default_factory=ResolverConfig)
    schedule: Annotated[ScheduleConfig, BeforeValidator(_default_jitter)] = field(
        default_factory=ScheduleConfig
    )
    log: LogConfig = field(default_factory=LogConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    aws: AwsConfig = field(default_factory=AwsConfig)
    smtp_credentials: Annotated[
        tuple[SmtpCredentialConfig, ...],
        WrapValidator(unique("name", "is used twice")),
    ] = ()
    domains: Annotated[
        tuple[DomainConfig, ...],
        WrapValidator(unique_domain_names),
        Field(description="one table per sending domain ([[domains]])"),
    ] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @property
    def owner_label_names(self) -> tuple[str, ...]:
        """Union of every domain's and identity rule's owner label names, sorted, for the
        info metric."""
        tables = (*(d.labels for d in self.domains), *(r.labels for r in self.aws.identity_labels))
        return tuple(sorted({k for labels in tables for k, _ in labels}))

    def identity_labels(self, identity: str) -> tuple[tuple[str, str], ...]:
        """The owner labels of a discovered identity: the first matching rule's."""
        for rule in self.aws.identity_labels:
            if fnmatch.fnmatchcase(identity, rule.pattern.lower()):
                return rule.labels
        return ()
