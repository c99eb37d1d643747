"""The daemon's own jobs against real peers: a crashing SMTP credential check (a real SMTP
server, a CA file that goes bad) is a failed run, and the daemon runs the warmer itself."""

from __future__ import annotations

import ssl
import time
import urllib.request
from pathlib import Path

import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families
from smtp_server import Recorder, TlsFiles, start_smtp

from exporter.app import Daemon, Runtime
from exporter.checks.smtp_password import derive_smtp_password
from exporter.config import (
    ClusterConfig,
    Config,
    DomainConfig,
    ResolverConfig,
    SmtpCredentialConfig,
)
from exporter.exposition import domain_table
from exporter.sources.zones import ZoneOverrides

pytestmark = pytest.mark.integration

USERNAME = "AKIAEXAMPLESMTPUSER"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EVENTS_ONLY = ClusterConfig(role="events")  # no DNS cycle, no SES or SMTP jobs


def health(exposition: bytes, collector: str) -> tuple[float, float]:
    """(up, failures) of one collector in an exposition."""
    values = {
        (s.name, s.labels.get("collector")): s.value
        for family in text_string_to_metric_families(exposition.decode())
        for s in family.samples
    }
    return (
        values[("deliverability_collector_up", collector)],
        values[("deliverability_collector_failures_total", collector)],
    )


def test_a_crashing_smtp_check_marks_its_collector_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One good check, then the CA file is replaced by garbage: the check raises
    ssl.SSLError, and the collector goes down with a failure counted (not up=1 forever)."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    recorder = Recorder(USERNAME, derive_smtp_password(SECRET, "us-east-1"))
    smtp = start_smtp(
        recorder, tls=TlsFiles(server=server_tls, client=ssl.create_default_context())
    )
    monkeypatch.setenv("TEST_SMTP_USER", USERNAME)
    monkeypatch.setenv("TEST_SMTP_PASS", derive_smtp_password(SECRET, "us-east-1"))
    credential = SmtpCredentialConfig(
        name="relay",
        region="us-east-1",
        username_env="TEST_SMTP_USER",
        password_env="TEST_SMTP_PASS",
        host="127.0.0.1",
        port=smtp.port,
        ca_file=ca_file,
    )
    # No domains and no nameservers: the DNS cycle collect_once runs is empty.
    config = Config(resolver=ResolverConfig(nameservers=()), smtp_credentials=(credential,))
    daemon = Daemon(tmp_path / "config.toml", Runtime(config, ZoneOverrides.from_files(())))
    try:
        assert health(daemon.collect_once(), "smtp:relay") == (1.0, 0.0)
        ca_file.write_text("not a certificate\n")
        assert health(daemon.collect_once(), "smtp:relay") == (0.0, 1.0)
    finally:
        smtp.stop()
    assert daemon.store.read().health["smtp:relay"].last_error == "SSLError"


def test_the_daemon_starts_and_stops_the_warmer(tmp_path: Path) -> None:
    """A newly published snapshot's exposition is built before any scrape asks for it."""
    config = Config(cluster=EVENTS_ONLY)
    daemon = Daemon(
        tmp_path / "config.toml",
        Runtime(config, ZoneOverrides.from_files(())),
        listen=("127.0.0.1", 0),
    )
    daemon.start()
    try:
        snap = daemon.store.update(
            config=Config(cluster=EVENTS_ONLY, domains=(DomainConfig("warm.example"),))
        )
        deadline = time.monotonic() + 30
        while domain_table(snap)._exposition is None:  # noqa: SLF001 - what the warmer fills
            assert time.monotonic() < deadline, "the warmer did not build the new snapshot"
            time.sleep(0.05)
        port = daemon._server.port  # type: ignore[union-attr]  # noqa: SLF001 - bound to port 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert b'domain="warm.example"' in resp.read()
    finally:
        daemon.shutdown()
    assert not daemon.warmer._thread.is_alive()  # noqa: SLF001 - stopped with the daemon
