#!/usr/bin/env bash
# Copy the alert rules and Grafana dashboards into the Helm chart, which can only ship files
# inside its own directory. rules/*.rules.yml and dashboards/*.json are the sources of truth;
# the chart's files/ holds byte-identical copies and nothing else of that kind (stale copies
# are removed). tests/unit/test_packaging.py and .github/workflows/chart.yml check the result.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob

files=helm/ses-deliverability-exporter/files
mkdir -p "$files/dashboards"

rm -f "$files"/*.rules.yml "$files"/dashboards/*.json
for rule_file in rules/*.rules.yml; do
  cp -- "$rule_file" "$files/"
done
for dashboard in dashboards/*.json; do
  cp -- "$dashboard" "$files/dashboards/"
done

copied=("$files"/*.rules.yml "$files"/dashboards/*.json)
echo "sync-chart-files: ${#copied[@]} file(s) in $files"
