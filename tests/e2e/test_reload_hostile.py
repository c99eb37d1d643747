"""No file can stop a running daemon: every hostile config and web config, given to one
daemon in turn by SIGHUP and then by file change alone, is refused and reported (the reload
gauge at 0, one log line, no traceback) while /metrics keeps serving the old config."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from exposition import parse_samples
from helpers.daemon import WriteConfig, http_get, reaped, start_exporter

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent.parent / "data"
HOSTILE_CONFIGS = sorted((DATA / "hostile_configs").glob("*.toml"))
HOSTILE_WEB_CONFIGS = sorted((DATA / "hostile_web_configs").glob("*.yml"))
DOMAIN = """
[[domains]]
name = "kept.example"
"""
RELOAD_OK = ("deliverability_config_last_reload_successful", ())
KEPT = ("deliverability_domain_info", "kept.example")
WATCHER_SECONDS = 5.0  # exporter.app.CONFIG_POLL_SECONDS
FAILED = "config reload failed, keeping the previous config"
RELOADED = "config reloaded"
BY_FILE_CHANGE = {  # not UTF-8, nested too deeply, wrong types, in the config and the web config
    "non_utf8.toml",
    "deep_nested_inline_tables.toml",
    "wrong_types_nested.toml",
    "web config users_as_list.yml",
    "web config non_utf8.yml",
    "web config tls_files_wrong_types.yml",
}


class Daemon:
    """The exporter subprocess, its config file and its JSON log."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, config: Path, log: Path):
        self.process = process
        self.port = port
        self.config = config
        self.log = log

    def scrape(self) -> tuple[float, bool]:
        """(the reload gauge, whether kept.example is still exported)."""
        status, body = http_get(self.port, "/metrics")
        assert status == 200, body
        samples = parse_samples(body)
        kept = any(
            name == KEPT[0] and dict(labels).get("domain") == KEPT[1] for name, labels in samples
        )
        return samples[RELOAD_OK], kept

    def failures(self, reason: str) -> int:
        """Reload failures logged with this reason so far."""
        return self._events(FAILED, reason)

    def reloads(self, reason: str) -> int:
        """Successful reloads logged with this reason so far."""
        return self._events(RELOADED, reason)

    def _events(self, message: str, reason: str) -> int:
        lines = self.log.read_text().splitlines()
        events = [json.loads(line) for line in lines if message in line]
        return sum(1 for event in events if event["event"] == message and event["reason"] == reason)

    def write(self, content: bytes) -> None:
        """Replace the config file in one step, as a ConfigMap update does."""
        staged = self.config.with_suffix(".staged")
        staged.write_bytes(content)
        staged.replace(self.config)

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"the daemon exited waiting for {what}"
            with contextlib.suppress(OSError):  # not listening yet
                if predicate():
                    return
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)

    def refused(
        self, action: Callable[[], None], reason: str, what: str, timeout: float = 60.0
    ) -> None:
        """Do ``action``, then wait until one more reload with this reason has failed."""
        before = self.failures(reason)
        action()
        self.wait_for(lambda: self.failures(reason) > before, what, timeout)


def hostile_files(config_text: str, tmp_path: Path) -> list[tuple[str, bytes]]:
    """(name, config file content): the hostile configs, then the good config naming each
    hostile web config."""
    named = [(path.name, path.read_bytes()) for path in HOSTILE_CONFIGS]
    for path in HOSTILE_WEB_CONFIGS:
        web = tmp_path / f"web-{path.name}"
        web.write_bytes(path.read_bytes())
        text = config_text.replace("[server]\n", f'[server]\nweb_config_file = "{web}"\n', 1)
        named.append((f"web config {path.name}", text.encode()))
    return named


def test_no_hostile_file_stops_the_daemon(exporter_config: WriteConfig, tmp_path: Path) -> None:
    assert len(HOSTILE_CONFIGS) >= 10
    assert len(HOSTILE_WEB_CONFIGS) >= 8
    config = exporter_config(DOMAIN)
    good = config.text.encode()
    log = tmp_path / "exporter.log"
    args = ["run", "--config", str(config.path)]
    with reaped(start_exporter(args, log)) as process:
        daemon = Daemon(process, config.port, config.path, log)
        daemon.wait_for(lambda: http_get(config.port, "/healthz")[0] == 200, "the server")
        assert daemon.scrape() == (1.0, True)
        hostile = hostile_files(config.text, tmp_path)
        assert {name for name, _ in hostile} >= BY_FILE_CHANGE

        for name, content in hostile:  # by signal, the good config back after each
            daemon.write(content)
            daemon.refused(
                lambda: process.send_signal(signal.SIGHUP), "SIGHUP", f"SIGHUP with {name}"
            )
            assert daemon.scrape() == (0.0, True), name
            daemon.write(good)
            # Wait for this signal's own reload, not only the gauge: the watcher may load the
            # good file first, and a SIGHUP still pending would then read the next file and
            # take its change away from the watcher (the pass below needs the watcher's try).
            sighup_reloads = daemon.reloads("SIGHUP")
            process.send_signal(signal.SIGHUP)
            daemon.wait_for(
                lambda: daemon.reloads("SIGHUP") > sighup_reloads,  # noqa: B023 - called in turn
                f"the good config after {name}",
            )
            assert daemon.scrape()[0] == 1.0, name

        # By file change alone, one after the other: the watcher looks every 5 s, so the
        # kinds the signal pass showed, one file each, not the whole corpus again.
        for name, content in [h for h in hostile if h[0] in BY_FILE_CHANGE]:
            daemon.refused(
                lambda: daemon.write(content),  # noqa: B023 - called before the loop moves on
                "file changed",
                f"the watcher to try {name}",
                timeout=WATCHER_SECONDS * 6,
            )
            assert daemon.scrape() == (0.0, True), name
        daemon.write(good)
        daemon.wait_for(
            lambda: daemon.scrape()[0] == 1.0, "the good config", timeout=WATCHER_SECONDS * 6
        )

        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    text = log.read_text()
    assert "Traceback" not in text
    lines = [json.loads(line) for line in text.splitlines() if FAILED in line]
    assert all("exception" not in event and event["problems"] for event in lines)
