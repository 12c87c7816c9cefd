#!/usr/bin/env bash
# Measures what coverage guidance adds: for each target, the in-tree engine (kennel-fuzz, its
# own outcome features) and libFuzzer (edge coverage, through cargo-fuzz on stable) each fuzz
# for the same time from the same committed corpus, one after the other; then one libFuzzer
# binary replays each resulting corpus with -runs=0 and reports the edges (cov) and features
# (ft) it covers. Same yardstick for both; higher is more code reached.
#   scripts/fuzz-compare.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz-compare.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(control message notice segment)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo build --release -p kennel-fuzz --locked --quiet
cargo fuzz build --fuzz-dir fuzz/libfuzzer -s none -O >/dev/null 2>&1
lf=fuzz/libfuzzer/target/x86_64-unknown-linux-gnu/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cover() { # binary dir -> "cov ft"
  "$1" -runs=0 -max_len=8192 "$2" 2>&1 | sed -n 's/.*INITED cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' | tail -1
}
printf '%-8s %-22s %-22s %-22s %s\n' target "committed (cov ft)" "in-tree ${secs}s (cov ft)" "libFuzzer ${secs}s (cov ft)" "inputs kept (in-tree / libFuzzer)"
for t in "${targets[@]}"; do
  mkdir -p "$work/intree/$t" "$work/lf/$t" "$work/seed"
  cp fuzz/corpus/"$t"/* "$work/intree/$t/"
  cp fuzz/corpus/"$t"/* "$work/lf/$t/"
  base=$(cover "$lf/$t" "fuzz/corpus/$t")
  n0=$(ls fuzz/corpus/"$t" | wc -l)
  target/release/kennel-fuzz "$t" --time "${secs}s" --corpus "$work/intree" --save-corpus \
    --crashes "$work/crashes" >/dev/null 2>&1 || echo "  (in-tree $t reported a crash: see above)"
  "$lf/$t" -max_total_time="$secs" -max_len=8192 -artifact_prefix="$work/" "$work/lf/$t" \
    >/dev/null 2>&1 || echo "  (libFuzzer $t reported a crash)"
  a=$(cover "$lf/$t" "$work/intree/$t")
  b=$(cover "$lf/$t" "$work/lf/$t")
  printf '%-8s %-22s %-22s %-22s %s / %s\n' "$t" "$base" "$a" "$b" \
    "$(( $(ls "$work/intree/$t" | wc -l) - n0 ))" "$(( $(ls "$work/lf/$t" | wc -l) - n0 ))"
done
