"""Reloads: whatever goes wrong while loading, the daemon keeps its config, says so once,
and tries again when the file changes (the e2e corpus test drives a real process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from exporter import app
from exporter.app import Daemon
from exporter.jobs.smtp import SmtpCredentialResult
from exporter.runtime import Runtime, load_runtime

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile_configs"
GOOD = """
[[domains]]
name = "kept.example"
"""


@pytest.fixture(name="daemon")
def _daemon(tmp_path: Path) -> Daemon:
    """A daemon that is not started: a reload schedules jobs that never run."""
    path = tmp_path / "config.toml"
    path.write_text(GOOD)
    return Daemon(path, load_runtime(path))


def domains(daemon: Daemon) -> list[str]:
    return [d.name for d in daemon.store.read().config.domains]


def failures(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == "config reload failed, keeping the previous config"]


def test_an_unforeseen_loading_error_keeps_the_running_config(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only a ConfigError: a loader bug must not stop the daemon on SIGHUP either."""

    def loader_bug(_path: Path, _flags: object) -> Runtime:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(app, "load_runtime", loader_bug)
    with capture_logs() as logs:
        daemon.reload("SIGHUP")
    assert domains(daemon) == ["kept.example"]
    assert not daemon.store.read().config_reload_ok
    assert [(e["log_level"], e["problems"], "exc_info" in e) for e in failures(logs)] == [
        ("error", ["RecursionError: maximum recursion depth exceeded"], False)
    ]


def test_the_watcher_tries_each_changed_file_once(daemon: Daemon, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    with capture_logs() as logs:
        config.write_bytes((HOSTILE / "non_utf8.toml").read_bytes())
        daemon._poll_config_file()  # noqa: SLF001 - the job the scheduler runs every 5 s
        daemon._poll_config_file()  # noqa: SLF001 - unchanged: not tried again
        assert len(failures(logs)) == 1
        config.write_bytes((HOSTILE / "deep_nested_arrays.toml").read_bytes())
        daemon._poll_config_file()  # noqa: SLF001
        assert len(failures(logs)) == 2
        assert domains(daemon) == ["kept.example"]
        assert not daemon.store.read().config_reload_ok
        config.write_text(GOOD.replace("kept.example", "next.example"))
        daemon._poll_config_file()  # noqa: SLF001
    assert domains(daemon) == ["next.example"]
    assert daemon.store.read().config_reload_ok


def test_a_removed_credential_drops_its_collector(daemon: Daemon, tmp_path: Path) -> None:
    """Its health would otherwise look stale forever (and page as a stale collector)."""
    config = tmp_path / "config.toml"
    relay = '\n[[smtp_credentials]]\nname = "relay"\nregion = "us-east-1"\niam_user = "ses-smtp"\n'
    config.write_text(GOOD + relay)
    daemon.reload("SIGHUP")
    daemon.store.record_smtp(SmtpCredentialResult("relay", "ses-smtp"), duration_seconds=0.1)
    assert "smtp:relay" in daemon.store.read().health
    config.write_text(GOOD)
    daemon.reload("SIGHUP")
    snap = daemon.store.read()
    assert snap.config_reload_ok
    assert "smtp:relay" not in snap.health
    assert "smtp:relay" not in snap.smtp


def test_a_reload_names_the_retired_keys_it_ignores(daemon: Daemon, tmp_path: Path) -> None:
    """The file now sets resolver.processes: reloaded, and the warning is logged as at start."""
    (tmp_path / "config.toml").write_text(GOOD + "\n[resolver]\nprocesses = 2\n")
    with capture_logs() as logs:
        daemon.reload("SIGHUP")
    assert daemon.store.read().config_reload_ok
    ignored = [e["problem"] for e in logs if e["event"] == "config key ignored"]
    assert len(ignored) == 1
    assert str(ignored[0]).startswith("resolver.processes: deprecated and ignored")
