"""Running the shipped rules under `promtool test rules`, shared by the tests/unit/test_rules*.py
files: series in promtool's notation, the case table's shape, and the run itself."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "ses-deliverability.rules.yml"
JOB = {"job": "ses-deliverability-exporter", "instance": "exporter:10190"}

# (alert, eval time, series that fire it, labels it fires with, series where it must not fire)
Case = tuple[str, str, list[dict[str, str]], dict[str, str], list[dict[str, str]]]


def s(name: str, values: str, **labels: str) -> dict[str, str]:
    """One input series in promtool's notation, with the scrape labels added."""
    all_labels = {**JOB, **labels}
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(all_labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def job_only(**labels: str) -> dict[str, str]:
    return {"job": JOB["job"], **labels}


def with_job(**labels: str) -> dict[str, str]:
    return {**JOB, **labels}


def load_rules() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text())


def case_tests(cases: list[tuple[str, Case]], interval: str = "1m") -> list[dict[str, Any]]:
    """promtool tests from (mode, case) pairs: one where the alert fires, one where it must not."""
    tests: list[dict[str, Any]] = []
    for mode, (alert, eval_time, fire, fire_labels, quiet) in cases:
        tests.append(
            {
                "name": f"{alert} fires{mode}",
                "interval": interval,
                "input_series": fire,
                "alert_rule_test": [
                    {
                        "eval_time": eval_time,
                        "alertname": alert,
                        "exp_alerts": [{"exp_labels": fire_labels}],
                    }
                ],
            }
        )
        tests.append(
            {
                "name": f"{alert} stays quiet{mode}",
                "interval": interval,
                "input_series": quiet,
                "alert_rule_test": [{"eval_time": eval_time, "alertname": alert, "exp_alerts": []}],
            }
        )
    return tests


def run_promtool(
    promtool: str, directory: Path, tests: list[dict[str, Any]], evaluation_interval: str = "1m"
) -> None:
    """`promtool test rules` on a copy of the rules without annotations (promtool compares them
    verbatim; the expressions and `for:` are what the cases pin). Generous timeout: the machine
    may be loaded, and the cases of long windows evaluate days of rules."""
    stripped = load_rules()
    for group in stripped["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (directory / "rules.yml").write_text(yaml.safe_dump(stripped, sort_keys=False))
    (directory / "tests.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yml"],
                "evaluation_interval": evaluation_interval,
                # The file's order, recording rules first; promtool's default order is random,
                # and at 10-minute steps an alert evaluated before the recording rules of the
                # same step would read samples older than the 5-minute lookback.
                "group_eval_order": [group["name"] for group in stripped["groups"]],
                "tests": tests,
            },
            sort_keys=False,
        )
    )
    result = subprocess.run(
        [promtool, "test", "rules", "tests.yml"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
