"""The chart accepts what users of prometheus-community charts set, and its config as
structured values.

Each common key is rendered with the project's template renderer (no helm binary here), its
effect is checked in the manifests, and the manifests pass kubernetes-validate. The structured
config is rendered to TOML and read back by the exporter's own loader; its schema is the
exporter's (docs/config.schema.json, copied by scripts/sync-chart-schema.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from test_packaging import (
    BUILT_IN_KINDS,
    CHART,
    CI_VALUES,
    RELEASE,
    ROOT,
    container,
    default_values,
    kubernetes_validate,
    manifests,
    merged,
    one,
    render_chart,
    schema_errors,
)

from exporter.config import parse_config

SHARDED = {"sharding": {"enabled": True, "shards": 2}}


def pod_specs(rendering: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        m["spec"]["template"]["spec"]
        for m in manifests(rendering)
        if m["kind"] in ("Deployment", "StatefulSet")
    ]


def config_toml(rendering: dict[str, list[dict[str, Any]]]) -> str:
    return one(rendering, "ConfigMap", RELEASE)["data"]["config.toml"]  # type: ignore[no-any-return]


def validate_builtins(tmp_path: Path, rendering: dict[str, list[dict[str, Any]]]) -> None:
    kubernetes_validate(tmp_path, [d for d in manifests(rendering) if d["kind"] in BUILT_IN_KINDS])


# ---- the common keys of prometheus-community charts ---------------------------------------------

ZONES_VOLUME = {"name": "zones", "configMap": {"name": "mail-zones"}}
ZONES_MOUNT = {"name": "zones", "mountPath": "/etc/zones", "readOnly": True}
SPREAD = {
    "maxSkew": 1,
    "topologyKey": "topology.kubernetes.io/zone",
    "whenUnsatisfiable": "ScheduleAnyway",
    "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "checks"}},
}
DNS_CONFIG = {"options": [{"name": "ndots", "value": "1"}]}
DROP_GO = {"action": "drop", "sourceLabels": ["__name__"], "regex": "go_.*"}
ADD_CLUSTER = {"action": "replace", "targetLabel": "cluster", "replacement": "eu-1"}


@pytest.mark.parametrize("sharded", [False, True], ids=["single", "sharded"])
def test_pod_keys_reach_every_pod(sharded: bool, tmp_path: Path) -> None:
    """image.registry, priorityClassName, topologySpreadConstraints, extraVolumes/Mounts,
    dnsConfig and serviceAccount.automountServiceAccountToken land in every workload's pod."""
    override = {
        "image": {"registry": "registry.example.com:5000", "repository": "mirror/exporter"},
        "priorityClassName": "monitoring-high",
        "topologySpreadConstraints": [SPREAD],
        "extraVolumes": [ZONES_VOLUME],
        "extraVolumeMounts": [ZONES_MOUNT],
        "dnsConfig": DNS_CONFIG,
        "serviceAccount": {"automountServiceAccountToken": True},
        **(SHARDED if sharded else {}),
    }
    rendering = render_chart(override)
    specs = pod_specs(rendering)
    assert len(specs) == (2 if sharded else 1)
    for spec in specs:
        (exporter,) = spec["containers"]
        assert exporter["image"] == "registry.example.com:5000/mirror/exporter:0.1.0"
        assert spec["priorityClassName"] == "monitoring-high"
        assert spec["topologySpreadConstraints"] == [SPREAD]
        assert spec["dnsConfig"] == DNS_CONFIG
        assert ZONES_VOLUME in spec["volumes"]
        assert ZONES_MOUNT in exporter["volumeMounts"]
        assert spec["automountServiceAccountToken"] is True
    account = one(rendering, "ServiceAccount", RELEASE)
    assert account["automountServiceAccountToken"] is True
    # The helm test pod uses the same image and mounts.
    test_pod = one(rendering, "Pod", f"{RELEASE}-test-config")
    assert (
        container({"spec": {"template": test_pod}})["image"] == specs[0]["containers"][0]["image"]
    )
    assert ZONES_VOLUME in test_pod["spec"]["volumes"]
    validate_builtins(tmp_path, rendering)


def test_pod_keys_are_absent_by_default() -> None:
    """Unset, they render nothing (the default manifests are unchanged by their existence)."""
    (spec,) = pod_specs(render_chart())
    for key in ("priorityClassName", "topologySpreadConstraints", "dnsConfig"):
        assert key not in spec
    assert [v["name"] for v in spec["volumes"]] == ["config", "tmp"]
    assert spec["automountServiceAccountToken"] is False
    assert default_values()["image"]["registry"] == "ghcr.io"


def test_image_without_registry_and_by_digest() -> None:
    digest = "sha256:" + "ab" * 32
    rendering = render_chart({"image": {"registry": "", "repository": "local/exporter"}})
    assert container(one(rendering, "Deployment", RELEASE))["image"] == "local/exporter:0.1.0"
    pinned = render_chart({"image": {"digest": digest}})
    image = container(one(pinned, "Deployment", RELEASE))["image"]
    assert image == f"ghcr.io/ses-deliverability-exporter/ses-deliverability-exporter@{digest}"


def test_service_monitor_relabelings() -> None:
    override = {
        "serviceMonitor": {
            "enabled": True,
            "metricRelabelings": [DROP_GO],
            "relabelings": [ADD_CLUSTER],
        }
    }
    (endpoint,) = one(render_chart(override), "ServiceMonitor", RELEASE)["spec"]["endpoints"]
    assert endpoint["metricRelabelings"] == [DROP_GO]
    assert endpoint["relabelings"] == [ADD_CLUSTER]
    (plain,) = one(render_chart({"serviceMonitor": {"enabled": True}}), "ServiceMonitor", RELEASE)[
        "spec"
    ]["endpoints"]
    assert "metricRelabelings" not in plain
    assert "relabelings" not in plain


def test_additional_rule_labels_reach_every_alert_but_not_recording_rules() -> None:
    override = {
        "prometheusRule": {
            "enabled": True,
            "additionalRuleLabels": {"team": "mail", "severity": "page"},
            "severityOverrides": {"DeliverabilityCheckFailing": "info"},
        }
    }
    rule = one(render_chart(override), "PrometheusRule", RELEASE)
    rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    alerts = [r for r in rules if "alert" in r]
    assert alerts
    for alert in alerts:
        assert alert["labels"]["team"] == "mail"
        # The alert's own severity (or its override) wins over the additional label.
        assert alert["labels"]["severity"] != "page"
    failing = next(a for a in alerts if a["alert"] == "DeliverabilityCheckFailing")
    assert failing["labels"]["severity"] == "info"
    for recording in (r for r in rules if "record" in r):
        assert "team" not in recording.get("labels", {})


def test_all_on_ci_values_set_the_common_keys() -> None:
    """The all-on values (linted and rendered by the chart workflow and by
    test_packaging.py's kubernetes-validate run) set every one of the keys too."""
    (path,) = [p for p in CI_VALUES if p.name == "all-on-values.yaml"]
    text = path.read_text(encoding="utf-8")
    for key in (
        "registry",
        "priorityClassName",
        "topologySpreadConstraints",
        "extraVolumes",
        "extraVolumeMounts",
        "dnsConfig",
        "metricRelabelings",
        "relabelings",
        "additionalRuleLabels",
        "automountServiceAccountToken",
    ):
        assert f"{key}:" in text, key


# ---- the exporter config: structured, raw TOML, both -------------------------------------------


def test_structured_config_is_merged_and_rendered_to_toml(tmp_path: Path) -> None:
    """A structured override merges over the defaults (Helm's coalescing) and renders to TOML
    that the exporter's loader accepts with exactly those values."""
    override = {
        "config": {
            "log": {"level": "debug"},
            "resolver": {"nameservers": ["10.0.0.2:53"], "max_queries_per_second": 250.5},
            "domains": [
                {
                    "name": "example.com",
                    "mail_from": "mail.example.com",
                    "dkim_tokens": ["a" * 32, "b" * 32, "c" * 32],
                    "labels": {"team": "mail & <ops>", "tier": "1"},
                },
                {"name": "example.org"},
            ],
            "metrics": {"series_budget": 100000},
        }
    }
    values = merged(default_values(), override)
    text = config_toml(render_chart(override))
    assert tomllib.loads(text) == values["config"]
    assert "max_queries_per_second = 250.5" in text
    assert "series_budget = 100000" in text  # an integer, not 100000.0 or 1e+05
    config = parse_config(tomllib.loads(text))
    assert config.log.level == "debug"
    assert [d.name for d in config.domains] == ["example.com", "example.org"]
    assert dict(config.domains[0].labels) == {"team": "mail & <ops>", "tier": "1"}
    assert config.resolver.timeout_seconds == 2.0  # a default kept by the merge
    validate_builtins(tmp_path, render_chart(override))


def test_raw_toml_is_still_accepted() -> None:
    """configToml (with config: null), or a TOML string as config, is mounted as it is."""
    raw = '[[domains]]\nname = "raw.example"\n'
    for override in ({"config": None, "configToml": raw}, {"config": raw}):
        assert schema_errors(merged(default_values(), override)) == []
        assert config_toml(render_chart(override)) == raw
    assert parse_config(tomllib.loads(raw)).domains[0].name == "raw.example"


def test_config_and_config_toml_together_are_a_schema_error() -> None:
    raw = '[[domains]]\nname = "raw.example"\n'
    for override in ({"configToml": raw}, {"config": raw, "configToml": raw}):
        errors = schema_errors(merged(default_values(), override))
        assert errors, override


def test_config_schema_rejects_what_the_exporter_rejects() -> None:
    """Wrong types, unknown keys and out-of-range values fail `helm install`'s schema check
    with the path of the key, before any pod starts."""
    for override, where in (
        ({"config": {"resolver": {"timeout_seconds": "2s"}}}, "config.resolver.timeout_seconds"),
        ({"config": {"schedule": {"interval": 60}}}, "config.schedule"),
        ({"config": {"domains": [{"name": "a.example", "dkim": []}]}}, "config.domains.0"),
        ({"config": {"cluster": {"role": "leader"}}}, "config.cluster.role"),
    ):
        errors = schema_errors(merged(default_values(), override))
        assert any(e.startswith(where) for e in errors), (override, errors)


def test_values_schema_carries_the_exporters_config_schema() -> None:
    """values.schema.json's config definitions are docs/config.schema.json's (regenerate with
    python scripts/sync-chart-schema.py after python -m exporter.config.reference)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync-chart-schema.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    config = json.loads((ROOT / "docs" / "config.schema.json").read_text(encoding="utf-8"))
    assert set(schema["definitions"]["config"]["properties"]) == set(config["properties"])
    assert schema["properties"]["config"]["then"] == {"$ref": "#/definitions/config"}


def test_helm_test_runs_validate_config_on_the_rendered_file() -> None:
    rendering = render_chart()
    pod = one(rendering, "Pod", f"{RELEASE}-test-config")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (check,) = pod["spec"]["containers"]
    assert check["args"][0] == "validate-config"
    mounts = {m["name"]: m["mountPath"] for m in check["volumeMounts"]}
    assert check["args"][1] == f"{mounts['config']}/config.toml"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert (
        volumes["config"]["configMap"]["name"]
        == one(rendering, "ConfigMap", RELEASE)["metadata"]["name"]
    )
    assert check["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["restartPolicy"] == "Never"


def test_resources_are_sized_from_the_measured_figures() -> None:
    """Requests and limits from bench/README.md: ~60 MB at up to 10,000 domains plus the
    event consumer's 43 MB window fit the request; the daemon's 339 MB peak at 100,000 domains
    without a series budget plus 43 MB fit the limit."""
    resources = default_values()["resources"]
    mib = {"Mi": 1, "Gi": 1024}

    def to_mb(quantity: str) -> float:
        return float(quantity[:-2]) * mib[quantity[-2:]] * 1.048576

    assert to_mb(resources["requests"]["memory"]) >= 60 + 43
    assert to_mb(resources["limits"]["memory"]) >= 339 + 43
    assert resources["requests"]["cpu"]
    assert "cpu" not in resources["limits"]


def test_the_example_config_round_trips_through_structured_values() -> None:
    """config.example.toml (every section: nested tables, arrays of tables inside tables,
    inline arrays, floats, booleans) given as structured values renders to the same config."""
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    override = {"config": example}
    assert schema_errors(merged(default_values(), {"config": None}) | override) == []
    text = config_toml(render_chart(override, validate=False))
    rendered = tomllib.loads(text)
    assert rendered == merged(default_values()["config"], example)
    assert "[[aws.accounts]]" in text
    assert "[[events.queues]]" in text
    assert parse_config(rendered, source="values") == parse_config(
        merged(default_values()["config"], example), source="values"
    )
