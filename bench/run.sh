#!/usr/bin/env bash
# The benchmark in one command: build release, then run tern-bench against the release gateway.
# Options (after the script name): --duration-secs N (per phase, default 10), --connections N
# (default 64), --batch-connections N (default 16), --quick (short phases, a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p tern -p tern-bench
exec target/release/tern-bench --tern target/release/tern "$@"
