"""The daemon with SES state: moto (SES v1, STS) plus the SESv2 fake, as subprocesses see them.

moto serves SES v1 identities and STS through AWS_ENDPOINT_URL; the SESv2 operations moto
lacks (GetAccount, the suppression list, recommendations) come from tests/fakes over
AWS_ENDPOINT_URL_SESV2. DNS comes from `named`. The discovered identity's real tokens are
checked in DNS without being configured anywhere.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from exposition import scrape
from fakes.sesv2_server import Sesv2Fake, SuppressedEntry
from helpers.daemon import ExporterConfig, WriteConfig, reaped, start_exporter
from helpers.moto_fixtures import Moto, daemon_env

pytestmark = pytest.mark.e2e


def start_daemon(config: Path, moto: Moto, sesv2: Sesv2Fake) -> subprocess.Popen[bytes]:
    """`run --config` with dummy credentials, SES v1 and STS at moto and SESv2 at the fake,
    no AWS config files; output to daemon.log next to ``config``."""
    env = daemon_env(config.parent, moto.endpoint, AWS_ENDPOINT_URL_SESV2=sesv2.endpoint)
    return start_exporter(["run", "--config", str(config)], config.parent / "daemon.log", env)


def no_dns_config(exporter_config: WriteConfig, **aws: object) -> ExporterConfig:
    """The SES account prod with ``aws`` settings, and a resolver at a loopback port nothing
    answers on, timing out at once: for tests where DNS verdicts are not the point."""
    return exporter_config(
        aws=aws,
        nameserver=f"127.0.0.1:{free_port()}",
        timeout_seconds=0.2,
        resolver="attempts = 1",
        interval_seconds=None,
        json_log=False,
    )


@pytest.fixture(name="sesv2")
def _sesv2() -> Iterator[Sesv2Fake]:
    fake = Sesv2Fake()
    fake.account["EnforcementStatus"] = "PROBATION"
    fake.account["ProductionAccessEnabled"] = False
    now = time.time()
    fake.suppress("a@corp.example", "BOUNCE", now - 3600)
    fake.suppress("b@corp.example", "BOUNCE", now - 86400 * 3)
    fake.suppress("c@other.example", "COMPLAINT", now - 60)
    with fake:
        yield fake


def test_ses_state_discovery_and_dns_together(
    moto: Moto, sesv2: Sesv2Fake, exporter_config: WriteConfig, tmp_path: Path
) -> None:
    """Account state and suppression counts are exported; the SES identity healthy.example is
    discovered with moto's tokens and its DNS checked with them (they are not in the zone:
    dkim fails, naming them), and SES's own verdicts join the domain's checks."""
    ses = moto.client("ses")
    ses.verify_domain_identity(Domain="healthy.example")
    ses.verify_domain_dkim(Domain="healthy.example")
    config = exporter_config(
        interval_seconds=None,
        json_log=False,
        aws={"api_calls_per_second": 50, "interval_seconds": 60, "recommendations": True},
    )
    port = config.port
    process = start_daemon(config.path, moto, sesv2)
    with reaped(process):
        deadline = time.monotonic() + 60
        samples: dict = {}
        while time.monotonic() < deadline:
            try:
                samples = scrape(port)
            except OSError:
                samples = {}
            dkim = [
                v
                for (n, labels), v in samples.items()
                if n == "deliverability_check_status"
                and dict(labels).get("domain") == "healthy.example"
                and dict(labels).get("check") == "dkim"
            ]
            if (
                dkim
                and (
                    "deliverability_ses_suppressed_destinations",
                    (
                        ("aws_account_id", "123456789012"),
                        ("aws_region", "us-east-1"),
                        ("reason", "BOUNCE"),
                    ),
                )
                in samples
            ):
                break
            assert process.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(0.2)
        else:
            seen = sorted(k for k in samples if "suppress" in k[0] or "check_status" in k[0])
            pytest.fail(f"SES and DNS results did not appear: {seen}")
        acct = (("aws_account_id", "123456789012"), ("aws_region", "us-east-1"))
        assert (
            samples[("deliverability_ses_enforcement_status", (*acct, ("status", "PROBATION")))]
            == 1
        )
        assert (
            samples[("deliverability_ses_enforcement_status", (*acct, ("status", "HEALTHY")))] == 0
        )
        assert samples[("deliverability_ses_production_access_enabled", acct)] == 0
        assert (
            samples[("deliverability_ses_suppressed_destinations", (*acct, ("reason", "BOUNCE")))]
            == 2
        )
        assert (
            samples[
                ("deliverability_ses_suppressed_destinations", (*acct, ("reason", "COMPLAINT")))
            ]
            == 1
        )
        assert samples[("deliverability_ses_suppressed_destinations_recent", acct)] == 2
        assert samples[("deliverability_ses_domain_identities", acct)] == 1
        routed = (
            "deliverability_ses_feedback_routed",
            (
                *acct,
                ("feedback_type", "bounce"),
                ("identity", "healthy.example"),
                ("path", "email_only"),
            ),
        )
        assert samples[routed] == 0

        def status(check: str) -> str:
            for (name, labels), value in samples.items():
                d = dict(labels)
                if (
                    name == "deliverability_check_status"
                    and d["domain"] == "healthy.example"
                    and d["check"] == check
                    and value == 1
                ):
                    return d["status"]
            return "absent"

        assert status("dkim") == "fail"  # moto's tokens are not published in the zone
        assert status("mx") == "pass"  # the DNS checks ran for a domain nobody configured
        assert status("ses_identity_verified") == "pass"
        assert status("ses_feedback_routing") == "fail"
        assert samples[("deliverability_collector_up", (("collector", "ses:prod:us-east-1"),))] == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_sigterm_mid_ses_run_at_the_default_pace(
    moto: Moto, exporter_config: WriteConfig, tmp_path: Path
) -> None:
    """At the default api_calls_per_second = 1 a run is long (here 20 suppression-list
    pages, one per second, after the account and discovery calls): SIGTERM while it is in
    flight still stops the daemon cleanly within 10 s. The paced wait is interrupted, the
    run is dropped as "cancelled by shutdown" (not a failed run), and the rest of the pages
    are never asked for."""
    for domain in ("a.example", "b.example"):
        moto.client("ses").verify_domain_identity(Domain=domain)
    now = time.time()
    pages = 20
    fake = Sesv2Fake()
    fake.suppressed = [
        SuppressedEntry(f"user{i}@corp.example", "BOUNCE", now - 86400 * 2)
        for i in range(pages * 1000)  # PageSize 1000: 20 pages
    ]
    suppression_path = "/v2/email/suppression/addresses"
    config = no_dns_config(exporter_config)  # api_calls_per_second is left at its default, 1
    log_path = tmp_path / "daemon.log"
    with fake:
        process = start_daemon(config.path, moto, fake)
        with reaped(process):
            deadline = time.monotonic() + 60
            while fake.requests[suppression_path] < 2:
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the paced suppression count never began"
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0  # the spec: stops within 10 seconds
        asked = fake.requests[suppression_path]
    text = log_path.read_text()
    assert asked < pages, "the run finished instead of being interrupted"
    assert any(
        '"job": "ses:' in line and "job cancelled by shutdown" in line for line in text.splitlines()
    ), text[-3000:]
    assert "job failed" not in text
    assert "crashed" not in text
    assert "exporter stopped" in text


def test_account_state_keeps_its_cadence_during_a_long_discovery(
    moto: Moto, exporter_config: WriteConfig, tmp_path: Path
) -> None:
    """Discovery runs as its own job: at 1 call/s a discovery that asks for 60
    configuration sets' event destinations takes a minute, yet GetAccount is polled again
    on its own schedule meanwhile and the account state is served (collector up) before
    discovery has finished. SIGTERM in the middle of that discovery still exits within 10 s."""
    for domain in ("a.example", "b.example"):
        moto.client("ses").verify_domain_identity(Domain=domain)
    sets = 60
    fake = Sesv2Fake()
    for i in range(sets):
        fake.event_destinations[f"set{i:02d}"] = []
    config = no_dns_config(  # api_calls_per_second is left at its default, 1, shared by both jobs
        exporter_config, interval_seconds=10, suppression_list=False, recommendations=False
    )
    port = config.port
    log_path = tmp_path / "daemon.log"

    def destinations_asked() -> int:
        return sum(n for path, n in fake.requests.items() if path.endswith("/event-destinations"))

    with fake:
        process = start_daemon(config.path, moto, fake)
        with reaped(process):
            deadline = time.monotonic() + 60
            while fake.requests["/v2/email/account"] < 2:
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "GetAccount was not polled again"
                time.sleep(0.1)
            in_flight = destinations_asked()
            samples = scrape(port)
            asked_after_scrape = destinations_asked()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        asked_at_exit = destinations_asked()
    text = log_path.read_text()
    assert in_flight > 0, "discovery had not reached the configuration sets"
    assert asked_after_scrape < sets, "discovery finished before GetAccount came round again"
    acct = (("aws_account_id", "123456789012"), ("aws_region", "us-east-1"))
    assert samples[("deliverability_ses_sending_enabled", acct)] == 1
    assert ("deliverability_ses_domain_identities", acct) not in samples  # still discovering
    assert samples[("deliverability_collector_up", (("collector", "ses:prod:us-east-1"),))] == 1
    assert asked_at_exit < sets  # the discovery was cut short by SIGTERM, not finished
    assert any(
        '"job": "ses:' in line and "job cancelled by shutdown" in line for line in text.splitlines()
    ), text[-3000:]
    assert "job failed" not in text
