"""An SMTP credential end to end: IAM keys on moto, the AUTH probe on a real SMTP server,
the result through the store and the collector into metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.moto_fixtures import Moto
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from smtp_server import Recorder, SmtpServer, closed_port, make_tls, start_smtp

from exporter.checks.smtp_password import derive_smtp_password
from exporter.collector import ExporterCollector
from exporter.config import Config, SmtpCredentialConfig
from exporter.jobs.smtp import check_smtp_credential
from exporter.sources.dns import DnsQueryStats
from exporter.store import Snapshot, Store

pytestmark = pytest.mark.integration

USERNAME = "AKIAEXAMPLESMTPUSER"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(name="server")
def _server() -> Iterator[tuple[SmtpServer, object]]:
    tls = make_tls()
    server = start_smtp(Recorder(USERNAME, derive_smtp_password(SECRET, "us-east-1")), tls=tls)
    yield server, tls.client
    server.stop()
    assert server.recorder.sent_mail_commands() == []


def samples(store: Store) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(store.read, DnsQueryStats()))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def credential(port: int, **kw: object) -> SmtpCredentialConfig:
    return SmtpCredentialConfig(
        name="gmail-send-as",
        region="us-east-1",
        username_env="TEST_SMTP_USER",
        password_env="TEST_SMTP_PASS",
        host="127.0.0.1",
        port=port,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("secret", "success", "code"),
    [(SECRET, 1.0, 235.0), ("rotated/" + SECRET[8:], 0.0, 535.0)],
    ids=["current-key", "rotated-key"],
)
def test_probe_result_becomes_metrics(
    server, monkeypatch: pytest.MonkeyPatch, secret: str, success: float, code: float
) -> None:
    """Good credentials: success 1 / 235. A password from a rotated key: success 0 / 535."""
    smtp, client_tls = server
    monkeypatch.setenv("TEST_SMTP_USER", USERNAME)
    monkeypatch.setenv("TEST_SMTP_PASS", derive_smtp_password(secret, "us-east-1"))
    store = Store(Snapshot(config=Config()))
    store.record_smtp(
        check_smtp_credential(credential(smtp.port), None, tls_context=client_tls),
        duration_seconds=0.1,
    )
    got = samples(store)
    assert (
        got[("deliverability_smtp_auth_probe_success", (("credential", "gmail-send-as"),))]
        == success
    )
    assert (
        got[("deliverability_smtp_auth_probe_reply_code", (("credential", "gmail-send-as"),))]
        == code
    )
    assert got[("deliverability_collector_up", (("collector", "smtp:gmail-send-as"),))] == 1.0


def test_dead_endpoint_is_unknown_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """No success sample at all (so `== 0` alerts stay quiet); the collector is down instead."""
    monkeypatch.setenv("TEST_SMTP_USER", USERNAME)
    monkeypatch.setenv("TEST_SMTP_PASS", "x")
    store = Store(Snapshot(config=Config()))
    store.record_smtp(check_smtp_credential(credential(closed_port()), None), duration_seconds=0.1)
    got = samples(store)
    assert not any(name == "deliverability_smtp_auth_probe_success" for name, _ in got)
    assert got[("deliverability_collector_up", (("collector", "smtp:gmail-send-as"),))] == 0.0


def test_iam_keys_of_the_smtp_user(moto: Moto) -> None:
    """Rotation leaves the old key inactive: both keys are exported with their state."""
    iam = moto.client("iam")
    iam.create_user(UserName="ses-smtp-user")
    old = iam.create_access_key(UserName="ses-smtp-user")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="ses-smtp-user")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="ses-smtp-user", AccessKeyId=old, Status="Inactive")
    cred = SmtpCredentialConfig(name="relay", region="us-east-1", iam_user="ses-smtp-user")
    store = Store(Snapshot(config=Config()))
    store.record_smtp(check_smtp_credential(cred, iam), duration_seconds=0.1)
    got = samples(store)
    active = {
        dict(labels)["access_key_id"]: value
        for (name, labels), value in got.items()
        if name == "deliverability_iam_access_key_active"
    }
    assert active == {old: 0.0, new: 1.0}
    created = [n for n, _ in got if n == "deliverability_iam_access_key_created_timestamp_seconds"]
    assert len(created) == 2
    assert not any(n == "deliverability_iam_access_key_last_used_timestamp_seconds" for n, _ in got)
