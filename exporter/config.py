"""The TOML configuration, parsed into frozen, validated objects.

Every problem is collected and reported at once, each naming its key and the reason, so a
user fixes a file in one pass. Nothing secret lives here: AWS credentials come from the
standard AWS chain (environment, profile, IRSA).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AwsAccountConfig",
    "AwsConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "DomainConfig",
    "EventsConfig",
    "LogConfig",
    "MetricsConfig",
    "Overrides",
    "QueueConfig",
    "ResolverConfig",
    "ScheduleConfig",
    "ServerConfig",
    "SmtpCredentialConfig",
    "load_config",
    "normalize_domain",
    "parse_config",
    "parse_hostport",
]

DEFAULT_PORT = 10190
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_PROM_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_RESERVED_LABELS = frozenset({"domain", "job", "instance"})


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` lists every ``key: reason``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen_host: str = ""
    listen_port: int = DEFAULT_PORT
    web_config_file: Path | None = None  # TLS and basic auth (exporter-toolkit format)


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    """How DNS is asked. ``nameservers`` None means the system's resolv.conf."""

    nameservers: tuple[tuple[str, int], ...] | None = None
    timeout_seconds: float = 2.0
    attempts: int = 2
    concurrency: int = 64
    max_queries_per_second: float = 500.0  # 0 = no limit
    zone_files: tuple[Path, ...] = ()
    transport: str = "wire"  # wire: one shared UDP socket, lean parser; dnspython: per query
    # Ask each domain's own authoritative servers (found through the nameservers above)
    # instead of a recursive resolver, so a cached NXDOMAIN cannot hide a fix.
    authoritative: bool = False
    # Split each cycle across this many processes (CPU-bound checks, one core per process);
    # pays only with an idle core per process and costs a second interpreter's memory each.
    processes: int = 1


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    interval_seconds: float = 300.0
    jitter_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "info"
    format: str = "auto"  # auto: JSON when stderr is not a terminal


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """What /metrics exports per domain.

    ``series_budget`` caps the ``deliverability_check_status`` series (0 = no cap: every
    domain x check x status). With a cap, only ``watch_domains`` and domains with a check that
    is not passing get per-domain check series, in that order, until the budget is used up.
    """

    series_budget: int = 0
    watch_domains: tuple[str, ...] = ()


ROLES = ("all", "checks", "events")


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Which share of the work this process does when several run side by side.

    ``role``: ``all`` does everything; ``checks`` the DNS checks of its shard (and SES
    polling and SMTP probes on ``ses_shard``); ``events`` only consumes SQS. Domains are
    split over ``shard_count`` shards by a stable hash of the name; SQS consumers compete,
    so any number of processes may consume the same queue.
    """

    role: str = "all"
    shard_count: int = 1
    shard_index: int = 0
    ses_shard: int = 0  # the one shard that polls SES account state and probes SMTP

    @property
    def runs_checks(self) -> bool:
        return self.role in ("all", "checks")

    @property
    def runs_events(self) -> bool:
        return self.role in ("all", "events")

    @property
    def polls_ses_account(self) -> bool:
        return self.runs_checks and self.shard_index == self.ses_shard


@dataclass(frozen=True, slots=True)
class DomainConfig:
    name: str
    mail_from: str | None = None
    dkim_tokens: tuple[str, ...] = ()
    region: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class QueueConfig:
    url: str
    aws_region: str

    @property
    def name(self) -> str:
        """The queue's name (the URL's last path segment): the bounded `queue` label."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """The SES event consumer: its own SQS queue(s), subscribed to the SES SNS topic."""

    queues: tuple[QueueConfig, ...] = ()
    pollers: int = 2
    wait_time_seconds: int = 5
    visibility_timeout_seconds: int | None = None
    max_recipient_domains: int = 100
    watch_recipient_domains: tuple[str, ...] = ()
    dedupe_window: int = 100_000
    provider_lookup: bool = True


@dataclass(frozen=True, slots=True)
class AwsAccountConfig:
    """One AWS account: the default credential chain, or a role assumed from it."""

    name: str
    regions: tuple[str, ...]
    role_arn: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class AwsConfig:
    accounts: tuple[AwsAccountConfig, ...] = ()
    interval_seconds: float = 300.0
    discovery_interval_seconds: float = 3600.0
    api_calls_per_second: float = 1.0
    discover_identities: bool = True
    identity_patterns: tuple[str, ...] = ()
    suppression_list: bool = True
    suppression_full_recount_seconds: float = 86400.0
    reputation_metrics: bool = False
    recommendations: bool = True


@dataclass(frozen=True, slots=True)
class SmtpCredentialConfig:
    """An SES SMTP credential to watch; the secrets come from environment variables."""

    name: str
    region: str
    iam_user: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    host: str = ""
    port: int = 587
    probe_interval_seconds: float = 900.0
    ca_file: Path | None = None  # trust this CA instead of the system's (private relays)

    @property
    def endpoint(self) -> tuple[str, int]:
        return (self.host or f"email-smtp.{self.region}.amazonaws.com", self.port)


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    resolver: ResolverConfig = field(default_factory=ResolverConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    log: LogConfig = field(default_factory=LogConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    aws: AwsConfig = field(default_factory=AwsConfig)
    smtp_credentials: tuple[SmtpCredentialConfig, ...] = ()
    domains: tuple[DomainConfig, ...] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @property
    def owner_label_names(self) -> tuple[str, ...]:
        """Union of every domain's owner label names, sorted, for the info metric."""
        return tuple(sorted({k for d in self.domains for k, _ in d.labels}))


Overrides = Mapping[str, Mapping[str, Any]]


def load_config(path: Path, overrides: Overrides | None = None) -> Config:
    """Read and validate a TOML file; raise ConfigError listing every problem.

    ``overrides`` (table -> key -> value, from command-line flags) replace the file's values
    before validation, so a bad flag is reported under its config key like a bad file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror or exc}"]) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from exc
    for table, values in (overrides or {}).items():
        section = raw.setdefault(table, {})
        if isinstance(section, dict):
            section.update(values)
    return parse_config(raw, source=str(path), base_dir=path.parent)


def parse_config(
    raw: dict[str, Any], *, source: str = "<config>", base_dir: Path | None = None
) -> Config:
    """Validate an already-parsed TOML document."""
    v = _Validator(base_dir or Path.cwd())
    v.unknown_keys(
        "",
        raw,
        {
            "server",
            "resolver",
            "schedule",
            "log",
            "events",
            "aws",
            "smtp_credentials",
            "domains",
            "metrics",
            "cluster",
        },
    )
    config = Config(
        server=v.server(v.table("server", raw)),
        resolver=v.resolver(v.table("resolver", raw)),
        schedule=v.schedule(v.table("schedule", raw)),
        log=v.log(v.table("log", raw)),
        events=v.events(v.table("events", raw)),
        aws=v.aws(v.table("aws", raw)),
        smtp_credentials=v.smtp_credentials(raw.get("smtp_credentials", [])),
        domains=v.domains(raw.get("domains", [])),
        metrics=v.metrics(v.table("metrics", raw)),
        cluster=v.cluster(v.table("cluster", raw)),
    )
    if v.problems:
        raise ConfigError(source, v.problems)
    return config


def normalize_domain(name: str) -> str:
    """Lower-case, strip the root dot and IDNA-encode; raise ValueError with the reason."""
    text = name.strip().rstrip(".").lower()
    if not text:
        raise ValueError("empty domain name")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"not a valid internationalized name ({exc})") from exc
    if len(text) > 253:  # noqa: PLR2004 - RFC 1035 limit on a name's text form
        raise ValueError("longer than 253 characters")
    labels = text.split(".")
    if len(labels) < 2:  # noqa: PLR2004 - a sending domain has at least a name and a TLD
        raise ValueError("needs at least two labels (e.g. example.com)")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(f"label {label!r} is not a valid DNS label")
    return text


def _region_from_queue_url(url: str) -> str | None:
    match = re.match(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/", url)
    return match.group(1) if match else None


def shard_index_from_hostname(hostname: str | None = None) -> int:
    """A StatefulSet pod is named ``<set>-<ordinal>``: its ordinal is its shard."""
    name = hostname or os.environ.get("HOSTNAME") or socket.gethostname()
    match = re.search(r"-(\d+)$", name.split(".", 1)[0])
    if match is None:
        raise ValueError(
            f"auto needs a hostname ending in -<ordinal> (a StatefulSet pod), got {name!r}"
        )
    return int(match.group(1))


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """Parse ``host``, ``host:port``, ``[v6]:port`` or ``:port``; raise ValueError."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("unclosed '[' in IPv6 address")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("expected ':port' after ']'")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif host.isdigit():  # "10190" would be a host named 10190 on the default port
        raise ValueError(f"{text!r} has no ':': write ':{host}' for a port")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:  # noqa: PLR2004
            raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    return host, port


class _Validator:
    """Collects problems as ``key: reason`` strings while building the config."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[str] = []

    def add(self, key: str, reason: str) -> None:
        self.problems.append(f"{key}: {reason}")

    def table(self, key: str, raw: dict[str, Any]) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.add(key, "must be a table")
            return {}
        return value

    def unknown_keys(self, prefix: str, raw: dict[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(raw) - allowed):
            self.add(f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def number(
        self, key: str, raw: dict[str, Any], default: float, *, minimum: float, maximum: float
    ) -> float:
        name = key.rsplit(".", 1)[-1]
        if name not in raw:
            return default
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(key, f"must be a number, got {type(value).__name__}")
            return default
        if not minimum <= value <= maximum:
            self.add(key, f"must be between {minimum:g} and {maximum:g}, got {value}")
            return default
        return float(value)

    def integer(
        self, key: str, raw: dict[str, Any], default: int, *, minimum: int, maximum: int
    ) -> int:
        name = key.rsplit(".", 1)[-1]
        if name in raw and (isinstance(raw[name], bool) or not isinstance(raw[name], int)):
            self.add(key, f"must be a whole number, got {raw[name]!r}")
            return default
        return int(self.number(key, raw, default, minimum=minimum, maximum=maximum))

    def string(self, key: str, raw: dict[str, Any], default: str | None = None) -> str | None:
        name = key.rsplit(".", 1)[-1]
        if name not in raw:
            return default
        if not isinstance(raw[name], str):
            self.add(key, f"must be a string, got {type(raw[name]).__name__}")
            return default
        return str(raw[name])

    def server(self, raw: dict[str, Any]) -> ServerConfig:
        self.unknown_keys("server.", raw, {"listen_address", "web_config_file"})
        web_config = None
        if (text := self.string("server.web_config_file", raw)) is not None:
            web_config = Path(text) if Path(text).is_absolute() else self.base_dir / text
            if not web_config.is_file():
                self.add("server.web_config_file", f"no such file: {web_config}")
        text = self.string("server.listen_address", raw, f":{DEFAULT_PORT}")
        try:
            host, port = parse_hostport(text or "", DEFAULT_PORT)
        except ValueError as exc:
            self.add("server.listen_address", str(exc))
            return ServerConfig()
        return ServerConfig(listen_host=host, listen_port=port, web_config_file=web_config)

    def resolver(self, raw: dict[str, Any]) -> ResolverConfig:
        allowed = {
            "nameservers",
            "timeout_seconds",
            "attempts",
            "concurrency",
            "max_queries_per_second",
            "zone_files",
            "transport",
            "authoritative",
            "processes",
        }
        self.unknown_keys("resolver.", raw, allowed)
        nameservers: tuple[tuple[str, int], ...] | None = None
        if "nameservers" in raw:
            nameservers = tuple(self._nameservers(raw["nameservers"]))
        zone_files: list[Path] = []
        for i, item in enumerate(
            self._string_list("resolver.zone_files", raw.get("zone_files", []))
        ):
            path = Path(item) if Path(item).is_absolute() else self.base_dir / item
            if not path.is_file():
                self.add(f"resolver.zone_files[{i}]", f"no such file: {path}")
            zone_files.append(path)
        if nameservers == () and not zone_files:
            self.add("resolver.nameservers", "is empty and no zone_files are given: nothing to ask")
        defaults = ResolverConfig()
        return ResolverConfig(
            nameservers=nameservers,
            timeout_seconds=self.number(
                "resolver.timeout_seconds", raw, defaults.timeout_seconds, minimum=0.05, maximum=60
            ),
            attempts=self.integer(
                "resolver.attempts", raw, defaults.attempts, minimum=1, maximum=10
            ),
            concurrency=self.integer(
                "resolver.concurrency", raw, defaults.concurrency, minimum=1, maximum=10_000
            ),
            max_queries_per_second=self.number(
                "resolver.max_queries_per_second",
                raw,
                defaults.max_queries_per_second,
                minimum=0,
                maximum=1_000_000,
            ),
            zone_files=tuple(zone_files),
            transport=self._transport(raw),
            authoritative=self.boolean("resolver.authoritative", raw, defaults.authoritative),
            processes=self.integer(
                "resolver.processes", raw, defaults.processes, minimum=1, maximum=64
            ),
        )

    def _transport(self, raw: dict[str, Any]) -> str:
        value = self.string("resolver.transport", raw, "wire") or "wire"
        if value not in ("wire", "dnspython"):
            self.add("resolver.transport", f"must be wire or dnspython, got {value!r}")
            return "wire"
        return value

    def _nameservers(self, value: Any) -> list[tuple[str, int]]:
        result = []
        for i, item in enumerate(self._string_list("resolver.nameservers", value)):
            key = f"resolver.nameservers[{i}]"
            try:
                host, port = parse_hostport(item, 53)
                ipaddress.ip_address(host)
            except ValueError as exc:
                self.add(key, f"{item!r} is not an IP address with optional port ({exc})")
                continue
            result.append((host, port))
        return result

    def _string_list(self, key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            self.add(key, "must be a list of strings")
            return []
        return list(value)

    def schedule(self, raw: dict[str, Any]) -> ScheduleConfig:
        self.unknown_keys("schedule.", raw, {"interval_seconds", "jitter_seconds"})
        interval = self.number(
            "schedule.interval_seconds", raw, 300.0, minimum=1, maximum=7 * 86400
        )
        jitter = self.number(
            "schedule.jitter_seconds", raw, min(15.0, interval / 10), minimum=0, maximum=86400
        )
        if jitter >= interval:
            self.add(
                "schedule.jitter_seconds", f"must be smaller than interval_seconds ({interval:g})"
            )
        return ScheduleConfig(interval_seconds=interval, jitter_seconds=jitter)

    def log(self, raw: dict[str, Any]) -> LogConfig:
        self.unknown_keys("log.", raw, {"level", "format"})
        level = (self.string("log.level", raw, "info") or "info").lower()
        if level not in {"debug", "info", "warning", "error"}:
            self.add("log.level", f"must be one of debug, info, warning, error, got {level!r}")
            level = "info"
        fmt = (self.string("log.format", raw, "auto") or "auto").lower()
        if fmt not in {"auto", "json", "console"}:
            self.add("log.format", f"must be one of auto, json, console, got {fmt!r}")
            fmt = "auto"
        return LogConfig(level=level, format=fmt)

    def events(self, raw: dict[str, Any]) -> EventsConfig:
        allowed = {
            "queues",
            "pollers",
            "wait_time_seconds",
            "visibility_timeout_seconds",
            "max_recipient_domains",
            "watch_recipient_domains",
            "dedupe_window",
            "provider_lookup",
        }
        self.unknown_keys("events.", raw, allowed)
        d = EventsConfig()
        watch = []
        for i, text in enumerate(
            self._string_list(
                "events.watch_recipient_domains", raw.get("watch_recipient_domains", [])
            )
        ):
            try:
                watch.append(normalize_domain(text))
            except ValueError as exc:
                self.add(f"events.watch_recipient_domains[{i}]", f"{text!r}: {exc}")
        visibility = None
        if "visibility_timeout_seconds" in raw:
            visibility = self.integer(
                "events.visibility_timeout_seconds", raw, 30, minimum=10, maximum=43200
            )
        provider_lookup = self.boolean("events.provider_lookup", raw, d.provider_lookup)
        return EventsConfig(
            queues=self._queues(raw.get("queues", [])),
            pollers=self.integer("events.pollers", raw, d.pollers, minimum=1, maximum=32),
            # SIGTERM waits for a long poll in flight: keep it short enough to stop in 10 s.
            wait_time_seconds=self.integer(
                "events.wait_time_seconds", raw, d.wait_time_seconds, minimum=0, maximum=5
            ),
            visibility_timeout_seconds=visibility,
            max_recipient_domains=self.integer(
                "events.max_recipient_domains",
                raw,
                d.max_recipient_domains,
                minimum=1,
                maximum=5000,
            ),
            watch_recipient_domains=tuple(watch),
            dedupe_window=self.integer(
                "events.dedupe_window", raw, d.dedupe_window, minimum=1000, maximum=10_000_000
            ),
            provider_lookup=provider_lookup,
        )

    def cluster(self, raw: dict[str, Any]) -> ClusterConfig:
        self.unknown_keys("cluster.", raw, {"role", "shard_count", "shard_index", "ses_shard"})
        role = self.string("cluster.role", raw, "all") or "all"
        if role not in ROLES:
            self.add("cluster.role", f"must be one of {', '.join(ROLES)}, got {role!r}")
            role = "all"
        count = self.integer("cluster.shard_count", raw, 1, minimum=1, maximum=1024)
        index = 0
        if raw.get("shard_index") == "auto":
            try:
                index = shard_index_from_hostname()
            except ValueError as exc:
                self.add("cluster.shard_index", str(exc))
        elif "shard_index" in raw:
            index = self.integer("cluster.shard_index", raw, 0, minimum=0, maximum=1023)
        if index >= count:
            self.add("cluster.shard_index", f"must be below shard_count ({count}), got {index}")
            index = 0
        ses_shard = self.integer("cluster.ses_shard", raw, 0, minimum=0, maximum=1023)
        if ses_shard >= count:
            self.add("cluster.ses_shard", f"must be below shard_count ({count}), got {ses_shard}")
            ses_shard = 0
        return ClusterConfig(role=role, shard_count=count, shard_index=index, ses_shard=ses_shard)

    def metrics(self, raw: dict[str, Any]) -> MetricsConfig:
        self.unknown_keys("metrics.", raw, {"series_budget", "watch_domains"})
        watch: list[str] = []
        for i, text in enumerate(
            self._string_list("metrics.watch_domains", raw.get("watch_domains", []))
        ):
            try:
                name = normalize_domain(text)
            except ValueError as exc:
                self.add(f"metrics.watch_domains[{i}]", f"{text!r}: {exc}")
                continue
            if name not in watch:
                watch.append(name)
        return MetricsConfig(
            series_budget=self.integer(
                "metrics.series_budget", raw, 0, minimum=0, maximum=100_000_000
            ),
            watch_domains=tuple(watch),
        )

    def boolean(self, key: str, raw: dict[str, Any], default: bool) -> bool:
        name = key.rsplit(".", 1)[-1]
        value = raw.get(name, default)
        if not isinstance(value, bool):
            self.add(key, "must be true or false")
            return default
        return value

    def aws(self, raw: dict[str, Any]) -> AwsConfig:
        d = AwsConfig()
        allowed = {
            "accounts",
            "interval_seconds",
            "discovery_interval_seconds",
            "api_calls_per_second",
            "discover_identities",
            "identity_patterns",
            "suppression_list",
            "suppression_full_recount_seconds",
            "reputation_metrics",
            "recommendations",
        }
        self.unknown_keys("aws.", raw, allowed)
        return AwsConfig(
            accounts=self._accounts(raw.get("accounts", [])),
            interval_seconds=self.number(
                "aws.interval_seconds", raw, d.interval_seconds, minimum=10, maximum=86400
            ),
            discovery_interval_seconds=self.number(
                "aws.discovery_interval_seconds",
                raw,
                d.discovery_interval_seconds,
                minimum=60,
                maximum=7 * 86400,
            ),
            api_calls_per_second=self.number(
                "aws.api_calls_per_second", raw, d.api_calls_per_second, minimum=0.01, maximum=100
            ),
            discover_identities=self.boolean("aws.discover_identities", raw, d.discover_identities),
            identity_patterns=tuple(
                self._string_list("aws.identity_patterns", raw.get("identity_patterns", []))
            ),
            suppression_list=self.boolean("aws.suppression_list", raw, d.suppression_list),
            suppression_full_recount_seconds=self.number(
                "aws.suppression_full_recount_seconds",
                raw,
                d.suppression_full_recount_seconds,
                minimum=600,
                maximum=30 * 86400,
            ),
            reputation_metrics=self.boolean("aws.reputation_metrics", raw, d.reputation_metrics),
            recommendations=self.boolean("aws.recommendations", raw, d.recommendations),
        )

    def _accounts(self, raw: Any) -> tuple[AwsAccountConfig, ...]:
        if not isinstance(raw, list):
            self.add("aws.accounts", "must be an array of tables ([[aws.accounts]])")
            return ()
        accounts, names = [], set()
        for i, item in enumerate(raw):
            key = f"aws.accounts[{i}]"
            if not isinstance(item, dict):
                self.add(key, "must be a table")
                continue
            self.unknown_keys(f"{key}.", item, {"name", "regions", "role_arn", "external_id"})
            name = self.string(f"{key}.name", item, f"account{i}") or f"account{i}"
            if name in names:
                self.add(f"{key}.name", f"{name!r} is used by another account")
            names.add(name)
            regions = self._string_list(f"{key}.regions", item.get("regions", []))
            for j, region in enumerate(regions):
                if not _REGION.match(region):
                    self.add(
                        f"{key}.regions[{j}]",
                        f"{region!r} is not an AWS region name like us-east-1",
                    )
            if not regions:
                self.add(f"{key}.regions", "must list at least one region")
            role_arn = self.string(f"{key}.role_arn", item)
            if role_arn is not None and not re.match(
                r"^arn:aws[a-z-]*:iam::\d{12}:role/.+", role_arn
            ):
                self.add(f"{key}.role_arn", f"{role_arn!r} is not an IAM role ARN")
            external_id = self.string(f"{key}.external_id", item)
            if external_id is not None and not 2 <= len(external_id) <= 1224:  # noqa: PLR2004 - STS limits
                self.add(f"{key}.external_id", "must be 2 to 1224 characters (an STS limit)")
            accounts.append(
                AwsAccountConfig(
                    name=name,
                    regions=tuple(regions),
                    role_arn=role_arn,
                    external_id=external_id,
                )
            )
        return tuple(accounts)

    def smtp_credentials(self, raw: Any) -> tuple[SmtpCredentialConfig, ...]:  # noqa: C901 - one branch per key
        if not isinstance(raw, list):
            self.add("smtp_credentials", "must be an array of tables ([[smtp_credentials]])")
            return ()
        result, names = [], set()
        allowed = {
            "name",
            "region",
            "iam_user",
            "username_env",
            "password_env",
            "endpoint",
            "probe_interval_seconds",
            "ca_file",
        }
        for i, item in enumerate(raw):
            key = f"smtp_credentials[{i}]"
            if not isinstance(item, dict):
                self.add(key, "must be a table")
                continue
            self.unknown_keys(f"{key}.", item, allowed)
            name = self.string(f"{key}.name", item)
            if not name or not _PROM_LABEL.match(name.replace("-", "_")):
                self.add(
                    f"{key}.name", "is required: letters, digits, - and _ (it becomes a label)"
                )
                continue
            if name in names:
                self.add(f"{key}.name", f"{name!r} is used twice")
            names.add(name)
            region = self.string(f"{key}.region", item) or ""
            if not _REGION.match(region):
                self.add(
                    f"{key}.region",
                    "is required: the SES region whose SMTP endpoint the credential uses",
                )
                continue
            host, port = "", 587
            if "endpoint" in item:
                try:
                    host, port = parse_hostport(self.string(f"{key}.endpoint", item) or "", 587)
                except ValueError as exc:
                    self.add(f"{key}.endpoint", str(exc))
            username_env = self.string(f"{key}.username_env", item)
            password_env = self.string(f"{key}.password_env", item)
            if (username_env is None) != (password_env is None):
                self.add(f"{key}.password_env", "username_env and password_env go together")
            iam_user = self.string(f"{key}.iam_user", item)
            ca_text = self.string(f"{key}.ca_file", item)
            ca_file = None
            if ca_text is not None:
                ca_file = Path(ca_text) if Path(ca_text).is_absolute() else self.base_dir / ca_text
                if not ca_file.is_file():
                    self.add(f"{key}.ca_file", f"no such file: {ca_file}")
            if iam_user is None and username_env is None:
                self.add(
                    key,
                    "needs iam_user (key status) and/or username_env + password_env (AUTH probe)",
                )
            result.append(
                SmtpCredentialConfig(
                    name=name,
                    region=region,
                    iam_user=iam_user,
                    username_env=username_env,
                    password_env=password_env,
                    host=host,
                    port=port,
                    probe_interval_seconds=self.number(
                        f"{key}.probe_interval_seconds", item, 900.0, minimum=1, maximum=86400
                    ),
                    ca_file=ca_file,
                )
            )
        return tuple(result)

    def _queues(self, raw: Any) -> tuple[QueueConfig, ...]:
        if not isinstance(raw, list):
            self.add("events.queues", "must be an array of tables ([[events.queues]])")
            return ()
        queues = []
        for i, item in enumerate(raw):
            key = f"events.queues[{i}]"
            if not isinstance(item, dict):
                self.add(key, "must be a table with url (and aws_region)")
                continue
            self.unknown_keys(f"{key}.", item, {"url", "aws_region"})
            url = self.string(f"{key}.url", item)
            if not url or not url.startswith(("https://", "http://")) or url.count("/") < 4:  # noqa: PLR2004
                self.add(
                    f"{key}.url",
                    "must be an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)",
                )
                continue
            region = self.string(f"{key}.aws_region", item) or _region_from_queue_url(url)
            if region is None or not _REGION.match(region):
                self.add(f"{key}.aws_region", "is required when the URL does not name the region")
                continue
            queues.append(QueueConfig(url=url, aws_region=region))
        return tuple(queues)

    def domains(self, raw: Any) -> tuple[DomainConfig, ...]:
        if not isinstance(raw, list):
            self.add("domains", "must be an array of tables ([[domains]])")
            return ()
        seen: dict[str, int] = {}
        result = []
        for i, item in enumerate(raw):
            domain = self._domain(f"domains[{i}]", item)
            if domain is None:
                continue
            if domain.name in seen:
                self.add(
                    f"domains[{i}].name",
                    f"{domain.name} is already configured at domains[{seen[domain.name]}]",
                )
                continue
            seen[domain.name] = i
            result.append(domain)
        return tuple(result)

    def _domain(self, key: str, raw: Any) -> DomainConfig | None:
        if not isinstance(raw, dict):
            self.add(key, "must be a table")
            return None
        self.unknown_keys(f"{key}.", raw, {"name", "mail_from", "dkim_tokens", "region", "labels"})
        name_text = self.string(f"{key}.name", raw)
        if name_text is None:
            if "name" not in raw:
                self.add(f"{key}.name", "is required")
            return None
        try:
            name = normalize_domain(name_text)
        except ValueError as exc:
            self.add(f"{key}.name", f"{name_text!r}: {exc}")
            return None
        mail_from = self._mail_from(key, raw, name)
        tokens = []
        for j, token in enumerate(
            self._string_list(f"{key}.dkim_tokens", raw.get("dkim_tokens", []))
        ):
            token_norm = token.strip().lower()
            if not _LABEL.match(token_norm):
                self.add(f"{key}.dkim_tokens[{j}]", f"{token!r} is not a valid DNS label")
                continue
            tokens.append(token_norm)
        region = self.string(f"{key}.region", raw)
        if region is not None and not _REGION.match(region):
            self.add(f"{key}.region", f"{region!r} is not an AWS region name like us-east-1")
            region = None
        return DomainConfig(
            name=name,
            mail_from=mail_from,
            dkim_tokens=tuple(tokens),
            region=region,
            labels=self._labels(f"{key}.labels", raw.get("labels", {})),
        )

    def _mail_from(self, key: str, raw: dict[str, Any], name: str) -> str | None:
        text = self.string(f"{key}.mail_from", raw)
        if text is None:
            return None
        try:
            mail_from = normalize_domain(text)
        except ValueError as exc:
            self.add(f"{key}.mail_from", f"{text!r}: {exc}")
            return None
        if not mail_from.endswith("." + name):
            # SES requires the custom MAIL FROM domain to be a subdomain of the identity.
            self.add(f"{key}.mail_from", f"{mail_from} must be a subdomain of {name}")
            return None
        return mail_from

    def _labels(self, key: str, raw: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(raw, dict):
            self.add(key, 'must be a table of label = "value"')
            return ()
        labels = []
        for label, value in sorted(raw.items()):
            if not _PROM_LABEL.match(label) or label.startswith("__") or label in _RESERVED_LABELS:
                self.add(
                    f"{key}.{label}",
                    "not usable as a Prometheus label name "
                    "([a-zA-Z_][a-zA-Z0-9_]*, not __*, not domain/job/instance)",
                )
                continue
            if not isinstance(value, str):
                self.add(f"{key}.{label}", f"must be a string, got {type(value).__name__}")
                continue
            labels.append((label, value))
        return tuple(labels)
