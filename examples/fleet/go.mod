module github.com/gatekey/gatekey/examples/fleet

go 1.25.0

replace (
	github.com/gatekey/gatekey => ../..
	github.com/gatekey/gatekey/apikey/sqlstore => ../../apikey/sqlstore
	github.com/gatekey/gatekey/credits/redisstore => ../../credits/redisstore
	github.com/gatekey/gatekey/idempotency/redisstore => ../../idempotency/redisstore
	github.com/gatekey/gatekey/ratelimit/redisstore => ../../ratelimit/redisstore
)

require (
	github.com/gatekey/gatekey v0.0.0-00010101000000-000000000000
	github.com/gatekey/gatekey/apikey/sqlstore v0.0.0-00010101000000-000000000000
	github.com/gatekey/gatekey/credits/redisstore v0.0.0-00010101000000-000000000000
	github.com/gatekey/gatekey/idempotency/redisstore v0.0.0-00010101000000-000000000000
	github.com/gatekey/gatekey/ratelimit/redisstore v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.12.0
	github.com/redis/go-redis/v9 v9.22.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
