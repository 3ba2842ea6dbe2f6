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

// maxExpiryWatched bounds the keys an expiryWatch remembers (about 100
// bytes each). When it is reached, the watch forgets, in this order, keys
// that expired more than a day ago (one used again is reported expired
// again), keys whose expiry has passed, and then a tenth of the others,
// which may be warned again. Only a process that sees more keys than this
// within their warning period at once sends an event twice.
const maxExpiryWatched = 100_000

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
	if _, ok := w.sent[k.ID]; !ok && len(w.sent) >= maxExpiryWatched {
		w.evict(now)
	}
	w.sent[k.ID] = expirySent{expires: k.ExpiresAt, stage: stage}
	return true
}

// evict makes room, as maxExpiryWatched says.
func (w *expiryWatch) evict(now time.Time) {
	for _, older := range []time.Duration{24 * time.Hour, 0} {
		for id, s := range w.sent {
			if now.Sub(s.expires) > older {
				delete(w.sent, id)
			}
		}
		if len(w.sent) < maxExpiryWatched {
			return
		}
	}
	n := maxExpiryWatched / 10
	for id := range w.sent {
		if n--; n < 0 {
			break
		}
		delete(w.sent, id)
	}
}
