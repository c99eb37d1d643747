"""The Alertmanager inhibition rules of docs/alertmanager.md: valid for amtool, naming only
alerts and labels the rules have, and rendered by the Helm chart as the same rules in the
prometheus-operator's AlertmanagerConfig form when enabled. (The paging end-to-end test loads
the snippet into a real Alertmanager and proves an inhibited alert stays away.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import helm_render
from helpers.promtool_rules import ROOT, load_rules

DOC = ROOT / "docs" / "alertmanager.md"
CHART = ROOT / "helm" / "ses-deliverability-exporter"
_MATCHER = re.compile(r'(?P<name>\w+)(?P<op>=~|!~|!=|=)"(?P<value>.*)"')


def inhibit_rules() -> list[dict[str, Any]]:
    """The documented snippet, as Alertmanager reads it."""
    (block,) = re.findall(r"```yaml\n(inhibit_rules:.*?)```", DOC.read_text(), flags=re.DOTALL)
    return yaml.safe_load(block)["inhibit_rules"]  # type: ignore[no-any-return]


def matchers(texts: list[str]) -> list[dict[str, str]]:
    """Alertmanager matcher strings in the operator's form (name, value, matchType)."""
    result = []
    for text in texts:
        match = _MATCHER.fullmatch(text)
        assert match, text
        result.append({"name": match["name"], "value": match["value"], "matchType": match["op"]})
    return result


def test_amtool_accepts_the_snippet(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail("amtool is not installed (it comes with prometheus-alertmanager)")
    config = {
        "route": {"receiver": "null"},
        "receivers": [{"name": "null"}],
        "inhibit_rules": inhibit_rules(),
    }
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [amtool, "check-config", str(tmp_path / "am.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_snippet_names_real_alerts_and_categories() -> None:
    alerts = {r["alert"] for g in load_rules()["groups"] for r in g["rules"] if "alert" in r}
    named: set[str] = set()
    for rule in inhibit_rules():
        for matcher in matchers(rule["source_matchers"] + rule["target_matchers"]):
            if matcher["name"] == "alertname":
                named |= set(matcher["value"].split("|"))
    assert named <= alerts, named - alerts
    bounces = next(
        r["expr"] for r in load_rules()["groups"][0]["rules"] if "authentication" in r["record"]
    )
    for category in ("sender_domain_dns", "dkim", "dmarc", "authentication"):
        assert category in bounces


def test_the_chart_renders_the_same_rules_when_enabled() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    off = helm_render.render_chart(CHART, values, release="ses", namespace="monitoring")
    assert "alertmanagerconfig.yaml" not in off
    values["alertmanagerConfig"]["enabled"] = True
    values["alertmanagerConfig"]["labels"] = {"alertmanagerConfig": "main"}
    (config,) = helm_render.render_chart(CHART, values, release="ses", namespace="monitoring")[
        "alertmanagerconfig.yaml"
    ]
    assert config["kind"] == "AlertmanagerConfig"
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert config["metadata"]["namespace"] == "monitoring"
    assert config["metadata"]["labels"]["alertmanagerConfig"] == "main"
    expected = []
    for rule in inhibit_rules():
        operator_rule: dict[str, Any] = {
            "sourceMatch": matchers(rule["source_matchers"]),
            "targetMatch": matchers(rule["target_matchers"]),
        }
        if rule.get("equal"):
            operator_rule["equal"] = rule["equal"]
        expected.append(operator_rule)
    assert config["spec"]["inhibitRules"] == expected
