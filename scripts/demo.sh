#!/usr/bin/env bash
# Install the exporter into .venv and run the bundled demo (no AWS, no internet needed):
# open http://127.0.0.1:10190/ and http://127.0.0.1:10190/metrics
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/ses-deliverability-exporter demo "$@"
