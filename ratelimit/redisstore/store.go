package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
	"github.com/redis/go-redis/v9"
)

// Defaults for Config.
const (
	DefaultPrefix  = "gatekey:ratelimit:"
	DefaultTimeout = 100 * time.Millisecond
)

// Config configures a Store. The zero value selects every default and fails
// closed.
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

	// FailOpen makes Take decide with Fallback when Redis fails, instead
	// of returning the error. Each replica then limits on its own, so with
	// N replicas a key may get up to N times its limit until Redis returns.
	FailOpen bool

	// Fallback is the store used when FailOpen is set and Redis fails.
	// Default: a ratelimit.MemoryStore with its default configuration.
	Fallback ratelimit.Store

	// OnError, if set, is called with every error wrapping
	// ratelimit.ErrUnavailable, whether the Store then fails open or not, so
	// that an outage is seen even while requests are still served. It must
	// be safe for concurrent use and fast.
	OnError func(error)
}

// A Store is a ratelimit.Store in Redis. Create one with New; it is safe
// for concurrent use, and any number of Stores (in any number of
// processes) with the same Prefix share their buckets through Redis.
type Store struct {
	client   redis.Scripter
	prefix   string
	timeout  time.Duration
	failOpen bool
	fallback ratelimit.Store
	onError  func(error)

	now func() time.Time // tests only: replaces the Redis clock
}

var _ ratelimit.Store = (*Store)(nil)

//go:embed take.lua
var takeSource string

// takeScript is loaded into Redis once (by its first EVAL) and then run by
// its SHA-1 with EVALSHA.
var takeScript = redis.NewScript(takeSource)

// New returns a Store that keeps its buckets in Redis through client, a
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
	if cfg.FailOpen && cfg.Fallback == nil {
		cfg.Fallback = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	}
	return &Store{
		client:   client,
		prefix:   cfg.Prefix,
		timeout:  cfg.Timeout,
		failOpen: cfg.FailOpen,
		fallback: cfg.Fallback,
		onError:  cfg.OnError,
	}, nil
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

// Take implements ratelimit.Store: it takes n tokens for key from every
// limit of p, or from none, in one atomic round trip to Redis.
//
// Invalid arguments give an error wrapping ratelimit.ErrInvalidLimit or
// ratelimit.ErrInvalidCost without contacting Redis. If Redis could not
// decide (a connection refused or lost, a timeout, an error reply), Take
// returns an error wrapping ratelimit.ErrUnavailable and the client's
// error, or with Config.FailOpen the Fallback's decision.
func (s *Store) Take(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
	if n < 1 {
		return ratelimit.Decision{}, fmt.Errorf("redisstore: %w: n = %d, want at least 1", ratelimit.ErrInvalidCost, n)
	}
	if err := p.Validate(); err != nil {
		return ratelimit.Decision{}, fmt.Errorf("redisstore: %w", err)
	}
	keys := make([]string, len(p))
	args := make([]any, 2, 2+3*len(p))
	args[0], args[1] = n, ""
	if s.now != nil {
		args[1] = s.now().UnixMicro()
	}
	for i, l := range p {
		keys[i] = s.bucketKey(key, i, l)
		args = append(args, l.Capacity(), l.Requests, int64(l.Window))
	}

	callCtx := ctx
	if s.timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	res, err := takeScript.Run(callCtx, s.client, keys, args...).Int64Slice()
	if err == nil && len(res) != 1+3*len(p) {
		err = fmt.Errorf("script returned %d values, want %d", len(res), 1+3*len(p))
	}
	if err != nil {
		err = fmt.Errorf("redisstore: %w: %w", ratelimit.ErrUnavailable, err)
		if s.onError != nil {
			s.onError(err)
		}
		if s.failOpen {
			return s.fallback.Take(ctx, key, p, n)
		}
		return ratelimit.Decision{}, err
	}
	return decide(p, res), nil
}

// bucketKey returns the Redis key of limit i of key's policy.
func (s *Store) bucketKey(key string, i int, l ratelimit.Limit) string {
	b := make([]byte, 0, len(s.prefix)+len(key)+48)
	b = append(b, s.prefix...)
	b = append(b, '{')
	b = append(b, key...)
	b = append(b, "}:"...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(l.Requests), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(l.Window), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(l.Capacity()), 10)
	return string(b)
}

// decide builds the Decision from the script's reply.
func decide(p ratelimit.Policy, res []int64) ratelimit.Decision {
	var buf [4]ratelimit.LimitState // NewDecision copies what it keeps
	states := buf[:0]
	for i, l := range p {
		r := res[1+3*i:]
		states = append(states, ratelimit.LimitState{Limit: l, Remaining: int(r[0]),
			RetryAfter: micros(r[1]), ResetAfter: micros(r[2])})
	}
	return ratelimit.NewDecision(res[0] == 1, states)
}

// micros converts the script's microseconds (-1: never) to a Duration.
func micros(us int64) time.Duration {
	if us < 0 || us > math.MaxInt64/int64(time.Microsecond) {
		return ratelimit.Never
	}
	return time.Duration(us) * time.Microsecond
}
