package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/redis/go-redis/v9"
)

// Defaults for Config.
const (
	DefaultPrefix         = "gatekey:idem:"
	DefaultTimeout        = 100 * time.Millisecond
	DefaultMaxAnswerBytes = 1 << 20
)

// MaxDuration is the longest lock or retention the Store keeps: longer
// ones are cut to it, so that times stay exact in the script's numbers
// (Lua's are float64: microseconds since 1970 are whole up to the year
// 2255).
const MaxDuration = 100 * 365 * 24 * time.Hour

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

	// MaxAnswerBytes bounds the encoded size of an answer the Store keeps
	// (idempotency.Answer.AppendBinary: about the body and headers). A
	// bigger answer is not sent to Redis: Finish frees the key and
	// reports false, as the Store contract says of an answer too big to
	// keep. Default: DefaultMaxAnswerBytes (1 MiB).
	MaxAnswerBytes int

	// Now, for tests; nil: the Redis clock. When set, the Store passes the
	// time it returns to the script instead of letting the script read the
	// Redis server's clock (TIME), so that tests can move past locks and
	// retentions on a fake clock. Production code leaves it nil: then
	// replicas need no clock agreement.
	Now func() time.Time
}

// A Store is an idempotency.Store in Redis. Create one with New; it is
// safe for concurrent use, and any number of Stores (in any number of
// processes) with the same Prefix share their records through Redis.
type Store struct {
	client    redis.Scripter
	prefix    string
	timeout   time.Duration
	maxAnswer int
	now       func() time.Time
}

var _ idempotency.Store = (*Store)(nil)

//go:embed record.lua
var recordSource string

// recordScript is loaded into Redis once (by its first EVAL) and then run
// by its SHA-1 with EVALSHA.
var recordScript = redis.NewScript(recordSource)

// New returns a Store that keeps its records in Redis through client, a
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
	if cfg.MaxAnswerBytes <= 0 {
		cfg.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	return &Store{client: client, prefix: cfg.Prefix, timeout: cfg.Timeout, maxAnswer: cfg.MaxAnswerBytes, now: cfg.Now}, nil
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

// Begin implements idempotency.Store: it claims key for a request with
// fingerprint fp if the key is free, or returns the Record held, in one
// atomic round trip to Redis. If Redis could not decide (a connection
// refused or lost, a timeout, an error reply), Begin returns an error
// wrapping idempotency.ErrUnavailable and the client's error, and
// reports no claim.
func (s *Store) Begin(ctx context.Context, account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool, error) {
	res, err := s.run(ctx, "begin", account, key, token, lock, fp[:]).Slice()
	if err != nil {
		return idempotency.Record{}, false, unavailable("begin", err)
	}
	if len(res) == 1 && res[0] == int64(1) {
		return idempotency.Record{}, true, nil
	}
	var rec idempotency.Record
	if len(res) != 3 || res[0] != int64(0) {
		return rec, false, unavailable("begin", fmt.Errorf("script returned %v, want {0, fingerprint, answer}", res))
	}
	fps, ok := res[1].(string)
	if !ok || len(fps) != len(rec.Fingerprint) {
		return idempotency.Record{}, false, unavailable("begin", errors.New("malformed fingerprint in the record at "+s.key(account, key)))
	}
	copy(rec.Fingerprint[:], fps)
	if enc, ok := res[2].(string); ok {
		rec.Answer = new(idempotency.Answer)
		if err := rec.Answer.UnmarshalBinary([]byte(enc)); err != nil {
			return idempotency.Record{}, false, unavailable("begin", fmt.Errorf("the record at %s: %w", s.key(account, key), err))
		}
	}
	return rec, false, nil
}

// Finish implements idempotency.Store: it keeps a until retain has
// passed if key is still held by token (claimed by it, with its lock not
// yet ended), in one atomic round trip. An answer bigger than
// Config.MaxAnswerBytes is not kept: Finish frees the key (Release) and
// reports false. An answer that cannot be encoded (a status outside
// 100–999) is an error not wrapping ErrUnavailable, and frees the key too.
// Redis failures are errors wrapping idempotency.ErrUnavailable, as for
// Begin.
func (s *Store) Finish(ctx context.Context, account, key string, token uint64, a *idempotency.Answer, retain time.Duration) (bool, error) {
	enc, err := a.AppendBinary(nil)
	if err != nil || len(enc) > s.maxAnswer {
		if rerr := s.Release(ctx, account, key, token); rerr != nil {
			return false, rerr
		}
		if err != nil {
			return false, fmt.Errorf("redisstore: finish: %w", err)
		}
		return false, nil
	}
	n, err := s.run(ctx, "finish", account, key, token, retain, enc).Int64()
	if err != nil {
		return false, unavailable("finish", err)
	}
	return n == 1, nil
}

// Release implements idempotency.Store: it frees key if token still
// holds its claim, in one atomic round trip. Redis failures are errors
// wrapping idempotency.ErrUnavailable, as for Begin.
func (s *Store) Release(ctx context.Context, account, key string, token uint64) error {
	if err := s.run(ctx, "release", account, key, token, 0, "").Err(); err != nil {
		return unavailable("release", err)
	}
	return nil
}

// run runs the script; see record.lua for its arguments.
func (s *Store) run(ctx context.Context, op, account, key string, token uint64, d time.Duration, arg any) *redis.Cmd {
	var now any = ""
	if s.now != nil {
		now = s.now().UnixMicro()
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	d = min(max(d, 0), MaxDuration)
	return recordScript.Run(ctx, s.client, []string{s.key(account, key)},
		op, now, strconv.FormatUint(token, 10), d.Microseconds(), arg)
}

// key returns the Redis key of the record of account's key:
//
//	<prefix>{<account>:<key>}
//
// with, in account, '%', ':' and '}' written %25, %3A and %7D, and in key
// '%' and '}': an encoding that can be undone, so that two pairs never
// share a record, and that leaves no '}' inside the braces, so that the
// Redis Cluster hash tag is the whole pair.
func (s *Store) key(account, key string) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + len(account) + len(key) + 3)
	b.WriteString(s.prefix)
	b.WriteByte('{')
	escape(&b, account, true)
	b.WriteByte(':')
	escape(&b, key, false)
	b.WriteByte('}')
	return b.String()
}

func escape(b *strings.Builder, s string, colon bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			b.WriteString("%25")
		case c == '}':
			b.WriteString("%7D")
		case c == ':' && colon:
			b.WriteString("%3A")
		default:
			b.WriteByte(c)
		}
	}
}

// unavailable wraps err, a failure to get an answer from Redis, with
// idempotency.ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w: %w", op, idempotency.ErrUnavailable, err)
}
