#!/usr/bin/env bash
# Instructions the gateway executes per single-message request, under callgrind: repeatable
# whatever else the machine does (docs/benchmarks.md, 2026-12-02). Fresh data directory,
# simulator delay 0, 2,000 requests of warm-up uninstrumented, then N requests over 16
# connections instrumented, then SETTLE seconds (default 10) for delivery to finish.
#
#   bench/instructions.sh TERN OUT [N]      # STATUS=1: the account has a status URL (dlr-recv)
#   callgrind_annotate OUT.1 | head         # instructions, divide by N
#
# TOOLS (default target/shared-bench/release) holds httpload and dlr-recv, built as
# ../shared/bench/README.md says.
set -euo pipefail
tern=$1 out=$2 n=${3:-10000}
tools=${TOOLS:-$(cd "$(dirname "$0")/.." && pwd)/target/shared-bench/release}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tern-instructions.XXXXXX")
port=$((20000 + RANDOM % 20000))
printf '[simulator]\ndefault_delay_ms = 0\n' >"$scratch/tern.toml"
status=()
if [ -n "${STATUS:-}" ]; then
    "$tools/dlr-recv" --port $((port + 1)) --quiet >/dev/null 2>&1 &
    dpid=$!
    status=(--status-url "http://127.0.0.1:$((port + 1))/hook")
fi
token=$(TERN_LOG=warn "$tern" account create --data-dir "$scratch/data" --name bench "${status[@]}" | tail -n1)
TERN_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" --instr-atstart=no \
    "$tern" serve --data-dir "$scratch/data" --http-addr 127.0.0.1:$port \
    --config "$scratch/tern.toml" >"$scratch/serve.log" 2>&1 &
vpid=$!
for _ in $(seq 600); do grep -q 'listening' "$scratch/serve.log" && break; sleep 0.2; done
item='{"from":"Bench","to":[{"number":"00316{n8}"}],"body":{"content":"benchmark message {n}"}}'
body="{\"messages\":{\"authentication\":{\"producttoken\":\"$token\"},\"msg\":[{item}$item{/item}]}}"
"$tools/httpload" --port $port -n 2000 -c 16 --path /v1.0/message --body "$body" \
    --json "$scratch/warm.json" >/dev/null 2>&1
callgrind_control -i on $vpid >/dev/null 2>&1
"$tools/httpload" --port $port -n "$n" -c 16 --path /v1.0/message --body "$body" \
    --json "$scratch/measured.json" >/dev/null 2>&1
sleep "${SETTLE:-10}"
callgrind_control -i off $vpid >/dev/null 2>&1
callgrind_control -d $vpid >/dev/null 2>&1
sleep 1
kill -TERM $vpid
wait $vpid 2>/dev/null || true
[ -n "${dpid:-}" ] && kill "$dpid"
grep -o '"ok_2xx":[0-9]*' "$scratch/measured.json"
rm -rf "$scratch"
