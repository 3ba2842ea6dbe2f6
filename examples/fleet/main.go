// Command fleet is the reference service (examples/server) with shared
// stores, so that several replicas serve one API: key records in
// PostgreSQL (apikey/sqlstore), and rate-limit buckets, credit balances
// and idempotency keys in Redis (ratelimit/redisstore, credits/redisstore,
// idempotency/redisstore). It takes every flag of examples/server, plus:
//
//	-postgres  PostgreSQL connection string (required), e.g.
//	           postgres://gatekey@127.0.0.1:5432/postgres?sslmode=disable
//	-redis     Redis address (required), e.g. 127.0.0.1:6379
//	-redis-timeout
//	           bound of each Redis call (default: the stores' 100ms)
//
// Every replica applies the schema at start-up (idempotent). A key created
// on one replica works on all; a revocation, roll, disable or other change
// on one is honoured by the others at once, through PostgreSQL's change
// announcements (apikey/sqlstore/pgfeed), and within -key-cache-ttl while
// a replica's feed is down; per-key rate limits and each account's
// credits are shared exactly, a write retried with its Idempotency-Key on
// another replica gets the first answer, and -auth-failure-rate counts
// failures across the fleet.
// GATEKEY_ADMIN_KEY is required: with a shared store, generating an admin
// key at every start would leave one more read-write key behind each time.
// If Redis fails, requests fail closed with 503 after a bounded wait
// (-redis-timeout), whose rate limit, credits and idempotency
// keys live there: no replica serves unlimited, unmetered or unprotected
// writes meanwhile (fleet_test.go kills Redis to show it). Failed
// authentications are counted in Redis too, across the fleet, and the
// PostgreSQL and Redis pools are bounded (20 and 40 connections per
// replica). demo.sh shows the fleet at work.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/redis/go-redis/v9"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/sqlstore"
	"github.com/gatekey/gatekey/apikey/sqlstore/pgfeed"
	creditsredis "github.com/gatekey/gatekey/credits/redisstore"
	"github.com/gatekey/gatekey/examples/server/service"
	idemredis "github.com/gatekey/gatekey/idempotency/redisstore"
	"github.com/gatekey/gatekey/ratelimit/redisstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := service.Run(ctx, os.Args[1:], os.Getenv, os.Stderr, sharedStores(ctx)); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// sharedStores adds -postgres and -redis, and plugs the stores they name
// into the service's Config.
func sharedStores(ctx context.Context) service.Hook {
	return func(fs *flag.FlagSet) func(*service.Config) (func(), error) {
		dsn := fs.String("postgres", "", "PostgreSQL connection string for key records (required)")
		addr := fs.String("redis", "", "Redis address for rate limits, credits and idempotency keys (required)")
		redisTimeout := fs.Duration("redis-timeout", 0, "bound of each Redis call, past which the request gets 503 (0: the stores' default, 100ms)")
		return func(cfg *service.Config) (func(), error) {
			if *dsn == "" || *addr == "" {
				return nil, errors.New("-postgres and -redis are required")
			}
			if cfg.AdminKey == "" {
				return nil, errors.New("GATEKEY_ADMIN_KEY is required with shared stores (generate one with go run github.com/gatekey/gatekey/examples/keygen generate)")
			}
			return useSharedStores(ctx, cfg, *dsn, *addr, *redisTimeout)
		}
	}
}

// The pools' bounds, per replica.
const (
	maxDBConns    = 20
	maxRedisConns = 40
)

// useSharedStores plugs into cfg the fleet's stores: key records in the
// PostgreSQL database dsn names, with its change feed, and rate limits,
// credits and idempotency keys in the Redis at addr. The fleet fails
// closed: while Redis is down, requests get 503 (the rate limit, credits
// and idempotency keys all live there), rather than each replica
// limiting on its own, and so does a Redis call that takes longer than
// redisTimeout (0: the stores' default). It returns what closes the
// connections.
func useSharedStores(ctx context.Context, cfg *service.Config, dsn, addr string, redisTimeout time.Duration) (func(), error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	// Bounded pools: a flood of made-up keys queues for a connection (the
	// Verifier's LookupTimeout and MaxConcurrentLookups bound the wait)
	// rather than opening connections until PostgreSQL refuses them. One
	// more connection is the change feed's.
	db.SetMaxOpenConns(maxDBConns + 1)
	db.SetMaxIdleConns(maxDBConns + 1)
	if err := sqlstore.ApplySchema(ctx, db, sqlstore.Postgres); err != nil {
		db.Close()
		return nil, fmt.Errorf("applying the key schema: %w", err)
	}
	keys, err := sqlstore.New(db, sqlstore.Postgres)
	if err != nil {
		db.Close()
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: maxRedisConns})
	closeAll := func() { rdb.Close(); db.Close() }
	limits, err := redisstore.New(rdb, redisstore.Config{Timeout: redisTimeout})
	if err != nil {
		closeAll()
		return nil, err
	}
	balances, err := creditsredis.New(rdb, creditsredis.Config{Timeout: redisTimeout})
	if err != nil {
		closeAll()
		return nil, err
	}
	answers, err := idemredis.New(rdb, idemredis.Config{Timeout: redisTimeout})
	if err != nil {
		closeAll()
		return nil, err
	}
	cfg.Keys, cfg.Limits, cfg.Credits, cfg.Idempotency = keys, limits, balances, answers
	cfg.RateLimitFailClosed = true
	cfg.AuthFailures = limits // failed authentications counted across the fleet
	// Key changes made by other replicas take effect here at once.
	cfg.KeyChanges = func(ctx context.Context, inv apikey.Invalidator) error {
		return pgfeed.Watch(ctx, db, inv, pgfeed.Config{Logger: cfg.Logger})
	}
	return closeAll, nil
}
