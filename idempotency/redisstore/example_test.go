package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// A Store shared by every replica: a request with an Idempotency-Key
// claims it, runs, and keeps its answer for the retries, wherever they
// land; a Redis failure refuses the request (503) rather than run it
// unprotected.
func Example() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "redis.internal:6379",
		ContextTimeoutEnabled: true, // required: lets Config.Timeout bound each call
	})
	defer client.Close()

	store, err := redisstore.New(client, redisstore.Config{
		Prefix:  "myservice:idem:",
		Timeout: 50 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	var fp idempotency.Fingerprint // from idempotency.ReadRequest
	token := rand.Uint64()         // one per Begin
	rec, claimed, err := store.Begin(ctx, "acct_4XkT2mZpQa9B", "order-7781", fp, token, time.Minute)
	switch {
	case errors.Is(err, idempotency.ErrUnavailable):
		fmt.Println("503, try again later")
	case err != nil:
		log.Fatal(err)
	case claimed:
		// Run the handler, then keep its answer for a day.
		a := &idempotency.Answer{Status: http.StatusCreated, Body: []byte(`{"id":"ord_1"}`)}
		if _, err := store.Finish(ctx, "acct_4XkT2mZpQa9B", "order-7781", token, a, 24*time.Hour); err != nil {
			log.Print(err) // the answer was sent; its retries will run again
		}
	case rec.Fingerprint != fp:
		fmt.Println("422, the key was used for another request")
	case rec.Answer == nil:
		fmt.Println("409, the first request is still running")
	default:
		fmt.Println("replay:", rec.Answer.Status)
	}
}
