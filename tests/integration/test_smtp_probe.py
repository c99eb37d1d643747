"""The SMTP credential probe against real SMTP servers on loopback (aiosmtpd, trustme).

Each server accepts exactly one login: the access key id below with the SES SMTP password
derived from SECRET for us-east-1. Every test also checks that the probe never asked to
send mail (no MAIL, RCPT or DATA reached the server).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from smtp_server import (
    Recorder,
    SilentServer,
    SmtpServer,
    TlsFiles,
    closed_port,
    make_tls,
    start_smtp,
)

from exporter.checks.smtp_password import derive_smtp_password
from exporter.sources.smtp_probe import SmtpProbeResult, probe_smtp_auth

pytestmark = pytest.mark.integration

USERNAME = "AKIAIOSFODNN7EXAMPLE"  # AWS's documentation example access key id
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROTATED_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
PASSWORD = derive_smtp_password(SECRET, "us-east-1")
STALE_PASSWORD = derive_smtp_password(ROTATED_SECRET, "us-east-1")
TIMEOUT = 5.0  # generous for loopback, still bounded

StartServer = Callable[..., SmtpServer]


@pytest.fixture(name="tls", scope="module")
def _tls() -> TlsFiles:
    return make_tls()


@pytest.fixture(name="smtp")
def _smtp() -> Iterator[StartServer]:
    """Starts servers on demand; every one is stopped at teardown, whatever happened."""
    started: list[SmtpServer] = []

    def start(*, reject_reply: str | None = None, **kwargs: object) -> SmtpServer:
        server = start_smtp(Recorder(USERNAME, PASSWORD, reject_reply=reject_reply), **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    for server in started:
        assert server.recorder.sent_mail_commands() == [], "the probe must never send mail"


@pytest.fixture(name="silent")
def _silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.stop()


def probe(
    server: SmtpServer, tls: TlsFiles, password: str = PASSWORD, **kw: object
) -> SmtpProbeResult:
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("tls_context", tls.client)
    return probe_smtp_auth(server.host, server.port, USERNAME, password, **kw)  # type: ignore[arg-type]


def assert_no_credentials(result: SmtpProbeResult) -> None:
    for secret in (USERNAME, PASSWORD, STALE_PASSWORD, SECRET, ROTATED_SECRET):
        assert secret not in result.error


def test_valid_credentials_are_ok(smtp: StartServer, tls: TlsFiles) -> None:
    server = smtp(tls=tls)
    result = probe(server, tls)
    assert (result.status, result.smtp_code, result.error) == ("ok", 235, "")
    assert 0 < result.duration_seconds < TIMEOUT
    assert server.recorder.commands == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"]
    assert server.recorder.auth_attempts == [("PLAIN", True)]


def test_password_of_a_rotated_secret_fails_with_535(smtp: StartServer, tls: TlsFiles) -> None:
    """The Gmail relay of the field report: a password derived from the previous secret."""
    server = smtp(tls=tls)
    result = probe(server, tls, password=STALE_PASSWORD)
    assert (result.status, result.smtp_code) == ("auth_failed", 535)
    assert result.error.startswith("authentication rejected: 535")
    assert_no_credentials(result)
    # One attempt only (smtplib's login() would retry with LOGIN), then a clean QUIT.
    assert server.recorder.auth_attempts == [("PLAIN", False)]
    assert server.recorder.commands == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"]


def test_password_for_another_region_fails(smtp: StartServer, tls: TlsFiles) -> None:
    server = smtp(tls=tls)
    result = probe(server, tls, password=derive_smtp_password(SECRET, "eu-west-1"))
    assert (result.status, result.smtp_code) == ("auth_failed", 535)


def test_login_mechanism_when_plain_is_not_offered(smtp: StartServer, tls: TlsFiles) -> None:
    server = smtp(tls=tls, exclude_mechanisms=("PLAIN",))
    assert probe(server, tls).status == "ok"
    stale = probe(server, tls, password=STALE_PASSWORD)
    assert (stale.status, stale.smtp_code) == ("auth_failed", 535)
    assert_no_credentials(stale)
    assert server.recorder.auth_attempts == [("LOGIN", True), ("LOGIN", False)]


def test_temporary_auth_failure_is_unknown_not_failed(smtp: StartServer, tls: TlsFiles) -> None:
    """Only 535 means "these credentials are wrong"; a 454 must not page."""
    server = smtp(tls=tls, reject_reply="454 4.7.0 Temporary authentication failure")
    result = probe(server, tls, password=STALE_PASSWORD)
    assert (result.status, result.smtp_code) == ("unknown", 454)
    assert "454" in result.error


def test_server_text_echoing_credentials_is_redacted(smtp: StartServer, tls: TlsFiles) -> None:
    server = smtp(tls=tls, reject_reply=f"535 5.7.8 bad password {STALE_PASSWORD} for {USERNAME}")
    result = probe(server, tls, password=STALE_PASSWORD)
    assert (result.status, result.smtp_code) == ("auth_failed", 535)
    assert_no_credentials(result)
    assert "bad password *** for ***" in result.error


def test_closed_port_is_unknown() -> None:
    result = probe_smtp_auth("127.0.0.1", closed_port(), USERNAME, PASSWORD, timeout=TIMEOUT)
    assert (result.status, result.smtp_code, result.error) == (
        "unknown",
        None,
        "connection refused",  # refused at once, not the timeout
    )


def test_silent_server_times_out_as_unknown(silent: SilentServer) -> None:
    started = time.monotonic()
    result = probe_smtp_auth("127.0.0.1", silent.port, USERNAME, PASSWORD, timeout=1)
    elapsed = time.monotonic() - started
    assert (result.status, result.smtp_code) == ("unknown", None)
    assert result.error.startswith("timed out")
    assert 0.9 <= result.duration_seconds <= elapsed  # it waited for its 1 s timeout
    assert silent.accepted == 1


def test_server_without_starttls_gets_no_credentials(smtp: StartServer, tls: TlsFiles) -> None:
    """It offers AUTH in clear text and would accept it: the probe must not send it."""
    server = smtp(tls=None)
    result = probe(server, tls)
    assert (result.status, result.smtp_code) == ("unknown", 250)
    assert "does not offer STARTTLS" in result.error
    assert "clear-text" in result.error
    assert server.recorder.commands == ["EHLO", "QUIT"]
    assert server.recorder.auth_attempts == []


def test_untrusted_certificate_gets_no_credentials(smtp: StartServer, tls: TlsFiles) -> None:
    """Default context (system CAs) against the test CA's certificate: no AUTH after it."""
    server = smtp(tls=tls)
    result = probe_smtp_auth(server.host, server.port, USERNAME, PASSWORD, timeout=TIMEOUT)
    assert (result.status, result.smtp_code) == ("unknown", 220)
    assert "certificate verification failed" in result.error
    assert server.recorder.commands == ["EHLO", "STARTTLS"]
    assert server.recorder.auth_attempts == []


def test_implicit_tls(smtp: StartServer, tls: TlsFiles) -> None:
    server = smtp(tls=tls, implicit_tls=True)
    result = probe(server, tls, starttls=False)
    assert (result.status, result.smtp_code) == ("ok", 235)
    stale = probe(server, tls, password=STALE_PASSWORD, starttls=False)
    assert (stale.status, stale.smtp_code) == ("auth_failed", 535)
    assert server.recorder.commands == ["EHLO", "AUTH", "QUIT"] * 2


def test_implicit_tls_against_a_plain_port_is_unknown(smtp: StartServer, tls: TlsFiles) -> None:
    server = smtp(tls=tls)
    result = probe(server, tls, starttls=False)
    assert (result.status, result.smtp_code) == ("unknown", None)
    assert result.error.startswith("TLS failure")
    assert server.recorder.commands == []


def test_nonpositive_timeout_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        probe_smtp_auth("127.0.0.1", 1, USERNAME, PASSWORD, timeout=0)
