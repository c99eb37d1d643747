"""The TOML configuration, parsed into frozen, validated objects.

Every problem is collected and reported at once, each naming its key and the reason, so a
user fixes a file in one pass. Nothing secret lives here: AWS credentials come from the
standard AWS chain (environment, profile, IRSA).
"""

from exporter.config.aws_tables import (
    AwsAccountConfig,
    AwsConfig,
    EventsConfig,
    QueueConfig,
    SmtpCredentialConfig,
)
from exporter.config.fields import (
    DEFAULT_PORT,
    normalize_domain,
    parse_hostport,
    shard_index_from_hostname,
)
from exporter.config.loading import (
    ConfigError,
    Overrides,
    load_config,
    parse_config,
)
from exporter.config.model import (
    ROLES,
    ClusterConfig,
    Config,
    DomainConfig,
    LogConfig,
    MetricsConfig,
    ResolverConfig,
    ScheduleConfig,
    ServerConfig,
)

__all__ = [
    "DEFAULT_PORT",
    "ROLES",
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
    "shard_index_from_hostname",
]
