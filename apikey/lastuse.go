package apikey

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// lastUse batches last-use times for a store that records them
// (TouchKeys). It keeps one promise, with a test: at most one write per key
// per interval, batched, never on the request path. A batch that fails to
// be written is kept for the next attempt, without losing newer times.
type lastUse struct {
	store    toucher       // nil: last use is not tracked
	interval time.Duration // at most one write per key per interval
	timeout  time.Duration // bound of each write; <= 0: none
	log      *slog.Logger

	closed  atomic.Bool // set by close: record nothing more
	mu      sync.Mutex
	pending map[string]time.Time // times not yet written, by key id
}

func newLastUse(store toucher, interval, timeout time.Duration, log *slog.Logger) *lastUse {
	return &lastUse{store: store, interval: interval, timeout: timeout, log: log, pending: make(map[string]time.Time)}
}

// used notes that key id was used at now, unless it was noted less than an
// interval ago; last is the key's time of last note (UnixNano), shared by
// the callers presenting it.
func (b *lastUse) used(id string, last *atomic.Int64, now time.Time) {
	if b.store == nil {
		return
	}
	n := now.UnixNano()
	l := last.Load()
	if n-l < int64(b.interval) || b.closed.Load() || !last.CompareAndSwap(l, n) {
		return
	}
	now = now.Round(0) // drop the monotonic reading
	b.mu.Lock()
	if t, ok := b.pending[id]; !ok || now.After(t) {
		b.pending[id] = now
	}
	b.mu.Unlock()
}

// flush writes the pending times in one TouchKeys call.
func (b *lastUse) flush(ctx context.Context) error {
	if b.store == nil {
		return nil
	}
	b.mu.Lock()
	batch := b.pending
	if len(batch) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.pending = make(map[string]time.Time)
	b.mu.Unlock()

	if b.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	if err := b.store.TouchKeys(ctx, batch); err != nil {
		b.mu.Lock()
		for id, t := range b.pending {
			if t.After(batch[id]) {
				batch[id] = t
			}
		}
		b.pending = batch
		b.mu.Unlock()
		b.log.Warn("apikey: writing last-use times failed", "keys", len(batch), "err", err)
		return fmt.Errorf("apikey: writing last-use times: %w", err)
	}
	return nil
}

// close stops recording; a flush afterwards still writes what was noted.
func (b *lastUse) close() { b.closed.Store(true) }
