package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/redis/go-redis/v9"
)

// Defaults for Config.
const (
	DefaultPrefix  = "gatekey:credits:"
	DefaultTimeout = 100 * time.Millisecond
)

// Margin is how long a balance's key outlives the end of its period. A
// balance of a past period is replaced by the allowance at its next spend,
// so the key could go as soon as the period ends; the margin keeps it for a
// clock that is behind (a Redis server after a failover, say) and still
// spends from that period.
const Margin = 24 * time.Hour

// maxBalance is the largest balance grants can make, as in
// credits.MemoryStore.
const maxBalance = 2 * credits.MaxCredits

// Config configures a Store. The zero value selects every default.
type Config struct {
	// Prefix starts every Redis key the Store writes, so that several
	// services can share a Redis. It must not contain '{' or '}', which
	// would break the Redis Cluster hash tag of the keys.
	// Default: DefaultPrefix.
	Prefix string

	// Timeout bounds each call to Redis (the caller's context may end it
	// sooner). A negative value sets no bound of the Store's own.
	// Default: DefaultTimeout.
	Timeout time.Duration

	// Now, for tests; nil: the Redis clock. When set, the Store passes the
	// time it returns to the script instead of letting the script read the
	// Redis server's clock (TIME), so that tests can cross period
	// boundaries on a fake clock. Production code leaves it nil: then
	// replicas need no clock agreement.
	Now func() time.Time
}

// A Store is a credits.Store in Redis. Create one with New; it is safe for
// concurrent use, and any number of Stores (in any number of processes)
// with the same Prefix share their balances through Redis.
type Store struct {
	client  redis.Scripter
	prefix  string
	timeout time.Duration
	now     func() time.Time
}

var _ credits.Store = (*Store)(nil)

//go:embed spend.lua
var spendSource string

// spendScript is loaded into Redis once (by its first EVAL) and then run
// by its SHA-1 with EVALSHA.
var spendScript = redis.NewScript(spendSource)

// New returns a Store that keeps its balances in Redis through client, a
// *redis.Client, *redis.ClusterClient or *redis.Ring (or anything else
// that runs scripts). A go-redis client must be created with
// ContextTimeoutEnabled, since otherwise it ignores context deadlines on
// its connections and Config.Timeout could not bound a call to a hung
// Redis; New returns an error if it is not.
func New(client redis.Scripter, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New needs a Redis client")
	}
	if err := checkContextTimeout(client); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: Prefix %q must not contain '{' or '}'", cfg.Prefix)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Store{client: client, prefix: cfg.Prefix, timeout: cfg.Timeout, now: cfg.Now}, nil
}

func checkContextTimeout(client redis.Scripter) error {
	enabled := true
	switch c := client.(type) {
	case *redis.Client:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		enabled = c.Options().ContextTimeoutEnabled
	}
	if !enabled {
		return errors.New("redisstore: the Redis client must be created with ContextTimeoutEnabled: true, " +
			"or it ignores deadlines and a hung Redis would stall requests for its ReadTimeout")
	}
	return nil
}

// Spend implements credits.Store: it takes cost credits from account's
// balance in the current period if the balance holds them all, in one
// atomic round trip to Redis. A cost of 0 reads the balance and writes
// nothing.
//
// Invalid arguments give an error wrapping credits.ErrInvalidAllowance or
// credits.ErrInvalidCost without contacting Redis. If Redis could not
// decide (a connection refused or lost, a timeout, an error reply), Spend
// returns an error wrapping credits.ErrUnavailable and the client's error,
// and reports no success (the package documentation says when the spend
// may still have happened).
func (s *Store) Spend(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
	if err := credits.CheckArgs(a, cost, false); err != nil {
		return credits.Balance{}, false, fmt.Errorf("redisstore: %w", err)
	}
	return s.run(ctx, "spend", account, a, cost)
}

// Grant implements credits.Store: it adds n credits to account's balance
// until the current period ends, in one atomic round trip to Redis. Errors
// are those of Spend.
func (s *Store) Grant(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
	if err := credits.CheckArgs(a, n, true); err != nil {
		return credits.Balance{}, fmt.Errorf("redisstore: %w", err)
	}
	b, _, err := s.run(ctx, "grant", account, a, n)
	return b, err
}

// run runs the script; see spend.lua for its arguments.
func (s *Store) run(ctx context.Context, op, account string, a credits.Allowance, n int64) (credits.Balance, bool, error) {
	var secs, micros any = "", ""
	if s.now != nil {
		t := s.now()
		secs, micros = t.Unix(), t.Nanosecond()/1000
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	res, err := spendScript.Run(ctx, s.client, []string{s.key(account, a.Period)},
		op, n, a.Credits, a.Period.String(), secs, micros, Margin.Milliseconds(), int64(maxBalance)).Int64Slice()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("script returned %d values, want 3", len(res))
	}
	if err != nil {
		return credits.Balance{}, false, fmt.Errorf("redisstore: %s: %w: %w", op, credits.ErrUnavailable, err)
	}
	b := credits.Balance{Remaining: res[1], Allowance: a, ResetAt: a.Period.EndOf(res[2])}
	return b, res[0] == 1, nil
}

// key returns the Redis key of account's balance for period p:
// <prefix>{<account>}:<period>.
func (s *Store) key(account string, p credits.Period) string {
	return s.prefix + "{" + account + "}:" + p.String()
}
