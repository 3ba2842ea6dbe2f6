package redisfeed_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/redisfeed"
	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// deadAddr returns a loopback address nothing listens on: connections to
// it are refused, as to a Redis that is down.
func deadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNew(t *testing.T) {
	wantErr := func(what string, err error, mention string) {
		t.Helper()
		if err == nil || !strings.HasPrefix(err.Error(), "redisfeed: ") || !strings.Contains(err.Error(), mention) {
			t.Errorf("%s: error %v, want one starting with %q and mentioning %q", what, err, "redisfeed: ", mention)
		}
	}
	_, err := redisfeed.New(nil, redisfeed.Config{})
	wantErr("New(nil)", err, "needs a Redis client")
	var nilClient *redis.Client
	_, err = redisfeed.New(nilClient, redisfeed.Config{})
	wantErr("New((*redis.Client)(nil))", err, "needs a Redis client")

	addr := deadAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	_, err = redisfeed.New(c, redisfeed.Config{})
	wantErr("New(client without ContextTimeoutEnabled)", err, "ContextTimeoutEnabled")
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	defer cc.Close()
	_, err = redisfeed.New(cc, redisfeed.Config{})
	wantErr("New(cluster client without ContextTimeoutEnabled)", err, "ContextTimeoutEnabled")
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}})
	defer ring.Close()
	_, err = redisfeed.New(ring, redisfeed.Config{})
	wantErr("New(ring without ContextTimeoutEnabled)", err, "ContextTimeoutEnabled")

	ok := newClient(t, addr)
	f := newFeed(t, ok, redisfeed.Config{})
	if got := f.Channel(); got != "gatekey:keys" {
		t.Errorf("default Channel() = %q, want %q", got, redisfeed.DefaultChannel)
	}
	if got := newFeed(t, ok, redisfeed.Config{Channel: "svc:keys"}).Channel(); got != "svc:keys" {
		t.Errorf("Channel() = %q, want svc:keys", got)
	}
	err = f.Watch(t.Context(), nil)
	wantErr("Watch(ctx, nil)", err, "needs an Invalidator")
	if s := f.Store(nil); s != nil {
		t.Errorf("Store(nil) = %v, want nil", s)
	}
}

func TestPlausibleID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"a", true},
		{"key_4XkT2mZpQa9B", true},
		{"!~", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"a b", false},
		{"a\tb", false},
		{"id\n", false},
		{"\x00", false},
		{"\x7f", false},
		{"caf\u00e9", false},
		{"\xff", false},
	} {
		if got := redisfeed.PlausibleID(tc.s); got != tc.want {
			t.Errorf("PlausibleID(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestPublishInvalid: Publish refuses what Watch would ignore, without
// contacting Redis (here there is none).
func TestPublishInvalid(t *testing.T) {
	f := newFeed(t, newClient(t, deadAddr(t)), redisfeed.Config{})
	for _, id := range []string{"", strings.Repeat("x", 65), "a b", "\x00"} {
		err := f.Publish(t.Context(), id)
		if err == nil || errors.Is(err, apikey.ErrUnavailable) || !strings.HasPrefix(err.Error(), "redisfeed: ") {
			t.Errorf("Publish(%q) = %v, want an error not matching ErrUnavailable", id, err)
		}
	}
}

// TestPublishUnavailable: a Publish that Redis does not take fails with
// an error wrapping apikey.ErrUnavailable, within the Timeout.
func TestPublishUnavailable(t *testing.T) {
	f := newFeed(t, newClient(t, deadAddr(t)), redisfeed.Config{})
	start := time.Now()
	err := f.Publish(t.Context(), "key_1")
	if !errors.Is(err, apikey.ErrUnavailable) || !strings.HasPrefix(err.Error(), "redisfeed: publish: ") {
		t.Errorf("Publish with Redis down = %v, want an error wrapping ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Publish with Redis down took %v", d)
	}
}

// TestPublishWatch publishes on one client and watches on others: every
// Watch, the publisher's own included, drops the whole cache once when it
// has subscribed, then hears every id, in order.
func TestPublishWatch(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	ch := uniqueChannel()
	logsA, logsB := newLogs(), newLogs()
	pub := newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: logsA.logger()})
	sub := newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: logsB.logger()})

	recA, recB1, recB2 := newRecorder(nil), newRecorder(nil), newRecorder(nil)
	stops := []func() error{watch(t, pub, recA), watch(t, sub, recB1), watch(t, sub, recB2)}
	for _, r := range []*recorder{recA, recB1, recB2} {
		r.wantAll(t)
	}
	rec := logsB.wait(t, subscribedMsg, 2)
	if rec.level != slog.LevelInfo || rec.attrs["channel"] != ch {
		t.Errorf("subscribed record %v, want level INFO and channel %q", rec, ch)
	}

	ids := []string{"key_1", "kid_4XkT2mZpQa9B", strings.Repeat("z", 64), "!~", "key_1"}
	for _, id := range ids {
		if err := pub.Publish(t.Context(), id); err != nil {
			t.Fatalf("Publish(%q): %v", id, err)
		}
	}
	for _, r := range []*recorder{recA, recB1, recB2} {
		for _, id := range ids {
			r.wantID(t, id)
		}
	}
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Errorf("Watch returned %v once cancelled, want nil", err)
		}
	}
	for _, r := range []*recorder{recA, recB1, recB2} {
		r.noMore(t)
	}
	for _, l := range []*logs{logsA, logsB} {
		if n := l.count(lostMsg); n != 0 {
			t.Errorf("%d records %q, want none: %v", n, lostMsg, l.all())
		}
	}
	if n := logsB.count(subscribedMsg); n != 2 {
		t.Errorf("%d records %q for two Watches, want 2", n, subscribedMsg)
	}
}

// TestOddPayloads: payloads that cannot be key ids are ignored, and never
// logged.
func TestOddPayloads(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	ch := uniqueChannel()
	l := newLogs()
	f := newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: l.logger()})
	rec := newRecorder(nil)
	watch(t, f, rec)
	rec.wantAll(t)

	odd := []string{
		"",
		strings.Repeat("x", 65),
		strings.Repeat("huge", 1<<18), // 1 MiB
		"\x00\x01\x02binary",
		"\xff\xfe\xfd",
		"with space",
		"tab\tid",
		"newline_id\n",
		"caf\u00e9_id",
		"\x7fdel",
	}
	raw := newClient(t, addr)
	for _, p := range odd {
		if err := raw.Publish(t.Context(), ch, p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Publish(t.Context(), "marker_1"); err != nil {
		t.Fatal(err)
	}
	rec.wantID(t, "marker_1")
	rec.noMore(t)
	l.mustNotContain(t, odd...)
	if recs := l.all(); len(recs) != 1 || recs[0].msg != subscribedMsg {
		t.Errorf("log records %v, want only %q", recs, subscribedMsg)
	}
}

// TestHandleOddMessages feeds Watch's handling of what it receives with
// everything PubSub.Receive could return, and more: only the subscription
// to its channel and plausible ids on its channel count.
func TestHandleOddMessages(t *testing.T) {
	ch := "test:odd"
	l := newLogs()
	f := newFeed(t, newClient(t, deadAddr(t)), redisfeed.Config{Channel: ch, Logger: l.logger()})
	rec := newRecorder(nil)
	handle := redisfeed.Handler(f, rec)
	for _, msg := range []any{
		nil,
		"PONG",
		42,
		(*redis.Message)(nil),
		(*redis.Subscription)(nil),
		(*redis.Pong)(nil),
		&redis.Pong{Payload: "key_1"},
		&redis.Subscription{Kind: "unsubscribe", Channel: ch},
		&redis.Subscription{Kind: "psubscribe", Channel: ch},
		&redis.Subscription{Kind: "subscribe", Channel: "other"},
		&redis.Message{Channel: "other", Payload: "key_1"},
		&redis.Message{Channel: ch, PayloadSlice: []string{"key_1"}},
		&redis.Message{Channel: ch, Payload: ""},
		&redis.Message{Channel: ch, Payload: "\x00"},
	} {
		handle(msg)
	}
	rec.noMore(t)
	if recs := l.all(); len(recs) != 0 {
		t.Errorf("log records %v, want none", recs)
	}

	handle(&redis.Message{Channel: ch, Pattern: "test:*", Payload: "key_1"})
	rec.wantID(t, "key_1")
	handle(&redis.Subscription{Kind: "subscribe", Channel: ch, Count: 1})
	rec.wantAll(t)
	handle(&redis.Subscription{Kind: "subscribe", Channel: ch, Count: 1})
	rec.wantAll(t)
	rec.noMore(t)
	if n := l.count(subscribedMsg); n != 1 {
		t.Errorf("%d records %q for two confirmations in a row, want 1 (transitions only)", n, subscribedMsg)
	}
}

// FuzzHandle: whatever the payload, Watch's handling never panics, logs
// nothing, and passes it on exactly when it is a plausible id.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{"", "key_1", strings.Repeat("x", 64), strings.Repeat("x", 65), "a b", "\x00", "\xff", "caf\u00e9"} {
		f.Add(s)
	}
	const ch = "test:fuzz"
	l := newLogs()
	feed := newFeed(f, newClient(f, deadAddr(f)), redisfeed.Config{Channel: ch, Logger: l.logger()})
	f.Fuzz(func(t *testing.T, payload string) {
		rec := newRecorder(nil)
		redisfeed.Handler(feed, rec)(&redis.Message{Channel: ch, Payload: payload})
		want := len(payload) >= 1 && len(payload) <= 64
		for i := 0; i < len(payload); i++ {
			want = want && payload[i] > ' ' && payload[i] < 0x7f
		}
		select {
		case id := <-rec.ids:
			if !want || id != payload {
				t.Errorf("payload %q passed on as Invalidate(%q)", payload, id)
			}
		default:
			if want {
				t.Errorf("payload %q, a plausible id, not passed on", payload)
			}
		}
		if recs := l.all(); len(recs) != 0 {
			t.Fatalf("log records %v, want none", recs)
		}
	})
}

// TestWatchCancel: Watch returns nil once its context is done, having
// stopped everything it started and closed its connection.
func TestWatchCancel(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := newClient(t, addr)
	if err := raw.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}

	t.Run("before", func(t *testing.T) {
		f := newFeed(t, raw, redisfeed.Config{Channel: uniqueChannel()})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		rec := newRecorder(nil)
		if err := f.Watch(ctx, rec); err != nil {
			t.Errorf("Watch with a done context = %v, want nil", err)
		}
		rec.noMore(t)
	})

	t.Run("subscribed", func(t *testing.T) {
		ch := uniqueChannel()
		f := newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()})
		before := runtime.NumGoroutine()
		rec := newRecorder(nil)
		stop := watch(t, f, rec)
		rec.wantAll(t)
		if n := numSub(t, raw, ch); n != 1 {
			t.Fatalf("PUBSUB NUMSUB %s = %d while watching, want 1", ch, n)
		}
		if err := stop(); err != nil {
			t.Errorf("Watch returned %v, want nil", err)
		}
		waitUntil(t, "Watch's goroutines end", func() bool { return runtime.NumGoroutine() <= before })
		waitUntil(t, "Redis sees Watch's connection closed", func() bool { return numSub(t, raw, ch) == 0 })
	})

	t.Run("down", func(t *testing.T) {
		// Never subscribed: Redis is down from the start.
		l := newLogs()
		f := newFeed(t, newClient(t, deadAddr(t)), redisfeed.Config{Logger: l.logger()})
		retries := onRetry(f)
		rec := newRecorder(nil)
		stop := watch(t, f, rec)
		retries.next(t)
		retries.next(t)
		r := l.wait(t, lostMsg, 1)
		if r.level != slog.LevelWarn || r.attrs["was_subscribed"] != "false" || r.attrs["error"] == "" {
			t.Errorf("lost record %v, want level WARN, was_subscribed false and an error", r)
		}
		if err := stop(); err != nil {
			t.Errorf("Watch returned %v, want nil", err)
		}
		rec.noMore(t)
		if n := l.count(lostMsg); n != 1 {
			t.Errorf("%d records %q for one outage, want 1", n, lostMsg)
		}
	})
}

func numSub(t testing.TB, c *redis.Client, ch string) int64 {
	t.Helper()
	m, err := c.PubSubNumSub(context.Background(), ch).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m[ch]
}

// waitUntil calls cond until it holds, failing t if it does not within
// waitFor.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		runtime.Gosched()
	}
}

// TestBackoff: the wait between attempts doubles from MinBackoff up to
// MaxBackoff and stays there.
func TestBackoff(t *testing.T) {
	l := newLogs()
	f := newFeed(t, newClient(t, deadAddr(t)), redisfeed.Config{Logger: l.logger()})
	retries := make(retryLog, 1000)
	redisfeed.SkipBackoff(f, retries.add)
	watch(t, f, newRecorder(nil))
	want := redisfeed.MinBackoff
	for range 10 {
		if d := retries.next(t); d != want {
			t.Errorf("backoff %v, want %v", d, want)
		}
		want = min(2*want, redisfeed.MaxBackoff)
	}
	if want != 5*time.Second {
		t.Errorf("MaxBackoff %v, want 5s", want)
	}
	if n := l.count(lostMsg); n != 1 {
		t.Errorf("%d records %q for one outage, want 1", n, lostMsg)
	}
}

// TestRingDown: a go-redis Ring whose shards are all down panics in
// Subscribe; Watch takes that for an outage like any other.
func TestRingDown(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": deadAddr(t)},
		ContextTimeoutEnabled: true, HeartbeatFrequency: 5 * time.Millisecond})
	t.Cleanup(func() { ring.Close() })
	waitUntil(t, "the Ring marks its shard down", func() bool {
		err := ring.Ping(t.Context()).Err()
		return err != nil && strings.Contains(err.Error(), "all ring shards are down")
	})
	l := newLogs()
	f := newFeed(t, ring, redisfeed.Config{Logger: l.logger()})
	retries := onRetry(f)
	stop := watch(t, f, newRecorder(nil))
	retries.next(t)
	retries.next(t)
	r := l.wait(t, lostMsg, 1)
	if r.attrs["error"] != "redisfeed: subscribe: redis: all ring shards are down" {
		t.Errorf("lost record %v, want the Ring's error", r)
	}
	if err := stop(); err != nil {
		t.Errorf("Watch returned %v, want nil", err)
	}
}
