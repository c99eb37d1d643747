"""The metric catalogue follows Prometheus naming rules, and docs/metrics.md lists every metric."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.metrics import CATALOGUE, MetricSpec

REFERENCE = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
BANNED_LABELS = {
    "type",
    "region",
    "zone",
    "cluster",
    "env",
    "environment",
    "service",
    "instance",
    "job",
}


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_naming_rules(spec: MetricSpec) -> None:
    assert spec.name.startswith("deliverability_")
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", spec.name)
    assert spec.name.endswith("_total") == (spec.kind == "counter")
    assert spec.name.endswith("_info") == (spec.kind == "info")
    assert not set(spec.labels) & BANNED_LABELS
    assert not re.search(r"_(milliseconds|ms|percent|minutes|hours)\b", spec.name)
    if "timestamp" in spec.name or "duration" in spec.name or "interval" in spec.name:
        assert spec.name.endswith("_seconds")
    assert spec.help.strip()


def test_names_are_unique() -> None:
    names = [s.name for s in CATALOGUE]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_reference_lists_metric(spec: MetricSpec) -> None:
    assert f"| `{spec.name}` |" in REFERENCE


def test_reference_lists_no_unknown_metric() -> None:
    listed = set(re.findall(r"^\| `(deliverability_[a-z0-9_]+)` \|", REFERENCE, flags=re.MULTILINE))
    assert listed == {s.name for s in CATALOGUE}


def test_wrong_family_kind_is_refused() -> None:
    with pytest.raises(TypeError):
        CATALOGUE[0].counter()


def test_generated_metric_reference_is_committed() -> None:
    """docs/metrics.md lists exactly the catalogue: regenerate it with
    `python -m exporter.metrics_reference` after changing exporter/metrics.py."""
    from exporter.metrics_reference import MARKDOWN, rendered  # noqa: PLC0415 - this test only

    assert MARKDOWN.read_text() == rendered()
