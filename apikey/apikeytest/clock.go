package apikeytest

import (
	"sync"
	"time"
)

// defaultStart is the time a Clock starts at when it is given none. It is
// far enough from the present that a test which mixes the fake clock with
// the real one by mistake fails visibly.
var defaultStart = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// Clock is a fake clock that moves only when told to. Pass its Now method
// wherever gatekey takes a clock (apikey.VerifierConfig.Now,
// ratelimit.MemoryConfig.Now, middleware.AuthThrottle.Now), then call
// Advance or Set instead of sleeping.
//
// The zero Clock reads 2030-01-01T00:00:00Z. A Clock is safe for concurrent use and
// must not be copied after first use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
	set bool // now is meaningful; otherwise the clock reads defaultStart
}

// NewClock returns a Clock reading start, or 2030-01-01T00:00:00Z if start
// is zero.
func NewClock(start time.Time) *Clock {
	c := new(Clock)
	if !start.IsZero() {
		c.Set(start)
	}
	return c
}

// Now returns the clock's current time. It has no monotonic clock reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read()
}

// Advance moves the clock forward by d (backward if d is negative) and
// returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.set = c.read().Add(d), true
	return c.now
}

// Set moves the clock to t, forward or backward. The monotonic clock
// reading of t, if any, is dropped.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.set = t.Round(0), true
}

// read returns the current time; c.mu must be held.
func (c *Clock) read() time.Time {
	if !c.set {
		return defaultStart
	}
	return c.now
}
