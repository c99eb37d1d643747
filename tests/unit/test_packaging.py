"""The packaging: Dockerfile, Helm chart, systemd unit and the chart's copies of the rules.

No helm or kubeconform exists here (.github/workflows/chart.yml runs those on a hosted forge;
scripts/image-test.sh builds and runs the image with podman), so this checks what can be
checked offline and fast:
- hadolint on the Dockerfile, and the facts the image promises (non-root UID, port, exec-form
  entry point, health check, pinned dependencies, base image labels);
- values.yaml against values.schema.json, and invalid values rejected by it;
- the manifests of tests/data/k8s/ (the rendering of the default values) against the
  Kubernetes schemas with kubernetes-validate, and against the templates, so drift shows;
- the systemd unit's directives (and `systemd-analyze` where it exists);
- the chart's files/ as byte-identical copies of dashboards/*.json (its rules file is a render
  of the mixin: tests/unit/test_mixin.py).
"""

from __future__ import annotations

import configparser
import copy
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import helm_render
from helpers.helm_render import TemplateError
from jsonschema import Draft7Validator
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from exporter import __version__
from exporter.cli import _parser, _run_overrides
from exporter.config import load_config, parse_config, parse_hostport

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CHART = ROOT / "helm" / "ses-deliverability-exporter"
TEMPLATES = CHART / "templates"
RENDERED = ROOT / "tests" / "data" / "k8s"
UNIT = ROOT / "deploy" / "ses-deliverability-exporter.service"
SYNC_SCRIPT = ROOT / "scripts" / "sync-chart-files.sh"

PORT = 10190
UID = 10190
CONFIG_PATH = "/etc/ses-deliverability-exporter/config.toml"
IMAGE = "python:3.11-slim-bookworm"
KUBERNETES_VERSION = "1.29.0"
# The scrape job the rules' DeliverabilityExporterAbsent expects (the chart name via jobLabel).
JOB_NAME = "ses-deliverability-exporter"


def venv_tool(name: str) -> str:
    """A command installed into the test venv (next to this Python), else found on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install the project's [test] extras")
    return found


# ---- Dockerfile ---------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, args = pending.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, each list starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, args))
    return result


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage: the image that ships."""
    return stages()[-1]


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    found = [args for kw, args in stage if kw == keyword]
    assert len(found) == 1, f"expected one {keyword} in the runtime stage, got {found}"
    return found[0]


def test_hadolint_clean() -> None:
    """hadolint reports nothing on the Dockerfile (ignores would be inline, with a reason)."""
    result = subprocess.run(
        [venv_tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_dockerfile_is_multi_stage_on_the_pinned_slim_image() -> None:
    """A wheel-building stage and a runtime stage, both on BASE_IMAGE, the slim tag by default
    (the release workflow pins it by digest); its name and digest are labels of the image."""
    args = [a for kw, a in dockerfile_instructions()[:1] if kw == "ARG"]
    assert args == [f"BASE_IMAGE={IMAGE}"]
    builder, runtime = stages()
    assert builder[0] == ("FROM", "${BASE_IMAGE} AS builder")
    assert runtime[0] == ("FROM", "${BASE_IMAGE}")
    assert any("pip wheel" in args and "/wheels" in args for kw, args in builder if kw == "RUN")
    labels = " ".join(args for keyword, args in runtime if keyword == "LABEL")
    assert 'org.opencontainers.image.base.name="${BASE_IMAGE}"' in labels
    assert 'org.opencontainers.image.base.digest="${BASE_DIGEST}"' in labels
    assert {"BASE_IMAGE", 'BASE_DIGEST=""'} <= {a for kw, a in runtime if kw == "ARG"}


def test_image_installs_the_pinned_versions() -> None:
    """The builder installs under constraints.txt (PIP_CONSTRAINT also reaches the isolated
    build environment); it pins every runtime dependency, within pyproject.toml's ranges."""
    builder = stages()[0]
    env = " ".join(args for keyword, args in builder if keyword == "ENV")
    assert "PIP_CONSTRAINT=/src/constraints.txt" in env
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text.split("#")[0])
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {text}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for text in pyproject["build-system"]["requires"]:  # the build backend too
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} (build-system) is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {text}"


def test_runtime_stage_installs_wheels_without_build_tools_or_cache() -> None:
    """The runtime stage installs the builder's wheels only: no compilers, no pip cache."""
    runs = " ".join(args for keyword, args in runtime_stage() if keyword == "RUN")
    assert "from=builder" in runs
    assert re.search(r"pip install --no-cache-dir --no-index /wheels/\*\.whl", runs)
    for tool in ("apt-get", "gcc", "build-essential", "curl", "wget"):
        assert tool not in runs


def test_dockerfile_runs_as_fixed_numeric_non_root_user() -> None:
    """USER is numeric (runAsNonRoot can verify it) and is the UID the chart expects."""
    user = only(runtime_stage(), "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) == UID
    assert not gid or int(gid) == UID
    runs = " ".join(args for keyword, args in runtime_stage() if keyword == "RUN")
    assert f"--uid {UID}" in runs
    assert f"--gid {UID}" in runs


def test_dockerfile_entrypoint_cmd_port_and_healthcheck() -> None:
    """Exec-form ENTRYPOINT and CMD, EXPOSE 10190, and a HEALTHCHECK on /healthz via urllib."""
    stage = runtime_stage()
    assert only(stage, "EXPOSE") == str(PORT)
    assert json.loads(only(stage, "ENTRYPOINT")) == ["ses-deliverability-exporter"]
    assert json.loads(only(stage, "CMD")) == ["run", "--config", CONFIG_PATH]
    healthcheck = only(stage, "HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    probe = json.loads(command)
    assert probe[:2] == ["python", "-c"]
    assert "urllib.request" in probe[2]
    assert "os.environ['HEALTHCHECK_URL']" in probe[2]  # TLS or another port: set it
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert f"HEALTHCHECK_URL=http://127.0.0.1:{PORT}/healthz" in env


def test_dockerfile_suits_a_read_only_root_filesystem() -> None:
    """No .pyc writes at run time, and HOME on the one writable path (/tmp)."""
    env = " ".join(args for keyword, args in runtime_stage() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env


def test_container_demo_listens_on_every_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the image, `demo` listens on :10190 (reachable through a published port); elsewhere
    its default stays 127.0.0.1."""
    env = " ".join(args for keyword, args in runtime_stage() if keyword == "ENV")
    assert f"SES_EXPORTER_DEMO_LISTEN_ADDRESS=:{PORT}" in env
    monkeypatch.delenv("SES_EXPORTER_DEMO_LISTEN_ADDRESS", raising=False)
    assert _parser().parse_args(["demo"]).listen_address == f"127.0.0.1:{PORT}"
    monkeypatch.setenv("SES_EXPORTER_DEMO_LISTEN_ADDRESS", f":{PORT}")
    assert _parser().parse_args(["demo"]).listen_address == f":{PORT}"


def test_dockerfile_oci_labels() -> None:
    """OCI labels name the image, its licence, and the version from a build argument."""
    stage = runtime_stage()
    labels = " ".join(args for keyword, args in stage if keyword == "LABEL")
    for key in ("title", "description", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    assert f"VERSION={__version__}" in [args for keyword, args in stage if keyword == "ARG"]


def test_dockerignore_keeps_local_state_out_but_not_the_sources() -> None:
    """Caches, the venv, .git and bench results stay out; the files the image copies stay in."""
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".git", ".venv", ".pytest_cache", ".hypothesis", "**/__pycache__"):
        assert needed in patterns
    assert "bench/results" in patterns
    copied = [
        source
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY"
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    assert copied == [
        "constraints.txt",
        "pyproject.toml",
        "setup.py",
        "README.md",
        "LICENSE",
        "build_support/",
        "exporter/",
    ]
    for source in copied:
        assert source.rstrip("/") not in {p.rstrip("/") for p in patterns}


# ---- Helm chart: values and schema ------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def default_values() -> dict[str, Any]:
    return load_yaml(CHART / "values.yaml")  # type: ignore[no-any-return]


def schema_validator() -> Draft7Validator:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of user values over the defaults: maps merge, null deletes a key."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def schema_errors(values: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in schema_validator().iter_errors(values)
    ]


def test_chart_metadata() -> None:
    """Chart.yaml is a v2 application chart whose appVersion is the exporter's version."""
    chart = load_yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == CHART.name
    assert chart["type"] == "application"
    assert chart["appVersion"] == __version__


def test_default_values_validate_against_the_schema() -> None:
    """values.yaml passes values.schema.json (draft-07), as `helm install` would check."""
    assert schema_errors(default_values()) == []


def test_ci_values_validate_against_the_schema() -> None:
    """The all-on values the chart workflow renders pass the schema too."""
    override = load_yaml(CHART / "ci" / "all-on-values.yaml")
    assert schema_errors(merged(default_values(), override)) == []


def test_openshift_style_null_user_is_accepted() -> None:
    """Dropping runAsUser (null) for a platform that assigns UIDs is allowed."""
    override = {"securityContext": {"runAsUser": None}, "podSecurityContext": {"runAsUser": None}}
    assert schema_errors(merged(default_values(), override)) == []


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"replicas": "two"}, "replicas"),
        ({"replicas": -1}, "replicas"),
        ({"image": {"repository": None}}, "image"),
        ({"image": {"repository": ""}}, "image.repository"),
        ({"image": {"digest": "latest"}}, "image.digest"),
        ({"securityContext": {"runAsUser": 0}}, "securityContext.runAsUser"),
        ({"podSecurityContext": {"runAsUser": 0}}, "podSecurityContext.runAsUser"),
        ({"config": {"domains": [{"nam": "example.com"}]}}, "config"),
        ({"config": {"resolver": {"attempts": "2"}}}, "config"),
        ({"config": {"resolvers": {}}}, "config"),
        ({"config": {"log": {"level": "verbose"}}}, "config"),
        ({"config": ["example.com"]}, "config"),
        ({"configToml": "[[domains]]\nname = 'a.example'\n"}, ""),  # and config: both set
        ({"image": {"registry": "https://ghcr.io"}}, "image.registry"),
        ({"priorityClassName": "High"}, "priorityClassName"),
        ({"topologySpreadConstraints": [{"maxSkew": 1}]}, "topologySpreadConstraints"),
        ({"extraVolumeMounts": [{"name": "zones"}]}, "extraVolumeMounts"),
        ({"dnsConfig": {"option": []}}, "dnsConfig"),
        ({"serviceMonitor": {"metricRelabelings": [{"action": "dropp"}]}}, "serviceMonitor"),
        ({"serviceMonitor": {"relabelings": {"action": "drop"}}}, "serviceMonitor"),
        ({"prometheusRule": {"additionalRuleLabels": {"team-name": "mail"}}}, "prometheusRule"),
        ({"serviceAccount": {"automountServiceAccountToken": "no"}}, "serviceAccount"),
        ({"listenAddress": ":8080"}, "listenAddress"),
        ({"service": {"port": "http"}}, "service.port"),
        ({"serviceMonitor": {"interval": "soon"}}, "serviceMonitor.interval"),
        ({"prometheusRule": {"severityOverrides": {"X": "page"}}}, "prometheusRule"),
        ({"prometheusRule": {"forOverrides": {"X": "1 hour"}}}, "prometheusRule"),
        ({"prometheusRule": {"disabledAlerts": "X"}}, "prometheusRule.disabledAlerts"),
        ({"grafanaDashboard": {"sidecarLabelValue": 1}}, "grafanaDashboard"),
        ({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": 1}}}, "serviceAccount"),
        ({"replica": 1}, ""),
        ({"sharding": {"shards": 0}}, "sharding.shards"),
        ({"sharding": {"shards": "3"}}, "sharding.shards"),
        ({"sharding": {"shard": 3}}, "sharding"),
        ({"events": {"keda": {"identityOwner": "pod"}}}, "events.keda.identityOwner"),
        ({"events": {"keda": {"enabled": True}}}, "events.keda"),
        ({"events": {"keda": {"queueLength": "100"}}}, "events.keda.queueLength"),
        ({"webConfig": {"tls": True}}, "webConfig.secretName"),
        ({"serviceMonitor": {"basicAuth": {"username": "prometheus"}}}, "serviceMonitor"),
    ],
)
def test_invalid_values_are_rejected(override: dict[str, Any], where: str) -> None:
    """A wrong type, a root UID, a bad duration or severity, or a typo'd key fails the schema."""
    errors = schema_errors(merged(default_values(), override))
    assert errors, f"{override} was accepted"
    assert any(e.startswith(where) for e in errors), errors


def test_default_values_follow_the_chart_conventions() -> None:
    """One replica; non-root, read-only, no capabilities; monitoring objects off by default."""
    values = default_values()
    assert values["replicas"] == 1
    assert values["service"]["port"] == PORT
    assert parse_hostport(values["listenAddress"], 0)[1] == PORT
    assert values["serviceAccount"]["create"] is True
    pod = values["podSecurityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == UID
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = values["securityContext"]
    assert container["runAsNonRoot"] is True
    assert container["runAsUser"] == UID
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    for toggle in ("serviceMonitor", "prometheusRule", "grafanaDashboard"):
        assert values[toggle]["enabled"] is False
    assert values["grafanaDashboard"]["sidecarLabel"] == "grafana_dashboard"
    assert values["grafanaDashboard"]["sidecarLabelValue"] == "1"
    rules = values["prometheusRule"]
    assert (rules["disabledAlerts"], rules["severityOverrides"], rules["forOverrides"]) == (
        [],
        {},
        {},
    )


def test_default_config_is_a_valid_exporter_config() -> None:
    """The default config, rendered to TOML, passes the exporter's own validation (the pod
    would start)."""
    text = render_chart()["configmap.yaml"][0]["data"]["config.toml"]
    assert tomllib.loads(text) == default_values()["config"]
    config = parse_config(tomllib.loads(text), source="values.yaml")
    assert config.domains


# ---- Helm chart: rendered by tests/helpers/helm_render.py (no helm binary here) ----------------

RELEASE = "ses-deliverability-exporter"
NAMESPACE = "monitoring"


def render_chart(
    override: dict[str, Any] | None = None, *, validate: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """`helm template ses-deliverability-exporter CHART --namespace monitoring [-f override]`:
    template file name -> its manifests (empty documents dropped). NOTES.txt is rendered too
    (it must not fail) but not returned."""
    values = merged(default_values(), override or {})
    if validate:
        assert schema_errors(values) == []
    return helm_render.render_chart(CHART, values, release=RELEASE, namespace=NAMESPACE)


# ---- Helm chart: templates and the rendered manifests ------------------------------------------


def rendered(kind_file: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((RENDERED / kind_file).read_text(encoding="utf-8")) if d]
    assert len(docs) == 1
    return docs[0]  # type: ignore[no-any-return]


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def test_rendered_manifests_pass_kubernetes_validate() -> None:
    """The default rendering is valid Kubernetes (strict: unknown fields are errors)."""
    files = sorted(RENDERED.rglob("*.yaml"))
    assert {rendered(str(f.relative_to(RENDERED)))["kind"] for f in files} == {
        "ConfigMap",
        "Deployment",
        "Pod",  # the `helm test` hook
        "Service",
        "ServiceAccount",
    }
    result = subprocess.run(
        [venv_tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validate_catches_a_broken_manifest(tmp_path: Path) -> None:
    """The validator is not a no-op: a string port and an unknown field both fail."""
    text = (RENDERED / "deployment.yaml").read_text(encoding="utf-8")
    bad_port = tmp_path / "bad-port.yaml"
    bad_port.write_text(text.replace(f"containerPort: {PORT}", "containerPort: nine"))
    unknown = tmp_path / "unknown-field.yaml"
    unknown.write_text(text.replace("  replicas: 1\n", "  replicas: 1\n  replica: 1\n"))
    for path in (bad_port, unknown):
        assert path.read_text() != text
        result = subprocess.run(
            [
                venv_tool("kubernetes-validate"),
                "--strict",
                "--quiet",
                "-k",
                KUBERNETES_VERSION,
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode != 0, path.name


def test_rendered_deployment_matches_the_template_and_values() -> None:
    """Ports, probes, args, security contexts, mounts and the config checksum, field by field."""
    values = default_values()
    text = template("deployment.yaml") + template("_helpers.tpl")  # the pod template's helper
    deployment = rendered("deployment.yaml")
    spec = deployment["spec"]
    pod = spec["template"]
    (container,) = pod["spec"]["containers"]

    assert spec["replicas"] == values["replicas"]
    assert spec["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()

    assert f"containerPort: {PORT}" in text
    assert container["ports"] == [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert "path: /healthz" in text
    assert "path: /readyz" in text

    dockerfile_cmd = json.loads(only(runtime_stage(), "CMD"))
    assert "command" not in container  # the image's ENTRYPOINT stays
    assert container["args"] == [*dockerfile_cmd, "--listen-address", values["listenAddress"]]
    image = values["image"]
    assert container["image"] == f"{image['registry']}/{image['repository']}:{__version__}"

    assert pod["spec"]["securityContext"] == values["podSecurityContext"]
    assert container["securityContext"] == values["securityContext"]
    assert "toYaml $values.podSecurityContext" in text
    assert "toYaml $values.securityContext" in text
    assert container["resources"] == values["resources"]

    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["config"] == {  # no subPath: a subPath mount never sees ConfigMap updates
        "name": "config",
        "mountPath": str(Path(CONFIG_PATH).parent),
        "readOnly": True,
    }
    assert mounts["tmp"]["mountPath"] == "/tmp"  # noqa: S108 - the pod's emptyDir, not a temp file
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == rendered("configmap.yaml")["metadata"]["name"]
    assert "emptyDir" in volumes["tmp"]

    checksum = pod["metadata"]["annotations"]["checksum/config"]
    assert re.fullmatch(r"[0-9a-f]{64}", checksum)
    assert '"/configmap.yaml") $root | sha256sum' in text

    assert pod["spec"]["serviceAccountName"] == rendered("serviceaccount.yaml")["metadata"]["name"]
    assert pod["spec"]["automountServiceAccountToken"] is False


def test_rendered_service_configmap_and_serviceaccount_match_values() -> None:
    """The Service selects the pods on the http port; the ConfigMap carries values.config."""
    values = default_values()
    deployment = rendered("deployment.yaml")
    service = rendered("service.yaml")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": values["service"]["port"], "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    data = rendered("configmap.yaml")["data"]
    assert list(data) == [Path(CONFIG_PATH).name]
    assert tomllib.loads(data[Path(CONFIG_PATH).name]) == values["config"]
    account = rendered("serviceaccount.yaml")
    assert account["automountServiceAccountToken"] is False
    assert "annotations" not in account["metadata"]  # none by default; IRSA adds the role


def test_monitoring_templates_are_toggled_and_read_the_shipped_files() -> None:
    """ServiceMonitor, PrometheusRule and dashboards render only when enabled, from files/."""
    assert template("servicemonitor.yaml").startswith("{{- if .Values.serviceMonitor.enabled }}")
    rule = template("prometheusrule.yaml")
    assert "{{- if .Values.prometheusRule.enabled }}" in rule
    assert '.Files.Glob "files/*.rules.yml"' in rule
    assert (
        '$.Files.Get $path | replace "__SELECTOR__" $selector'
        ' | replace "__RUNBOOK_BASE_URL__" $cfg.runbookBaseUrl | fromYaml'
    ) in rule
    for key in ("disabledAlerts", "severityOverrides", "forOverrides"):
        assert f"$cfg.{key}" in rule
    assert "kind: PrometheusRule" in rule
    dashboards = template("dashboards-configmap.yaml")
    assert "{{- if .Values.grafanaDashboard.enabled }}" in dashboards
    assert '(.Files.Glob "files/dashboards/*.json").AsConfig' in dashboards
    assert (
        "{{ .Values.grafanaDashboard.sidecarLabel }}: "
        "{{ .Values.grafanaDashboard.sidecarLabelValue | quote }}"
    ) in dashboards
    for name in ("servicemonitor.yaml", "prometheusrule.yaml", "dashboards-configmap.yaml"):
        assert "tpl " not in template(name)  # Prometheus/Grafana {{ }} must stay unrendered


# ---- Helm chart: every mode, rendered ----------------------------------------------------------

CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
SHARDED = CHART / "ci" / "sharded-keda-values.yaml"
BUILT_IN_KINDS = {
    "ConfigMap",
    "Deployment",
    "Pod",
    "PodDisruptionBudget",
    "Service",
    "ServiceAccount",
    "StatefulSet",
}
# The parts of KEDA's CRDs (keda.sh/v1alpha1 ScaledObject and TriggerAuthentication,
# config/crd/bases/keda.sh_*.yaml) that this chart fills in, transcribed as JSON schemas. KEDA's
# own schemas accept unknown fields (and drop them); these reject them, so a misspelt field
# fails here instead of being ignored by the cluster.
KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScaledObject": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "name": {"type": "string"},
                            "envSourceContainerName": {"type": "string"},
                        },
                    },
                    "pollingInterval": {"type": "integer", "minimum": 0},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 0},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"type": "string"},
                                "name": {"type": "string"},
                                "metadata": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "authenticationRef": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "kind": {
                                            "enum": [
                                                "TriggerAuthentication",
                                                "ClusterTriggerAuthentication",
                                            ]
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "podIdentity": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["provider"],
                        "properties": {
                            "provider": {
                                "enum": ["none", "aws", "aws-eks", "azure-workload", "gcp"]
                            },
                            "roleArn": {"type": "string"},
                            "identityOwner": {"enum": ["keda", "workload"]},
                        },
                        # KEDA: "podIdentity.roleArn and podIdentity.identityOwner are mutually
                        # exclusive".
                        "not": {"required": ["roleArn", "identityOwner"]},
                    }
                },
            },
        },
    },
}
# The aws-sqs-queue trigger's metadata keys (KEDA >= 2.13 documentation).
SQS_TRIGGER_KEYS = {
    "queueURL",
    "queueURLFromEnv",
    "queueLength",
    "activationQueueLength",
    "awsRegion",
    "awsEndpoint",
    "scaleOnInFlight",
    "scaleOnDelayed",
    "identityOwner",
}


def ci_values(path: Path) -> dict[str, Any]:
    return load_yaml(path)  # type: ignore[no-any-return]


def manifests(rendering: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc for docs in rendering.values() for doc in docs]


def one(rendering: dict[str, list[dict[str, Any]]], kind: str, name: str) -> dict[str, Any]:
    found = [m for m in manifests(rendering) if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def kinds(rendering: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    return sorted((m["kind"], m["metadata"]["name"]) for m in manifests(rendering))


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (exporter,) = workload["spec"]["template"]["spec"]["containers"]
    return exporter  # type: ignore[no-any-return]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and In/NotIn/Exists/DoesNotExist)."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, op, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels[key] not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[op]
        if not ok:
            return False
    return True


def kubernetes_validate(tmp_path: Path, docs: list[dict[str, Any]]) -> None:
    files = []
    for i, doc in enumerate(docs):
        path = tmp_path / f"{i:02d}-{doc['kind']}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(
        [venv_tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_renderer_reproduces_helms_rendering_of_the_defaults() -> None:
    """The test's renderer gives exactly tests/data/k8s/, checksum included: sharding off, the
    default install is the Deployment, Service, ConfigMap, account and the `helm test` pod."""
    rendering = render_chart()
    assert set(rendering) == {str(f.relative_to(RENDERED)) for f in RENDERED.rglob("*.yaml")}
    for name, docs in rendering.items():
        assert docs == [rendered(name)], name


@pytest.mark.parametrize("path", CI_VALUES, ids=lambda p: p.name)
def test_ci_values_render_valid_kubernetes_objects(path: Path, tmp_path: Path) -> None:
    """Every ci/*.yaml passes the schema, renders, and its built-in kinds pass
    kubernetes-validate; the KEDA objects pass the schemas transcribed from KEDA's CRDs."""
    assert schema_errors(merged(default_values(), ci_values(path))) == []
    docs = manifests(render_chart(ci_values(path)))
    kubernetes_validate(tmp_path, [d for d in docs if d["kind"] in BUILT_IN_KINDS])
    for doc in docs:
        if doc["kind"] in KEDA_SCHEMAS:
            errors = list(Draft7Validator(KEDA_SCHEMAS[doc["kind"]]).iter_errors(doc))
            assert not errors, [e.message for e in errors]
    assert {d["kind"] for d in docs} <= BUILT_IN_KINDS | set(KEDA_SCHEMAS) | {
        "ServiceMonitor",
        "PrometheusRule",
    }


def test_monitoring_objects_render_from_the_shipped_files() -> None:
    """The PrometheusRule carries the rules file minus disabled alerts, with the overrides; the
    dashboards ConfigMap one key per dashboard (the all-on values)."""
    values = merged(default_values(), ci_values(CHART / "ci" / "all-on-values.yaml"))
    rendering = render_chart(ci_values(CHART / "ci" / "all-on-values.yaml"))
    rules = {
        r.get("alert") or r["record"]: r
        for g in one(rendering, "PrometheusRule", RELEASE)["spec"]["groups"]
        for r in g["rules"]
    }
    shipped = [
        r
        for g in load_yaml(ROOT / "rules" / "ses-deliverability.rules.yml")["groups"]
        for r in g["rules"]
    ]
    disabled = set(values["prometheusRule"]["disabledAlerts"])
    assert set(rules) == {r.get("alert") or r["record"] for r in shipped} - disabled
    for name, severity in values["prometheusRule"]["severityOverrides"].items():
        assert rules[name]["labels"]["severity"] == severity
    for name, duration in values["prometheusRule"]["forOverrides"].items():
        assert rules[name]["for"] == duration
    dashboards = one(rendering, "ConfigMap", f"{RELEASE}-dashboards")
    assert set(dashboards["data"]) == {p.name for p in (ROOT / "dashboards").glob("*.json")}
    for name, text in dashboards["data"].items():
        assert text == (ROOT / "dashboards" / name).read_text(encoding="utf-8")


def test_keda_schema_catches_a_misspelt_field() -> None:
    scaled = one(render_chart(ci_values(SHARDED)), "ScaledObject", f"{RELEASE}-events")
    scaled["spec"]["maxReplicas"] = 3
    assert list(Draft7Validator(KEDA_SCHEMAS["ScaledObject"]).iter_errors(scaled))


def test_sharding_off_ignores_the_sharding_and_keda_values() -> None:
    """Without sharding.enabled the events/KEDA values change nothing: the old objects only."""
    keda = ci_values(SHARDED)["events"]["keda"]
    override = {"events": {"replicas": 4, "keda": keda}, "sharding": {"shards": 5}}
    assert render_chart(override) == render_chart()


def test_sharded_checks_statefulset(tmp_path: Path) -> None:
    """A fixed shard count = StatefulSet replicas, each pod told the count and its ordinal."""
    values = merged(default_values(), ci_values(SHARDED))
    shards = values["sharding"]["shards"]
    rendering = render_chart(ci_values(SHARDED))
    assert ("Deployment", RELEASE) not in kinds(rendering)  # the single Deployment is gone
    checks = one(rendering, "StatefulSet", f"{RELEASE}-checks")
    spec = checks["spec"]
    assert spec["replicas"] == shards
    assert spec["podManagementPolicy"] == "Parallel"
    args = container(checks)["args"]
    assert args[args.index("--role") + 1] == "checks"
    assert args[args.index("--shard-count") + 1] == str(shards)
    assert args[args.index("--shard-index") + 1] == "auto"
    headless = one(rendering, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    pod_labels = spec["template"]["metadata"]["labels"]
    assert selects(spec["selector"], pod_labels)
    assert selects({"matchLabels": headless["spec"]["selector"]}, pod_labels)
    assert container(checks)["resources"] == values["sharding"]["resources"]
    budget = one(rendering, "PodDisruptionBudget", f"{RELEASE}-checks")
    assert budget["spec"]["selector"] == spec["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


def test_sharded_events_deployment() -> None:
    """The consumers run role events only; KEDA owns their replica count when it is on."""
    rendering = render_chart(ci_values(SHARDED))
    events = one(rendering, "Deployment", f"{RELEASE}-events")
    args = container(events)["args"]
    assert args[args.index("--role") + 1] == "events"
    assert "--shard-count" not in args
    assert "--shard-index" not in args
    assert "replicas" not in events["spec"]  # `helm upgrade` must not reset KEDA's count
    checks = one(rendering, "StatefulSet", f"{RELEASE}-checks")
    events_pods = events["spec"]["template"]["metadata"]["labels"]
    checks_pods = checks["spec"]["template"]["metadata"]["labels"]
    # The two controllers' selectors do not overlap...
    assert not selects(events["spec"]["selector"], checks_pods)
    assert not selects(checks["spec"]["selector"], events_pods)
    # ...both mount the one ConfigMap...
    for workload in (events, checks):
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        assert volumes["config"]["configMap"]["name"] == RELEASE
    # ...and without KEDA the count is events.replicas.
    fixed = render_chart(
        {**ci_values(SHARDED), "events": {"replicas": 3, "keda": {"enabled": False}}}
    )
    assert one(fixed, "Deployment", f"{RELEASE}-events")["spec"]["replicas"] == 3
    assert not [k for k in kinds(fixed) if k[0] in KEDA_SCHEMAS]


def test_every_pod_is_scraped_once() -> None:
    """The scrape Service and the ServiceMonitor reach every checks and events pod; the
    headless Service is not scraped (no pod twice); job is the chart name."""
    rendering = render_chart(ci_values(SHARDED))
    service = one(rendering, "Service", RELEASE)
    monitor = one(rendering, "ServiceMonitor", RELEASE)
    services = [m for m in manifests(rendering) if m["kind"] == "Service"]
    scraped = [s for s in services if selects(monitor["spec"]["selector"], s["metadata"]["labels"])]
    assert scraped == [service]
    for kind, name in (("StatefulSet", f"{RELEASE}-checks"), ("Deployment", f"{RELEASE}-events")):
        pod_labels = one(rendering, kind, name)["spec"]["template"]["metadata"]["labels"]
        assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels), name
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert service["metadata"]["labels"]["app.kubernetes.io/name"] == JOB_NAME
    absent = (ROOT / "rules" / "ses-deliverability.rules.yml").read_text(encoding="utf-8")
    assert f'up{{job="{JOB_NAME}"}}' in absent
    # The default rendering's scrape Service selects what the single Deployment runs.
    default = render_chart({"serviceMonitor": {"enabled": True}})
    pods = one(default, "Deployment", RELEASE)["spec"]["template"]["metadata"]["labels"]
    assert selects({"matchLabels": one(default, "Service", RELEASE)["spec"]["selector"]}, pods)
    assert selects(
        one(default, "ServiceMonitor", RELEASE)["spec"]["selector"],
        one(default, "Service", RELEASE)["metadata"]["labels"],
    )


def test_keda_scales_the_events_deployment_on_the_queue() -> None:
    values = merged(default_values(), ci_values(SHARDED))["events"]["keda"]
    rendering = render_chart(ci_values(SHARDED))
    scaled = one(rendering, "ScaledObject", f"{RELEASE}-events")["spec"]
    auth = one(rendering, "TriggerAuthentication", f"{RELEASE}-events")["spec"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-events",
    }
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (
        values["minReplicaCount"],
        values["maxReplicaCount"],
    )
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "aws-sqs-queue"
    assert set(trigger["metadata"]) <= SQS_TRIGGER_KEYS
    assert trigger["metadata"]["queueURL"] == values["queueURL"]
    assert trigger["metadata"]["awsRegion"] == values["awsRegion"]
    assert trigger["metadata"]["queueLength"] == str(values["queueLength"])
    assert trigger["authenticationRef"]["name"] == f"{RELEASE}-events"
    assert auth == {"podIdentity": {"provider": "aws", "identityOwner": "workload"}}
    # The queue KEDA watches is one the exporter consumes.
    config = parse_config(tomllib.loads(merged(default_values(), ci_values(SHARDED))["config"]))
    assert values["queueURL"] in {q.url for q in config.events.queues}
    role = "arn:aws:iam::123456789012:role/keda-sqs"
    override = merged(ci_values(SHARDED), {"events": {"keda": {"roleArn": role}}})
    assumed = one(render_chart(override), "TriggerAuthentication", f"{RELEASE}-events")
    assert assumed["spec"] == {"podIdentity": {"provider": "aws", "roleArn": role}}


def test_keda_without_a_queue_is_rejected() -> None:
    broken = merged(ci_values(SHARDED), {"events": {"keda": {"queueURL": ""}}})
    assert any(e.startswith("events.keda") for e in schema_errors(merged(default_values(), broken)))
    with pytest.raises(TemplateError, match="queueURL is required"):
        render_chart(broken, validate=False)


def test_web_config_mounts_the_secret_and_switches_probes_and_scrapes_to_https() -> None:
    rendering = render_chart(ci_values(SHARDED))
    for kind, name in (("StatefulSet", f"{RELEASE}-checks"), ("Deployment", f"{RELEASE}-events")):
        workload = one(rendering, kind, name)
        exporter = container(workload)
        web_file = exporter["args"][exporter["args"].index("--web-config-file") + 1]
        mounts = {m["name"]: m for m in exporter["volumeMounts"]}
        assert mounts["web-config"]["readOnly"] is True
        assert Path(web_file).parent == Path(mounts["web-config"]["mountPath"])
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        assert volumes["web-config"]["secret"]["secretName"] == "ses-deliverability-exporter-web"
        for probe in ("livenessProbe", "readinessProbe"):
            assert exporter[probe]["httpGet"]["scheme"] == "HTTPS"
    (endpoint,) = one(rendering, "ServiceMonitor", RELEASE)["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["basicAuth"]["password"]["key"] == "password"
    # Basic auth without TLS: the file is passed, the probes stay HTTP.
    plain = render_chart({"webConfig": {"secretName": "web", "tls": False}})
    exporter = container(one(plain, "Deployment", RELEASE))
    assert "--web-config-file" in exporter["args"]
    assert "scheme" not in exporter["livenessProbe"]["httpGet"]


def _in_mounts(arg: str, mounts: dict[str, Path]) -> str:
    """A path inside one of the pod's mounts, as laid out locally; anything else unchanged."""
    for mount_path, local in mounts.items():
        if arg.startswith(mount_path + "/"):
            return str(local / arg.removeprefix(mount_path + "/"))
    return arg


def _workloads(rendering: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [m for m in manifests(rendering) if m["kind"] in ("Deployment", "StatefulSet")]


@pytest.mark.parametrize("path", [None, *CI_VALUES], ids=lambda p: p.name if p else "defaults")
def test_the_exporter_accepts_the_rendered_args(
    path: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each pod's args through the exporter's own parser (exporter.cli._parser) and its config
    loader, with the pod's mounts laid out under tmp_path: the pod would start, in its role."""
    override = ci_values(path) if path else {}
    rendering = render_chart(override)
    config_text = one(rendering, "ConfigMap", RELEASE)["data"]["config.toml"]
    for workload in _workloads(rendering):
        name = workload["metadata"]["name"]
        exporter = container(workload)
        mounts: dict[str, Path] = {}
        for mount in exporter["volumeMounts"]:
            local = mounts[mount["mountPath"]] = tmp_path / name / mount["name"]
            local.mkdir(parents=True)
            if mount["name"] == "config":
                (local / "config.toml").write_text(config_text, encoding="utf-8")
            if mount["name"] == "web-config":
                (local / "web.yml").write_text("basic_auth_users: {}\n", encoding="utf-8")
        args = [_in_mounts(arg, mounts) for arg in exporter["args"]]
        parsed = _parser().parse_args(args)
        assert parsed.command == "run"
        ordinal = 1 if workload["kind"] == "StatefulSet" else 0
        monkeypatch.setenv(
            "HOSTNAME", f"{name}-{ordinal}" if ordinal else f"{name}-5d8c7b9f4-x2x7q"
        )
        config = load_config(parsed.config, _run_overrides(parsed))
        role = {
            "StatefulSet": "checks",
            "Deployment": "events" if name.endswith("-events") else "all",
        }
        assert config.cluster.role == role[workload["kind"]]
        if workload["kind"] == "StatefulSet":
            assert config.cluster.shard_count == workload["spec"]["replicas"]
            assert config.cluster.shard_index == ordinal
        assert (config.server.web_config_file is not None) == ("--web-config-file" in args)


# ---- The chart's copies of rules/ and dashboards/ ----------------------------------------------


def source_files(root: Path) -> dict[str, Path]:
    """Chart path (under files/) -> the file it must be a copy of, for everything under root.
    The chart's rules file is a render of the mixin, not a copy (tests/unit/test_mixin.py)."""
    return {f"dashboards/{p.name}": p for p in sorted((root / "dashboards").glob("*.json"))}


def chart_copies(chart_files: Path) -> set[str]:
    return {f"dashboards/{p.name}" for p in chart_files.glob("dashboards/*.json")}


def test_chart_copies_are_byte_identical() -> None:
    """Every dashboards/*.json is in the chart's files/, byte for byte."""
    for chart_path, source in source_files(ROOT).items():
        copy_path = CHART / "files" / chart_path
        assert copy_path.exists(), f"{chart_path} missing: run scripts/sync-chart-files.sh"
        assert copy_path.read_bytes() == source.read_bytes(), (
            f"{chart_path} differs from {source.relative_to(ROOT)}: run scripts/sync-chart-files.sh"
        )


def test_chart_has_no_stale_copies() -> None:
    """The chart ships no dashboard that the repository no longer has."""
    stale = chart_copies(CHART / "files") - set(source_files(ROOT))
    assert not stale, f"{sorted(stale)}: run scripts/sync-chart-files.sh"


def test_chart_ships_the_rules() -> None:
    """The alert rules exist and the chart carries them (its PrometheusRule is built from them):
    the same rules, its render of the mixin differing only in placeholders."""
    rules = ROOT / "rules" / "ses-deliverability.rules.yml"
    assert rules.exists()
    names = [
        [r.get("alert") or r["record"] for r in g["rules"]] for g in load_yaml(rules)["groups"]
    ]
    chart = load_yaml(CHART / "files" / rules.name)
    assert names
    assert [[r.get("alert") or r["record"] for r in g["rules"]] for g in chart["groups"]] == names


def test_sync_script_copies_and_prunes(tmp_path: Path) -> None:
    """sync-chart-files.sh makes identical copies and removes copies of deleted sources; the
    chart's rules files (renders of the mixin) are left alone."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SYNC_SCRIPT, tmp_path / "scripts")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.rules.yml").write_bytes(b"groups: []\n# \xc3\xa9 {{ $labels.x }}\n")
    (tmp_path / "rules" / "notes.md").write_text("not a rule file\n")
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "one.json").write_text('{"uid": "one"}')
    files = tmp_path / "helm" / "ses-deliverability-exporter" / "files"
    (files / "dashboards").mkdir(parents=True)
    (files / "mixin.rules.yml").write_text("groups: []\n")
    (files / "dashboards" / "gone.json").write_text("{}")

    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "sync-chart-files.sh")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert chart_copies(files) == set(source_files(tmp_path)) == {"dashboards/one.json"}
    assert sorted(p.name for p in files.glob("*.rules.yml")) == ["mixin.rules.yml"]
    for chart_path, source in source_files(tmp_path).items():
        assert (files / chart_path).read_bytes() == source.read_bytes()


# ---- systemd unit -------------------------------------------------------------------------------


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_runs_the_exporter() -> None:
    """ExecStart runs the console script on the standard config path; reload is SIGHUP."""
    service = unit()["Service"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert "ses-deliverability-exporter" in scripts
    exec_start = service["ExecStart"].split()
    assert exec_start == [
        "/usr/local/bin/ses-deliverability-exporter",
        "run",
        "--config",
        CONFIG_PATH,
    ]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "-/etc/default/ses-deliverability-exporter"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit()["Unit"]["After"]


def test_systemd_unit_is_hardened() -> None:
    """A dynamic non-root user in a read-only sandbox with no capabilities, IP and UNIX only."""
    service = unit()["Service"]
    expected = {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    assert {key: service.get(key) for key in expected} == expected
    assert "User" not in service  # DynamicUser allocates it


def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds no error, and the offline exposure score stays low."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this venv's copy of the command.
    installed = venv_tool("ses-deliverability-exporter")
    copy_path = tmp_path / UNIT.name
    copy_path.write_text(
        UNIT.read_text(encoding="utf-8").replace(
            "/usr/local/bin/ses-deliverability-exporter", installed
        ),
        encoding="utf-8",
    )
    verify = subprocess.run(
        [analyze, "verify", str(copy_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Warnings (an unknown or misspelt directive) name the unit but keep exit status 0.
    assert UNIT.name not in verify.stdout + verify.stderr
    # --threshold is in tenths: fail above an exposure of 2.0 ("OK" is below 4.0).
    security = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", str(copy_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert security.returncode == 0, security.stdout[-2000:] + security.stderr
