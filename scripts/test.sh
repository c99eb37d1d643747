#!/usr/bin/env bash
# Install everything the tests need (Debian packages and a venv) and run every check and test.
# Used as-is by CI (.ci/run). Needs root (or sudo) for apt-get on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need_apt+=(bind9 bind9-utils)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "==> apt-get install ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

# Each step says how long it took (wall seconds): where the test command's time goes.
step_start=$SECONDS
took() {
  echo "==> $1 took $((SECONDS - step_start)) s (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))"
  step_start=$SECONDS
}

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
echo "==> pip install -e .[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
took "setup"

echo "==> ruff"
.venv/bin/ruff check exporter tests bench dashboards
.venv/bin/ruff format --check exporter tests bench dashboards
echo "==> mypy --strict"
.venv/bin/mypy
echo "==> check-jsonschema .github/workflows (GitHub workflow schema, offline)"
.venv/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
echo "==> validate-config config.example.toml"
.venv/bin/ses-deliverability-exporter validate-config config.example.toml
took "lint and static checks"

echo "==> pytest"
set +e
# --durations: the slowest tests, where a longer test command would be cut first.
.venv/bin/python -m pytest --durations=25 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing, a green run must have run something" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || exit "$rc"
took "pytest"

# Two independent steps, side by side: each compiles the hot path with mypyc and spends much
# of its time waiting (containers starting, daemons answering), so together they take little
# more than the longer one. Each is reported whole and must pass.
#  - the container image, built and run with podman (scripts/image-test.sh says why if it
#    skips); its output is printed when it ends;
#  - the tests that call the compiled modules, against the mypyc-compiled build
#    (SES_EXPORTER_COMPILE=1; scripts/test-compiled.sh says which and why).
image_log=$(mktemp)
bash scripts/image-test.sh >"$image_log" 2>&1 &
image_pid=$!
set +e
bash scripts/test-compiled.sh
compiled_rc=$?
wait "$image_pid"
image_rc=$?
set -e
took "the compiled build's tests and the image test"
echo "==> image test output"
cat "$image_log"
rm -f "$image_log"
[ "$compiled_rc" -eq 0 ] || {
  echo "the compiled build's tests failed (exit $compiled_rc)" >&2
  exit "$compiled_rc"
}
[ "$image_rc" -eq 0 ] || {
  echo "the image test failed (exit $image_rc)" >&2
  exit "$image_rc"
}
