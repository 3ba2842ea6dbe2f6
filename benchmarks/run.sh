#!/usr/bin/env bash
# run.sh: the whole measurement of benchmarks/README.md, to be run on a quiet
# machine (no other builds or tests running).
#
#   1. the correctness gate (go test -run CorrectnessGate -v)
#   2. the benchmarks, -count COUNT: everything at -benchtime BENCHTIME, and the
#      1M-key scenario at -benchtime 1000000x (every request a new key)
#   3. benchstat over them, and the median tables (cmd/benchtable)
#   4. the load test (loadtest.sh, ROUNDS rounds)
#
# Everything lands in OUTDIR. About 35 minutes with the defaults on 2 CPUs.
#
# Environment (defaults): COUNT=10 BENCHTIME=1s OUTDIR=results ROUNDS=3
#   LOADTEST=1 (0 skips the load test; it needs wrk: apt-get install -y wrk)
#   BENCH=regexp to run a subset of the main runs (default: all)
#   KEYS1M=1 (0 skips the 1M-key runs)
set -euo pipefail

COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-1s}
OUTDIR=${OUTDIR:-results}
ROUNDS=${ROUNDS:-3}
LOADTEST=${LOADTEST:-1}
BENCH=${BENCH:-.}
KEYS1M=${KEYS1M:-1}

cd "$(dirname "$0")"
mkdir -p "$OUTDIR"
benchstat=(go run golang.org/x/perf/cmd/benchstat@latest)

{
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "cpus (nproc): $(nproc)"
	echo "cpu model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "go: $(go version)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "peers:"
	go list -m -f '  {{.Path}} {{.Version}}' github.com/go-chi/httprate github.com/didip/tollbooth/v7 \
		github.com/ulule/limiter/v3 github.com/sethvargo/go-limiter github.com/throttled/throttled/v2 \
		github.com/labstack/echo/v4 golang.org/x/time
} | tee "$OUTDIR/machine.txt"

echo "== correctness gate" >&2
go test -count=1 -run 'CorrectnessGate' -v . | tee "$OUTDIR/gate.txt"

echo "== benchmarks (-count $COUNT)" >&2
go test -run '^$' -bench "$BENCH" -skip 'RateLimit/scenario=Keys1M' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" \
	-timeout 0 . | tee "$OUTDIR/bench.txt"
if [[ $KEYS1M != 0 ]]; then
	go test -run '^$' -bench 'RateLimit/scenario=Keys1M' -benchmem -count "$COUNT" -benchtime 1000000x \
		-timeout 0 . | tee -a "$OUTDIR/bench.txt"
fi

echo "== benchstat" >&2
{
	echo "### Rate limiting: one table per scenario, a column per library (deltas against gatekey, the first)"
	"${benchstat[@]}" -filter '.name:RateLimit' -table /scenario -col /lib -row /mode "$OUTDIR/bench.txt"
	echo
	echo "### Authentication"
	"${benchstat[@]}" -filter '.name:(Authenticate OR AuthMiddleware)' "$OUTDIR/bench.txt"
} >"$OUTDIR/benchstat.txt"
cat "$OUTDIR/benchstat.txt"
go run ./cmd/benchtable "$OUTDIR/bench.txt" >"$OUTDIR/tables.md"
cat "$OUTDIR/tables.md"

if [[ $LOADTEST != 0 ]]; then
	echo "== load test" >&2
	ROUNDS=$ROUNDS OUT="$OUTDIR/loadtest.md" ./loadtest.sh
fi
echo "results in $OUTDIR/" >&2
