package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// Per-minute and per-day limits together: the request passes only if both
// have room, and the decision reports the tightest one.
func Example() {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	store := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{
		Now: func() time.Time { return now }, // a fake clock; omit in production
	})
	policy := ratelimit.MustParsePolicy("3/minute,5/day")
	ctx := context.Background()

	for i := 1; i <= 4; i++ {
		d, _ := store.Take(ctx, "key_123", policy, 1)
		fmt.Printf("request %d: allowed=%v limit=%s remaining=%d retry=%v\n",
			i, d.Allowed, d.Limit.Label(), d.Remaining, d.RetryAfter)
	}
	now = now.Add(time.Minute)
	for i := 5; i <= 7; i++ {
		d, _ := store.Take(ctx, "key_123", policy, 1)
		fmt.Printf("request %d: allowed=%v limit=%s remaining=%d retry=%v\n",
			i, d.Allowed, d.Limit.Label(), d.Remaining, d.RetryAfter)
	}
	// Output:
	// request 1: allowed=true limit=3-per-minute remaining=2 retry=0s
	// request 2: allowed=true limit=3-per-minute remaining=1 retry=0s
	// request 3: allowed=true limit=3-per-minute remaining=0 retry=0s
	// request 4: allowed=false limit=3-per-minute remaining=0 retry=20s
	// request 5: allowed=true limit=5-per-day remaining=1 retry=0s
	// request 6: allowed=true limit=5-per-day remaining=0 retry=0s
	// request 7: allowed=false limit=5-per-day remaining=0 retry=4h47m0s
}

// Tiers: the caller looks up each key's policy and passes it to Take, so a
// key that changes tier is held to its new limits at once.
func Example_tiers() {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	store := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: func() time.Time { return now }})
	tiers := map[string]ratelimit.Policy{
		"free": ratelimit.MustParsePolicy("2/minute"),
		"pro":  ratelimit.MustParsePolicy("100/minute,100000/day"),
	}
	tierOf := map[string]string{"key_free": "free", "key_pro": "pro"}

	for _, key := range []string{"key_free", "key_free", "key_free", "key_pro"} {
		d, err := store.Take(context.Background(), key, tiers[tierOf[key]], 1)
		if err != nil {
			panic(err) // the store failed: fail open or closed, as configured
		}
		fmt.Printf("%s: allowed=%v remaining=%d of %s\n", key, d.Allowed, d.Remaining, d.Limit)
	}
	tierOf["key_free"] = "pro" // upgraded
	d, _ := store.Take(context.Background(), "key_free", tiers[tierOf["key_free"]], 1)
	fmt.Printf("key_free after upgrade: allowed=%v remaining=%d of %s\n", d.Allowed, d.Remaining, d.Limit)
	// Output:
	// key_free: allowed=true remaining=1 of 2/minute
	// key_free: allowed=true remaining=0 of 2/minute
	// key_free: allowed=false remaining=0 of 2/minute
	// key_pro: allowed=true remaining=99 of 100/minute
	// key_free after upgrade: allowed=true remaining=99 of 100/minute
}

// Requests can cost more than one token, such as a batch endpoint charging
// per item. A cost above the bucket's capacity can never pass.
func ExampleMemoryStore_TakeAt() {
	store := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := ratelimit.Policy{ratelimit.PerSecond(10)}

	d, _ := store.TakeAt(t, "key", p, 8)
	fmt.Println(d.Allowed, d.Remaining, d.ResetAfter)
	d, _ = store.TakeAt(t, "key", p, 5)
	fmt.Println(d.Allowed, d.Remaining, d.RetryAfter)
	d, _ = store.TakeAt(t, "key", p, 11)
	fmt.Println(d.Allowed, d.RetryAfter == ratelimit.Never)
	// Output:
	// true 2 800ms
	// false 2 300ms
	// false true
}

func ExampleParsePolicy() {
	p, err := ratelimit.ParsePolicy("10/second;burst=20, 1000/day")
	if err != nil {
		panic(err)
	}
	for _, l := range p {
		fmt.Printf("%s: %d tokens, refilled at %d per %v\n", l.Label(), l.Capacity(), l.Requests, l.Window)
	}
	_, err = ratelimit.ParsePolicy("0/minute")
	fmt.Println(err)
	// Output:
	// 10-per-second-burst-20: 20 tokens, refilled at 10 per 1s
	// 1000-per-day: 1000 tokens, refilled at 1000 per 24h0m0s
	// ratelimit: invalid limit "0/minute": requests: 0 must be at least 1
}
