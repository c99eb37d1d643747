#!/usr/bin/env bash
# Build the mypyc-compiled package (SES_EXPORTER_COMPILE=1) into its own venv and run, against
# it, the tests that exercise the compiled modules: both builds must give the same verdicts.
# Arguments go to pytest; without a test path, the default selection below runs.
#
# The venv ($COMPILED_VENV, default .venv-compiled) holds the compiled package only: a .pth
# file puts the test venv's site-packages (.venv, made by scripts/test.sh) after its own, so
# the dependencies and test tools are the very ones the pure run used, not a second install.
# That directory's own .pth files are not read from there, so its editable install of the
# checkout stays out. `$COMPILED_VENV/bin/python` runs the compiled build (e.g. for bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"

base=.venv
[ -x "$base/bin/python" ] || {
  echo "no $base: run scripts/test.sh (or pip install -e '.[test]' into $base) first" >&2
  exit 1
}
venv=$(realpath -m "${COMPILED_VENV:-.venv-compiled}")
# From the test venv's interpreter, so the extensions are built for the Python that runs them.
[ -x "$venv/bin/python" ] || "$base/bin/python" -m venv "$venv"
purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
purelib "$base/bin/python" >"$(purelib "$venv/bin/python")/ses-exporter-test-deps.pth"

# Build from a copy of the sources: an in-tree build would reuse ./build, where a pure build
# may have left the same modules as .py files.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cp -r exporter pyproject.toml setup.py build_support README.md LICENSE "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +

echo "==> SES_EXPORTER_COMPILE=1 pip install . into $venv"
t0=$(date +%s)
SES_EXPORTER_COMPILE=1 "$venv/bin/python" -m pip install -q --disable-pip-version-check \
  --force-reinstall --no-deps "$src"
(cd / && "$venv/bin/python" -c 'from exporter.compiled import compiled; assert compiled(), "not compiled"')
echo "==> compiled in $(($(date +%s) - t0)) s"

# A test path (a file or directory, maybe with ::test) among the arguments, or options only?
paths=0
for arg in "$@"; do [[ $arg != -* && -e ${arg%%::*} ]] && paths=1; done
if [ "$paths" -eq 0 ]; then
  # The default selection: the test files of tests/unit and tests/integration that import a
  # module setup.py compiles (its COMPILED list), i.e. that call the compiled code themselves.
  # The rest of the suite (config, exposition, charts, rules, docs, the daemon end to end)
  # reaches the compiled modules only through code that is the same in both builds, and runs
  # in the pure run; tests/e2e starts the checkout's exporter as a subprocess, not this build.
  mapfile -t selected < <("$base/bin/python" - tests/unit tests/integration <<'PY'
import ast
import sys
from pathlib import Path

setup = ast.parse(Path("setup.py").read_text(encoding="utf-8"))
compiled = {
    path.removesuffix(".py").replace("/", ".")
    for node in ast.walk(setup)
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "COMPILED" for t in node.targets)
    for path in ast.literal_eval(node.value)
}
if not compiled:
    sys.exit("setup.py has no COMPILED list: nothing to select the compiled run's tests by")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


for directory in sys.argv[1:]:
    for path in sorted(Path(directory).glob("test_*.py")):
        if imported(path) & compiled:
            print(path)
PY
  )
  [ "${#selected[@]}" -gt 0 ] || {
    echo "no test file imports a compiled module: the selection is broken" >&2
    exit 1
  }
  set -- "$@" "${selected[@]}"
fi

echo "==> pytest against the compiled build"
# -P: not the working directory first on sys.path, where the checkout's pure-Python exporter/
# would shadow the compiled package.
export SES_EXPORTER_EXPECT_COMPILED=1
set +e
"$venv/bin/python" -P -m pytest -p no:cacheprovider "$@" \
  --deselect tests/unit/test_config_model.py::test_generated_reference_is_committed \
  --deselect tests/unit/test_config_model.py::test_schema_accepts_the_shipped_files_and_refuses_unknown_keys \
  --deselect tests/unit/test_config_model.py::test_example_shows_every_key_of_the_reference \
  --deselect tests/unit/test_metrics_catalogue.py::test_generated_metric_reference_is_committed \
  --deselect tests/unit/test_version.py::test_a_checkout_reports_its_git_commit
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests against the compiled build: failing" >&2
  exit 1
fi
exit "$rc"
