#!/usr/bin/env bash
# Tern's HTTP intake against the bare HTTP ceiling, same client, same run (docs/benchmarks.md,
# "Against the bare HTTP ceiling"). Interleaves the ceiling and one or more tern binaries, a fresh
# gateway (fresh data directory, simulator delay 0, a status receiver) for each phase:
#
#   bench/ceiling.sh [-r ROUNDS] [-s N_SINGLE] [-b N_BATCHED] [-p single,batched] TERN...
#
# TOOLS (default target/shared-bench/release) holds http-ceiling, httpload and dlr-recv, built as
# ../shared/bench/README.md says. Prints one line per phase and a ratio table at the end.
set -euo pipefail
rounds=2 n_single=150000 n_batched=8000 phases=single,batched
while getopts r:s:b:p: opt; do
    case $opt in
        r) rounds=$OPTARG ;;
        s) n_single=$OPTARG ;;
        b) n_batched=$OPTARG ;;
        p) phases=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-r ROUNDS] [-s N] [-b N] [-p PHASES] TERN..." >&2; exit 2; }
tools=${TOOLS:-$(cd "$(dirname "$0")/.." && pwd)/target/shared-bench/release}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tern-ceiling.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT
printf '[simulator]\ndefault_delay_ms = 0\n' >"$scratch/tern.toml"
port=$((20000 + RANDOM % 20000))
"$tools/dlr-recv" --port $((port + 1)) --quiet >/dev/null 2>&1 &
pids+=($!)
item='{"from":"Bench","to":[{"number":"00316{n8}"}],"body":{"content":"benchmark message {n}"}}'

rate() { # json-file field
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}

# Wait (at most 120 s) until the machine is idle: less than 0.1 core busy over a second.
wait_idle() {
    local i a b
    for i in $(seq 120); do
        a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
        sleep 1
        b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
        if awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y); busy = y[1] - x[1]; idle = y[2] - x[2]; exit !(busy < 0.05 * (busy + idle)) }'; then
            return
        fi
    done
    echo "machine still busy after 120 s; measuring anyway" >&2
}

# run_phase LABEL PHASE PORT TOKEN -> prints messages/s
run_phase() {
    local label=$1 phase=$2 p=$3 token=$4 out="$scratch/out.json" body
    [ -n "${NO_WAIT_IDLE:-}" ] || wait_idle
    body="{\"messages\":{\"authentication\":{\"producttoken\":\"$token\"},\"msg\":[{item}$item{/item}]}}"
    if [ "$phase" = single ]; then
        "$tools/httpload" --port "$p" -n "$n_single" -c 64 --path /v1.0/message --body "$body" \
            --json "$out" >"$scratch/log" 2>&1
    else
        "$tools/httpload" --port "$p" -n "$n_batched" -c 16 --path /v1.0/message --body "$body" \
            --body-repeat 100 --json "$out" >"$scratch/log" 2>&1
    fi
    local ok completed rps
    ok=$(rate "$out" ok_2xx) completed=$(rate "$out" completed) rps=$(rate "$out" req_per_s)
    if [ "$ok" != "$completed" ] || { [ "$label" != ceiling ] && ! grep -q '"status":"Accepted"' "$scratch/log"; }; then
        echo "$label $phase: not all accepted" >&2
        cat "$scratch/log" >&2
        exit 1
    fi
    if [ "$phase" = batched ]; then rps=$(awk -v r="$rps" 'BEGIN { printf "%.0f", r * 100 }'); fi
    printf '%-28s %-8s %10.0f msg/s  (p50 %s ms, p99 %s ms, client cpu %s s)\n' "$label" "$phase" "$rps" \
        "$(rate "$out" p50)" "$(rate "$out" p99)" "$(rate "$out" cpu_s)" >&2
    echo "$rps"
}

declare -A sum
for round in $(seq 1 "$rounds"); do
    for phase in ${phases//,/ }; do
        # ceiling
        p=$((port + 2))
        "$tools/http-ceiling" --port $p >/dev/null 2>&1 &
        cpid=$!
        sleep 0.3
        r=$(run_phase ceiling "$phase" $p none)
        kill $cpid; wait $cpid 2>/dev/null || true
        line="round $round $phase: ceiling $r"
        base=$r
        for tern in "$@"; do
            dir="$scratch/data"
            rm -rf "$dir"
            token=$(TERN_LOG=warn "$tern" account create --data-dir "$dir" --name bench \
                --status-url "http://127.0.0.1:$((port + 1))/hook" | tail -n1)
            TERN_LOG=warn "$tern" serve --data-dir "$dir" --http-addr 127.0.0.1:$((port + 3)) \
                --config "$scratch/tern.toml" >"$scratch/serve.log" 2>&1 &
            tpid=$!
            for _ in $(seq 100); do grep -q 'listening' "$scratch/serve.log" && break; sleep 0.1; done
            r=$(run_phase "$tern" "$phase" $((port + 3)) "$token")
            kill -TERM $tpid; wait $tpid 2>/dev/null || true
            line="$line | $(basename "$tern") $r ($(awk -v a="$r" -v b="$base" 'BEGIN { printf "%.1f %%", 100 * a / b }'))"
            sum["$phase $tern"]=$(awk -v a="${sum["$phase $tern"]:-0}" -v r="$r" -v b="$base" 'BEGIN { print a + r / b }')
        done
        echo "$line"
    done
done
for phase in ${phases//,/ }; do
    for tern in "$@"; do
        awk -v s="${sum["$phase $tern"]}" -v n="$rounds" -v t="$tern" -v ph="$phase" \
            'BEGIN { printf "mean ratio %-8s %-28s %.1f %%\n", ph, t, 100 * s / n }'
    done
done
