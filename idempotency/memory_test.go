package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/idempotencystoretest"
)

func TestMemoryStoreConformance(t *testing.T) {
	idempotencystoretest.Run(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		return idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: now})
	})
}

// fakeClock is a clock the test moves.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var ctx = context.Background()

func fp(s string) idempotency.Fingerprint {
	var f idempotency.Fingerprint
	copy(f[:], s)
	return f
}

// TestMemoryStoreBoundedByCount fills a store past MaxRecords with
// answered keys: the oldest answers go, the newest stay.
func TestMemoryStoreBoundedByCount(t *testing.T) {
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: 16 * 4})
	a := &idempotency.Answer{Status: 201, Body: []byte("{}")}
	for i := range 1000 {
		k := fmt.Sprint("k", i)
		if _, ok, err := s.Begin(ctx, "acct", k, fp(k), uint64(i), time.Minute); !ok || err != nil {
			t.Fatalf("Begin(%s) = %v, %v", k, ok, err)
		}
		if ok, err := s.Finish(ctx, "acct", k, uint64(i), a, time.Hour); !ok || err != nil {
			t.Fatalf("Finish(%s) = %v, %v", k, ok, err)
		}
	}
	if n := s.Len(); n > 64 {
		t.Errorf("Len = %d, want at most MaxRecords 64", n)
	}
	if rec, ok, _ := s.Begin(ctx, "acct", "k999", fp("k999"), 5000, time.Minute); ok || rec.Answer == nil {
		t.Errorf("the newest answer was dropped")
	}
}

// TestMemoryStoreBoundedByBytes keeps answers of 100 KiB in a 1 MiB store.
func TestMemoryStoreBoundedByBytes(t *testing.T) {
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxBytes: 1 << 20})
	a := &idempotency.Answer{Status: 200, Body: make([]byte, 20<<10)}
	kept := 0
	for i := range 500 {
		k := fmt.Sprint("k", i)
		if _, ok, err := s.Begin(ctx, "acct", k, fp(k), uint64(i), time.Minute); !ok || err != nil {
			t.Fatalf("Begin(%s) = %v, %v", k, ok, err)
		}
		if ok, _ := s.Finish(ctx, "acct", k, uint64(i), a, time.Hour); ok {
			kept++
		}
	}
	if kept != 500 {
		t.Errorf("%d of 500 answers of 20 KiB kept when finished, want all (older ones make room)", kept)
	}
	if n := s.Len(); n*(20<<10) > 1<<20 {
		t.Errorf("Len = %d answers of 20 KiB, more than MaxBytes 1 MiB", n)
	}
	big := &idempotency.Answer{Status: 200, Body: make([]byte, 1<<20)}
	s.Begin(ctx, "acct", "big", fp("big"), 9999, time.Minute)
	if ok, err := s.Finish(ctx, "acct", "big", 9999, big, time.Hour); ok || err != nil {
		t.Errorf("Finish of an answer bigger than a shard = %v, %v; want false", ok, err)
	}
	if _, ok, _ := s.Begin(ctx, "acct", "big", fp("big"), 10000, time.Minute); !ok {
		t.Error("an answer too big to keep left its key claimed")
	}
}

// TestMemoryStoreFullOfClaims: live claims are never dropped; a full store
// refuses with ErrUnavailable, and lets claims go when their lock ends.
func TestMemoryStoreFullOfClaims(t *testing.T) {
	clock := newFakeClock()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: 16, Now: clock.Now})
	refused := 0
	for i := range 200 {
		k := fmt.Sprint("k", i)
		_, ok, err := s.Begin(ctx, "acct", k, fp(k), uint64(i), time.Minute)
		switch {
		case errors.Is(err, idempotency.ErrUnavailable):
			refused++
		case err != nil || !ok:
			t.Fatalf("Begin(%s) = %v, %v", k, ok, err)
		}
	}
	if refused == 0 {
		t.Fatal("200 claims in a store of 16 records: none refused")
	}
	if n := s.Len(); n > 16 {
		t.Errorf("Len = %d, want at most 16", n)
	}
	clock.Advance(time.Minute)
	for i := range 16 {
		k := fmt.Sprint("new", i)
		if _, ok, err := s.Begin(ctx, "acct", k, fp(k), uint64(1000+i), time.Minute); !ok || err != nil {
			// The shards are not filled evenly; a few refusals are fine.
			if !errors.Is(err, idempotency.ErrUnavailable) {
				t.Fatalf("Begin(%s) after the locks ended = %v, %v", k, ok, err)
			}
		}
	}
	if n := s.Len(); n == 0 || n > 16 {
		t.Errorf("Len = %d after the locks ended and new claims, want 1 to 16", n)
	}
}

// TestMemoryStoreLetsGo checks that answers whose retention ended are
// dropped as the store is used, not only when it is full.
func TestMemoryStoreLetsGo(t *testing.T) {
	clock := newFakeClock()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: clock.Now})
	a := &idempotency.Answer{Status: 201}
	for i := range 1000 {
		k := fmt.Sprint("old", i)
		s.Begin(ctx, "acct", k, fp(k), uint64(i), time.Minute)
		s.Finish(ctx, "acct", k, uint64(i), a, time.Hour)
	}
	clock.Advance(time.Hour)
	for i := range 1000 {
		k := fmt.Sprint("new", i)
		s.Begin(ctx, "acct", k, fp(k), uint64(i), time.Minute)
		s.Release(ctx, "acct", k, uint64(i))
	}
	if n := s.Len(); n > 0 {
		t.Errorf("Len = %d: answers past their retention still held after 1000 more requests", n)
	}
}

// TestMemoryPerRecord measures the heap an answered key costs, with a
// small answer.
func TestMemoryPerRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k records")
	}
	const n = 100_000
	a := &idempotency.Answer{Status: 201, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":"mon_1"}`)}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("8e03978e-40d5-43e8-bc93-%012d", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	for i, k := range keys {
		s.Begin(ctx, "acct_1", k, fp(k), uint64(i), time.Minute)
		s.Finish(ctx, "acct_1", k, uint64(i), a, time.Hour)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	t.Logf("%.0f bytes per answered key (key strings and the shared answer not counted)", float64(after.HeapAlloc-before.HeapAlloc)/n)
}
