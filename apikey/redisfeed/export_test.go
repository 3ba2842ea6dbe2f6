package redisfeed

import (
	"context"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// SetHealthInterval replaces healthInterval for f; call it before Watch.
func SetHealthInterval(f *Feed, d time.Duration) { f.health = d }

// OnRetry makes f call fn with each backoff wait before waiting; call it
// before Watch.
func OnRetry(f *Feed, fn func(time.Duration)) {
	f.sleep = func(ctx context.Context, d time.Duration) bool {
		fn(d)
		return sleep(ctx, d)
	}
}

// SkipBackoff makes f call fn with each backoff wait instead of waiting;
// call it before Watch.
func SkipBackoff(f *Feed, fn func(time.Duration)) {
	f.sleep = func(ctx context.Context, d time.Duration) bool {
		fn(d)
		return ctx.Err() == nil
	}
}

// PlausibleID exposes plausibleID.
var PlausibleID = plausibleID

// Handler returns a function that passes what PubSub.Receive returns to
// inv as a running Watch of f does.
func Handler(f *Feed, inv apikey.Invalidator) func(msg any) {
	w := &watcher{f: f, inv: inv, wait: minBackoff}
	return func(msg any) { w.handle(context.Background(), msg) }
}

// Backoff exposes the backoff bounds.
const (
	MinBackoff = minBackoff
	MaxBackoff = maxBackoff
)
