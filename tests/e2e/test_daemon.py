"""The daemon as a user runs it: a subprocess against `named`, scraped over HTTP."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from exposition import Samples, parse_samples
from helpers.daemon import WriteConfig, http_get, reaped, run_cli, start_exporter
from helpers.fleet import CHECKS

pytestmark = pytest.mark.e2e

DOMAINS = """
[[domains]]
name = "healthy.example"
mail_from = "mail.healthy.example"
region = "us-east-1"
dkim_tokens = ["h1healthyaaaaaaaaaaaaaaaaaaaaaaa", "h2healthybbbbbbbbbbbbbbbbbbbbbbb", "h3healthyccccccccccccccccccccccc"]
labels = { team = "platform" }

[[domains]]
name = "gateway553.example"
mail_from = "mail.gateway553.example"
region = "us-east-1"
labels = { team = "billing" }
"""

EXCHANGE = """
[[domains]]
name = "exchange-junk.example"
mail_from = "mail.exchange-junk.example"
region = "us-east-1"
dkim_tokens = ["x1exchangeaaaaaaaaaaaaaaaaaaaaaa"]
"""


class Exporter:
    def __init__(self, process: subprocess.Popen[str], port: int, config: Path) -> None:
        self.process = process
        self.port = port
        self.config = config

    def get(self, path: str) -> tuple[int, str]:
        return http_get(self.port, path)

    def samples(self) -> Samples:
        _, body = self.get("/metrics")
        return parse_samples(body)

    def wait_for(self, predicate, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"exporter exited with {self.process.returncode} while waiting for {what}"
                )
            try:
                if predicate():
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}")


def status(samples: dict, domain: str, check: str) -> str:  # type: ignore[type-arg]
    for (name, labels), value in samples.items():
        d = dict(labels)
        if (
            name == "deliverability_check_status"
            and d["domain"] == domain
            and d["check"] == check
            and value == 1
        ):
            return d["status"]
    return "absent"


@pytest.fixture(name="exporter")
def _exporter(exporter_config: WriteConfig, tmp_path: Path) -> Iterator[Exporter]:
    config = exporter_config(DOMAINS)
    process = start_exporter(["run", "--config", str(config.path)], tmp_path / "exporter.log")
    exporter = Exporter(process, config.port, config.path)
    with reaped(process):
        exporter.wait_for(lambda: exporter.get("/readyz")[0] == 200, "first cycle")
        yield exporter


def test_metrics_landing_page_and_clean_shutdown(exporter: Exporter, tmp_path: Path) -> None:
    """The pinned series are served, promtool accepts them, SIGTERM exits 0 within 10 s."""
    assert exporter.get("/healthz") == (200, "ok\n")
    samples = exporter.samples()
    assert status(samples, "healthy.example", "mail_from_resolvable") == "pass"
    assert status(samples, "healthy.example", "dkim") == "pass"
    assert status(samples, "gateway553.example", "mail_from_resolvable") == "fail"
    key = (
        "deliverability_mail_from_resolvable",
        (("domain", "gateway553.example"), ("mail_from_domain", "mail.gateway553.example")),
    )
    assert samples[key] == 0
    assert samples[("deliverability_dmarc_policy_level", (("domain", "healthy.example"),))] == 2
    assert samples[("deliverability_dmarc_policy_level", (("domain", "gateway553.example"),))] == 1
    assert ("deliverability_spf_dns_lookups", (("domain", "healthy.example"),)) in samples
    # Every status series exists for each check: exactly one of them is 1.
    per_check = [
        v
        for (n, labels), v in samples.items()
        if n == "deliverability_check_status"
        and dict(labels)["domain"] == "healthy.example"
        and dict(labels)["check"] == "mx"
    ]
    assert sorted(per_check) == [0, 0, 0, 1]
    assert samples[("deliverability_collector_up", (("collector", "dns"),))] == 1
    assert samples[("deliverability_collector_interval_seconds", (("collector", "dns"),))] == 60
    info = [dict(labels) for (n, labels), _ in samples.items() if n == "deliverability_domain_info"]
    assert {
        "domain": "gateway553.example",
        "mail_from_domain": "mail.gateway553.example",
        "aws_region": "us-east-1",
        "team": "billing",
    } in info
    assert any(n == "deliverability_build_info" for n, _ in samples)
    assert any(n == "deliverability_dns_queries_total" for n, _ in samples)

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is not installed: run the README's test command (it apt-installs prometheus)"
        )
    _, body = exporter.get("/metrics")
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr

    code, page = exporter.get("/")
    assert code == 200
    assert "gateway553.example" in page
    assert "553 5.1.8" in page

    started = time.monotonic()
    exporter.process.send_signal(signal.SIGTERM)
    assert exporter.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
    log_lines = [
        json.loads(line)
        for line in (tmp_path / "exporter.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(line.get("event") == "dns cycle finished" for line in log_lines)
    assert any(line.get("event") == "exporter stopped" for line in log_lines)


def test_retired_processes_key_still_runs_in_one_process_with_a_warning(
    exporter_config: WriteConfig, tmp_path: Path
) -> None:
    """resolver.processes = 2 (retired) is accepted: the daemon warns, starts no worker
    process, and every verdict equals a one-process `collect` of the same domains."""
    one = exporter_config(DOMAINS + EXCHANGE, path=tmp_path / "one.toml")
    single = run_cli("collect", "--config", str(one.path))
    assert single.returncode == 0, single.stderr
    expected = parse_samples(single.stdout)
    config = exporter_config(
        DOMAINS + EXCHANGE, path=tmp_path / "split.toml", resolver="processes = 2"
    )
    log = tmp_path / "split.log"
    process = start_exporter(["run", "--config", str(config.path)], log)
    split = Exporter(process, config.port, config.path)
    with reaped(process):
        split.wait_for(lambda: split.get("/readyz")[0] == 200, "first cycle")
        samples = split.samples()
        for family in ("deliverability_check_status", "deliverability_dmarc_policy_level"):
            got = {key: v for key, v in samples.items() if key[0] == family}
            assert got == {key: v for key, v in expected.items() if key[0] == family}
        assert status(samples, "gateway553.example", "mail_from_resolvable") == "fail"
        tasks = Path(f"/proc/{process.pid}/task").iterdir()
        assert not [c for t in tasks for c in (t / "children").read_text().split()], "a worker"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "resolver.processes: deprecated and ignored" in log.read_text()


def test_reload_on_file_change_and_sighup_keeps_old_config_when_invalid(exporter: Exporter) -> None:
    """A changed file is picked up without a signal; an invalid one is refused and reported."""
    text = exporter.config.read_text()
    exporter.config.write_text(text + EXCHANGE)
    exporter.wait_for(
        lambda: status(exporter.samples(), "exchange-junk.example", "dmarc") == "warn",
        "the added domain to be checked",
    )
    samples = exporter.samples()
    assert status(samples, "exchange-junk.example", "mail_from_spf") == "fail"
    assert status(samples, "exchange-junk.example", "dkim") == "fail"
    assert samples[("deliverability_config_last_reload_successful", ())] == 1

    exporter.config.write_text(text + "\n[[domains]]\nname = 'not a domain'\n")
    exporter.process.send_signal(signal.SIGHUP)
    exporter.wait_for(
        lambda: exporter.samples()[("deliverability_config_last_reload_successful", ())] == 0,
        "the invalid reload to be reported",
    )
    # The running config is kept: the domains are still served.
    assert status(exporter.samples(), "exchange-junk.example", "dmarc") == "warn"


def test_invalid_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[resolver]\ntimeout_seconds = 'fast'\n[[domains]]\nname = 'x'\n")
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2
    assert "resolver.timeout_seconds: must be a number" in result.stderr
    assert "domains[0].name: 'x': needs at least two labels" in result.stderr


def test_demo_shows_both_field_reports(tmp_path: Path) -> None:
    """`demo` needs no AWS and no internet: the bundled zones give real verdicts at once."""
    port = free_port()
    process = start_exporter(
        ["demo", "--listen-address", f"127.0.0.1:{port}"], tmp_path / "demo.log"
    )
    demo = Exporter(process, port, tmp_path)
    with reaped(process):
        demo.wait_for(lambda: demo.get("/readyz")[0] == 200, "the demo's first cycle")
        samples = demo.samples()
        assert status(samples, "gateway553.example", "mail_from_resolvable") == "fail"
        assert status(samples, "exchange-junk.example", "dmarc") == "warn"
        assert status(samples, "exchange-junk.example", "mail_from_spf") == "fail"
        assert status(samples, "exchange-junk.example", "dkim") == "fail"
        assert status(samples, "legacy.example", "spf") == "fail"
        assert status(samples, "legacy.example", "mx") == "fail"
        assert status(samples, "legacy.example", "dmarc") == "fail"
        healthy = {
            dict(labels)["check"]
            for (name, labels), value in samples.items()
            if name == "deliverability_check_status"
            and value == 1
            and dict(labels)["domain"] == "healthy.example"
            and dict(labels)["status"] == "pass"
        }
        assert healthy == set(CHECKS)  # every DNS check
        bounced = {
            dict(labels)["category"]: value
            for (name, labels), value in samples.items()
            if name == "deliverability_ses_bounced_recipients_total"
            and dict(labels)["recipient_domain"] == "acme.corp.example"
        }
        assert bounced["sender_domain_dns"] > 0  # the replayed archive: report 1 as bounces
        providers = {
            dict(labels)["recipient_provider"]
            for (name, labels), _ in samples.items()
            if name == "deliverability_ses_bounced_recipients_total"
        }
        assert {"mimecast", "proofpoint", "microsoft", "google"} <= providers
        _, page = demo.get("/")
        assert "legacy.example" in page
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_sigterm_during_a_slow_cycle_stops_the_daemon(
    exporter_config: WriteConfig, tmp_path: Path, silent_udp: str
) -> None:
    """A cycle stuck on a silent resolver is cancelled: not ready meanwhile, clean exit on
    SIGTERM long before the cycle could end by itself (40 domains, 4 at a time, 3 attempts
    of 5 s: about 150 s)."""
    domains = "".join(f'\n[[domains]]\nname = "d{i}.example"\n' for i in range(40))
    config = exporter_config(
        domains,
        nameserver=silent_udp,
        timeout_seconds=5,
        resolver="attempts = 3\nconcurrency = 4",
        interval_seconds=None,
        json_log=False,
    )
    process = start_exporter(["run", "--config", str(config.path)], tmp_path / "slow.log")
    slow = Exporter(process, config.port, config.path)
    with reaped(process):
        slow.wait_for(lambda: slow.get("/healthz")[0] == 200, "the HTTP server")
        assert slow.get("/readyz")[0] == 503  # the first cycle cannot have finished
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
