package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/redisstore"
	"github.com/redis/go-redis/v9"
)

// A Store shared by every replica, failing open to a local limiter (so each
// of N replicas may allow up to the limit on its own while Redis is away)
// and logging Redis failures.
func Example() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "redis.internal:6379",
		ContextTimeoutEnabled: true, // required: lets Config.Timeout bound each call
	})
	defer client.Close()

	store, err := redisstore.New(client, redisstore.Config{
		Prefix:   "myservice:ratelimit:",
		Timeout:  50 * time.Millisecond,
		FailOpen: true,
		OnError:  func(err error) { slog.Warn("rate limiting without Redis", "err", err) },
	})
	if err != nil {
		log.Fatal(err)
	}

	policy := ratelimit.MustParsePolicy("10/second;burst=20, 10000/day")
	d, err := store.Take(context.Background(), "key_4XkT2mZpQa9B", policy, 1)
	if err != nil {
		log.Fatal(err) // only with FailOpen unset: answer 503
	}
	if !d.Allowed {
		fmt.Println("429, retry after", d.RetryAfter)
	}
}
