"""The exporter as a subprocess in the end-to-end tests: its config file and its lifetime.

A pytest plugin, registered by tests/conftest.py: the `exporter_config` fixture reaches every
test without an import. It writes the header every daemon test needs ([server] on a free
loopback port, [resolver] at `named`, [schedule], [log], and on request [aws] with the SES
account "prod" and [events] with its queues) above the test's own TOML. Also here:
`start_exporter` / `run_cli` (`python -m exporter ...` in the background / to its end),
`reap` / `reaped` (no exporter outlives its test) and `http_get`.

Loopback DNS on a loaded machine: `named` answers in milliseconds, but on a busy 2-core box
(load average 6-8) a query can wait far longer than 0.5 s for the CPU, and a timed-out query
makes a verdict `unknown`. The header's resolver timeout is `LOOPBACK_DNS_TIMEOUT`, which
such a box meets; a test that wants timeouts (a silent resolver) passes its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.net import free_port

LOOPBACK_DNS_TIMEOUT = 5.0


def exporter_toml(
    *,
    port: int,
    nameserver: str,
    body: str = "",
    timeout_seconds: float = LOOPBACK_DNS_TIMEOUT,
    resolver: str = "",
    interval_seconds: float | None = 60,
    json_log: bool = True,
    aws: Mapping[str, object] | None = None,
    queues: Sequence[str] = (),
    events: Mapping[str, object] | None = None,
) -> str:
    """A config.toml: the header, then ``body``. ``resolver`` adds lines to [resolver];
    ``interval_seconds=None`` leaves [schedule] out (the default, 300 s); ``aws`` (the [aws]
    settings, {} for none) adds [aws] and the SES account "prod" in us-east-1; ``queues``
    (SQS queue URLs in us-east-1) add [events] (a 1 s long poll, no provider lookups, and the
    ``events`` settings) and a [[events.queues]] each."""
    parts = [
        f'[server]\nlisten_address = "127.0.0.1:{port}"\n',
        f'[resolver]\nnameservers = ["{nameserver}"]\ntimeout_seconds = {timeout_seconds:g}\n'
        "max_queries_per_second = 0\n" + (resolver.strip() + "\n" if resolver.strip() else ""),
    ]
    if interval_seconds is not None:
        parts.append(f"[schedule]\ninterval_seconds = {interval_seconds:g}\njitter_seconds = 0\n")
    if json_log:
        parts.append('[log]\nformat = "json"\n')
    if aws is not None:
        settings = "".join(f"{key} = {_toml(value)}\n" for key, value in aws.items())
        parts.append(f'[aws]\n{settings}[[aws.accounts]]\nname = "prod"\nregions = ["us-east-1"]\n')
    if queues:
        consumer = {"wait_time_seconds": 1, "provider_lookup": False, **(events or {})}
        parts.append("[events]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in consumer.items()))
        parts.extend(
            f'[[events.queues]]\nurl = "{url}"\naws_region = "us-east-1"\n' for url in queues
        )
    return "\n".join(parts) + body


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@dataclass(frozen=True)
class ExporterConfig:
    path: Path
    port: int

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


WriteConfig = Callable[..., ExporterConfig]  # the exporter_config fixture


@pytest.fixture(name="exporter_config")
def _exporter_config(request: pytest.FixtureRequest, tmp_path: Path) -> WriteConfig:
    """write(body="", *, path=tmp_path/"config.toml", nameserver=`named`'s, port=a free one,
    **header) -> ExporterConfig: writes `exporter_toml(...)`; ``header`` is its keywords
    (timeout_seconds, resolver, interval_seconds, json_log, aws, queues, events). `named` is
    started only for a test that does not name its own nameserver."""

    def write(
        body: str = "",
        *,
        path: Path | None = None,
        nameserver: str | None = None,
        port: int | None = None,
        **header: object,
    ) -> ExporterConfig:
        if nameserver is None:
            nameserver = request.getfixturevalue("named").nameserver
        config = ExporterConfig(path or tmp_path / "config.toml", port or free_port())
        config.path.parent.mkdir(parents=True, exist_ok=True)
        config.path.write_text(
            exporter_toml(port=config.port, nameserver=nameserver, body=body, **header)  # type: ignore[arg-type]
        )
        return config

    return write


def start_exporter(
    args: list[str], log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m exporter ARGS`, output (stdout and stderr) to ``log``; by default this
    environment, unbuffered."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "exporter", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m exporter ARGS` to its end: exit code, stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def reap(process: subprocess.Popen[Any]) -> None:
    """Kill the process (and wait for it) if it is still running."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def reaped(process: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """The process, reaped on the way out."""
    try:
        yield process
    finally:
        reap(process)


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:PORT/PATH: (status, text), an HTTP error status included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
