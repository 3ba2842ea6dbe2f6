package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/redisstore"
	"github.com/redis/go-redis/v9"
)

// A Store shared by every replica: each request spends from the account's
// monthly allowance, and a Redis failure refuses the request (503) rather
// than give credits away.
func Example() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "redis.internal:6379",
		ContextTimeoutEnabled: true, // required: lets Config.Timeout bound each call
		MaxRetries:            -1,   // never run a spend twice
	})
	defer client.Close()

	store, err := redisstore.New(client, redisstore.Config{
		Prefix:  "myservice:credits:",
		Timeout: 50 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}

	free := credits.PerMonth(500)
	b, ok, err := store.Spend(context.Background(), "acct_4XkT2mZpQa9B", free, 1)
	switch {
	case errors.Is(err, credits.ErrUnavailable):
		fmt.Println("503, try again later")
	case err != nil:
		log.Fatal(err) // invalid arguments: a bug
	case !ok:
		fmt.Println("402, credits reset at", b.ResetAt)
	default:
		fmt.Println(b.Remaining, "credits left")
	}
}
