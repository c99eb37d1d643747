"""Fault injection against the running daemon: peers die and come back.

`named` killed mid-run: every DNS verdict turns `unknown` (never `fail`), the DNS collector
goes down, and everything recovers when named restarts. moto killed: the SES collector goes
down and keeps its last values while DNS is unaffected; it comes back up with moto.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO_ZONES, NamedServer, free_port, start_named, stop_named
from exposition import Samples, scrape
from fakes.sesv2_server import Sesv2Fake
from helpers.daemon import WriteConfig, start_exporter
from helpers.moto_fixtures import Moto, daemon_env

pytestmark = pytest.mark.e2e

GATEWAY = """
[[domains]]
name = "gateway553.example"
mail_from = "mail.gateway553.example"
"""
HEALTHY = """
[[domains]]
name = "healthy.example"
"""
# The SES account polled at the fastest pace the config allows.
FAST_AWS = {
    "interval_seconds": 10,
    "api_calls_per_second": 50,
    "suppression_list": False,
    "recommendations": False,
}


def statuses(samples: Samples, domain: str) -> dict[str, str]:
    return {
        dict(labels)["check"]: dict(labels)["status"]
        for (name, labels), value in samples.items()
        if name == "deliverability_check_status" and dict(labels)["domain"] == domain and value == 1
    }


def wait_for(predicate: Callable[[], Any], what: str, log: Path, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := predicate():
                return value
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")


def test_named_killed_and_restarted_mid_run(tmp_path: Path, exporter_config: WriteConfig) -> None:
    """No false `fail` while DNS is gone; verdicts come back by themselves."""
    zones = {p.name.removesuffix(".zone"): p for p in DEMO_ZONES.glob("*.zone")}
    named: NamedServer | None = start_named(tmp_path / "named", zones)
    config = exporter_config(
        GATEWAY,
        nameserver=named.nameserver,
        timeout_seconds=1,  # short: the cycles while named is gone time out
        resolver="attempts = 1",
        interval_seconds=1,
        json_log=False,
    )
    port = config.port
    log = tmp_path / "exporter.log"
    exporter = start_exporter(["run", "--config", str(config.path)], log)
    try:
        wait_for(
            lambda: (
                statuses(scrape(port), "gateway553.example").get("mail_from_resolvable") == "fail"
            ),
            "first verdicts",
            log,
        )
        dns_port = named.port
        stop_named(named)
        named = None
        down = wait_for(
            lambda: (
                (s := scrape(port))[("deliverability_collector_up", (("collector", "dns"),))] == 0
                and s
            ),
            "the DNS collector to go down",
            log,
        )
        assert set(statuses(down, "gateway553.example").values()) == {"unknown"}  # never fail
        assert not any(
            n == "deliverability_mail_from_resolvable" for n, _ in down
        )  # no sample while unknown
        # named back on the same port: everything recovers with no action.
        config_text = (tmp_path / "named" / "named.conf").read_text()
        assert f"port {dns_port}" in config_text
        with (tmp_path / "named" / "named.stderr").open("ab") as out:
            process = subprocess.Popen(
                ["named", "-g", "-c", str(tmp_path / "named" / "named.conf")],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        named = NamedServer("127.0.0.1", dns_port, process, tmp_path / "named")
        wait_for(
            lambda: (
                statuses(scrape(port), "gateway553.example").get("mail_from_resolvable") == "fail"
            ),
            "verdicts to recover",
            log,
        )
        assert scrape(port)[("deliverability_collector_up", (("collector", "dns"),))] == 1
    finally:
        exporter.send_signal(signal.SIGTERM)
        exporter.wait(timeout=10)
        if named is not None:
            stop_named(named)


def test_ses_endpoint_killed_and_restarted(tmp_path: Path, exporter_config: WriteConfig) -> None:
    """The SES API dies: that collector goes down and keeps its last values, DNS carries on;
    it comes back up by itself when the endpoint returns. (moto serves SES v1 and STS; the
    SESv2 fake serves GetAccount and is the one killed, on a fixed port so it can return.)"""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - slow import

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    fake_port = free_port()
    fake = Sesv2Fake(bind_port=fake_port).start()
    config = exporter_config(HEALTHY, interval_seconds=1, json_log=False, aws=FAST_AWS)
    port = config.port
    env = daemon_env(
        tmp_path,
        f"http://{moto_host}:{moto_port}",
        AWS_ENDPOINT_URL_SESV2=f"http://127.0.0.1:{fake_port}",
        AWS_MAX_ATTEMPTS="1",
    )
    log = tmp_path / "exporter.log"
    exporter = start_exporter(["run", "--config", str(config.path)], log, env)
    up = ("deliverability_collector_up", (("collector", "ses:prod:us-east-1"),))
    healthy = (
        "deliverability_ses_enforcement_status",
        (("aws_account_id", "123456789012"), ("aws_region", "us-east-1"), ("status", "HEALTHY")),
    )
    try:
        wait_for(
            lambda: (s := scrape(port)).get(up) == 1 and s.get(healthy) == 1,
            "the SES collector up",
            log,
        )
        fake.stop()
        down = wait_for(
            lambda: (s := scrape(port)).get(up) == 0 and s, "the SES collector down", log
        )
        assert down[healthy] == 1  # the last good account state is still served
        assert statuses(down, "healthy.example").get("mx") == "pass"  # DNS unaffected
        assert down[("deliverability_collector_up", (("collector", "dns"),))] == 1
        errors = {
            dict(labels)["error"]: v
            for (n, labels), v in down.items()
            if n == "deliverability_ses_api_errors_total"
        }
        assert errors.get("EndpointConnectionError", 0) >= 1
        fake = Sesv2Fake(bind_port=fake_port).start()
        wait_for(lambda: scrape(port).get(up) == 1, "the SES collector back up", log)
    finally:
        exporter.send_signal(signal.SIGTERM)
        exporter.wait(timeout=10)
        fake.stop()
        moto.stop()


def start_moto(port: int) -> Any:
    """moto's ThreadedMotoServer on a fixed loopback port. Its stop() is a real death:
    werkzeug closes the listening socket when serve_forever ends and closes every
    connection after its response (no keep-alive), so the daemon's next call is refused.
    Moto's backends live in this process: a server started again on the port serves the
    same state."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - slow import

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def test_moto_killed_and_restarted(tmp_path: Path, exporter_config: WriteConfig) -> None:
    """moto itself (SES v1 identities, STS, CloudWatch) dies under the running daemon and
    comes back on the same port: the SES collector goes down and keeps its last values, the
    DNS collector stays up with its verdicts, and SES comes back up by itself.

    The daemon calls moto on every SES run: CloudWatch reputation (aws.reputation_metrics)
    with the account state every aws.interval_seconds (10 s, the minimum), and identity
    discovery from the first run and again on every run after a failed one
    (discovery_interval_seconds cannot go below 60 s)."""
    moto_port = free_port()
    moto = start_moto(moto_port)
    moto_endpoint = f"http://127.0.0.1:{moto_port}"
    Moto(moto_endpoint).reset()  # the backends are this process's: other tests' identities
    import boto3  # noqa: PLC0415 - with moto

    boto3.session.Session().client(
        "ses",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).verify_domain_identity(Domain="healthy.example")
    fake = Sesv2Fake().start()  # GetAccount; never killed here
    config = exporter_config(
        HEALTHY,
        interval_seconds=1,
        json_log=False,
        aws={**FAST_AWS, "discovery_interval_seconds": 60, "reputation_metrics": True},
    )
    port = config.port
    env = daemon_env(
        tmp_path, moto_endpoint, AWS_ENDPOINT_URL_SESV2=fake.endpoint, AWS_MAX_ATTEMPTS="1"
    )
    log = tmp_path / "exporter.log"
    exporter = start_exporter(["run", "--config", str(config.path)], log, env)
    acct = (("aws_account_id", "123456789012"), ("aws_region", "us-east-1"))
    up = ("deliverability_collector_up", (("collector", "ses:prod:us-east-1"),))
    dns_up = ("deliverability_collector_up", (("collector", "dns"),))
    identities = ("deliverability_ses_domain_identities", acct)

    def moto_errors(samples: Samples) -> float:
        """Failed parts whose calls go to moto (reputation: CloudWatch; identities: SES v1)."""
        return sum(
            v
            for (n, labels), v in samples.items()
            if n == "deliverability_ses_api_errors_total"
            and dict(labels)["part"] in {"reputation", "identities"}
        )

    try:
        first = wait_for(
            lambda: (s := scrape(port)).get(up) == 1 and s.get(identities) == 1 and s,
            "the SES collector up, with the identity discovered from moto",
            log,
        )
        assert statuses(first, "healthy.example").get("ses_identity_verified") == "pass"
        moto.stop()
        moto = None
        down = wait_for(
            lambda: (s := scrape(port)).get(up) == 0 and moto_errors(s) >= 1 and s,
            "the SES collector down",
            log,
        )
        assert down[identities] == 1  # the last discovery is still served
        assert statuses(down, "healthy.example").get("ses_identity_verified") == "pass"
        assert down[dns_up] == 1  # DNS unaffected, verdicts and all
        assert statuses(down, "healthy.example").get("mx") == "pass"
        errors = {
            dict(labels)["error"]
            for (n, labels), _ in down.items()
            if n == "deliverability_ses_api_errors_total"
        }
        assert "EndpointConnectionError" in errors, errors
        moto = start_moto(moto_port)  # back on the same port, same state
        back = wait_for(
            lambda: (s := scrape(port)).get(up) == 1 and s,
            "the SES collector back up",
            log,
        )
        assert back[identities] == 1
        assert back[dns_up] == 1
        assert statuses(back, "healthy.example").get("mx") == "pass"
    finally:
        exporter.send_signal(signal.SIGTERM)
        exporter.wait(timeout=10)
        fake.stop()
        if moto is not None:
            moto.stop()
