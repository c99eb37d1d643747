"""Generate the metric reference (docs/metrics.md) from the catalogue in `exporter.metrics`.

``python -m exporter.metrics_reference`` rewrites it; ``--check`` only compares (a test does
the same), so the reference lists exactly what the exporter exposes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exporter.metrics import CATALOGUE, MetricSpec

MARKDOWN = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
_INTRO = """\
# Metric reference

Every metric the exporter exposes on `/metrics`, with its type, labels and meaning. Names
follow the Prometheus conventions: base units in the name, `_total` for counters, `_info`
for metadata (value 1), ratios between 0 and 1. Label values are bounded: domains come
from the configuration and SES discovery (and `metrics.series_budget` caps the per-domain
series), recipient domains from a bounded top-K, everything else from fixed sets; no
address, message id or free text ever becomes a label. Owner labels (`team`, ...) come from
`domains[].labels` and `aws.identity_labels` and appear on `deliverability_domain_info`.

The exporter also exposes the standard `process_*` metrics of the Python client.

This file is generated from `exporter/metrics.py` by `python -m exporter.metrics_reference`;
edit the catalogue, not this file.

| metric | type | labels | meaning |
|---|---|---|---|
"""


def _row(spec: MetricSpec) -> str:
    labels = ", ".join(f"`{label}`" for label in spec.labels) or "none"
    if spec.kind == "info":
        labels += ", owner labels" if spec.name == "deliverability_domain_info" else ""
    meaning = spec.help.replace("|", "\\|")
    return f"| `{spec.name}` | {spec.kind} | {labels} | {meaning} |\n"


def rendered() -> str:
    return _INTRO + "".join(_row(spec) for spec in CATALOGUE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    if args.check:
        if MARKDOWN.read_text() != rendered():
            sys.stderr.write(
                f"{MARKDOWN} is out of date: run python -m exporter.metrics_reference\n"
            )
            return 1
        return 0
    MARKDOWN.write_text(rendered())
    sys.stdout.write(f"{MARKDOWN}: written\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
