package redisfeed_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/redisfeed"
	"github.com/redis/go-redis/v9"
)

// Every replica of a service runs this: its Manager's changes are
// published, and it hears those of the other replicas.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "redis.internal:6379",
		ContextTimeoutEnabled: true, // required: lets Config.Timeout bound each Publish
	})
	defer rdb.Close()

	logger := slog.Default()
	feed, err := redisfeed.New(rdb, redisfeed.Config{Channel: "myservice:keys", Logger: logger})
	if err != nil {
		log.Fatal(err)
	}

	var store apikey.ManagedStore = &apikey.MemoryStore{} // your own store, shared by the replicas
	mgr, err := apikey.NewManager(feed.Store(store), apikey.ManagerConfig{
		Verifier: apikey.VerifierConfig{Logger: logger},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer mgr.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Runs until ctx is done, reconnecting as needed; then returns nil.
		if err := feed.Watch(ctx, mgr.Verifier()); err != nil {
			log.Fatal(err)
		}
	}()

	// … serve requests, verifying keys with mgr.Verify; a key revoked on
	// any replica (mgr.Revoke) is refused by every replica within
	// milliseconds …

	<-ctx.Done()
	wg.Wait()
}

// A change made beside the Manager (here straight in the store) is
// announced with Publish once it is stored.
func ExampleFeed_Publish() {
	rdb := redis.NewClient(&redis.Options{Addr: "redis.internal:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	feed, err := redisfeed.New(rdb, redisfeed.Config{Channel: "myservice:keys"})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	var store apikey.ManagedStore = &apikey.MemoryStore{}
	id := "4XkT2mZpQa9B"
	k, err := store.LookupKey(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	k.Disabled = true
	if err := store.UpdateKey(ctx, k); err != nil {
		log.Fatal(err)
	}
	if err := feed.Publish(ctx, id); err != nil {
		// Not heard: the other replicas see the change within their
		// key cache TTL.
		log.Print(err)
	}
}
