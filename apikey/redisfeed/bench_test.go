package redisfeed_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/redisfeed"
	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// counter is an Invalidator that closes done once it has been told of
// want ids.
type counter struct {
	n, want atomic.Int64
	done    chan struct{}
	alls    chan struct{}
}

func (c *counter) Invalidate(string) {
	if c.n.Add(1) == c.want.Load() {
		close(c.done)
	}
}

func (c *counter) InvalidateAll() {
	select {
	case c.alls <- struct{}{}:
	default:
	}
}

// nop is an Invalidator that does nothing.
type nop struct{}

func (nop) Invalidate(string) {}
func (nop) InvalidateAll()    {}

// BenchmarkRoundTrip is the latency of the feed, end to end: Publish on
// one client, then wait until Watch, on another, has called Invalidate.
func BenchmarkRoundTrip(b *testing.B) {
	addr := testserver.SharedRedis(b).Addr()
	ch := uniqueChannel()
	pub := newFeed(b, newClient(b, addr), redisfeed.Config{Channel: ch, Timeout: time.Second})
	sub := newFeed(b, newClient(b, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()})
	rec := newRecorder(nil)
	stop := watch(b, sub, rec)
	rec.wantAll(b)
	ctx := context.Background()
	for b.Loop() {
		if err := pub.Publish(ctx, "key_4XkT2mZpQa9B"); err != nil {
			b.Fatal(err)
		}
		<-rec.ids
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	stop()
}

// BenchmarkThroughput is how many messages one Watch takes in per second:
// ids are published in pipelines of 512 on another client, and the clock
// stops when Watch has passed the last one on.
func BenchmarkThroughput(b *testing.B) {
	addr := testserver.SharedRedis(b).Addr()
	ch := uniqueChannel()
	raw := newClient(b, addr)
	sub := newFeed(b, newClient(b, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()})
	inv := &counter{done: make(chan struct{}), alls: make(chan struct{}, 1)}
	inv.want.Store(int64(b.N))
	stop := watch(b, sub, inv)
	select {
	case <-inv.alls:
	case <-time.After(waitFor):
		b.Fatal("not subscribed")
	}
	ids := make([]string, 512)
	for i := range ids {
		ids[i] = "key_" + strconv.Itoa(100000+i)
	}
	ctx := context.Background()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(len(ids), b.N-sent)
		_, err := raw.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids[:n] {
				p.Publish(ctx, ch, id)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	select {
	case <-inv.done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d messages passed on", inv.n.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	stop()
}

// BenchmarkHandle is Watch's own work per message received, without the
// network and go-redis: checking it and passing it on, to an Invalidator
// doing nothing and to a Verifier.
func BenchmarkHandle(b *testing.B) {
	const ch = "test:bench"
	f := newFeed(b, newClient(b, deadAddr(b)), redisfeed.Config{Channel: ch})
	msg := &redis.Message{Channel: ch, Payload: "key_4XkT2mZpQa9B"}
	v, err := apikey.NewVerifier(&apikey.MemoryStore{}, apikey.VerifierConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	for _, tc := range []struct {
		name string
		inv  apikey.Invalidator
	}{{"nop", nop{}}, {"verifier", v}} {
		b.Run(tc.name, func(b *testing.B) {
			handle := redisfeed.Handler(f, tc.inv)
			b.ReportAllocs()
			for b.Loop() {
				handle(msg)
			}
		})
	}
}
