package apikey

import (
	"context"
	"sync"
	"time"
)

// An expiryWatch sends EventExpiringSoon when a key that expires within
// lead is used, and EventRevoked (RevokedExpired) when an expired key is
// refused, once per key and expiry. The Verifier asks it only about keys
// with an expiry; a key's cache entry remembers what was sent for it, so
// that a key used on every request costs one comparison, and the watch's
// own memory (for keys whose entries were dropped and read again) is
// bounded by maxExpiryWatched.
type expiryWatch struct {
	lead   time.Duration // negative: no EventExpiringSoon
	notify *notifier

	mu   sync.Mutex
	sent map[string]expirySent
}

// expirySent is what was sent for a key with a given expiry.
type expirySent struct {
	expires time.Time
	stage   uint32
}

// Stages of a key's expiry, in order.
const (
	expiryFar uint32 = iota
	expirySoon
	expiryPast
)

// maxExpiryWatched bounds the keys an expiryWatch remembers. Beyond it,
// it forgets keys long expired and then, if need be, everything (a key
// forgotten may send its event again).
const maxExpiryWatched = 10000

func newExpiryWatch(lead time.Duration, n *notifier) *expiryWatch {
	return &expiryWatch{lead: lead, notify: n, sent: make(map[string]expirySent)}
}

// observe is called for a genuine, unrevoked key k with an expiry, whose
// cache entry is e, as it is used at now.
func (w *expiryWatch) observe(ctx context.Context, e *entry, k *Key, now time.Time) {
	stage := expiryFar
	switch {
	case !now.Before(k.ExpiresAt):
		stage = expiryPast
	case w.lead >= 0 && !now.Add(w.lead).Before(k.ExpiresAt):
		stage = expirySoon
	}
	if stage <= e.expiryStage.Load() {
		return
	}
	e.expiryStage.Store(stage)
	if !w.record(k, stage, now) {
		return
	}
	if stage == expirySoon {
		w.notify.send(ctx, EventExpiringSoon, 0, k, nil)
	} else {
		w.notify.send(ctx, EventRevoked, RevokedExpired, k, nil)
	}
}

// record notes that stage was reached by k, and reports whether that is
// news.
func (w *expiryWatch) record(k *Key, stage uint32, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.sent[k.ID]; ok && s.expires.Equal(k.ExpiresAt) && s.stage >= stage {
		return false
	}
	if len(w.sent) >= maxExpiryWatched {
		for id, s := range w.sent {
			if now.Sub(s.expires) > 24*time.Hour {
				delete(w.sent, id)
			}
		}
		if len(w.sent) >= maxExpiryWatched {
			clear(w.sent)
		}
	}
	w.sent[k.ID] = expirySent{expires: k.ExpiresAt, stage: stage}
	return true
}
