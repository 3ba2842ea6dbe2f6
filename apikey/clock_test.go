package apikey

import (
	"testing"
	"time"
)

// TestWallClock: the clock agrees with time.Now, never goes backwards
// between two reads, and takes a new anchor once the old one is a second
// old.
func TestWallClock(t *testing.T) {
	var c wallClock
	before := time.Now()
	first := c.Now()
	second := c.Now()
	after := time.Now()
	if first.Before(before) || second.Before(first) || after.Before(second) {
		t.Errorf("time.Now %v, clock %v then %v, time.Now %v: out of order", before, first, second, after)
	}
	old := time.Now().Add(-2 * anchorEvery)
	c.anchor.Store(&old)
	if got := c.Now(); got.Sub(old) < 2*anchorEvery-time.Millisecond || c.anchor.Load() == &old {
		t.Errorf("with an anchor 2s old: Now() = %v (anchor %v), want a fresh anchor", got, old)
	}
}
