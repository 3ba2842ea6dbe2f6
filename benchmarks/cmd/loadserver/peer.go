package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"github.com/gatekey/gatekey/ratelimit"
)

// This file is the peer chain of GET /peer/hello: the front door a Go
// service would assemble without gatekey, from chi's request id middleware,
// a hand-written API key check and go-chi/httprate.

// peerKey is the record the hand-written check finds for a key and puts in
// the request context.
type peerKey struct {
	ID   string // the key's public id, the rate limit's key
	Name string
}

// peerKeys is the hand-written key table: each key's record by the SHA-256
// of the whole key, so the table holds no secret. Keys are added while the
// chain serves (POST /v1/keys), hence the lock. The zero peerKeys is empty
// and ready to use.
type peerKeys struct {
	mu     sync.RWMutex
	byHash map[[sha256.Size]byte]peerKey
}

// add makes key valid for the peer chain, with record k.
func (t *peerKeys) add(key string, k peerKey) {
	h := sha256.Sum256([]byte(key))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byHash == nil {
		t.byHash = make(map[[sha256.Size]byte]peerKey)
	}
	t.byHash[h] = k
}

// lookup returns the record of key. It looks up the key's digest, not the
// key, so the timing of the map's comparisons tells nothing of the secret.
func (t *peerKeys) lookup(key string) (peerKey, bool) {
	h := sha256.Sum256([]byte(key))
	t.mu.RLock()
	defer t.mu.RUnlock()
	k, ok := t.byHash[h]
	return k, ok
}

// peerKeyContext is the context key of the record peerAuth finds.
type peerKeyContext struct{}

// peerKeyFromContext returns the record peerAuth put in ctx.
func peerKeyFromContext(ctx context.Context) (peerKey, bool) {
	k, ok := ctx.Value(peerKeyContext{}).(peerKey)
	return k, ok
}

// peerAuth is the hand-written key check: "Authorization: Bearer KEY" must
// name a key of keys, else 401 with a small JSON body; the key's record goes
// into the request context.
func peerAuth(keys *peerKeys) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			var k peerKey
			if ok && key != "" {
				k, ok = keys.lookup(key)
			}
			if !ok {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("WWW-Authenticate", "Bearer")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"invalid_api_key"}`+"\n")
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), peerKeyContext{}, k)))
		})
	}
}

// peerRateKey is httprate's KeyFunc: the id of the key peerAuth found.
func peerRateKey(r *http.Request) (string, error) {
	k, ok := peerKeyFromContext(r.Context())
	if !ok {
		return "", errors.New("loadserver: no peer key in context")
	}
	return k.ID, nil
}

// peerChain returns next behind the peer chain, in this order: chi's
// middleware.RequestID, peerAuth with keys, then one httprate limiter per
// limit of policy (httprate takes one limit per middleware), keyed by the
// key's id. httprate counts N requests per window in a sliding window and
// has no burst parameter, so a limit's Burst is not carried over (the
// default policy sets none).
func peerChain(keys *peerKeys, policy ratelimit.Policy, next http.Handler) http.Handler {
	h := next
	for i := len(policy) - 1; i >= 0; i-- {
		h = httprate.LimitBy(policy[i].Requests, policy[i].Window, peerRateKey)(h)
	}
	return middleware.RequestID(peerAuth(keys)(h))
}
