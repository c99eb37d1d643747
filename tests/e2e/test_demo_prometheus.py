"""The demo as its users see it: a real Prometheus with the shipped rules scrapes
`ses-deliverability-exporter demo`, and every dashboard panel has data and only the alerts
the README lists for the demo go pending or firing.

The rules are the file as it is at run time, every `for:` divided by `FOR_SCALE` (a time
lapse: the real durations are pinned by promtool in tests/rules/), groups evaluated every
5 s. Prometheus scrapes every 5 s for at most `DEADLINE_SECONDS`. Every process is stopped.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.daemon import http_get, reaped, start_exporter
from helpers.net import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "ses-deliverability.rules.yml"
FOR_SCALE = 30  # 1h -> 2m, 15m -> 30s, 5m -> 10s
DEADLINE_SECONDS = 300.0
POLL_SECONDS = 5.0
# The alerts the demo is meant to show (the README's list): its domains' DNS failures, the
# account under review with SES's reputation figures past the warning level, the identity whose feedback reaches only email, and the events'
# bounce, complaint, 5xx, authentication, malformed and rendering-failure alerts.
EXPECTED_ALERTS = frozenset(
    {
        "DeliverabilityMailFromUnresolvable",
        "DeliverabilityDkimBroken",
        "DeliverabilityDmarcMissingOrInvalid",
        "DeliverabilitySpfPermerror",
        "DeliverabilityCheckFailing",
        "SESAccountUnderReview",
        "SESReputationBounceRateHigh",
        "SESReputationComplaintRateHigh",
        "SESFeedbackNotRouted",
        "SESBounceRateHigh",
        "SESBounceRateCritical",
        "SESComplaintRateHigh",
        "SESComplaintRateCritical",
        "DeliverabilityRecipientDomain5xxSpike",
        "DeliverabilityAuthenticationBounces",
        "DeliverabilityMalformedEvents",
        "DeliverabilityTemplateRenderingFailures",
    }
)
# Panels whose query cannot return data within DEADLINE_SECONDS, with the reason.
WINDOW_PANELS: dict[str, str] = {}


def _duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", text))


def time_lapse_rules(text: str) -> str:
    """The rules file with every `for:` divided by FOR_SCALE and groups evaluated every 5 s."""
    rules = yaml.safe_load(text)
    for group in rules["groups"]:
        group["interval"] = "5s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{_duration_seconds(str(rule['for'])) // FOR_SCALE}s"
    return str(yaml.safe_dump(rules, sort_keys=False))


def prom_query(port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]  # type: ignore[no-any-return]


def alerts(port: int) -> dict[str, set[str]]:
    """alertname -> the states ("pending", "firing") its alerts are in now."""
    found: dict[str, set[str]] = {}
    for sample in prom_query(port, "ALERTS"):
        labels = sample["metric"]
        found.setdefault(labels["alertname"], set()).add(labels["alertstate"])
    return found


def empty_panels(port: int) -> list[tuple[str, str, str]]:
    sys.path.insert(0, str(ROOT))
    from dashboards.generate import panel_queries  # noqa: PLC0415 - the generator, at the repo root

    return [
        (uid, title, expr)
        for uid, title, expr in panel_queries()
        if title not in WINDOW_PANELS and not prom_query(port, expr)
    ]


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_ready(port: int, path: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_get(port, path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"127.0.0.1:{port}{path} not ready after {timeout} s\n{log.read_text()[-3000:]}")


@pytest.fixture(name="prometheus_on_demo")
def _prometheus_on_demo(tmp_path: Path) -> Iterator[tuple[int, int, list[Path]]]:
    if shutil.which("prometheus") is None:
        pytest.fail(
            "prometheus is not installed: run the README's test command (it apt-installs it)"
        )
    demo_port, prom_port = free_port(), free_port()
    logs = [tmp_path / "demo.log", tmp_path / "prometheus.log"]
    demo = start_exporter(["demo", "--listen-address", f"127.0.0.1:{demo_port}"], logs[0])
    with reaped(demo):
        wait_ready(demo_port, "/readyz", logs[0])
        (tmp_path / "rules.yml").write_text(time_lapse_rules(RULES.read_text()))
        (tmp_path / "prometheus.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
                    "rule_files": [str(tmp_path / "rules.yml")],
                    "scrape_configs": [
                        {
                            "job_name": "ses-deliverability-exporter",
                            "static_configs": [{"targets": [f"127.0.0.1:{demo_port}"]}],
                        }
                    ],
                }
            )
        )
        with logs[1].open("wb") as out:
            prometheus = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(prom_port, "/-/ready", logs[1])
            yield demo_port, prom_port, logs
        finally:
            stop(prometheus)
        stop(demo)
        assert demo.returncode == 0, logs[0].read_text()[-3000:]


def test_demo_fills_every_panel_and_shows_only_its_alerts(
    prometheus_on_demo: tuple[int, int, list[Path]],
) -> None:
    demo_port, prom, logs = prometheus_on_demo
    started = time.monotonic()
    empty: list[tuple[str, str, str]] = []
    missing: set[str] = set(EXPECTED_ALERTS)
    while time.monotonic() - started < DEADLINE_SECONDS:
        time.sleep(POLL_SECONDS)
        now = alerts(prom)
        false = {name: states for name, states in now.items() if name not in EXPECTED_ALERTS}
        assert not {n: s for n, s in false.items() if "firing" in s}, false
        missing = set(EXPECTED_ALERTS - now.keys())
        empty = empty_panels(prom)
        if not missing and not empty:
            break
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in logs)
    assert not empty, "panels without data:\n" + "\n".join(map(str, empty)) + "\n" + tails
    assert not missing, f"expected alerts neither pending nor firing: {sorted(missing)}\n{tails}"
    # Nothing else fired at any time, nor is pending now (a stale collector, an absent
    # target, a consumer that looks stalled...).
    ever = {s["metric"]["alertname"] for s in prom_query(prom, 'ALERTS{alertstate="firing"}[10m]')}
    assert ever <= EXPECTED_ALERTS, sorted(ever - EXPECTED_ALERTS)
    assert alerts(prom).keys() <= EXPECTED_ALERTS, alerts(prom)
    # The landing page says where the events come from.
    _, page = http_get(demo_port, "/")
    assert "demo: events are generated in-process" in page
