"""`--version` and build_info name the source revision, so two builds of one version differ."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter import __version__, version

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_reports_its_git_commit() -> None:
    version.revision.cache_clear()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    assert version.revision() == head


def test_a_revision_written_at_build_time_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The image build writes the file (no .git in its context)."""
    package = tmp_path / "exporter"
    package.mkdir()
    (package / version.REVISION_FILE).write_text("0123abcd\n")
    monkeypatch.setattr(version.resources, "files", lambda _name: package)
    version.revision.cache_clear()
    try:
        assert version.revision() == "0123abcd"
    finally:
        version.revision.cache_clear()


def test_without_file_or_git_it_is_unknown(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(version.resources, "files", lambda _name: tmp_path)
    monkeypatch.setattr(version, "__file__", str(tmp_path / "pkg" / "version.py"))
    version.revision.cache_clear()
    try:
        assert version.revision() == "unknown"
    finally:
        version.revision.cache_clear()


def test_version_flag_prints_version_and_revision() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exporter", "--version"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.startswith(f"ses-deliverability-exporter {__version__} (revision ")
    assert "unknown" not in done.stdout  # a checkout knows its commit
