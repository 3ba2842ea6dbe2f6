package credits_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/creditstoretest"
)

func TestMemoryStoreConformance(t *testing.T) {
	creditstoretest.Run(t, func(_ *testing.T, now func() time.Time) credits.Store {
		return credits.NewMemoryStore(credits.MemoryConfig{Now: now})
	})
}

func TestMemoryStoreBounded(t *testing.T) {
	day := time.Date(2030, time.May, 6, 12, 0, 0, 0, time.UTC)
	s := credits.NewMemoryStore(credits.MemoryConfig{MaxAccounts: 64})
	a := credits.PerDay(10)
	// Reads keep nothing.
	for i := range 1000 {
		if _, ok, err := s.SpendAt(day, strconv.Itoa(i), a, 0); !ok || err != nil {
			t.Fatalf("read %d: %v %v", i, ok, err)
		}
	}
	if n := s.Len(); n != 0 {
		t.Errorf("reads of 1000 accounts kept %d", n)
	}
	// Spends fill the store; past that, new accounts are refused, never
	// given a fresh allowance by forgetting an old one.
	refused := 0
	for i := range 1000 {
		_, _, err := s.SpendAt(day, strconv.Itoa(i), a, 1)
		switch {
		case errors.Is(err, credits.ErrUnavailable):
			refused++
		case err != nil:
			t.Fatal(err)
		}
	}
	if s.Len() > 64 || refused == 0 {
		t.Errorf("%d accounts kept and %d refused, want at most 64 kept and the rest refused", s.Len(), refused)
	}
	// The next day every balance is from a past period: room again.
	if _, ok, err := s.SpendAt(day.Add(24*time.Hour), "newcomer", a, 1); !ok || err != nil {
		t.Errorf("a new account the next day: %v %v", ok, err)
	}
}

// BenchmarkMemorySpend is the allowed path: one account, a month's
// allowance too large to run out.
func BenchmarkMemorySpend(b *testing.B) {
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	a := credits.PerMonth(credits.MaxCredits)
	now := time.Date(2030, time.May, 6, 12, 0, 0, 0, time.UTC)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.SpendAt(now, "acct_hot", a, 1)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.SpendAt(now, "acct_hot", a, 1)
			}
		})
	})
	// Spend is SpendAt plus a read of the clock, as the middleware calls it.
	b.Run("spend-serial", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			s.Spend(ctx, "acct_hot", a, 1)
		}
	})
	b.Run("time-now", func(b *testing.B) { // the clock alone, for scale
		for b.Loop() {
			time.Now()
		}
	})
}

// TestMemoryPerAccount reports the bytes a tracked account costs, at a
// million accounts. It is a test (run with -v to see the figure) that
// fails above 64 bytes.
func TestMemoryPerAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("a million accounts")
	}
	const n = 1_000_000
	now := time.Date(2030, time.May, 6, 12, 0, 0, 0, time.UTC)
	names := make([]string, n)
	for i := range names {
		names[i] = "acct_" + strconv.Itoa(i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := credits.NewMemoryStore(credits.MemoryConfig{})
	a := credits.PerMonth(100)
	for _, name := range names {
		if _, _, err := s.SpendAt(now, name, a, 1); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d accounts: %.1f bytes per tracked account", s.Len(), per)
	if per > 64 {
		t.Errorf("%.1f bytes per account, want at most 64", per)
	}
	runtime.KeepAlive(s)
}
