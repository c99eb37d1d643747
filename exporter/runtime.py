"""What the daemon runs from: the config file, the zone files and the web config, loaded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from exporter.config import Config, ConfigError, Overrides, load_config
from exporter.malloc import trim
from exporter.sharding import local_view
from exporter.sources.zones import ZoneFileError, ZoneOverrides
from exporter.web_config import WebConfig, load_web_config

__all__ = ["Runtime", "fingerprint", "load_runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """A validated configuration with the zone files and web config it names, parsed;
    ``warnings`` names the keys the file sets that are accepted but ignored."""

    config: Config
    overrides: ZoneOverrides
    web: WebConfig = field(default_factory=WebConfig)
    warnings: tuple[str, ...] = ()

    @property
    def local(self) -> Config:
        """What this replica checks, polls and exports (all of it unless sharded)."""
        return local_view(self.config)


def load_runtime(path: Path, flags: Overrides | None = None) -> Runtime:
    """Load the config (``flags`` from the command line win) and its zone files.

    Any problem is a ConfigError.
    """
    warnings: list[str] = []
    config = load_config(path, flags, warnings)
    try:
        overrides = ZoneOverrides.from_files(config.resolver.zone_files)
    except ZoneFileError as exc:
        raise ConfigError(str(path), [f"resolver.zone_files: {exc}"]) from exc
    web_file = config.server.web_config_file
    web = load_web_config(web_file) if web_file is not None else WebConfig()
    trim()  # the parsed document is gone: its pages go back (a reload does the same)
    return Runtime(config, overrides, web, tuple(warnings))


def fingerprint(path: Path) -> str:
    """The file's content hash, to notice a change; empty when it cannot be read.

    Read in chunks: the daemon polls it every few seconds, and a config of 10^5 domains is
    about 20 MB, which read whole would lift the daemon's peak memory by as much each time."""
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return ""
