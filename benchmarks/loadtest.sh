#!/usr/bin/env bash
# loadtest.sh: load test of gatekey's front door (middleware.Gate), on loopback only.
#
# 1. Builds benchmarks/cmd/loadserver and examples/server.
# 2. Starts loadserver on 127.0.0.1 (a free port), creates KEYS distinct keys
#    through POST /v1/keys with the admin key it prints, and drives, with wrk,
#    in each round: GET /bare (the handler alone), GET /v1/hello (the same
#    handler behind the Gate: request id, recovery, CORS, failed-auth
#    throttle, authentication, rate limit, routing, per-route checks) and
#    GET /peer/hello (the same handler behind the peer chain a Go service
#    would build without gatekey: chi's middleware.RequestID, a hand-written
#    key check, go-chi/httprate with the same limits). Every request carries
#    "Authorization: Bearer KEY", rotating through the keys (loadtest.lua),
#    the bare route's included, so every route gets the same request bytes.
# 3. Starts examples/server the same way, with at most 99 keys (its cap),
#    and drives GET /v1/me, the reference service as shipped (it also
#    encodes a JSON record and logs a line per request), for an absolute
#    figure.
# 4. Prints requests/s, p50/p99 latency, the server's CPU time per request,
#    and the overhead per request and the throughput loss of the Gate and of
#    the peer chain.
#
# Bounded: each wrk run lasts WARMUP + DURATION (wrk -d; the request count
# is bounded by that time, wrk having no count option), under a timeout;
# KEYS is at most 1000 (examples/server gets at most 99). Servers listen on
# 127.0.0.1 only and are killed on exit. Requires wrk (Debian: apt-get
# install -y wrk), curl and go.
#
# Environment (defaults):
#   DURATION=10s WARMUP=2s THREADS=2 CONNECTIONS=50 KEYS=300 ROUNDS=1
#   PIN=auto    with >= 2 CPUs and taskset: server on CPU 0, wrk on the others
#               (so the server's capacity is measured, not the scheduler's
#               mood); PIN=0 to share all CPUs
#   RATE="100000/minute,10000000/day"  per-key policy: two limits, like the
#               reference service's default, high enough that nothing is denied
#   OUT=FILE    also write the markdown summary to FILE
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
KEYS=${KEYS:-300}
ROUNDS=${ROUNDS:-1}
PIN=${PIN:-auto}
RATE=${RATE:-100000/minute,10000000/day}
OUT=${OUT:-}

if ! command -v wrk >/dev/null 2>&1; then
	echo "loadtest.sh: wrk not found. Install it (Debian/Ubuntu): apt-get install -y wrk" >&2
	exit 2
fi
for tool in curl go awk; do
	command -v "$tool" >/dev/null 2>&1 || { echo "loadtest.sh: $tool not found" >&2; exit 2; }
done
if ((KEYS < 1 || KEYS > 1000)); then
	echo "loadtest.sh: KEYS must be between 1 and 1000" >&2
	exit 2
fi
# examples/server caps an account at 100 active keys, its admin key
# included, so it accepts at most 99 more: it gets min(KEYS, 99) keys.
server_keys=$((KEYS < 99 ? KEYS : 99))

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tmp=$(mktemp -d)
server_pid=""

cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_cpus="" client_cpus="" pin_desc="none"
ncpu=$(nproc)
if [[ $PIN != 0 ]] && ((ncpu >= 2)) && command -v taskset >/dev/null 2>&1; then
	server_cpus=0
	client_cpus=1-$((ncpu - 1))
	pin_desc="server on CPU $server_cpus, wrk on CPUs $client_cpus"
fi

echo "building loadserver and examples/server..." >&2
(cd "$here" && go build -o "$tmp/loadserver" ./cmd/loadserver)
(cd "$root" && go build -o "$tmp/server" ./examples/server)

# start_server NAME BINARY ARGS...: starts it on a free loopback port and
# sets base_url and admin_key.
start_server() {
	local name=$1 bin=$2
	shift 2
	if [[ -n $server_cpus ]]; then
		taskset -c "$server_cpus" "$bin" -addr 127.0.0.1:0 "$@" 2>"$tmp/$name.log" &
	else
		"$bin" -addr 127.0.0.1:0 "$@" 2>"$tmp/$name.log" &
	fi
	server_pid=$!
	for _ in $(seq 100); do
		grep -q '^listening on ' "$tmp/$name.log" 2>/dev/null && break
		kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/$name.log" >&2; echo "loadtest.sh: $name exited" >&2; exit 1; }
		sleep 0.1
	done
	base_url=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/$name.log" | head -n 1)
	admin_key=$(sed -n 's/^admin key: //p' "$tmp/$name.log" | head -n 1)
	if [[ -z $base_url || -z $admin_key ]]; then
		cat "$tmp/$name.log" >&2
		echo "loadtest.sh: $name did not print its address and admin key" >&2
		exit 1
	fi
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

# create_keys FILE N: N keys through POST /v1/keys, one a line in FILE.
create_keys() {
	local file=$1 want=$2
	: >"$file"
	for i in $(seq "$want"); do
		curl -sS --max-time 5 -X POST "$base_url/v1/keys" \
			-H "Authorization: Bearer $admin_key" -H 'Content-Type: application/json' \
			-d "{\"name\":\"load-$i\"}" |
			sed -n 's/.*"key":"\([^"]*\)".*/\1/p' >>"$file"
	done
	local n
	n=$(grep -c . "$file" || true)
	if ((n != want)); then
		echo "loadtest.sh: created $n keys, want $want" >&2
		exit 1
	fi
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
clk_tck=$(getconf CLK_TCK)

seconds() { # 10s -> 10, 2m -> 120
	local d=$1
	case $d in
	*s) echo "${d%s}" ;;
	*m) echo $((${d%m} * 60)) ;;
	*) echo "$d" ;;
	esac
}

results="$tmp/results"
: >"$results"

wrk_cmd=(wrk)
if [[ -n $client_cpus ]]; then wrk_cmd=(taskset -c "$client_cpus" wrk); fi

# drive LABEL PATH KEYFILE: warm up, then one measured wrk run; appends
# "LABEL rps p50_us p99_us cpu_us_per_req cpu_util errors requests" to results.
drive() {
	local label=$1 path=$2 keyfile=$3 line before after
	local limit=$(($(seconds "$DURATION") + $(seconds "$WARMUP") + 30))
	KEYS_FILE=$keyfile LOAD_PATH=$path timeout "$limit" "${wrk_cmd[@]}" \
		-t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$here/loadtest.lua" "$base_url$path" >/dev/null
	before=$(cpu_ticks)
	line=$(KEYS_FILE=$keyfile LOAD_PATH=$path timeout "$limit" "${wrk_cmd[@]}" \
		-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s -s "$here/loadtest.lua" "$base_url$path" |
		grep '^RESULT ')
	after=$(cpu_ticks)
	echo "$line" | awk -v label="$label" -v ticks=$((after - before)) -v hz="$clk_tck" '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		cpu = ticks / hz
		printf "%s %.1f %d %d %.2f %.0f %d %d\n", label, v["rps"], v["p50_us"], v["p99_us"],
			cpu * 1e6 / v["requests"], 100 * cpu / v["seconds"], v["non2xx"] + v["socket_errors"], v["requests"]
	}' | tee -a "$results" >&2
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | awk '{print $3}')" >&2
echo "wrk: $THREADS threads, $CONNECTIONS connections, $WARMUP warm-up + $DURATION per run, $KEYS keys (examples/server: $server_keys), $ROUNDS round(s)" >&2
echo "pinning: $pin_desc" >&2
echo "columns: label req/s p50_us p99_us server_cpu_us/req server_cpu_% errors requests" >&2

start_server loadserver "$tmp/loadserver" -rate "$RATE"
create_keys "$tmp/keys-loadserver" "$KEYS"
for _ in $(seq "$ROUNDS"); do
	drive bare /bare "$tmp/keys-loadserver"
	drive chain /v1/hello "$tmp/keys-loadserver"
	drive peer /peer/hello "$tmp/keys-loadserver"
done
stop_server

start_server examples-server "$tmp/server" -rate "$RATE"
create_keys "$tmp/keys-server" "$server_keys"
for _ in $(seq "$ROUNDS"); do
	drive examples-server-me /v1/me "$tmp/keys-server"
done
stop_server

# Summary: the median of the rounds for each label.
summary=$(awk '
function median(label, col,   n, i, j, t, a) {
	n = 0
	for (i = 1; i <= rows; i++) if (lab[i] == label) a[++n] = val[i, col]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ rows++; lab[rows] = $1; for (c = 2; c <= NF; c++) val[rows, c] = $c; seen[$1] = 1 }
END {
	norder = split("bare chain peer examples-server-me", order, " ")
	desc["bare"] = "loadserver GET /bare (handler alone)"
	desc["chain"] = "loadserver GET /v1/hello (behind the Gate)"
	desc["peer"] = "loadserver GET /peer/hello (chi RequestID, hand-written key check, httprate)"
	desc["examples-server-me"] = "examples/server GET /v1/me (as shipped)"
	print "| run | req/s | p50 | p99 | server CPU per request | server CPU use | errors |"
	print "|---|---:|---:|---:|---:|---:|---:|"
	for (k = 1; k <= norder; k++) {
		l = order[k]
		if (!(l in seen)) continue
		printf "| %s | %.0f | %d µs | %d µs | %.1f µs | %.0f%% | %d |\n", desc[l], median(l, 2), median(l, 3),
			median(l, 4), median(l, 5), median(l, 6), median(l, 7)
	}
	print ""
	versus("Gate", "chain")
	versus("peer chain", "peer")
	printf "\ncapacity loss from server CPU per request (what a CPU-bound server would lose): Gate %.1f%%, peer chain %.1f%%\n",
		100 * (1 - median("bare", 5) / median("chain", 5)), 100 * (1 - median("bare", 5) / median("peer", 5))
	printf "\nserver CPU use during the runs: bare %.0f%%, chain %.0f%%, peer %.0f%% (below ~95%%: the load generator, not the server, was the bottleneck)\n",
		median("bare", 6), median("chain", 6), median("peer", 6)
}
# versus NAME LABEL: one line comparing the route of LABEL with the bare route.
function versus(name, l,   b, c) {
	b = median("bare", 2); c = median(l, 2)
	printf "%s vs bare route: throughput loss %.1f%% (%.0f → %.0f req/s); ", name, 100 * (b - c) / b, b, c
	printf "overhead per request %.1f µs of server CPU (%.1f → %.1f µs), %+d µs p50 latency, %+d µs p99 latency\n",
		median(l, 5) - median("bare", 5), median("bare", 5), median(l, 5),
		median(l, 3) - median("bare", 3), median(l, 4) - median("bare", 4)
}' "$results")
echo
echo "$summary"
if [[ -n $OUT ]]; then
	{
		echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | awk '{print $3}')"
		echo "- wrk $THREADS threads, $CONNECTIONS connections, $WARMUP warm-up + $DURATION measured per run, $KEYS keys (examples/server: $server_keys), $ROUNDS round(s), pinning: $pin_desc"
		echo
		echo "$summary"
	} >"$OUT"
fi
