"""The Grafana dashboards: generated, importable, and every query real PromQL over real metrics.

Grafana itself is not available here, so the JSON is checked statically: the committed files
equal a fresh generation, the import conventions hold (id null, stable uid, a datasource
variable, no __inputs), every metric and label a query names exists in the exporter's catalogue,
and every query parses, through `promtool check rules`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from exporter.metrics import CATALOGUE, MetricSpec

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "dashboards"
UIDS = {
    "overview.json": "ses-deliverability-overview",
    "bounces.json": "ses-deliverability-bounces",
    "account.json": "ses-deliverability-account",
    "exporter-health.json": "ses-deliverability-exporter",
}
RECORDING_RULES = {
    # record name -> the labels it keeps (its aggregation level)
    "ses:deliverability_ses_bounce_ratio:rate1h": set(),
    "ses:deliverability_ses_complaint_ratio:rate1h": set(),
    "recipient_domain:deliverability_ses_bounce_5xx_ratio:rate1h": {"recipient_domain"},
    "recipient_provider:deliverability_ses_bounce_5xx_ratio:rate1h": {"recipient_provider"},
}
CATALOGUE_BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOGUE}
# Target labels Prometheus adds to every series; histograms add `le`.
TARGET_LABELS = {"instance", "job"}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dashboards_generate", DASHBOARDS_DIR / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="gen", scope="module")
def _gen() -> ModuleType:
    return _load_generator()


@pytest.fixture(name="dashboards", scope="module")
def _dashboards() -> dict[str, dict[str, Any]]:
    """The committed JSON files, as Grafana would import them."""
    return {name: json.loads((DASHBOARDS_DIR / name).read_text(encoding="utf-8")) for name in UIDS}


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel except rows (panels inside collapsed rows included)."""
    found = []
    for panel in dashboard["panels"]:
        found.extend(panel.get("panels", []))
        if panel["type"] != "row":
            found.append(panel)
    return found


def _targets(
    dashboards: dict[str, dict[str, Any]],
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(file name, panel, target) for every query of every dashboard."""
    return [
        (name, panel, target)
        for name, dashboard in dashboards.items()
        for panel in _panels(dashboard)
        for target in panel["targets"]
    ]


def _without_rule_names(expr: str) -> str:
    for record in RECORDING_RULES:
        expr = expr.replace(record, " ")
    return expr


def _metric_names(expr: str) -> set[str]:
    """The catalogue names a query refers to (histogram series mapped to their histogram)."""
    names = set()
    for name in re.findall(r"deliverability_[a-z0-9_]+", _without_rule_names(expr)):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        spec = CATALOGUE_BY_NAME.get(base)
        names.add(base if spec is not None and spec.kind == "histogram" else name)
    return names


def test_sdk_is_the_pinned_version(gen: ModuleType) -> None:
    """An unpinned install picks the Grafana 10.1 line (highest epoch): say so, not a JSON diff."""
    assert importlib.metadata.version("grafana-foundation-sdk") == gen.SDK_VERSION


def test_committed_files_equal_a_fresh_generation(gen: ModuleType) -> None:
    """No hand edit drifts: the JSON and README are exactly what generate.py writes."""
    rendered = gen.render()
    assert set(rendered) == {*UIDS, "README.md"}
    for name, content in rendered.items():
        committed = (DASHBOARDS_DIR / name).read_text(encoding="utf-8")
        assert committed == content, (
            f"dashboards/{name} is stale: run python dashboards/generate.py"
        )
    assert {p.name for p in DASHBOARDS_DIR.glob("*.json")} == set(UIDS)


def test_generation_is_deterministic(gen: ModuleType) -> None:
    assert gen.render() == gen.render()


def test_check_mode_reports_stale_files(gen: ModuleType, tmp_path: Path) -> None:
    """`generate.py --check` fails on a missing or edited file and passes once written."""
    assert gen.main(["--check", "--out", str(tmp_path)]) == 1
    assert gen.main(["--out", str(tmp_path)]) == 0
    assert gen.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "overview.json").write_text("{}\n", encoding="utf-8")
    assert gen.main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", sorted(UIDS))
def test_import_conventions(dashboards: dict[str, dict[str, Any]], name: str) -> None:
    """id null, stable uid, current schema, a datasource variable, no __inputs."""
    dashboard = dashboards[name]
    assert "id" in dashboard
    assert dashboard["id"] is None
    assert dashboard["uid"] == UIDS[name]
    assert dashboard["schemaVersion"] >= 39
    assert "__inputs" not in dashboard
    assert "__requires" not in dashboard
    assert dashboard["title"]
    assert (DASHBOARDS_DIR / name).read_text(encoding="utf-8").endswith("}\n")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert variable["multi"] is True
            assert variable["includeAll"] is True


@pytest.mark.parametrize("name", sorted(UIDS))
def test_json_fits_the_sdk_dashboard_model(
    dashboards: dict[str, dict[str, Any]], name: str
) -> None:
    """The file parses back into grafana-foundation-sdk's Dashboard model without losing a key."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: PLC0415 - pinned test extra
    from grafana_foundation_sdk.models.dashboard import Dashboard  # noqa: PLC0415 - same

    parsed = Dashboard.from_json(dashboards[name])
    again = json.loads(json.dumps(parsed, cls=JSONEncoder))
    assert "id" not in again  # the SDK omits a null id; _finish() writes it explicitly
    assert {**again, "id": None} == dashboards[name]


@pytest.mark.parametrize("name", sorted(UIDS))
def test_every_panel_has_title_datasource_and_queries(
    dashboards: dict[str, dict[str, Any]], name: str
) -> None:
    panels = _panels(dashboards[name])
    assert panels
    for panel in panels:
        assert panel["title"].strip()
        assert panel["description"].strip(), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert all(ref_ids), panel["title"]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", {"uid": "${datasource}"})["uid"] == "${datasource}"


@pytest.mark.parametrize("name", sorted(UIDS))
def test_layout(dashboards: dict[str, dict[str, Any]], name: str) -> None:
    """Unique panel ids and titles; panels fit the 24-column grid and do not overlap."""
    everything = dashboards[name]["panels"]
    ids = [panel["id"] for panel in everything]
    assert len(set(ids)) == len(ids)
    titles = [panel["title"] for panel in _panels(dashboards[name])]
    assert len(set(titles)) == len(titles)
    cells: set[tuple[int, int]] = set()
    for panel in everything:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_rates_use_rate_interval(dashboards: dict[str, dict[str, Any]]) -> None:
    """Every range selector is [$__rate_interval]; fixed windows live only in recording rules."""
    for _, panel, target in _targets(dashboards):
        expr = target["expr"]
        ranges = re.findall(r"\[([^\]]*)\]", expr)
        assert all(r == "$__rate_interval" for r in ranges), (panel["title"], ranges)
        calls = re.findall(r"(?<![\w:])(?:rate|irate|increase)\s*\(", expr)
        assert len(calls) <= len(ranges), panel["title"]
        assert not re.search(r"(?<![\w:])irate\s*\(", expr), panel["title"]


def test_metric_names_exist(dashboards: dict[str, dict[str, Any]]) -> None:
    """Every metric a query or variable names is in the catalogue or a recording rule."""
    used: set[str] = set()
    for _, panel, target in _targets(dashboards):
        expr = target["expr"]
        rules = set(re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", expr))
        assert rules <= set(RECORDING_RULES), (panel["title"], rules)
        names = _metric_names(expr)
        assert names <= set(CATALOGUE_BY_NAME), (panel["title"], names - set(CATALOGUE_BY_NAME))
        used |= names | rules
    for dashboard in dashboards.values():
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                match = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"])
                assert match, variable["query"]
                metric, label = match.groups()
                assert label in CATALOGUE_BY_NAME[metric].labels
    assert set(RECORDING_RULES) <= used


def test_recording_rules_are_recorded_in_rules_dir(gen: ModuleType) -> None:
    """The rule names the dashboards query are the ones rules/*.rules.yml records."""
    assert set(gen.RECORDING_RULES) == set(RECORDING_RULES)
    recorded = {
        name
        for path in (ROOT / "rules").glob("*.rules.yml")
        for name in re.findall(
            r"^\s*-?\s*record:\s*(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE
        )
    }
    assert set(RECORDING_RULES) <= recorded, set(RECORDING_RULES) - recorded


def _allowed_labels(expr: str) -> set[str]:
    allowed = set(TARGET_LABELS)
    for name in _metric_names(expr):
        spec = CATALOGUE_BY_NAME[name]
        allowed |= set(spec.labels) | ({"le"} if spec.kind == "histogram" else set())
    for record, labels in RECORDING_RULES.items():
        if record in expr:
            allowed |= labels
    return allowed


def test_labels_exist_on_the_queried_metrics(dashboards: dict[str, dict[str, Any]]) -> None:
    """Grouping, matching, matcher and legend labels are labels of the metrics queried."""
    for _, panel, target in _targets(dashboards):
        expr = target["expr"]
        allowed = _allowed_labels(expr)
        used = set()
        for clause in re.findall(
            r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr
        ):
            used |= {label.strip() for label in clause.split(",") if label.strip()}
        for matchers in re.findall(r"\{([^{}]*)\}", _without_rule_names(expr)):
            used |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
        used |= set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
        assert used <= allowed, (panel["title"], used - allowed)


def test_template_variables_are_defined_and_used_as_regex(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    """A variable is multi-value with All = .*, so it may appear only as label=~"$var"."""
    for name, panel, target in _targets(dashboards):
        defined = {v["name"] for v in dashboards[name]["templating"]["list"]}
        expr = target["expr"].replace("$__rate_interval", "")
        for variable in re.findall(r"\$\{?(\w+)", expr):
            assert variable in defined, (panel["title"], variable)
        assert len(re.findall(r"\$", expr)) == len(re.findall(r'\w+=~"\$\w+"', expr)), panel[
            "title"
        ]


def test_panel_queries(gen: ModuleType, dashboards: dict[str, dict[str, Any]]) -> None:
    """panel_queries() lists every target, with nothing left for Grafana to substitute."""
    queries = gen.panel_queries()
    assert len(queries) == len(_targets(dashboards))
    assert {uid for uid, _, _ in queries} == set(UIDS.values())
    for uid, title, expr in queries:
        assert "$" not in expr, (uid, title)
        assert "[5m]" in expr or "rate(" not in expr
    titles = {(d["uid"], p["title"]) for d in dashboards.values() for p in _panels(d)}
    assert {(uid, title) for uid, title, _ in queries} == titles
    assert all("[1m]" in expr for _, _, expr in gen.panel_queries("1m") if "rate(" in expr)


def test_substitute_variables(gen: ModuleType) -> None:
    expr = 'sum(rate(x{a=~"$domain", b=~"${aws_region}"}[$__rate_interval]))'
    assert gen.substitute_variables(expr, "2m") == 'sum(rate(x{a=~".*", b=~".*"}[2m]))'


def test_readme_lists_every_panel_with_its_query(dashboards: dict[str, dict[str, Any]]) -> None:
    readme = (DASHBOARDS_DIR / "README.md").read_text(encoding="utf-8")
    for name, dashboard in dashboards.items():
        assert f"`{name}`" in readme
        assert f"`{dashboard['uid']}`" in readme
        for panel in _panels(dashboard):
            assert f"**{panel['title']}**" in readme
            for target in panel["targets"]:
                assert "\n".join(f"  {line}" for line in target["expr"].splitlines()) in readme


def _promtool() -> str:
    promtool = shutil.which("promtool") or shutil.which("promtool", path="/usr/sbin:/usr/bin")
    if promtool is None:
        pytest.fail("promtool is missing: apt-get install prometheus (scripts/test.sh does)")
    return promtool


def _check_rules(tmp_path: Path, exprs: list[str]) -> subprocess.CompletedProcess[str]:
    """Every expression as a recording rule; YAML accepts this JSON as it is."""
    rules = [{"record": f"dashboard_query_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}, indent=1))
    return subprocess.run(
        [_promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_query_parses_with_promtool(gen: ModuleType, tmp_path: Path) -> None:
    exprs = [expr for _, _, expr in gen.panel_queries()]
    result = _check_rules(tmp_path, exprs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promtool_check_catches_a_broken_query(tmp_path: Path) -> None:
    """The harness above would notice a parse error (so its pass means something)."""
    result = _check_rules(tmp_path, ["sum(rate(deliverability_dns_queries_total[5m])"])
    assert result.returncode != 0
    assert "parse" in (result.stdout + result.stderr)


# The panels over per-shard counts, evaluated by promtool on the same domains reported by one
# pod and by two check shards (the Helm chart's sharding; an events pod exports no check
# series): both must show the same numbers.
DOMAINS = {  # (check, status) -> domains
    ("mx", "pass"): 7,
    ("mx", "fail"): 3,
    ("dkim", "pass"): 9,
    ("dkim", "fail"): 1,
    ("dmarc", "pass"): 8,
    ("dmarc", "warn"): 2,
}
WITHHELD = {"fail": 16, "warn": 4, "pass": 30000}
SHARD_PANELS = {  # panel title -> [(labels, value)] expected from DOMAINS and WITHHELD
    "Failing checks": [("{}", 4)],
    "Warning checks": [("{}", 2)],
    "Unknown checks": [("{}", 0)],
    "Domains monitored": [("{}", 10)],
    "Domains by check and status": [
        (f'{{check="{check}", status="{status}"}}', count)
        for (check, status), count in DOMAINS.items()
    ],
    "Not-passing check series withheld": [("{}", 20)],
}


def _series(pods: list[dict[str, float]]) -> list[dict[str, str]]:
    """The gauges as each pod exports them; pods[i] maps a key of DOMAINS/WITHHELD to its share."""
    series = []
    for index, shares in enumerate(pods):
        target = f'instance="10.0.0.{index + 1}:10190", pod="checks-{index}", job="x"'
        for key, value in shares.items():
            if isinstance(key, tuple):
                name = f'deliverability_domains{{check="{key[0]}", status="{key[1]}", {target}}}'
            else:
                name = (
                    f'deliverability_check_status_withheld_series{{worst_status="{key}", {target}}}'
                )
            series.append({"series": name, "values": f"{value}x5"})
    return series


def _split(totals: dict[Any, int]) -> tuple[dict[Any, int], dict[Any, int]]:
    first = {key: (value + 1) // 2 for key, value in totals.items()}
    return first, {key: value - first[key] for key, value in totals.items()}


def test_shard_count_panels_show_the_same_numbers_on_one_pod_and_two_shards(
    gen: ModuleType, tmp_path: Path
) -> None:
    queries = {title: expr for _, title, expr in gen.panel_queries() if title in SHARD_PANELS}
    assert set(queries) == set(SHARD_PANELS)
    domains, withheld = _split(DOMAINS), _split(WITHHELD)
    layouts = {
        "one pod": [{**DOMAINS, **WITHHELD}],
        "two shards": [{**domains[0], **withheld[0]}, {**domains[1], **withheld[1]}],
    }
    tests = [
        {
            "name": f"{title} ({layout})",
            "interval": "1m",
            "input_series": _series(pods),
            "promql_expr_test": [
                {
                    "expr": queries[title],
                    "eval_time": "2m",
                    "exp_samples": [
                        {"labels": labels, "value": value} for labels, value in expected
                    ],
                }
            ],
        }
        for layout, pods in layouts.items()
        for title, expected in SHARD_PANELS.items()
    ]
    path = tmp_path / "tests.yml"
    path.write_text(json.dumps({"rule_files": [], "tests": tests}, indent=1))
    result = subprocess.run(
        [_promtool(), "test", "rules", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
