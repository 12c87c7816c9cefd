#!/usr/bin/env bash
# The load benchmark: builds in release mode and runs kennel-bench load, which measures Kennel
# against a one-hop floor, a two-hop floor with no IPC, and nginx as a TCP stream proxy, all
# in the same run and interleaved; then dispatch overhead, memory, 10,000 idle control
# connections (and a real client's p99 while they are open) and restart latency. Prints a table and writes target/bench/latest.json.
#   scripts/bench.sh            full run (a few minutes)
#   scripts/bench.sh --quick    the same grid with short runs (about a minute)
#   scripts/bench.sh --no-nginx
# nginx is installed from the distribution's packages when missing and when we may (root);
# otherwise its column is skipped, and the report says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
kennel_ensure_packages
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && [[ " $* " != *" --no-nginx "* ]]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing nginx (stream module) from the distribution's packages" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nginx libnginx-mod-stream >/dev/null || echo "bench.sh: nginx install failed; skipping it" >&2
  else
    echo "bench.sh: nginx not installed and not root: the nginx column will be skipped" >&2
  fi
fi
cargo build --release --workspace --bins --locked --quiet
exec target/release/kennel-bench load "$@"
