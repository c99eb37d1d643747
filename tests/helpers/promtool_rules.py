"""Running the shipped rules under `promtool test rules`, shared by the tests/unit/test_rules*.py
files: series in promtool's notation, the case table's shape, and the run itself."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
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


NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def _rules_for(groups: list[dict[str, Any]], test: dict[str, Any]) -> frozenset[str]:
    """The rules a test can observe: the alerts it names and the recording rules their
    expressions (and its PromQL checks) read, transitively. A rule outside this set feeds
    nothing the test looks at; "*" (all) where an expression reads ALERTS."""
    rules = [rule for group in groups for rule in group["rules"]]
    named = {check["alertname"] for check in test.get("alert_rule_test", [])}
    wanted = [rule["expr"] for rule in rules if rule.get("alert") in named]
    wanted += [check["expr"] for check in test.get("promql_expr_test", [])]
    kept = {f"alert:{name}" for name in named}
    while wanted:
        names = set(NAME.findall(wanted.pop()))
        if names & {"ALERTS", "ALERTS_FOR_STATE"}:
            return frozenset("*")
        for rule in rules:
            key = f"record:{rule.get('record')}"
            if rule.get("record") in names and key not in kept:
                kept.add(key)
                wanted.append(rule["expr"])
    return frozenset(kept)


def _only(groups: list[dict[str, Any]], kept: frozenset[str]) -> list[dict[str, Any]]:
    """The groups in their order, each with only the kept rules in its order; empty ones out."""
    result = []
    for group in groups:
        rules = [
            rule
            for rule in group["rules"]
            if "*" in kept
            or f"alert:{rule.get('alert')}" in kept
            or f"record:{rule.get('record')}" in kept
        ]
        if rules:
            result.append({**group, "rules": rules})
    return result


def _promtool(promtool: str, directory: Path, name: str) -> str | None:
    result = subprocess.run(
        [promtool, "test", "rules", name],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    return None if result.returncode == 0 else result.stdout[-6000:] + result.stderr[-3000:]


def run_promtool(
    promtool: str, directory: Path, tests: list[dict[str, Any]], evaluation_interval: str = "1m"
) -> None:
    """`promtool test rules` on a copy of the rules without annotations (promtool compares them
    verbatim; the expressions and `for:` are what the cases pin). Generous timeout: the machine
    may be loaded, and the cases of long windows evaluate days of rules.

    promtool evaluates every rule of its files at every step of every test, while a test sees
    only the alerts it names and the recording rules those read (`_rules_for`). So the tests
    are grouped by that set, each group runs against a rules file of just those rules (groups
    and rules in the shipped order), one promtool per CPU at a time; every test runs once, and
    every promtool must pass."""
    assert tests, "no promtool tests to run"
    stripped = load_rules()
    for group in stripped["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    by_rules: dict[frozenset[str], list[dict[str, Any]]] = {}
    for test in tests:
        by_rules.setdefault(_rules_for(stripped["groups"], test), []).append(test)
    names = []
    for number, (kept, share) in enumerate(by_rules.items()):
        groups = _only(stripped["groups"], kept)
        (directory / f"rules-{number}.yml").write_text(
            yaml.safe_dump({"groups": groups}, sort_keys=False)
        )
        names.append(f"tests-{number}.yml")
        (directory / names[-1]).write_text(
            yaml.safe_dump(
                {
                    "rule_files": [f"rules-{number}.yml"],
                    "evaluation_interval": evaluation_interval,
                    # The file's order, recording rules first; promtool's default order is
                    # random, and at 10-minute steps an alert evaluated before the recording
                    # rules of the same step would read samples older than the 5-minute lookback.
                    "group_eval_order": [group["name"] for group in groups],
                    "tests": share,
                },
                sort_keys=False,
            )
        )
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        outputs = list(pool.map(lambda name: _promtool(promtool, directory, name), names))
    failures = [f"{name}:\n{output}" for name, output in zip(names, outputs, strict=True) if output]
    assert not failures, "\n".join(failures)
