package redisfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/redis/go-redis/v9"
)

// Defaults for Config.
const (
	DefaultChannel = "gatekey:keys"
	DefaultTimeout = 100 * time.Millisecond
)

// The wait between attempts to subscribe again after the feed is lost
// starts at minBackoff and doubles up to maxBackoff; it starts over once
// Watch has subscribed again.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// healthInterval is how long Watch waits for anything from Redis before it
// sends a PING, and then for the answer before it gives the connection up.
const healthInterval = 3 * time.Second

// Config configures a Feed. The zero value selects every default.
type Config struct {
	// Channel is the Redis Pub/Sub channel the Feed publishes changed ids
	// on and Watch listens to. Replicas sharing one key store must use the
	// same channel; services with key stores of their own, sharing a
	// Redis, should use channels of their own.
	// Default: DefaultChannel.
	Channel string

	// Logger receives the feed's transitions (subscribed, lost) and the
	// changes that could not be published. Nil means slog.Default().
	// Payloads received are never logged.
	Logger *slog.Logger

	// Timeout bounds each Publish (the caller's context may end it
	// sooner). A negative value sets no bound of the Feed's own.
	// Default: DefaultTimeout.
	Timeout time.Duration
}

// A Feed announces key changes on a Redis channel (Publish, and Store's
// wrapper) and passes the announcements to a replica's Verifier (Watch).
// Create one with New; it is safe for concurrent use.
type Feed struct {
	rdb     redis.UniversalClient
	channel string
	log     *slog.Logger
	timeout time.Duration

	// For tests (export_test.go); set before Watch runs.
	health time.Duration                                   // healthInterval
	sleep  func(ctx context.Context, d time.Duration) bool // sleep
}

// New returns a Feed using rdb, a *redis.Client, *redis.ClusterClient or
// *redis.Ring. A go-redis client must be created with
// ContextTimeoutEnabled, since otherwise it ignores context deadlines on
// its connections and Config.Timeout could not bound a Publish to a hung
// Redis; New returns an error if it is not.
func New(rdb redis.UniversalClient, cfg Config) (*Feed, error) {
	if rdb == nil {
		return nil, errors.New("redisfeed: New needs a Redis client")
	}
	if err := checkClient(rdb); err != nil {
		return nil, err
	}
	if cfg.Channel == "" {
		cfg.Channel = DefaultChannel
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Feed{
		rdb:     rdb,
		channel: cfg.Channel,
		log:     cfg.Logger,
		timeout: cfg.Timeout,
		health:  healthInterval,
		sleep:   sleep,
	}, nil
}

func checkClient(rdb redis.UniversalClient) error {
	enabled := true
	switch c := rdb.(type) {
	case *redis.Client:
		if c == nil {
			return errors.New("redisfeed: New needs a Redis client")
		}
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		if c == nil {
			return errors.New("redisfeed: New needs a Redis client")
		}
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		if c == nil {
			return errors.New("redisfeed: New needs a Redis client")
		}
		enabled = c.Options().ContextTimeoutEnabled
	}
	if !enabled {
		return errors.New("redisfeed: the Redis client must be created with ContextTimeoutEnabled: true, " +
			"or it ignores deadlines and a hung Redis would stall a Publish for its ReadTimeout")
	}
	return nil
}

// Channel returns the Redis channel the Feed publishes on and listens to.
func (f *Feed) Channel() string { return f.channel }

// Publish announces that the record with key id id has changed: it
// PUBLISHes id on the channel, for every replica's Watch to drop what it
// cached about id. Call it after the change is stored, never before (a
// replica that hears of it reads the record again at once). Store's
// wrapper calls it after every UpdateKey; call it yourself for changes
// made otherwise.
//
// Publish is bounded by Config.Timeout. It returns an error wrapping
// apikey.ErrUnavailable if Redis did not take the message, and an error
// without contacting Redis if id is not a plausible key id (1 to 64
// visible ASCII characters), since Watch would ignore it. A nil error
// means that Redis took the message, not that anyone heard it (see the
// package documentation).
func (f *Feed) Publish(ctx context.Context, id string) error {
	if !plausibleID(id) {
		return errors.New("redisfeed: Publish needs a key id of 1 to 64 visible ASCII characters")
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	if err := f.rdb.Publish(ctx, f.channel, id).Err(); err != nil {
		return fmt.Errorf("redisfeed: publish: %w: %w", apikey.ErrUnavailable, err)
	}
	return nil
}

// Store returns s wrapped so that every UpdateKey that may have stored a
// change (all but those that fail with apikey.ErrNotFound) is published
// (Publish) once it has returned: Manager's Revoke, Disable, Enable and
// Roll all change records through UpdateKey. The other methods (LookupKey,
// CreateKey, ListKeys, and TouchKeys, which only records last use) pass
// through to s and publish nothing. Give the wrapped store to
// apikey.NewManager on every replica. Store(nil) returns nil.
//
// A change that cannot be published stands (the stored record is the
// truth): UpdateKey logs a warning and returns the store's answer, and
// other replicas
// see the change within their key cache TTL. The Publish is bounded by
// Config.Timeout, and then made even if the caller's context is cancelled
// once the change is stored (with a negative Timeout it honours the
// caller's context instead).
//
// The wrapper has ManagedStore's methods only: methods of s beyond those
// are not reachable through it.
func (f *Feed) Store(s apikey.ManagedStore) apikey.ManagedStore {
	if s == nil {
		return nil
	}
	return &store{s: s, f: f}
}

type store struct {
	s apikey.ManagedStore
	f *Feed
}

var _ apikey.ManagedStore = (*store)(nil)

func (s *store) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	return s.s.LookupKey(ctx, id)
}

func (s *store) CreateKey(ctx context.Context, k *apikey.Key) error {
	return s.s.CreateKey(ctx, k)
}

func (s *store) ListKeys(ctx context.Context, f apikey.ListFilter) ([]*apikey.Key, error) {
	return s.s.ListKeys(ctx, f)
}

func (s *store) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	return s.s.TouchKeys(ctx, lastUsed)
}

func (s *store) UpdateKey(ctx context.Context, k *apikey.Key) error {
	uerr := s.s.UpdateKey(ctx, k)
	if errors.Is(uerr, apikey.ErrNotFound) || k == nil {
		return uerr
	}
	// Any other failure may have come after the change was stored (a
	// timeout, a connection lost after the commit): announce it anyway. A
	// message is only a hint, so one too many costs a read.
	if s.f.timeout > 0 {
		ctx = context.WithoutCancel(ctx) // the change may be stored: announce it
	}
	if err := s.f.Publish(ctx, k.ID); err != nil {
		attrs := []slog.Attr{slog.String("channel", s.f.channel), slog.String("error", err.Error())}
		if plausibleID(k.ID) {
			attrs = append(attrs, slog.String("id", k.ID))
		}
		s.f.log.LogAttrs(ctx, slog.LevelWarn,
			"gatekey: key change not published; other replicas see the change within their key cache TTL", attrs...)
	}
	return uerr
}

// Watch listens on the channel and drops what inv (a replica's Verifier)
// cached about each id announced, until ctx is done; then it returns nil.
// It returns an error at once only if inv is nil. Run it in a goroutine
// of its own on every replica, for as long as the replica serves.
//
// Each time Watch is subscribed, the first time included, Redis having
// confirmed the subscription, it calls inv.InvalidateAll, since what was
// announced while it was not subscribed went unheard, and logs "gatekey:
// key change feed subscribed" (Info). When the connection is lost (an
// error, or no answer to a PING after the connection has been quiet for
// a few seconds), it logs "gatekey: key change feed lost; …" (Warn), once
// per outage, and subscribes again, waiting 100ms before the first
// attempt and twice as long before each next one, up to 5s. Payloads
// that are not plausible key ids (1 to 64 visible ASCII characters) are
// ignored, and never logged.
//
// Watch uses a Redis connection of its own, outside the client's pool.
// When it returns, everything it started has stopped and its connection
// is closed. It returns as soon as ctx is done, except while it is
// connecting to a Redis that accepts connections but does not answer:
// then within the client's DialTimeout and ReadTimeout.
func (f *Feed) Watch(ctx context.Context, inv apikey.Invalidator) error {
	if inv == nil {
		return errors.New("redisfeed: Watch needs an Invalidator")
	}
	w := &watcher{f: f, inv: inv, wait: minBackoff}
	for ctx.Err() == nil {
		w.session(ctx)
	}
	return nil
}

// feedState is where a watcher is, for logging transitions only.
type feedState uint8

const (
	starting   feedState = iota // not subscribed yet
	subscribed                  // Redis confirmed the subscription
	lost                        // lost, and logged as lost
)

// watcher is one run of Watch.
type watcher struct {
	f     *Feed
	inv   apikey.Invalidator
	state feedState
	wait  time.Duration // the next backoff
}

// errNoPong reports a connection that answered nothing to a PING.
var errNoPong = errors.New("no answer from Redis to a PING")

// session subscribes on a PubSub of its own and handles what it receives
// until ctx is done or the connection must be given up (it timed out,
// which go-redis does not take for a broken connection); then it closes
// the PubSub and returns. Other errors do not end a session: go-redis
// drops the broken connection itself and dials again at the next
// ReceiveTimeout, resubscribing.
func (w *watcher) session(ctx context.Context) {
	ps, err := subscribe(ctx, w.f.rdb, w.f.channel)
	if err != nil {
		w.lose(ctx, err)
		w.pause(ctx)
		return
	}
	// A blocked read ignores ctx; closing the PubSub ends it.
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		ps.Close()
		close(closed)
	})
	defer func() {
		if stop() {
			ps.Close()
		} else {
			<-closed
		}
	}()

	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, w.f.health)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			pinged = false
			w.handle(ctx, msg)
			continue
		}
		if isTimeout(err) {
			if w.state != subscribed || pinged {
				// Not even subscribed by now, or no answer to the PING:
				// this connection is of no use.
				if pinged {
					err = errNoPong
				}
				w.lose(ctx, err)
				w.pause(ctx)
				return
			}
			// Quiet for a while: ask Redis whether it is still there.
			pinged = true
			if err = ps.Ping(ctx); err == nil {
				continue
			}
		}
		pinged = false
		w.lose(ctx, err)
		if !w.pause(ctx) {
			return
		}
	}
}

// subscribe returns a PubSub subscribing to channel (whether it could
// connect yet or not). A go-redis Ring panics instead when all its shards
// are down: that is an error to retry, like any other.
func subscribe(ctx context.Context, rdb redis.UniversalClient, channel string) (ps *redis.PubSub, err error) {
	defer func() {
		if r := recover(); r != nil {
			ps, err = nil, fmt.Errorf("redisfeed: subscribe: %v", r)
		}
	}()
	return rdb.Subscribe(ctx, channel), nil
}

// handle passes one thing received to inv. Only the subscription to the
// channel and messages on it count; payloads that are not plausible ids
// are dropped unseen.
func (w *watcher) handle(ctx context.Context, msg any) {
	switch m := msg.(type) {
	case *redis.Message:
		if m != nil && m.Channel == w.f.channel && plausibleID(m.Payload) {
			w.inv.Invalidate(m.Payload)
		}
	case *redis.Subscription:
		if m == nil || m.Kind != "subscribe" || m.Channel != w.f.channel {
			return
		}
		// Subscribed first, then the cache dropped: no change falls between.
		w.inv.InvalidateAll()
		w.wait = minBackoff
		if w.state != subscribed {
			w.state = subscribed
			w.f.log.LogAttrs(ctx, slog.LevelInfo, "gatekey: key change feed subscribed", slog.String("channel", w.f.channel))
		}
	}
}

// lose logs the loss of the feed, unless it is logged already.
func (w *watcher) lose(ctx context.Context, err error) {
	if w.state == lost {
		return
	}
	was := w.state == subscribed
	w.state = lost
	w.f.log.LogAttrs(ctx, slog.LevelWarn, "gatekey: key change feed lost; cached keys now expire within the key cache TTL",
		slog.String("channel", w.f.channel), slog.Bool("was_subscribed", was), slog.String("error", err.Error()))
}

// pause waits for the current backoff, doubling the next one. It reports
// false if ctx was done first.
func (w *watcher) pause(ctx context.Context) bool {
	d := w.wait
	w.wait = min(2*w.wait, maxBackoff)
	return w.f.sleep(ctx, d)
}

// sleep waits for d, and reports false if ctx was done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// plausibleID reports whether s could be a key id: 1 to 64 visible ASCII
// characters.
func plausibleID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
