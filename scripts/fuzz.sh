#!/usr/bin/env bash
# Fuzzes Kennel's untrusted-input code: the control-line parser, the worker message framing,
# the FIFO notice decoder and the segment validator, each for the given time (default 10m),
# starting from the corpora in fuzz/corpus/. Crashing inputs land in fuzz/crashes/.
#   scripts/fuzz.sh [TIME] [TARGET...]       e.g. scripts/fuzz.sh 10m      scripts/fuzz.sh 30s segment
set -euo pipefail
cd "$(dirname "$0")/.."
time="${1:-10m}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(control message notice segment)
cargo build --release -p kennel-fuzz --locked --quiet
status=0
for t in "${targets[@]}"; do
  target/release/kennel-fuzz "$t" --time "$time" || status=1
done
exit $status
