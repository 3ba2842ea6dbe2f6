#!/usr/bin/env bash
# examples/fleet/demo.sh: two replicas of the reference service sharing
# PostgreSQL key records and Redis rate limits, all on loopback.
#
# It shows, and checks (exit status 1 if any check fails), that:
#   1. a key created on replica A works on replica B;
#   2. a revocation on A is honoured by B at once, though B's key cache
#      would keep the record 30 s: over 100 revocations, the time until B
#      refuses the key has a p99 under 1 s (PostgreSQL NOTIFY, pgfeed);
#   3. the rate limit is shared: 5/minute is 5 requests across both replicas;
#   4. credits are shared: a free account's 3 credits are 3 monitor requests
#      across both replicas, then 402 quota_exceeded on either;
#   5. idempotency keys are shared: a create sent to A and retried on B
#      makes one monitor, and B answers with A's monitor, marked replayed.
#
# Needs Go, curl, python3, PostgreSQL server binaries (apt-get install
# postgresql) and redis-server (apt-get install redis-server). Everything
# it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "demo: $*" >&2; exit 1; }
command -v curl >/dev/null || fail "curl not found"
command -v redis-server >/dev/null || fail "redis-server not found: apt-get install redis-server"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || fail "PostgreSQL server not found: apt-get install postgresql"

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
# stopped_all reports whether every process the demo started has exited.
stopped_all() {
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done
	return 0
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg=()
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || useradd --system postgres
	as_pg=(runuser -u postgres --)
fi
mkdir "$tmp/pg" && chown "$([ "$(id -u)" = 0 ] && echo postgres || id -un)" "$tmp/pg"
pgport=$(freeport)
"${as_pg[@]}" "$pgbin/initdb" -D "$tmp/pg" -U gatekey -A trust >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; fail "initdb failed"; }
"${as_pg[@]}" "$pgbin/postgres" -D "$tmp/pg" -k "$tmp/pg" -c listen_addresses=127.0.0.1 -p "$pgport" >"$tmp/pg.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	"$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport" && break
	sleep 0.1
done
"$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport" || { cat "$tmp/pg.log"; fail "PostgreSQL did not start"; }

redisport=$(freeport)
redis-server --bind 127.0.0.1 --port "$redisport" --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	redis-cli -p "$redisport" ping >/dev/null 2>&1 && break
	sleep 0.1
done

echo "PostgreSQL on 127.0.0.1:$pgport, Redis on 127.0.0.1:$redisport"
go build -o "$tmp/fleet" .
admin=$(go run github.com/gatekey/gatekey/examples/keygen generate -env test 2>/dev/null | awk '/^key:/ {print $2}')

# start_replica NAME VAR starts a replica and sets VAR to its base URL. It
# runs in this shell, not in a $(…) subshell, so that its pid reaches pids
# and the replica is stopped on exit.
start_replica() {
	GATEKEY_ADMIN_KEY=$admin "$tmp/fleet" -addr 127.0.0.1:0 -rate 5/minute \
		-tiers 'free:100/minute:3/month;pro:1000/minute:100/month' \
		-postgres "postgres://gatekey@127.0.0.1:$pgport/postgres?sslmode=disable" \
		-redis "127.0.0.1:$redisport" >"$tmp/$1.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q '^listening on ' "$tmp/$1.log" && break
		sleep 0.1
	done
	local url
	url=$(grep -m1 '^listening on ' "$tmp/$1.log" | awk '{print $3}') || true
	[ -n "$url" ] || { cat "$tmp/$1.log"; fail "replica $1 did not start"; }
	printf -v "$2" '%s' "$url"
}
start_replica a A
start_replica b B
echo "replica A: $A   replica B: $B"

# status URL KEY [METHOD]: the HTTP status of a request.
status() { curl -s -o /dev/null -w '%{http_code}' -X "${3:-GET}" "$1" -H "Authorization: Bearer $2"; }
check() { # description want got
	if [ "$2" = "$3" ]; then echo "ok    $1"; else echo "FAIL  $1: want $2, got $3"; failed=1; fi
}
failed=0

# 1. A key created on A works on B.
created=$(curl -s -X POST "$A/v1/keys" -H "Authorization: Bearer $admin" \
	-H 'Content-Type: application/json' -d '{"name": "fleet demo"}')
key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$created")
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$created")
check "key created on A works on B" 200 "$(status "$B/v1/me" "$key")"

# 2. Revoked on A, refused by B at once: B's cache would keep a record for
# 30 s (-key-cache-ttl), but PostgreSQL announces the change and B drops it.
check "revoke on A" 200 "$(status "$A/v1/keys/$id" "$admin" DELETE)"
check "B refuses the revoked key" 401 "$(status "$B/v1/me" "$key")"
# Measured: 100 revocations on A, each timed until B refuses the key; the
# check fails if the p99 is above 1 s.
created=$(curl -s -X POST "$A/v1/keys" -H "Authorization: Bearer $admin" \
	-H 'Content-Type: application/json' -d '{"name": "revoker", "tier": "pro"}')
revoker=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$created")
if lag=$(python3 revocation_lag.py "$A" "$B" "$revoker" 100); then
	check "100 revocations on A refused by B within 1 s at p99 ($lag)" ok ok
else
	check "100 revocations on A refused by B within 1 s at p99" ok "$lag"
fi

# 3. The rate limit (5/minute) is shared: 3 on A and 2 on B, then B refuses.
created=$(curl -s -X POST "$A/v1/keys" -H "Authorization: Bearer $admin" \
	-H 'Content-Type: application/json' -d '{"name": "limited"}')
key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$created")
codes=""
for r in A A A B B B; do
	url=$A; [ "$r" = B ] && url=$B
	codes="$codes $r:$(status "$url/v1/me" "$key")"
done
check "5/minute across both replicas" " A:200 A:200 A:200 B:200 B:200 B:429" "$codes"

# 4. Credits (3 a month for a free account) are shared: 2 on A, 1 on B,
# then neither replica lets the account spend more.
created=$(curl -s -X POST "$A/v1/keys" -H "Authorization: Bearer $admin" \
	-H 'Content-Type: application/json' -d '{"name": "free customer", "tier": "free"}')
key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$created")
codes=""
for r in A A B B A; do
	url=$A; [ "$r" = B ] && url=$B
	codes="$codes $r:$(status "$url/v1/monitors" "$key")"
done
check "3 credits across both replicas" " A:200 A:200 B:200 B:402 A:402" "$codes"

# 5. A create on A, retried with its Idempotency-Key on B: one monitor.
# (The pro account's key opens the key: the admin's 5/minute are spent.)
created=$(curl -s -X POST "$A/v1/keys" -H "Authorization: Bearer $revoker" \
	-H 'Content-Type: application/json' -d '{"name": "retrying client"}')
key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$created")
create() {
	curl -s -i -X POST "$1/v1/monitors" -H "Authorization: Bearer $key" \
		-H 'Idempotency-Key: demo-retry-1' -H 'Content-Type: application/json' \
		-d '{"name": "homepage", "url": "https://example.com"}'
}
first=$(create "$A" | tail -1)
again=$(create "$B")
replayed=$(grep -ci '^Idempotent-Replayed: true' <<<"$again" || true)
check "B replays A's answer to the retried create" "1 $first" "$replayed $(tail -1 <<<"$again")"
# Monitors live in each replica's memory: A made one, B none.
homepages() { curl -s "$1/v1/monitors" -H "Authorization: Bearer $key" | python3 -c 'import json,sys; print(sum(m["name"] == "homepage" for m in json.load(sys.stdin)["data"]))'; }
check "the create ran once, on A (monitors on A, on B)" "1 0" "$(homepages "$A") $(homepages "$B")"

[ "$failed" = 0 ] || { echo "demo: some checks failed; logs in replica output above"; cat "$tmp/a.log" "$tmp/b.log" | tail -20; exit 1; }

# Everything started is stopped: both replicas, PostgreSQL and Redis.
trap - EXIT
cleanup_pids=("${pids[@]}")
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=("${cleanup_pids[@]}")
if ! stopped_all; then echo "FAIL  everything the demo started is stopped"; exit 1; fi
echo "ok    ${#pids[@]} processes started, all stopped"
rm -rf "$tmp"
echo "demo: all checks passed"
