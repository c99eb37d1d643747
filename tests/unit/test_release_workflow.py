"""The release workflow, checked offline: no registry or GitHub runner exists here.

Every workflow passes the GitHub workflow JSON schema (check-jsonschema's vendored copy, as
the test command also runs it), the validator rejects a broken one, and the release workflow
does what the chart and the README promise: a multi-arch image with SBOM and provenance,
signed keyless, on ghcr.io/<owner>/ses-deliverability-exporter, the base pinned by digest, and
the chart pushed as an OCI artifact.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from test_packaging import CHART, ROOT, default_values, load_yaml, venv_tool

WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            venv_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def release() -> dict[Any, Any]:
    return yaml.safe_load(RELEASE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def steps(job: str) -> list[dict[str, Any]]:
    return release()["jobs"][job]["steps"]  # type: ignore[no-any-return]


def step_using(job: str, action: str) -> dict[str, Any]:
    found = [s for s in steps(job) if s.get("uses", "").startswith(f"{action}@")]
    assert len(found) == 1, f"{job}: {action} used {len(found)} times"
    return found[0]


def test_workflows_pass_the_github_workflow_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert RELEASE in files
    result = check_jsonschema(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    text = RELEASE.read_text(encoding="utf-8")
    broken = tmp_path / "release.yml"
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1))
    assert broken.read_text(encoding="utf-8") != text
    assert check_jsonschema(broken).returncode != 0


def test_release_runs_on_version_tags_with_least_privilege() -> None:
    workflow = release()
    on = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert list(on) == ["push"]
    assert on["push"]["tags"] == ["v[0-9]+.[0-9]+.[0-9]+*"]
    assert workflow["permissions"] == {"contents": "read"}
    for job in ("image", "chart"):
        permissions = workflow["jobs"][job]["permissions"]
        assert permissions == {"contents": "read", "packages": "write", "id-token": "write"}


def test_image_is_multi_arch_attested_signed_and_on_ghcr() -> None:
    build = step_using("image", "docker/build-push-action")["with"]
    assert set(build["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["push"] is True
    assert build["sbom"] is True
    assert build["provenance"] == "mode=max"
    args = dict(line.split("=", 1) for line in build["build-args"].split("\n") if line)
    assert args["BASE_IMAGE"] == "${{ env.BASE_IMAGE }}@${{ steps.base.outputs.digest }}"
    assert args["BASE_DIGEST"] == "${{ steps.base.outputs.digest }}"
    assert release()["env"]["BASE_IMAGE"] == "python:3.11-slim-bookworm"
    names = next(s for s in steps("image") if s.get("id") == "names")["run"]
    assert "image=ghcr.io/$owner/ses-deliverability-exporter" in names
    assert 'owner="${GITHUB_REPOSITORY_OWNER,,}"' in names
    sign = next(s for s in steps("image") if s.get("name", "").startswith("Sign the image"))
    assert sign["run"] == 'cosign sign --yes "$IMAGE@$DIGEST"'  # keyless: no --key
    assert step_using("image", "sigstore/cosign-installer")


def test_chart_is_pushed_as_an_oci_artifact_pointing_at_the_image() -> None:
    run = "\n".join(s.get("run", "") for s in steps("chart"))
    assert 'helm push "$RUNNER_TEMP"/chart/*.tgz "oci://ghcr.io/$owner/charts"' in run
    assert "cosign sign --yes" in run
    assert release()["jobs"]["chart"]["needs"] == "image"
    # The chart's default image is where the workflow pushes (owner of this repository),
    # with appVersion as the tag (tag "" defaults to it).
    image = default_values()["image"]
    assert (image["registry"], image["tag"]) == ("ghcr.io", "")
    assert re.fullmatch(r"[a-z0-9-]+/ses-deliverability-exporter", image["repository"])
    assert load_yaml(CHART / "Chart.yaml")["appVersion"]
