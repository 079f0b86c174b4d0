#!/usr/bin/env bash
# The benchmark in one command: build release, then run tern-bench against the release gateway.
# Options (after the script name): --duration-secs N (per phase, default 10), --connections N
# (default 64), --batch-connections N (default 16), --smpp-messages N (default 200000),
# --phases single,half,batched,e2e,smpp,connector,whatsapp,postgres (default all; add kannel for Kannel 1.4.5
# on the connector's cycle in the same run), --quick (short phases, a smoke run),
# --allow-tmpfs (run even when the data directory is on tmpfs/ramfs; also BENCH_ALLOW_TMPFS=1).
set -euo pipefail
cd "$(dirname "$0")/.."

# The gateway's data directory is a fresh directory under $TMPDIR (else /tmp). On tmpfs or ramfs
# an fsync costs nothing, so the figures would not measure the durable commit the gateway makes.
allow_tmpfs="${BENCH_ALLOW_TMPFS:-0}"
args=()
for arg in "$@"; do
    if [ "$arg" = "--allow-tmpfs" ]; then
        allow_tmpfs=1
    else
        args+=("$arg")
    fi
done
scratch="${TMPDIR:-/tmp}"
fs_type="$(stat -f -c %T "$scratch" 2>/dev/null || echo unknown)"
case "$fs_type" in
    tmpfs | ramfs)
        if [ "$allow_tmpfs" = "1" ]; then
            echo "bench/run.sh: WARNING: the data directory ($scratch) is on $fs_type; fsync costs nothing there, so these figures do not measure durable commits." >&2
        else
            echo "bench/run.sh: refusing to run: the data directory would be under $scratch, which is on $fs_type, where fsync costs nothing and the figures would not measure durable commits. Point TMPDIR at a directory on a disk (e.g. TMPDIR=\$PWD/target bench/run.sh), or pass --allow-tmpfs (or set BENCH_ALLOW_TMPFS=1) to run anyway." >&2
            exit 2
        fi
        ;;
esac

cargo build --release -p tern -p tern-bench
# The SMPP phase's client and reference server: smsc-sink from ../shared/bench (SHARED_BENCH says
# where else), built into target/shared-bench as that folder's README says.
shared_bench="${SHARED_BENCH:-../shared/bench}"
if [ -f "$shared_bench/smsc-sink/Cargo.toml" ]; then
    cargo build --release --manifest-path "$shared_bench/smsc-sink/Cargo.toml" --target-dir target/shared-bench
fi
exec target/release/tern-bench --tern target/release/tern ${args[@]+"${args[@]}"}
