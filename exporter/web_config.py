"""TLS and basic auth for /metrics and /, from a web config file in the Prometheus
exporter-toolkit format (the same file node_exporter and others take):

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hashes (htpasswd -nBC 10 "" | tr -d ':\\n')

/healthz and /readyz stay open: the kubelet probes them without credentials.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import structlog
import yaml

from exporter.config import ConfigError

__all__ = ["BasicAuth", "ReloadingCertificate", "WebConfig", "load_web_config"]

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
_CACHE_SECONDS = 60.0  # bcrypt costs ~0.1 s per check: remember good credentials briefly
_RECHECK_SECONDS = 10.0  # how often a handshake looks at the certificate files
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_BCRYPT_MAX_BYTES = 72  # bcrypt refuses longer passwords
_DEFAULT_COST = 10  # the dummy check's cost when no user is configured
log = structlog.get_logger("exporter")


@dataclass(frozen=True, slots=True)
class WebConfig:
    cert_file: Path | None = None
    key_file: Path | None = None
    users: dict[str, bytes] = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.cert_file is None or self.key_file is None:
            return None
        return ReloadingCertificate(self.cert_file, self.key_file).context


class ReloadingCertificate:
    """A server TLS context whose certificate follows its files.

    cert-manager and Secret updates rewrite the files in place, and the exporter-toolkit
    re-reads them per handshake: a certificate loaded once would expire under a running
    exporter. On a handshake, at most every ``recheck_seconds``, the files' stat is compared;
    a changed pair is loaded for the following handshakes. A pair that does not load (half
    written, key and certificate not matching) keeps the previous one and is retried.
    """

    def __init__(
        self, cert_file: Path, key_file: Path, recheck_seconds: float = _RECHECK_SECONDS
    ) -> None:
        self._files = (cert_file, key_file)
        self._recheck = recheck_seconds
        self._lock = threading.Lock()
        self._stamp = self._stat()
        # The listening socket's context, current until a reload: its callback runs on
        # every handshake and hands over the current one. A bad pair at start is an error.
        self.context = self._current = self._load()
        self.context.sni_callback = self._choose
        self._next_check = time.monotonic() + recheck_seconds

    def _stat(self) -> tuple[tuple[int, int, int], ...]:
        return tuple((st.st_mtime_ns, st.st_size, st.st_ino) for st in map(os.stat, self._files))

    def _load(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self._files[0]), str(self._files[1]))
        return context

    def _choose(self, sock: ssl.SSLObject, _server_name: str | None, _ctx: ssl.SSLContext) -> None:
        """Called on every handshake, with or without SNI (Prometheus scraping an IP sends none)."""
        sock.context = self.current()

    def current(self) -> ssl.SSLContext:
        with self._lock:
            now = time.monotonic()
            if now < self._next_check:
                return self._current
            self._next_check = now + self._recheck
            try:
                stamp = self._stat()
                if stamp != self._stamp:
                    self._current = self._load()
                    self._stamp = stamp
                    log.info("tls certificate reloaded", cert_file=str(self._files[0]))
            except (OSError, ssl.SSLError) as exc:
                log.warning("tls certificate reload failed, keeping the previous", error=str(exc))
            return self._current


def load_web_config(path: Path) -> WebConfig:
    """Read and check the file; every problem is a ConfigError naming its key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(str(path), [f"cannot read web config: {exc}"]) from exc
    if raw is None:
        return WebConfig()
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["must be a mapping"])
    problems = [
        f"{key}: unknown key (allowed: basic_auth_users, tls_server_config)"
        for key in sorted(map(str, raw))
        if key not in {"tls_server_config", "basic_auth_users"}
    ]
    tls = raw.get("tls_server_config")
    cert = key = None
    if tls is not None and not isinstance(tls, dict):
        problems.append("tls_server_config: must be a mapping (cert_file, key_file)")
    elif tls:
        problems += [
            f"tls_server_config.{name}: not supported (cert_file, key_file)"
            for name in sorted(map(str, tls))
            if name not in {"cert_file", "key_file"}
        ]
        cert, key = (_file(path, tls, name, problems) for name in ("cert_file", "key_file"))
    users = _users(raw.get("basic_auth_users"), problems)
    if problems:
        raise ConfigError(str(path), problems)
    return WebConfig(cert_file=cert, key_file=key, users=users)


def _users(section: object, problems: list[str]) -> dict[str, bytes]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        problems.append("basic_auth_users: must be a mapping of user names to bcrypt hashes")
        return {}
    users: dict[str, bytes] = {}
    for user, hashed in section.items():
        if not isinstance(user, str):
            problems.append(f"basic_auth_users.{user}: a user name must be a string (quote it)")
        elif ":" in user:
            problems.append(f"basic_auth_users.{user}: a user name cannot contain ':'")
        elif not isinstance(hashed, str) or not _BCRYPT_HASH.fullmatch(hashed):
            problems.append(
                f"basic_auth_users.{user}: must be a bcrypt hash ($2y$..., 60 characters)"
            )
        else:
            users[user] = hashed.encode()
    return users


def _file(base: Path, section: dict[str, Any], name: str, problems: list[str]) -> Path | None:
    value = section.get(name)
    if value is None:
        problems.append(f"tls_server_config.{name}: is required with TLS")
        return None
    if not isinstance(value, str):
        problems.append(f"tls_server_config.{name}: must be a string (a file path)")
        return None
    path = Path(value) if Path(value).is_absolute() else base.parent / value
    if not path.is_file():
        problems.append(f"tls_server_config.{name}: no such file: {path}")
    return path


class BasicAuth:
    """WSGI middleware: 401 without valid credentials, except on the probe paths."""

    def __init__(self, app: Callable[..., Iterable[bytes]], users: dict[str, bytes]) -> None:
        self._app = app
        self._users = users
        # Unknown users pay one check at the configured cost: timing does not tell who exists.
        self._dummy = _dummy_hash(max((_cost(h) for h in users.values()), default=_DEFAULT_COST))
        self._good: dict[bytes, float] = {}  # digest of a verified header -> expiry
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in OPEN_PATHS or self._allowed(
            environ.get("HTTP_AUTHORIZATION", "")
        ):
            return self._app(environ, start_response)
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "text/plain"),
                ("WWW-Authenticate", 'Basic realm="ses-deliverability-exporter"'),
            ],
        )
        return [b"unauthorized\n"]

    def _allowed(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        digest = hashlib.sha256(header.encode()).digest()
        now = time.monotonic()
        with self._lock:
            if self._good.get(digest, 0.0) > now:
                return True
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self._users.get(user)
        candidate = password.encode()
        if len(candidate) > _BCRYPT_MAX_BYTES:  # never a match; bcrypt would raise
            hashed, candidate = None, b""
        ok = bcrypt.checkpw(candidate, hashed or self._dummy) and hashed is not None
        if ok:
            with self._lock:
                if len(self._good) > 1000:  # noqa: PLR2004 - bound the cache
                    self._good.clear()
                self._good[digest] = now + _CACHE_SECONDS
        return ok


def _cost(hashed: bytes) -> int:
    return int(hashed[4:6])  # $2y$NN$...


@functools.cache
def _dummy_hash(cost: int) -> bytes:
    return bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=cost))
