package service

import (
	"context"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/ratelimit"
)

// TestKeyChanges: New runs the change feed with the service's Verifier, an
// invalidation through it takes effect, and Close stops the feed.
func TestKeyChanges(t *testing.T) {
	started := make(chan apikey.Invalidator, 1)
	stopped := make(chan struct{})
	s, err := New(Config{
		Rate: ratelimit.MustParsePolicy("100/minute"),
		KeyChanges: func(ctx context.Context, inv apikey.Invalidator) error {
			started <- inv
			<-ctx.Done()
			close(stopped)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	inv := <-started
	if inv != apikey.Invalidator(s.mgr.Verifier()) {
		t.Errorf("the feed got %T, not the service's Verifier", inv)
	}
	select {
	case <-stopped:
		t.Fatal("the feed stopped before Close")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Error("Close returned before the feed stopped")
	}
}
