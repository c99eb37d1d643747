#!/usr/bin/env bash
# Copy the Grafana dashboards into the Helm chart, which can only ship files inside its own
# directory. dashboards/*.json are the sources of truth; the chart's files/dashboards/ holds
# byte-identical copies and nothing else (stale copies are removed). The chart's rules file is
# a render of the monitoring mixin, written by scripts/render-rules.py, not a copy.
# tests/unit/test_packaging.py and .github/workflows/chart.yml check the result.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob

files=helm/ses-deliverability-exporter/files
mkdir -p "$files/dashboards"

rm -f "$files"/dashboards/*.json
for dashboard in dashboards/*.json; do
  cp -- "$dashboard" "$files/dashboards/"
done

copied=("$files"/dashboards/*.json)
echo "sync-chart-files: ${#copied[@]} file(s) in $files"
