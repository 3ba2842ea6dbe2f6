package apikey

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// touchRecorder records every TouchKeys batch, and fails while fail is set.
type touchRecorder struct {
	batches []map[string]time.Time
	fail    bool
}

func (r *touchRecorder) TouchKeys(_ context.Context, m map[string]time.Time) error {
	if r.fail {
		return errors.New("store down")
	}
	c := make(map[string]time.Time, len(m))
	for k, v := range m {
		c[k] = v
	}
	r.batches = append(r.batches, c)
	return nil
}

// At most one write per key per interval, batched; a failed batch is kept
// for the next attempt, without losing newer times; nothing is noted after
// close.
func TestLastUseBatches(t *testing.T) {
	t0 := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	rec := &touchRecorder{}
	b := newLastUse(rec, time.Minute, 0, slog.New(slog.DiscardHandler))
	var a, c atomic.Int64 // the keys' times of last note

	for i := range 10 { // many uses within the interval: one noted
		b.used("a", &a, t0.Add(time.Duration(i)*time.Second))
	}
	b.used("c", &c, t0)
	if err := b.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.used("a", &a, t0.Add(59*time.Second)) // within the interval of the last note
	b.flush(context.Background())           // nothing to write
	rec.fail = true
	b.used("a", &a, t0.Add(time.Minute))
	if err := b.flush(context.Background()); err == nil {
		t.Error("flush with a failing store reported no error")
	}
	b.used("a", &a, t0.Add(3*time.Minute)) // newer than the kept batch
	b.used("c", &c, t0.Add(3*time.Minute))
	rec.fail = false
	b.close()
	b.used("c", &c, t0.Add(10*time.Minute)) // after close: not noted
	if err := b.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []map[string]time.Time{
		{"a": t0, "c": t0},
		{"a": t0.Add(3 * time.Minute), "c": t0.Add(3 * time.Minute)},
	}
	if diff := cmp.Diff(want, rec.batches); diff != "" {
		t.Errorf("batches written (-want +got):\n%s", diff)
	}
}

func TestLastUseOff(t *testing.T) {
	b := newLastUse(nil, time.Minute, 0, slog.New(slog.DiscardHandler))
	var a atomic.Int64
	b.used("a", &a, time.Now())
	if err := b.flush(context.Background()); err != nil || len(b.pending) != 0 {
		t.Errorf("a batcher without a store noted %d uses, flush = %v", len(b.pending), err)
	}
}
