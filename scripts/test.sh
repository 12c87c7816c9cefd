#!/usr/bin/env bash
# The whole test suite: formatting, lints, every unit and integration test (the integration
# tests start the real binaries, so they are built first), as the README and CI run it.
# Included: a short chaos run, a tiny restart benchmark, and a 2-second run of every fuzz
# target over its committed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
kennel_ensure_packages
# Tools only the tests use: tmux drives kennelctl top in a real terminal; Debian's headless
# Chromium and chromedriver load the playground page; HAProxy fronts the multi-host test.
# Installed as root when missing.
test_tools=()
command -v tmux >/dev/null 2>&1 || test_tools+=(tmux)
[ -x /usr/bin/chromium ] || test_tools+=(chromium)
[ -x /usr/bin/chromedriver ] || test_tools+=(chromium-driver)
# HAProxy and iproute2's `ip`: the multi-host test (network namespaces, as root).
[ -x /usr/sbin/haproxy ] || test_tools+=(haproxy)
command -v ip >/dev/null 2>&1 || test_tools+=(iproute2)
# A cgroup-v2 kernel booted under qemu's emulation (these machines are cgroup v1): the VM
# tests (tests/tests/vm_cgroup2.rs) share this root with it read-only.
command -v qemu-system-x86_64 >/dev/null 2>&1 || test_tools+=(qemu-system-x86)
ls /boot/vmlinuz-* >/dev/null 2>&1 || test_tools+=(linux-image-amd64)
{ [ -x /bin/busybox ] || [ -x /usr/bin/busybox ]; } || test_tools+=(busybox-static)
command -v cpio >/dev/null 2>&1 || test_tools+=(cpio)
# Node.js and npm: npm's piston-client, run unchanged against the gateway.
command -v node >/dev/null 2>&1 || test_tools+=(nodejs)
command -v npm >/dev/null 2>&1 || test_tools+=(npm)
if [ "${#test_tools[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test.sh: installing ${test_tools[*]} (the console and browser tests)" >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${test_tools[@]}" >/dev/null \
    || echo "test.sh: installing ${test_tools[*]} failed" >&2
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build (the integration tests run these binaries)"
cargo build --workspace --all-targets --locked
# Every IPC object a test creates must be gone when it ends: compare before and after.
ipc_objects() {
  { ls /dev/shm 2>/dev/null | grep "^kennel-$(id -u)-" || true; } | sed 's/^/shm /'
  { ipcs -s 2>/dev/null | awk -v me="$(id -un)" '$3 == me {print "semaphore " $2}' || true; }
}
before=$(ipc_objects | sort)
# Kennel's processes and sandboxes (pid and name), to find any a test leaves running.
kennel_processes() {
  ps -eo pid=,comm= | awk '$2 ~ /^(bwrap|kennel-run|kennel-worker|kennel-watchdog|kennel-dispatch|kennel-gateway)$/ {print $1, $2}'
}
procs_before=$(kennel_processes | sort)

echo "== cargo test"
# The program runner's tests (named sandbox_*) need bubblewrap and the toolchains. Present:
# they must pass (a missing piece is a failure, not a skip). Absent (an ordinary user who
# could not install them): skipped, said here, and counted as skipped in the summary.
skip=()
sandbox_skipped=0
if [ -z "$(kennel_missing_packages)" ]; then
  export KENNEL_REQUIRE_SANDBOX=1
else
  sandbox_skipped=$(cargo test --workspace --locked -- --list 2>/dev/null | grep -c 'sandbox_.*: test$' || true)
  echo "SKIPPED: $sandbox_skipped program-runner tests: missing $(kennel_missing_packages)"
  skip=(--skip sandbox_)
fi
# Python tools from PyPI, in a virtualenv of our own (nothing installed into the system's
# Python): prometheus_client, a real parser of the Prometheus format for the metrics tests;
# schemathesis, which fuzzes the HTTP API against its OpenAPI files; judge0, Judge0's official
# SDK, run unchanged against the gateway (pinned: the version the compatibility was tried with).
venv=target/pytools
if ! "$venv/bin/python" -c "import prometheus_client, schemathesis, judge0" 2>/dev/null; then
  python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/pip" install -q prometheus_client schemathesis judge0==0.0.8 >/dev/null 2>&1 || true
fi
# JavaScript clients from the npm registry, in a scratch directory under target/.
jstools=target/jstools
if [ ! -f "$jstools/node_modules/piston-client/package.json" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p "$jstools" && (cd "$jstools" && npm install --silent --no-audit --no-fund piston-client@1.0.2 >/dev/null 2>&1) || true
fi
compat_missing=()
if "$venv/bin/python" -c "import judge0" 2>/dev/null; then
  export KENNEL_JUDGE0_PYTHON="$PWD/$venv/bin/python"
else
  compat_missing+=(judge0)
fi
if [ -f "$jstools/node_modules/piston-client/package.json" ] && command -v node >/dev/null 2>&1; then
  export KENNEL_PISTON_CLIENT_DIR="$PWD/$jstools"
else
  compat_missing+=(piston-client)
fi
if [ "${#compat_missing[@]}" -gt 0 ] && [ -z "$(kennel_missing_packages)" ]; then
  n=$(cargo test --workspace --locked -- --list 2>/dev/null | grep -c 'compat_.*: test$' || true)
  echo "SKIPPED: $n client compatibility tests: ${compat_missing[*]} could not be installed"
  sandbox_skipped=$((sandbox_skipped + n))
  skip+=(--skip compat_)
fi
if "$venv/bin/python" -c "import prometheus_client" 2>/dev/null; then
  export KENNEL_PROM_PYTHON="$PWD/$venv/bin/python"
else
  n=$(cargo test --workspace --locked -- --list 2>/dev/null | grep -c 'promparser_.*: test$' || true)
  echo "SKIPPED: $n metrics tests: the prometheus_client parser could not be installed"
  sandbox_skipped=$((sandbox_skipped + n))
  skip+=(--skip promparser_)
fi
if [ -x "$venv/bin/schemathesis" ] && [ -z "$(kennel_missing_packages)" ]; then
  export KENNEL_SCHEMATHESIS="$PWD/$venv/bin/schemathesis"
else
  n=$(cargo test --workspace --locked -- --list 2>/dev/null | grep -c 'schemathesis_.*: test$' || true)
  echo "SKIPPED: $n API fuzzing tests: schemathesis (or the sandbox) is not available"
  sandbox_skipped=$((sandbox_skipped + n))
  skip+=(--skip schemathesis_)
fi
# (Without the sandbox they are skipped already: they are sandbox_browser_*.)
if ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } && [ -z "$(kennel_missing_packages)" ]; then
  n=$(cargo test --workspace --locked -- --list 2>/dev/null | grep -c 'browser_.*: test$' || true)
  echo "SKIPPED: $n browser tests: chromium and chromedriver are not installed"
  sandbox_skipped=$((sandbox_skipped + n))
  skip+=(--skip browser_)
fi
if ! command -v tmux >/dev/null 2>&1; then
  n=$(cargo test --workspace --locked -- --list 2>/dev/null | grep -c 'tmux_.*: test$' || true)
  echo "SKIPPED: $n console tests: tmux is not installed"
  sandbox_skipped=$((sandbox_skipped + n))
  skip+=(--skip tmux_)
fi
if [ "$(id -u)" = 0 ] && ! { [ -x /usr/sbin/haproxy ] && command -v ip >/dev/null 2>&1; }; then
  n=$(cargo test --workspace --locked -- --list --ignored 2>/dev/null | grep -c 'multihost_.*: test$' || true)
  echo "SKIPPED: $n multi-host tests: haproxy or ip (iproute2) is not installed"
  sandbox_skipped=$((sandbox_skipped + n))
  skip+=(--skip multihost_)
fi
if [ "$(id -u)" = 0 ] && ! { command -v qemu-system-x86_64 >/dev/null 2>&1 && ls /boot/vmlinuz-* >/dev/null 2>&1 \
    && { [ -x /bin/busybox ] || [ -x /usr/bin/busybox ]; } && command -v cpio >/dev/null 2>&1; }; then
  n=$(cargo test --workspace --locked -- --list --ignored 2>/dev/null | grep -c 'vm_cgroup2_.*: test$' || true)
  echo "SKIPPED: $n cgroup-v2 VM tests: qemu-system-x86, a kernel in /boot, busybox or cpio is not installed"
  sandbox_skipped=$((sandbox_skipped + n))
  skip+=(--skip vm_cgroup2_)
fi
# Tests that need root are #[ignore]d with the reason; as root they run too, otherwise cargo
# lists them as ignored (skipped), never as passed.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ "$(id -u)" = 0 ]; then
  cargo test --workspace --locked "$@" -- --include-ignored "${skip[@]}" 2>&1 | tee "$out"
else
  echo "== not root: the tests that need root are skipped (cargo lists them as ignored)"
  cargo test --workspace --locked "$@" -- "${skip[@]}" 2>&1 | tee "$out"
fi

echo "== no IPC object left behind by the tests"
leaked=$(comm -13 <(echo "$before") <(ipc_objects | sort))
if [ -n "$leaked" ]; then
  echo "left behind by the tests:"
  echo "$leaked"
  exit 1
fi
echo "none"

echo "== no Kennel process or sandbox left running by the tests"
# A process dying as the last test ends gets 10 s to be gone.
left=""
for _ in $(seq 1 50); do
  left=$(comm -13 <(echo "$procs_before") <(kennel_processes | sort))
  [ -z "$left" ] && break
  sleep 0.2
done
if [ -n "$left" ]; then
  echo "left running by the tests (pid, name):"
  echo "$left"
  for p in $(echo "$left" | awk '{print $1}'); do ps -o pid=,ppid=,etime=,args= -p "$p" | cut -c1-200; done
  exit 1
fi
echo "none"
# One closing line over every test binary (cargo prints one per binary).
awk -v s="$sandbox_skipped" '/^test result:/ {p += $4; f += $6; i += $8} END {printf "summary: %d passed, %d failed, %d skipped\n", p, f, i + s}' "$out"
