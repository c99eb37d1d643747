#!/usr/bin/env bash
# Build the mypyc-compiled package (SES_EXPORTER_COMPILE=1) into its own venv and run the unit
# tests and the named-backed integration tests against it: both builds must give the same
# verdicts. Arguments go to pytest; without a test path, tests/unit and the DNS integration
# tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"

venv=$(realpath -m "${COMPILED_VENV:-.venv-compiled}")
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"

# Build from a copy of the sources: an in-tree build would reuse ./build, where a pure build
# may have left the same modules as .py files.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cp -r exporter pyproject.toml setup.py build_support README.md LICENSE "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +

echo "==> dependencies and test tools into $venv"
"$venv/bin/python" - >"$src/requirements.txt" <<'PY'
import tomllib
with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["test"]))
PY
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$src/requirements.txt"
echo "==> SES_EXPORTER_COMPILE=1 pip install . into $venv"
SES_EXPORTER_COMPILE=1 "$venv/bin/python" -m pip install -q --disable-pip-version-check \
  --force-reinstall --no-deps "$src"
(cd / && "$venv/bin/python" -c 'from exporter.compiled import compiled; assert compiled(), "not compiled"')

echo "==> pytest against the compiled build"
# Not `python -m pytest`: that puts the checkout first on sys.path, and its pure-Python
# exporter/ would shadow the compiled package.
export SES_EXPORTER_EXPECT_COMPILED=1
paths=0
for arg in "$@"; do [[ $arg == -* ]] || paths=1; done
if [ "$paths" -eq 0 ]; then  # options only: the default tests
  set -- "$@" tests/unit tests/integration/test_dns_source.py \
    tests/integration/test_checks_named.py tests/integration/test_remedies.py
fi
# These read the checkout (docs/, git) through the package's path, which is the venv's here.
"$venv/bin/pytest" -p no:cacheprovider "$@" \
  --deselect tests/unit/test_config_model.py::test_generated_reference_is_committed \
  --deselect tests/unit/test_config_model.py::test_schema_accepts_the_shipped_files_and_refuses_unknown_keys \
  --deselect tests/unit/test_config_model.py::test_example_shows_every_key_of_the_reference \
  --deselect tests/unit/test_metrics_catalogue.py::test_generated_metric_reference_is_committed \
  --deselect tests/unit/test_version.py::test_a_checkout_reports_its_git_commit
