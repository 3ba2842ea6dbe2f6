package apikeytest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey/apikeytest"
)

var start = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

func TestClock(t *testing.T) {
	at := time.Date(2031, 2, 3, 4, 5, 6, 7, time.UTC)
	for _, tc := range []struct {
		name string
		run  func(c *apikeytest.Clock) time.Time // returns the time the clock should read
		want time.Time
	}{
		{"zero value", func(c *apikeytest.Clock) time.Time { return c.Now() }, start},
		{"advance", func(c *apikeytest.Clock) time.Time {
			if got := c.Advance(90 * time.Second); !got.Equal(start.Add(90 * time.Second)) {
				t.Errorf("Advance returned %v, want %v", got, start.Add(90*time.Second))
			}
			return c.Now()
		}, start.Add(90 * time.Second)},
		{"advance backwards", func(c *apikeytest.Clock) time.Time { return c.Advance(-time.Hour) }, start.Add(-time.Hour)},
		{"set", func(c *apikeytest.Clock) time.Time { c.Set(at); return c.Now() }, at},
		{"set then advance", func(c *apikeytest.Clock) time.Time {
			c.Set(at)
			c.Advance(time.Minute)
			return c.Now()
		}, at.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c apikeytest.Clock
			if got := tc.run(&c); !got.Equal(tc.want) {
				t.Errorf("clock reads %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewClock(t *testing.T) {
	at := time.Date(2031, 2, 3, 4, 5, 6, 7, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		name  string
		start time.Time
		want  time.Time
	}{
		{"zero start", time.Time{}, start},
		{"given start", at, at},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := apikeytest.NewClock(tc.start).Now(); got != tc.want {
				t.Errorf("NewClock(%v).Now() = %v, want %v", tc.start, got, tc.want)
			}
		})
	}
}

// The monotonic reading of a real time is dropped, so that comparisons and
// arithmetic use the wall clock the fake clock moves.
func TestClockDropsMonotonic(t *testing.T) {
	now := time.Now()
	c := apikeytest.NewClock(now)
	if got, want := c.Now(), now.Round(0); got != want {
		t.Errorf("Now() = %v, want %v (no monotonic reading)", got, want)
	}
}

func TestClockConcurrent(t *testing.T) {
	c := apikeytest.NewClock(time.Time{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(1000*time.Second); !got.Equal(want) {
		t.Errorf("after 1000 concurrent one-second advances: %v, want %v", got, want)
	}
}
