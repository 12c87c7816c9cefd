#!/usr/bin/env bash
# Chaos run: builds (release) and runs kennel-chaos, which starts its own instance, runs
# clients while SIGKILLing random children, and reports failures and leaks.
# Defaults: 8 clients, 60 s, a kill every 500 ms. Flags pass through:
#   scripts/chaos.sh -c 8 -t 60s -k 500ms --freeze --log /tmp/chaos.log
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins --locked --quiet
exec target/release/kennel-chaos "$@"
