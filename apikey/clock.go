package apikey

import (
	"sync/atomic"
	"time"
)

// anchorEvery is how long a wallClock trusts its anchor.
const anchorEvery = time.Second

// A wallClock is a Verifier's default clock: the time time.Now gives, to
// within the system clock's steps of the last second, at half its cost.
// It reads only the monotonic clock, added to an anchor, a time.Now that it
// takes again once the anchor is a second old; time.Now reads the wall
// clock too, and on virtual machines each read can cost tens of
// nanoseconds, which a Verify on a cache hit paid on every call. The zero
// value is ready to use, from any goroutine.
type wallClock struct {
	anchor atomic.Pointer[time.Time]
}

// Now returns the current time.
func (c *wallClock) Now() time.Time {
	if a := c.anchor.Load(); a != nil {
		if d := time.Since(*a); d >= 0 && d < anchorEvery {
			return a.Add(d)
		}
	}
	now := time.Now()
	c.anchor.Store(&now)
	return now
}
