//go:build unix

package redisfeed_test

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/redisfeed"
	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// publishUntil publishes id until Redis takes it: the first commands after
// a restart may meet connections of the client's pool that died with it.
func publishUntil(t *testing.T, f *redisfeed.Feed, id string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := f.Publish(t.Context(), id)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish(%q) failing for %v: %v", id, waitFor, err)
		}
	}
}

// TestRedisKilled kills Redis under a Watch: the loss is logged once
// however many attempts fail, the attempts back off, and once Redis is back
// Watch subscribes again by itself, drops the whole cache again, logs it,
// and hears changes again.
func TestRedisKilled(t *testing.T) {
	srv := testserver.StartRedis(t)
	ch := uniqueChannel()
	l := newLogs()
	f := newFeed(t, newClient(t, srv.Addr()), redisfeed.Config{Channel: ch, Logger: l.logger()})
	retries := onRetry(f)
	rec := newRecorder(nil)
	stop := watch(t, f, rec)
	rec.wantAll(t)
	l.wait(t, subscribedMsg, 1)

	for outage := 1; outage <= 2; outage++ {
		srv.Kill()
		r := l.wait(t, lostMsg, outage)
		if r.level != slog.LevelWarn || r.attrs["was_subscribed"] != "true" || r.attrs["channel"] != ch || r.attrs["error"] == "" {
			t.Errorf("lost record %v, want level WARN, was_subscribed, the channel and the error", r)
		}
		// The backoff starts over with each outage.
		want := redisfeed.MinBackoff
		for range 4 {
			if d := retries.next(t); d != want {
				t.Errorf("outage %d: backoff %v, want %v", outage, d, want)
			}
			want *= 2
		}
		if n := l.count(lostMsg); n != outage {
			t.Errorf("%d records %q after %d outages, want %d: once per outage, not per attempt", n, lostMsg, outage, outage)
		}
		rec.noMore(t)

		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		rec.wantAll(t)
		l.wait(t, subscribedMsg, outage+1)
		publishUntil(t, f, "key_after_restart")
		rec.wantID(t, "key_after_restart")
		retries.drain()
	}
	if err := stop(); err != nil {
		t.Errorf("Watch returned %v, want nil", err)
	}
	rec.noMore(t)
}

// TestRedisHung stops Redis (SIGSTOP) under a Watch, as a hung server or a
// network partition would: no error comes, but the health check notices
// that PINGs go unanswered, and Watch subscribes again once Redis answers.
// Cancelled while Redis is hung, Watch returns within the client's
// timeouts; a Publish fails within the Feed's Timeout.
func TestRedisHung(t *testing.T) {
	for _, protocol := range []int{2, 3} {
		t.Run("RESP"+strconv.Itoa(protocol), func(t *testing.T) {
			srv := testserver.StartRedis(t)
			ch := uniqueChannel()
			l := newLogs()
			timeouts := 300 * time.Millisecond
			c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, Protocol: protocol,
				DialTimeout: timeouts, ReadTimeout: timeouts, WriteTimeout: timeouts})
			t.Cleanup(func() { c.Close() })
			f := newFeed(t, c, redisfeed.Config{Channel: ch, Logger: l.logger()})
			redisfeed.SetHealthInterval(f, 200*time.Millisecond)
			rec := newRecorder(nil)
			stop := watch(t, f, rec)
			rec.wantAll(t)
			l.wait(t, subscribedMsg, 1)
			publishUntil(t, f, "key_before") // also warms the pool up
			rec.wantID(t, "key_before")
			// While Redis answers, the health check's PINGs (one per quiet
			// interval) pass.
			raw := newClient(t, srv.Addr())
			waitUntil(t, "three PINGs", func() bool { return pings(t, raw) >= 3 })
			if n := l.count(lostMsg); n != 0 {
				t.Fatalf("%d records %q with Redis answering PINGs: %v", n, lostMsg, l.all())
			}

			if err := srv.Pause(); err != nil {
				t.Fatal(err)
			}
			r := l.wait(t, lostMsg, 1)
			if r.attrs["error"] != "no answer from Redis to a PING" {
				t.Errorf("lost record %v, want the error saying PING went unanswered", r)
			}
			start := time.Now()
			if err := f.Publish(t.Context(), "key_hung"); !errors.Is(err, apikey.ErrUnavailable) {
				t.Errorf("Publish with Redis hung = %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Publish with Redis hung took %v, want about its Timeout", d)
			}
			if err := srv.Resume(); err != nil {
				t.Fatal(err)
			}
			rec.wantAll(t)
			l.wait(t, subscribedMsg, 2)
			// The publish that timed out may still have been delivered when
			// Redis resumed: a message is a hint, at most once.
			publishUntil(t, f, "key_after")
			for {
				select {
				case id := <-rec.ids:
					if id == "key_hung" {
						continue
					}
					if id != "key_after" {
						t.Fatalf("Invalidate(%q), want key_after", id)
					}
				case <-time.After(waitFor):
					t.Fatal("no Invalidate(key_after)")
				}
				break
			}

			if err := srv.Pause(); err != nil {
				t.Fatal(err)
			}
			l.wait(t, lostMsg, 2)
			if err := stop(); err != nil { // fails the test if it takes longer than shortWait
				t.Errorf("Watch returned %v, want nil", err)
			}
			if err := srv.Resume(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// pings returns how many PINGs Redis has answered since it started.
func pings(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_ping:calls="); ok {
			n, _, _ := strings.Cut(rest, ",")
			calls, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("commandstats line %q: %v", line, err)
			}
			return calls
		}
	}
	return 0
}

// TestCancelWhileDown: Watch returns at once when cancelled while Redis
// is down, between attempts or in one.
func TestCancelWhileDown(t *testing.T) {
	srv := testserver.StartRedis(t)
	l := newLogs()
	f := newFeed(t, newClient(t, srv.Addr()), redisfeed.Config{Channel: uniqueChannel(), Logger: l.logger()})
	retries := onRetry(f)
	rec := newRecorder(nil)
	stop := watch(t, f, rec)
	rec.wantAll(t)
	srv.Kill()
	l.wait(t, lostMsg, 1)
	retries.next(t)
	retries.next(t)
	ctxDone := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Watch returned %v, want nil", err)
	}
	if d := time.Since(ctxDone); d > 500*time.Millisecond {
		t.Errorf("Watch took %v to return with Redis down", d)
	}
}
