#!/usr/bin/env bash
# Build the container image from the Dockerfile and prove what it promises, with rootful podman
# and no registry:
#   - it is the mypyc-compiled build (the Dockerfile's default): deliverability_build_info has
#     compiled="true", and the runtime stage carries no C compiler;
#   - it runs as the non-root user 10190 with a read-only root filesystem and no capabilities;
#   - /healthz and /metrics answer through a port published on 127.0.0.1, and
#     `promtool check metrics` passes on the scrape;
#   - the HEALTHCHECK reports healthy;
#   - SIGTERM stops it with exit status 0 within the stop timeout (no SIGKILL);
#   - `run` with a mounted config checks a domain served by a `named` on the host's loopback
#     (that container shares the host network: only 127.0.0.1 is used).
#
# The base image is a stand-in: Debian bookworm with its own python3, made with debootstrap
# from the Debian mirror apt is configured with, imported locally and passed as BASE_IMAGE.
# It proves the Dockerfile's stages, user, filesystem, entry point and health check; the
# release workflow builds on the official python image. The debootstrap tarball is cached
# ($IMAGE_TEST_CACHE, default ~/.cache/ses-deliverability-exporter) between runs.
#
# Needs root (or sudo) for apt-get and rootful podman. Skips, saying why, only where apt cannot
# install podman or where podman cannot start a container at all. IMAGE_TEST=skip skips it on
# purpose (also said). Everything it creates (storage, containers, named) is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${IMAGE_TEST:-}" = "skip" ]; then
  echo "==> image test SKIPPED: IMAGE_TEST=skip is set"
  exit 0
fi

start=$(date +%s)
log() { echo "==> image test: $*"; }
fail() {
  echo "image test FAILED: $*" >&2
  exit 1
}
skip() {
  echo "==> image test SKIPPED: $*" >&2
  exit 0
}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# ---- tools ------------------------------------------------------------------------------------
need_apt=()
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || need_apt+=(runc)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need_apt+=(bind9)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    skip "apt-get is not available here to install ${need_apt[*]}"
  fi
  if [ -n "$sudo" ] && ! sudo -n true 2>/dev/null; then
    skip "not root and no password-less sudo: cannot apt-get install ${need_apt[*]}"
  fi
  log "apt-get install ${need_apt[*]}"
  $sudo apt-get update -qq || skip "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null || skip "apt-get cannot install ${need_apt[*]}"
fi
export PATH="$PATH:/usr/sbin:/sbin"
RUNC=$(command -v runc)

T=$(mktemp -d /tmp/ses-image-test.XXXXXX)
named_pid=""
pm() {
  # Private storage (removed on exit); runc and cgroupfs (crun refuses hybrid cgroups, and
  # there may be no systemd); events to a file (there may be no journald).
  $sudo podman --root "$T/storage" --runroot "$T/run" --runtime "$RUNC" \
    --cgroup-manager cgroupfs --events-backend file "$@"
}
cleanup() {
  set +e
  for name in ses-image-test-demo ses-image-test-run; do
    pm rm --force --time 5 "$name" >/dev/null 2>&1
  done
  if [ -n "$named_pid" ]; then
    kill "$named_pid" 2>/dev/null
    wait "$named_pid" 2>/dev/null
  fi
  # Only this run's private store (never `system reset`: it also drops host-wide networks).
  pm rm --all --force --time 5 >/dev/null 2>&1
  pm rmi --all --force >/dev/null 2>&1
  if grep -q " $T/" /proc/mounts 2>/dev/null; then
    grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r $sudo umount -l 2>/dev/null
  fi
  $sudo rm -rf "$T"
}
trap cleanup EXIT

# podman's default rlimits may exceed what this process may set (no CAP_SYS_RESOURCE).
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = "unlimited" ] && hard_nofile=1048576
ULIMITS=(--ulimit "nofile=$hard_nofile:$hard_nofile" --ulimit "nproc=32768:32768")
# A TLS-intercepting proxy's CA may live only in the host bundle: lend it to the build
# (a bind mount, never stored in the image).
BUILD_VOLUMES=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  BUILD_VOLUMES=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# GET a URL, print the body; exit 1 unless 200 within the deadline (seconds).
http_get() {
  python3 - "$1" "$2" <<'EOF'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
last = ""
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            sys.stdout.write(response.read().decode())
            sys.exit(0)
    except OSError as exc:
        last = str(exc)
    time.sleep(0.2)
sys.exit(f"{url}: no answer: {last}")
EOF
}

# GET a URL served by container $1 into file $3; fail at once if the container exits, or if
# there is no answer within 60 tries.
wait_http() {
  local tries=0
  until http_get "$2" 2 >"$3" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$(pm inspect --format '{{.State.Running}}' "$1")" != "true" ]; then
      fail "$1 exited before $2 answered: $(pm logs "$1" 2>&1 | tail -20)"
    fi
    [ "$tries" -lt 60 ] || fail "$2 did not answer: $(pm logs "$1" 2>&1 | tail -20)"
  done
}

# ---- the stand-in base image ----------------------------------------------------------------
BASE=localhost/ses-deliverability-exporter-test-base:bookworm
CACHE=${IMAGE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ses-deliverability-exporter}
BASE_TAR=$CACHE/debootstrap-bookworm-python3.tar
if [ ! -s "$BASE_TAR" ]; then
  mirror=$(sed -n 's/^URIs: *\([^ ]*debian\/*\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  log "debootstrap bookworm from $mirror (cached afterwards in $BASE_TAR)"
  t0=$(date +%s)
  $sudo debootstrap --variant=minbase --include=python3,python3-pip,python-is-python3 \
    bookworm "$T/rootfs" "$mirror" >"$T/debootstrap.log" 2>&1 ||
    fail "debootstrap: $(tail -5 "$T/debootstrap.log")"
  # The official python image has no PEP 668 marker: pip installs into the system Python.
  $sudo rm -f "$T"/rootfs/usr/lib/python3*/EXTERNALLY-MANAGED
  $sudo rm -rf "$T"/rootfs/var/cache/apt/archives/*.deb "$T"/rootfs/var/lib/apt/lists/*
  mkdir -p "$CACHE"
  $sudo tar --numeric-owner -C "$T/rootfs" -cf "$BASE_TAR.part" .
  mv "$BASE_TAR.part" "$BASE_TAR"
  $sudo rm -rf "$T/rootfs"
  log "debootstrap took $(($(date +%s) - t0)) s"
fi
pm import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' "$BASE_TAR" "$BASE" >"$T/import.log" 2>&1 ||
  fail "podman import of the stand-in base: $(tail -5 "$T/import.log")"

# Can podman start a container at all here? (Not: is the image right. That is tested below.)
if ! probe=$(pm run --rm "${ULIMITS[@]}" --network none "$BASE" true 2>&1); then
  skip "podman cannot start a container on this machine: $probe"
fi

# ---- build --------------------------------------------------------------------------------------
IMAGE=localhost/ses-deliverability-exporter:image-test
VERSION=$(python3 -c 'import re, sys; print(re.search(r"__version__ = \"([^\"]+)\"", open("exporter/__init__.py").read())[1])')
log "podman build (BASE_IMAGE=$BASE)"
t0=$(date +%s)
# --format docker keeps the HEALTHCHECK (the OCI image format has no such field).
pm build --format docker --pull=never --network host "${ULIMITS[@]}" "${BUILD_VOLUMES[@]}" \
  --build-arg "BASE_IMAGE=$BASE" --build-arg "BASE_DIGEST=sha256:stand-in" \
  --build-arg "VERSION=$VERSION" --build-arg "REVISION=image-test" \
  -t "$IMAGE" -f Dockerfile . >"$T/build.log" 2>&1 ||
  fail "podman build: $(tail -30 "$T/build.log")"
build_s=$(($(date +%s) - t0))
size=$(pm image inspect --format '{{.Size}}' "$IMAGE")
layer=$(pm history --no-trunc --format '{{.Size}}|{{.CreatedBy}}' "$IMAGE" | awk -F'|' '/pip install/ {print $1; exit}')
log "built in ${build_s} s, $((size / 1000000)) MB (the project's layer: ${layer:-?})"

user=$(pm image inspect --format '{{.Config.User}}' "$IMAGE")
[ "$user" = "10190:10190" ] || fail "image user is '$user', not 10190:10190"
version_out=$(pm run --rm "${ULIMITS[@]}" --network none "$IMAGE" --version 2>/dev/null)
[ "$version_out" = "ses-deliverability-exporter $VERSION (revision image-test)" ] ||
  fail "--version in the image: $version_out"
labels=$(pm image inspect --format '{{json .Labels}}' "$IMAGE")
for key in org.opencontainers.image.version org.opencontainers.image.base.name \
  org.opencontainers.image.base.digest; do
  echo "$labels" | grep -q "\"$key\"" || fail "label $key missing: $labels"
done
echo "$labels" | grep -q "\"org.opencontainers.image.version\":\"$VERSION\"" ||
  fail "version label is not $VERSION: $labels"
# The compiler stays in the builder stage.
compiler=$(pm run --rm "${ULIMITS[@]}" --network none --entrypoint python "$IMAGE" \
  -c 'import shutil; print(shutil.which("gcc") or shutil.which("cc") or "")' 2>"$T/which.err") ||
  fail "python in the image: $(cat "$T/which.err")"
[ -z "$compiler" ] || fail "the runtime image has a C compiler: $compiler"

# ---- demo: user, read-only root, capabilities, endpoints, health check, SIGTERM -------------
PORT=$(free_port)
log "demo on 127.0.0.1:$PORT (read-only, --cap-drop all)"
pm run -d --name ses-image-test-demo "${ULIMITS[@]}" --read-only --tmpfs /tmp \
  --cap-drop all --security-opt no-new-privileges \
  --network slirp4netns:port_handler=slirp4netns -p "127.0.0.1:$PORT:10190" \
  "$IMAGE" demo >/dev/null 2>"$T/podman-run.err" || fail "podman run demo: $(cat "$T/podman-run.err")"

wait_http ses-image-test-demo "http://127.0.0.1:$PORT/healthz" "$T/healthz.txt"
# /metrics once the demo's first DNS cycle has exported a check result.
deadline=$(($(date +%s) + 60))
while :; do
  wait_http ses-image-test-demo "http://127.0.0.1:$PORT/metrics" "$T/metrics.txt"
  grep -q '^deliverability_check_status{' "$T/metrics.txt" && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "/metrics has no check result after 60 s"
  sleep 1
done
promtool check metrics <"$T/metrics.txt" >"$T/promtool.txt" 2>&1 ||
  fail "promtool check metrics: $(cat "$T/promtool.txt")"
build_info=$(grep '^deliverability_build_info{' "$T/metrics.txt" || true)
[[ $build_info == *'compiled="true"'* ]] || fail "not the compiled build: ${build_info:-no build_info}"
log "compiled build: $build_info"

status=$(pm exec ses-image-test-demo python -c 'print(open("/proc/1/status").read())')
field() { echo "$status" | awk -v k="$1:" '$1 == k {print $2, $3, $4, $5}'; }
[ "$(field Uid)" = "10190 10190 10190 10190" ] || fail "PID 1 user: $(field Uid)"
[ "$(field Gid)" = "10190 10190 10190 10190" ] || fail "PID 1 group: $(field Gid)"
for caps in CapInh CapPrm CapEff CapBnd CapAmb; do
  [ "$(field "$caps" | tr -d ' ')" = "0000000000000000" ] || fail "$caps: $(field "$caps")"
done
echo "$status" | grep -Eq '^NoNewPrivs:[[:space:]]+1' || fail "no_new_privs is not set"
if pm exec ses-image-test-demo python -c 'open("/usr/local/lib/probe", "w")' 2>/dev/null; then
  fail "the root filesystem is writable"
fi
pm exec ses-image-test-demo python -c 'open("/tmp/probe", "w").write("ok")' ||
  fail "/tmp is not writable"

pm healthcheck run ses-image-test-demo >"$T/health.txt" 2>&1 ||
  fail "HEALTHCHECK: $(cat "$T/health.txt")"
health=$(pm inspect --format '{{.State.Health.Status}}' ses-image-test-demo 2>/dev/null ||
  pm inspect --format '{{.State.Healthcheck.Status}}' ses-image-test-demo)
[ "$health" = "healthy" ] || fail "HEALTHCHECK status: $health"

t0=$(date +%s)
# 30 s before SIGKILL: exit status 0 proves SIGTERM alone stopped it.
pm stop --time 30 ses-image-test-demo >/dev/null 2>"$T/podman-stop.err"
code=$(pm inspect --format '{{.State.ExitCode}}' ses-image-test-demo)
[ "$code" = "0" ] || fail "exit status after SIGTERM: $code (137 = killed after the timeout)"
log "stopped by SIGTERM, exit 0, in $(($(date +%s) - t0)) s"

# ---- run: a mounted config, a domain served by named on the host's loopback -----------------
DNS_PORT=$(free_port)
mkdir -p "$T/named/run" "$T/config"
cat >"$T/named/named.conf" <<EOF
options {
    directory "$T/named/run"; pid-file "$T/named/run/named.pid";
    listen-on port $DNS_PORT { 127.0.0.1; }; listen-on-v6 { none; };
    recursion no; allow-query { any; }; allow-transfer { none; }; notify no;
    dnssec-validation no; session-keyfile "$T/named/run/session.key";
    managed-keys-directory "$T/named/run";
};
controls { };
zone "healthy.example" { type primary; file "$ROOT/exporter/demo/zones/healthy.example.zone"; };
zone "amazonses.com" { type primary; file "$ROOT/exporter/demo/zones/amazonses.com.zone"; };
EOF
named=$(command -v named || echo /usr/sbin/named)
"$named" -g -c "$T/named/named.conf" >"$T/named/named.log" 2>&1 &
named_pid=$!

RUN_PORT=$(free_port)
cat >"$T/config/config.toml" <<EOF
[server]
listen_address = "127.0.0.1:$RUN_PORT"

[resolver]
nameservers = ["127.0.0.1:$DNS_PORT"]
timeout_seconds = 2.0
attempts = 2

[schedule]
interval_seconds = 60
jitter_seconds = 0

[log]
format = "json"

[[domains]]
name = "healthy.example"
EOF
chmod 0755 "$T/config"
chmod 0644 "$T/config/config.toml"
log "run with a mounted config; healthy.example from named on 127.0.0.1:$DNS_PORT"
pm run -d --name ses-image-test-run "${ULIMITS[@]}" --read-only --tmpfs /tmp \
  --cap-drop all --security-opt no-new-privileges --network host \
  -v "$T/config:/etc/ses-deliverability-exporter:ro" \
  -e "HEALTHCHECK_URL=http://127.0.0.1:$RUN_PORT/healthz" "$IMAGE" >/dev/null 2>"$T/podman-run.err" ||
  fail "podman run run: $(cat "$T/podman-run.err")"
deadline=$(($(date +%s) + 90))
while :; do
  wait_http ses-image-test-run "http://127.0.0.1:$RUN_PORT/metrics" "$T/run-metrics.txt"
  grep -q '^deliverability_check_status{.*domain="healthy.example"' "$T/run-metrics.txt" && break
  [ "$(date +%s)" -lt "$deadline" ] ||
    fail "run: no check result for healthy.example: $(pm logs ses-image-test-run 2>&1 | tail -20)"
  sleep 1
done
# The DNS answers reached the checks: no check of the domain is unknown (DNS failure).
if grep '^deliverability_check_status{.*domain="healthy.example"' "$T/run-metrics.txt" |
  grep -Eq 'status="unknown"\} 1(\.0)?$'; then
  fail "run: a check is unknown: $(grep '^deliverability_check_status{' "$T/run-metrics.txt")"
fi
pm healthcheck run ses-image-test-run >/dev/null 2>&1 || fail "run: HEALTHCHECK"
pm stop --time 30 ses-image-test-run >/dev/null 2>"$T/podman-stop.err"
code=$(pm inspect --format '{{.State.ExitCode}}' ses-image-test-run)
[ "$code" = "0" ] || fail "run: exit status after SIGTERM: $code"

log "PASSED in $(($(date +%s) - start)) s (build ${build_s} s, image $((size / 1000000)) MB)"
