"""The monitoring mixin (mixin/) is the one source of the rules: rules/*.rules.yml and the
chart's copy are its renders (scripts/render-rules.py), promtool accepts them, _config changes
exactly the parts it names, the chart substitutes its placeholders by plain replacement, and
grafanaDashboards are the generated dashboards with the selector added."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import _jsonnet  # type: ignore[import-untyped]
import pytest
import yaml
from test_packaging import CHART, RELEASE, ROOT, one, render_chart

RULES = ROOT / "rules" / "ses-deliverability.rules.yml"
CHART_RULES = CHART / "files" / RULES.name
SCRIPT = ROOT / "scripts" / "render-rules.py"
DEFAULT_SELECTOR = 'job="ses-deliverability-exporter"'
DEFAULT_RUNBOOKS = "https://github.com/ses-deliverability-exporter/ses-deliverability-exporter/blob/main/docs/runbooks.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_rules", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RENDER = _script()


def jsonnet(snippet: str) -> Any:
    return json.loads(_jsonnet.evaluate_snippet("test", snippet, jpathdir=[str(ROOT)]))


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r.get("alert") or r["record"]: r for g in doc["groups"] for r in g["rules"]}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed")
    return found


# ---- The committed files are the render ---------------------------------------------------------


def test_committed_rules_are_the_mixins_render() -> None:
    """rules/*.rules.yml and the chart's copy are exactly what render-rules.py writes."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert RENDER.render() == RULES.read_text(encoding="utf-8")


def test_check_reports_a_hand_edited_rules_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--check fails on a rules file edited by hand instead of in the mixin."""
    edited = tmp_path / RULES.name
    edited.write_text(RULES.read_text(encoding="utf-8").replace("for: 10m", "for: 11m", 1))
    chart = tmp_path / "chart.rules.yml"
    shutil.copy(CHART_RULES, chart)
    monkeypatch.setattr(RENDER, "RULES", edited)
    monkeypatch.setattr(RENDER, "CHART_RULES", chart)
    monkeypatch.setattr(RENDER, "ROOT", tmp_path)
    monkeypatch.setattr(
        RENDER, "renders", lambda: {edited: RENDER.render(), chart: chart.read_text()}
    )
    assert RENDER.main(["--check"]) == 1


def test_promtool_accepts_the_render(tmp_path: Path) -> None:
    """promtool check rules passes on the committed render and on a non-default one."""
    custom = tmp_path / "custom.rules.yml"
    custom.write_text(RENDER.render(CUSTOM))
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES), str(custom)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kube_prometheus_sees_the_rules_without_comments() -> None:
    """prometheusRules + prometheusAlerts as a mixin consumer manifests them: the rules file's
    groups, the comments (hidden fields) left out."""
    mixin = jsonnet(
        "local m = import 'mixin/mixin.libsonnet'; "
        "{groups: m.prometheusRules.groups + m.prometheusAlerts.groups}"
    )
    assert "comment" not in json.dumps(mixin)
    assert mixin == yaml.safe_load(RULES.read_text())


# ---- _config ----------------------------------------------------------------------------------

SELECTOR = 'job="mail", namespace="ses"'
RUNBOOKS = "https://wiki.example/ses-runbooks"
CUSTOM: dict[str, Any] = {
    "selector": SELECTOR,
    "runbookBaseUrl": RUNBOOKS,
    "ownerLabels": ["team", "service"],
    "sesBounceRate": {"warning": 0.03, "critical": 0.045},
    "sesBounceMinVolume": {"24h": {"recipients": 800}},
    "sesReputationComplaintRate": {"critical": 0.002},
    "forDuration": {"DeliverabilityCollectorDown": "30m"},
}


def test_a_non_default_config_changes_exactly_its_parts() -> None:
    """Selector, runbook URL, owner labels, thresholds, guards and a `for:` change where they
    are used, and nothing else does."""
    default = by_name(yaml.safe_load(RENDER.render()))
    custom = by_name(yaml.safe_load(RENDER.render(CUSTOM)))
    expected = copy.deepcopy(default)

    def edit(name: str, key: str, old: str, new: str) -> None:
        rule = expected[name]
        where, field = (rule["annotations"], key) if key != "expr" else (rule, key)
        assert old in where[field], (name, old)
        where[field] = where[field].replace(old, new)

    for name, rule in expected.items():
        if "annotations" in rule:
            edit(name, "runbook_url", DEFAULT_RUNBOOKS, RUNBOOKS)
        if "group_left (team)" in rule["expr"]:
            edit(name, "expr", "group_left (team)", "group_left (team, service)")
    edit(
        "domain:deliverability_domain_info:owner",
        "expr",
        "(domain, team)",
        "(domain, team, service)",
    )
    for key in ("expr", "description"):
        edit("DeliverabilityExporterAbsent", key, DEFAULT_SELECTOR, SELECTOR)
    for name, old, new in (
        ("SESBounceRateHigh", "0.02", "0.03"),
        ("SESBounceRateCritical", "0.04", "0.045"),
    ):
        for window in ("1h", "24h", "7d"):
            edit(name, "expr", f"rate{window} > {old}\n", f"rate{window} > {new}\n")
        edit(name, "expr", "increase24h > 500\n", "increase24h > 800\n")
    edit("SESReputationComplaintRateCritical", "expr", ">= 0.001", ">= 0.002")
    expected["DeliverabilityCollectorDown"]["for"] = "30m"
    edit("DeliverabilityCollectorDown", "description", "for 15 minutes", "for 30 minutes")

    assert custom == expected
    assert sum(r.get("expr") != default[n].get("expr") for n, r in custom.items()) > 10


@pytest.mark.parametrize(
    ("duration", "words"),
    [
        ("15m", "15 minutes"),
        ("1m", "a minute"),
        ("1h", "an hour"),
        ("2h", "2 hours"),
        ("1d", "a day"),
    ],
)
def test_durations_in_descriptions_read_as_words(duration: str, words: str) -> None:
    assert jsonnet(f"(import 'mixin/lib/utils.libsonnet').durationWords('{duration}')") == words


@pytest.mark.parametrize(
    ("number", "text"), [(0.0005, "0.0005"), (0.02, "0.02"), (200, "200"), (10000, "10000")]
)
def test_thresholds_print_as_promql_reads_them(number: float, text: str) -> None:
    assert jsonnet(f"(import 'mixin/lib/utils.libsonnet').num({number})") == text


# ---- The chart: placeholders replaced at install time -------------------------------------------


def test_the_chart_copy_is_the_render_with_placeholders() -> None:
    """The chart's file, its placeholders replaced by the defaults, reads as the rules file;
    every placeholder sits in a block scalar, so any selector stays inside its string."""
    text = CHART_RULES.read_text(encoding="utf-8")
    lines = [
        line
        for line in text.splitlines()
        if "__SELECTOR__" in line or "__RUNBOOK_BASE_URL__" in line
    ]
    assert any("__SELECTOR__" in line for line in lines)
    assert any("__RUNBOOK_BASE_URL__" in line for line in lines)
    assert all(not re.match(r"\s*[\w-]+: ", line) for line in lines), lines
    replaced = text.replace("__SELECTOR__", DEFAULT_SELECTOR).replace(
        "__RUNBOOK_BASE_URL__", DEFAULT_RUNBOOKS
    )
    assert yaml.safe_load(replaced) == yaml.safe_load(RULES.read_text())


def chart_rules(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rendering = render_chart({"prometheusRule": {"enabled": True, **values}})
    return by_name(one(rendering, "PrometheusRule", RELEASE)["spec"])


def test_the_chart_renders_the_rules_with_its_defaults() -> None:
    """Default values: the PrometheusRule's rules are the rules file's (job = the chart name)."""
    assert chart_rules({}) == by_name(yaml.safe_load(RULES.read_text()))


def test_the_chart_substitutes_selector_and_runbook_url() -> None:
    """A selector with quotes, a colon and a # and another runbook URL land verbatim; the
    Prometheus templates survive (no tpl); additionalRuleLabels still apply."""
    selector = "job=\"mail\", namespace=~'ses: #1'"
    rules = chart_rules(
        {
            "selector": selector,
            "runbookBaseUrl": "https://wiki.example/rb",
            "additionalRuleLabels": {"env": "prod"},
        }
    )
    absent = rules["DeliverabilityExporterAbsent"]
    assert absent["expr"] == f"absent(up{{{selector}}} == 1)\nor count(up{{{selector}}} == 0) > 0\n"
    assert f"`up{{{selector}}} == 0`" in absent["annotations"]["description"]
    alerts = [r for r in rules.values() if "alert" in r]
    assert all(
        r["annotations"]["runbook_url"] == "https://wiki.example/rb#" + r["alert"].lower()
        for r in alerts
    )
    assert all(r["labels"]["env"] == "prod" for r in alerts)
    assert "{{ $labels.domain }}" in rules["DeliverabilityDkimBroken"]["annotations"]["description"]
    assert "__" not in json.dumps(rules)
    template = (CHART / "templates" / "prometheusrule.yaml").read_text()
    assert not re.search(r"(\{\{-?|[|(])\s*tpl\s", template)


def test_the_chart_selector_follows_the_chart_name() -> None:
    """An empty selector is job="<chart name>", the job its ServiceMonitor gives the targets."""
    rendering = render_chart({"prometheusRule": {"enabled": True}, "nameOverride": "mailx"})
    (rule,) = [
        r
        for g in rendering["prometheusrule.yaml"][0]["spec"]["groups"]
        for r in g["rules"]
        if r.get("alert") == "DeliverabilityExporterAbsent"
    ]
    assert 'up{job="mailx"} == 1' in rule["expr"]


# ---- Dashboards: one source, the selector applied ---------------------------------------------


def strip_selector(text: str, selector: str) -> str:
    return text.replace("{" + selector + "}", "").replace("{" + selector + ", ", "{")


def test_grafana_dashboards_are_the_generated_ones_with_the_selector() -> None:
    """grafanaDashboards: dashboards/*.json with the selector in every deliverability_* series
    selector of every query, and otherwise the same."""
    selector = 'job="mail"'
    mixin = jsonnet(
        "((import 'mixin/mixin.libsonnet') + {_config+:: {selector: 'job=\"mail\"'}}).grafanaDashboards"
    )
    generated = {p.name: json.loads(p.read_text()) for p in (ROOT / "dashboards").glob("*.json")}
    assert sorted(mixin) == sorted(f"ses-deliverability-{n}" for n in generated)
    for name, dashboard in generated.items():
        text = json.dumps(mixin[f"ses-deliverability-{name}"], sort_keys=True)
        assert json.loads(strip_selector(text, selector.replace('"', '\\"'))) == dashboard, name
        queries = re.findall(r'"(?:expr|query)": "((?:[^"\\]|\\.)*)"', text)
        raw = [q for q in queries if re.search(r"(?<![\w:])deliverability_", q)]
        assert raw, name
        for query in raw:
            unselected = re.findall(
                r'(?<![\w:])deliverability_\w+(?!\w)(?!\{job=\\"mail\\")', query
            )
            assert not unselected, (name, query)


@pytest.mark.parametrize(
    ("expr", "selected"),
    [
        ("deliverability_x", 'deliverability_x{job="a"}'),
        ('rate(deliverability_x{k="v"}[5m])', 'rate(deliverability_x{job="a", k="v"}[5m])'),
        ("deliverability_x{} or up", 'deliverability_x{job="a"} or up'),
        (
            "ses:deliverability_x:rate1h / deliverability_y",
            'ses:deliverability_x:rate1h / deliverability_y{job="a"}',
        ),
    ],
)
def test_with_selector(expr: str, selected: str) -> None:
    snippet = f"(import 'mixin/lib/utils.libsonnet').withSelector({json.dumps(expr)}, 'job=\"a\"')"
    assert jsonnet(snippet) == selected
