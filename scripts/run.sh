#!/usr/bin/env bash
# Builds Kennel (release) if needed and runs the watchdog in the foreground, logging to this
# terminal. Arguments pass through: scripts/run.sh --workers 4 --port 3222
# Ctrl-C stops everything cleanly (children stopped and reaped, IPC objects removed).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "run.sh: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
  exit 1
fi
. scripts/deps.sh
kennel_ensure_packages
if [ ! -x target/release/kennel-watchdog ]; then
  echo "run.sh: building Kennel (release) for the first time: about a minute on 2 cores..." >&2
else
  echo "run.sh: bringing the release build up to date..." >&2
fi
cargo build --release --workspace --bins --locked --quiet
bin="$PWD/target/release"
echo "run.sh: starting $bin/kennel-watchdog $*" >&2
echo "run.sh: in another terminal: $bin/kennel-client --count 3   and   $bin/kennelctl status" >&2
# With --http ADDR:PORT (or --http=ADDR:PORT): where the playground is.
prev=""
for a in "$@"; do
  case "$prev$a" in
    --http*:*) echo "run.sh: the playground and the API: http://${a#--http=}/ (docs/HTTP.md)" >&2 ;;
  esac
  prev=""; [ "$a" = "--http" ] && prev="--http"
done
exec "$bin/kennel-watchdog" "$@"
