#!/usr/bin/env bash
# Fuzzes Kennel's untrusted-input code: the control-line parser, the worker message framing,
# the FIFO notice decoder and the segment validator, each for the given time (default 10m),
# starting from the corpora in fuzz/corpus/. Two engines, the same targets and properties:
#   scripts/fuzz.sh [TIME] [TARGET...]              the in-tree engine (kennel-fuzz): no tools
#                                                   needed; crashing inputs land in fuzz/crashes/
#   scripts/fuzz.sh --libfuzzer [SECS] [TARGET...]  libFuzzer, coverage-guided (cargo-fuzz on
#                                                   stable, no sanitizer; installed if missing);
#                                                   inputs that add coverage are merged into
#                                                   fuzz/corpus/, crashes land in fuzz/crashes/
# scripts/fuzz-compare.sh measures one against the other.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--libfuzzer" ]; then
  shift
  secs="${1:-600}"
  shift || true
  targets=("$@")
  [ ${#targets[@]} -gt 0 ] || targets=(control message notice segment)
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  cargo fuzz build --fuzz-dir fuzz/libfuzzer -s none -O
  lf=fuzz/libfuzzer/target/x86_64-unknown-linux-gnu/release
  mkdir -p fuzz/crashes
  status=0
  for t in "${targets[@]}"; do
    found=$(mktemp -d)
    "$lf/$t" -max_total_time="$secs" -max_len=8192 -artifact_prefix="fuzz/crashes/$t-" \
      "$found" fuzz/corpus/"$t" || status=1
    # Keep only what adds coverage to the committed corpus.
    "$lf/$t" -merge=1 -max_len=8192 fuzz/corpus/"$t" "$found" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
    rm -rf "$found"
  done
  exit $status
fi
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
