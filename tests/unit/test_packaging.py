"""The packaging: Dockerfile, Helm chart, systemd unit and the chart's copies of the rules.

No helm, kubeconform or Docker daemon exists here (.github/workflows/chart.yml runs those on a
hosted forge), so this checks what can be checked offline and fast:
- hadolint on the Dockerfile, and the facts the image promises (non-root UID, port, exec-form
  entry point, health check);
- values.yaml against values.schema.json, and invalid values rejected by it;
- the manifests of tests/data/k8s/ (Helm's rendering of the default values) against the
  Kubernetes schemas with kubernetes-validate, and against the templates, so drift shows;
- the systemd unit's directives (and `systemd-analyze` where it exists);
- the chart's files/ as byte-identical copies of rules/*.rules.yml and dashboards/*.json.
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
from jsonschema import Draft7Validator

from exporter import __version__
from exporter.config import parse_config, parse_hostport

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
    """A wheel-building stage and a runtime stage, both on the pinned slim tag."""
    builder, runtime = stages()
    assert builder[0] == ("FROM", f"{IMAGE} AS builder")
    assert runtime[0] == ("FROM", IMAGE)
    assert any("pip wheel" in args and "/wheels" in args for kw, args in builder if kw == "RUN")


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
    assert f"http://127.0.0.1:{PORT}/healthz" in probe[2]


def test_dockerfile_suits_a_read_only_root_filesystem() -> None:
    """No .pyc writes at run time, and HOME on the one writable path (/tmp)."""
    env = " ".join(args for keyword, args in runtime_stage() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env


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
    assert copied == ["pyproject.toml", "README.md", "exporter/"]
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
        ({"config": {"domains": []}}, "config"),
        ({"listenAddress": ":8080"}, "listenAddress"),
        ({"service": {"port": "http"}}, "service.port"),
        ({"serviceMonitor": {"interval": "soon"}}, "serviceMonitor.interval"),
        ({"prometheusRule": {"severityOverrides": {"X": "page"}}}, "prometheusRule"),
        ({"prometheusRule": {"forOverrides": {"X": "1 hour"}}}, "prometheusRule"),
        ({"prometheusRule": {"disabledAlerts": "X"}}, "prometheusRule.disabledAlerts"),
        ({"grafanaDashboard": {"sidecarLabelValue": 1}}, "grafanaDashboard"),
        ({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": 1}}}, "serviceAccount"),
        ({"replica": 1}, ""),
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
    """The TOML in values.yaml passes the exporter's own validation (the pod would start)."""
    config = parse_config(tomllib.loads(default_values()["config"]), source="values.yaml")
    assert config.domains


# ---- Helm chart: templates and the rendered manifests ------------------------------------------


def rendered(kind_file: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((RENDERED / kind_file).read_text(encoding="utf-8")) if d]
    assert len(docs) == 1
    return docs[0]  # type: ignore[no-any-return]


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def test_rendered_manifests_pass_kubernetes_validate() -> None:
    """The default rendering is valid Kubernetes (strict: unknown fields are errors)."""
    files = sorted(RENDERED.glob("*.yaml"))
    assert {rendered(f.name)["kind"] for f in files} == {
        "ConfigMap",
        "Deployment",
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


def literal_lines(text: str) -> list[str]:
    """A template's lines without template actions, outside `with`/`range` blocks.

    Those lines are emitted as they are whenever the template renders, so each must appear,
    in order, in the rendered manifest. (`if` blocks count as rendered: the only one in these
    templates, serviceAccount.create, is on by default.)
    """
    lines: list[str] = []
    skipped_depth = 0
    open_blocks: list[bool] = []
    for line in text.splitlines():
        for action in re.findall(r"\{\{-?\s*(\w+)", line):
            if action in ("with", "range", "if", "define"):
                skip = action in ("with", "range", "define")
                open_blocks.append(skip)
                skipped_depth += skip
            elif action == "end":
                skipped_depth -= open_blocks.pop()
        if "{{" in line or skipped_depth or not line.strip():
            continue
        lines.append(line)
    return lines


@pytest.mark.parametrize(
    "name", ["deployment.yaml", "service.yaml", "configmap.yaml", "serviceaccount.yaml"]
)
def test_rendered_manifest_contains_every_literal_template_line(name: str) -> None:
    """Every fixed line of the template appears, in order, in tests/data/k8s/: no drift."""
    output = (RENDERED / name).read_text(encoding="utf-8").splitlines()
    position = 0
    for line in literal_lines(template(name)):
        assert line in output[position:], f"{name}: {line!r} is not in the rendered manifest"
        position = output.index(line, position) + 1


def test_rendered_deployment_matches_the_template_and_values() -> None:
    """Ports, probes, args, security contexts, mounts and the config checksum, field by field."""
    values = default_values()
    text = template("deployment.yaml")
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
    assert container["image"] == f"{values['image']['repository']}:{__version__}"

    assert pod["spec"]["securityContext"] == values["podSecurityContext"]
    assert container["securityContext"] == values["securityContext"]
    assert "toYaml .Values.podSecurityContext" in text
    assert "toYaml .Values.securityContext" in text
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
    assert '"/configmap.yaml") . | sha256sum' in text

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
    assert rendered("configmap.yaml")["data"] == {Path(CONFIG_PATH).name: values["config"]}
    account = rendered("serviceaccount.yaml")
    assert account["automountServiceAccountToken"] is False
    assert "annotations" not in account["metadata"]  # none by default; IRSA adds the role


def test_monitoring_templates_are_toggled_and_read_the_shipped_files() -> None:
    """ServiceMonitor, PrometheusRule and dashboards render only when enabled, from files/."""
    assert template("servicemonitor.yaml").startswith("{{- if .Values.serviceMonitor.enabled }}")
    rule = template("prometheusrule.yaml")
    assert "{{- if .Values.prometheusRule.enabled }}" in rule
    assert '.Files.Glob "files/*.rules.yml"' in rule
    assert "$.Files.Get $path | fromYaml" in rule
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


# ---- The chart's copies of rules/ and dashboards/ ----------------------------------------------


def source_files(root: Path) -> dict[str, Path]:
    """Chart path (under files/) -> the file it must be a copy of, for everything under root."""
    rules = {f"{p.name}": p for p in sorted((root / "rules").glob("*.rules.yml"))}
    dashboards = {f"dashboards/{p.name}": p for p in sorted((root / "dashboards").glob("*.json"))}
    return rules | dashboards


def chart_copies(chart_files: Path) -> set[str]:
    copies = {p.name for p in chart_files.glob("*.rules.yml")}
    return copies | {f"dashboards/{p.name}" for p in chart_files.glob("dashboards/*.json")}


def test_chart_copies_are_byte_identical() -> None:
    """Every rules/*.rules.yml and dashboards/*.json is in the chart's files/, byte for byte."""
    for chart_path, source in source_files(ROOT).items():
        copy_path = CHART / "files" / chart_path
        assert copy_path.exists(), f"{chart_path} missing: run scripts/sync-chart-files.sh"
        assert copy_path.read_bytes() == source.read_bytes(), (
            f"{chart_path} differs from {source.relative_to(ROOT)}: run scripts/sync-chart-files.sh"
        )


def test_chart_has_no_stale_copies() -> None:
    """The chart ships no rule file or dashboard that the repository no longer has."""
    stale = chart_copies(CHART / "files") - set(source_files(ROOT))
    assert not stale, f"{sorted(stale)}: run scripts/sync-chart-files.sh"


def test_chart_ships_the_rules() -> None:
    """The alert rules exist and the chart carries them (its PrometheusRule is built from them)."""
    rules = ROOT / "rules" / "ses-deliverability.rules.yml"
    assert rules.exists()
    assert (CHART / "files" / rules.name).read_bytes() == rules.read_bytes()
    assert load_yaml(rules)["groups"]


def test_sync_script_copies_and_prunes(tmp_path: Path) -> None:
    """sync-chart-files.sh makes identical copies and removes copies of deleted sources."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SYNC_SCRIPT, tmp_path / "scripts")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.rules.yml").write_bytes(b"groups: []\n# \xc3\xa9 {{ $labels.x }}\n")
    (tmp_path / "rules" / "notes.md").write_text("not a rule file\n")
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "one.json").write_text('{"uid": "one"}')
    files = tmp_path / "helm" / "ses-deliverability-exporter" / "files"
    (files / "dashboards").mkdir(parents=True)
    (files / "gone.rules.yml").write_text("groups: []\n")
    (files / "dashboards" / "gone.json").write_text("{}")

    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "sync-chart-files.sh")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert (
        chart_copies(files) == set(source_files(tmp_path)) == {"a.rules.yml", "dashboards/one.json"}
    )
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
