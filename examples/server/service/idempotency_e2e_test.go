package service

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
)

// keptStore is the service's idempotency store, remembering every answer
// given to it, so that tests can scan what is kept.
type keptStore struct {
	*idempotency.MemoryStore
	mu   sync.Mutex
	kept []*idempotency.Answer
}

func (s *keptStore) Finish(ctx context.Context, account, key string, token uint64, a *idempotency.Answer, retain time.Duration) (bool, error) {
	s.mu.Lock()
	s.kept = append(s.kept, a)
	s.mu.Unlock()
	return s.MemoryStore.Finish(ctx, account, key, token, a, retain)
}

func withKeptStore(ks *keptStore) option {
	return withConfig(func(c *Config) { c.Idempotency = ks })
}

func idemKey(v string) func(*http.Request) { return header("Idempotency-Key", v) }

// TestRetriedCreate: a retried POST /v1/monitors gets the same monitor,
// byte for byte, marked replayed; one monitor exists; one credit spent.
func TestRetriedCreate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withTiers(smallTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	body := map[string]any{"name": "home", "url": "https://example.com/"}
	first := e.do("POST", "/v1/monitors", free.Key, body, idemKey("create-home-1"))
	wantStatus(t, first, http.StatusCreated)
	for range 3 {
		again := e.do("POST", "/v1/monitors", free.Key, body, idemKey(`"create-home-1"`))
		wantStatus(t, again, http.StatusCreated)
		if !bytes.Equal(again.Body, first.Body) {
			t.Errorf("retry answered %s, want %s", again.Body, first.Body)
		}
		if got := again.Header.Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("Idempotent-Replayed = %q, want true", got)
		}
	}
	if got := e.remaining(t, free.Key); got != 2 {
		t.Errorf("one create and three retries: %d credits left, want 2", got)
	}
	list := decodeJSON[listJ](t, e.do("GET", "/v1/monitors", free.Key, nil))
	if len(list.Data) != 1 {
		t.Errorf("%d monitors after a create and three retries, want 1", len(list.Data))
	}
	// The key for another request: 422, nothing created, nothing spent.
	other := map[string]any{"name": "pricing", "url": "https://example.com/pricing"}
	wantError(t, e.do("POST", "/v1/monitors", free.Key, other, idemKey("create-home-1")), http.StatusUnprocessableEntity, "idempotency_key_mismatch")
	if got := e.remaining(t, free.Key); got != 1 {
		t.Errorf("after the mismatch: %d credits left, want 1 (the list cost 1, the 422 nothing)", got)
	}
	// Another account may use the same key.
	other2 := e.createKey(e.admin, map[string]any{"name": "other", "tier": "free"})
	r := e.do("POST", "/v1/monitors", other2.Key, body, idemKey("create-home-1"))
	wantStatus(t, r, http.StatusCreated)
	if r.Header.Get("Idempotent-Replayed") != "" || bytes.Equal(r.Body, first.Body) {
		t.Error("another account got the first account's answer")
	}
}

// TestRetriedCheck: the paid checks route honours the key: a retry is
// free and answers the same check.
func TestRetriedCheck(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withTiers(smallTiers))
	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	mon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", pro.Key, map[string]any{"name": "home", "url": "https://example.com/"}))
	first := e.do("POST", "/v1/monitors/"+mon.ID+"/checks", pro.Key, nil, idemKey("check-1"))
	wantStatus(t, first, http.StatusCreated)
	again := e.do("POST", "/v1/monitors/"+mon.ID+"/checks", pro.Key, nil, idemKey("check-1"))
	if again.Status != http.StatusCreated || !bytes.Equal(again.Body, first.Body) {
		t.Errorf("retried check: %v, want %v", again, first)
	}
	if got := e.remaining(t, pro.Key); got != 100-1-5 {
		t.Errorf("a monitor, a check and its retry: %d credits left, want 94", got)
	}
}

// TestKeyRoutesIgnoreIdempotencyKey: the key routes run every time and
// keep nothing, so no key is ever stored; and every answer kept is free of
// keys.
func TestKeyRoutesIgnoreIdempotencyKey(t *testing.T) {
	t.Parallel()
	ks := &keptStore{MemoryStore: idempotency.NewMemoryStore(idempotency.MemoryConfig{})}
	e := newTestEnv(t, withKeptStore(ks))
	body := map[string]any{"name": "ci"}
	a := decodeJSON[keyMeta](t, e.do("POST", "/v1/keys", e.admin, body, idemKey("same")))
	b := decodeJSON[keyMeta](t, e.do("POST", "/v1/keys", e.admin, body, idemKey("same")))
	if a.ID == b.ID {
		t.Error("two creates with one Idempotency-Key made one key: the key routes must ignore the header")
	}
	e.remember(a.Key)
	e.remember(b.Key)
	rolled := e.do("POST", "/v1/keys/"+a.ID+"/roll", e.admin, map[string]any{}, idemKey("roll"))
	wantStatus(t, rolled, http.StatusCreated)
	nk := decodeJSON[keyMeta](t, rolled)
	e.remember(nk.Key)
	wantStatus(t, e.do("POST", "/v1/monitors", e.admin, map[string]any{"name": "m", "url": "https://example.com/"}, idemKey("m")), http.StatusCreated)
	wantStatus(t, e.do("DELETE", "/v1/keys/"+b.ID, e.admin, nil, idemKey("del")), http.StatusOK)

	ks.mu.Lock()
	defer ks.mu.Unlock()
	if len(ks.kept) != 1 {
		t.Errorf("%d answers kept, want 1 (the monitor's)", len(ks.kept))
	}
	for _, ans := range ks.kept {
		for _, k := range e.secrets() {
			for _, form := range leakForms(k) {
				if bytes.Contains(ans.Body, []byte(form)) {
					t.Errorf("a kept answer contains an API key or its secret")
				}
			}
		}
		if bytes.Contains(ans.Body, []byte("sk_")) || bytes.Contains(ans.Body, []byte("pk_")) {
			t.Errorf("a kept answer holds something shaped like a key: %.80s", ans.Body)
		}
	}
}

// TestIdempotencyHeaderErrors: malformed keys get 400
// invalid_idempotency_key, create nothing and spend nothing.
func TestIdempotencyHeaderErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withTiers(smallTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	body := map[string]any{"name": "home", "url": "https://example.com/"}
	for _, v := range []string{`""`, "a b", strings.Repeat("x", 256), `"k";p=1`, "ü"} {
		wantError(t, e.do("POST", "/v1/monitors", free.Key, body, idemKey(v)), http.StatusBadRequest, "invalid_idempotency_key")
	}
	wantError(t, e.do("POST", "/v1/monitors", free.Key, body, idemKey("a"), idemKey("b")), http.StatusBadRequest, "invalid_idempotency_key")
	// The key itself as an Idempotency-Key: refused, not echoed (do checks).
	wantError(t, e.do("POST", "/v1/monitors", free.Key, body, idemKey(free.Key+" x")), http.StatusBadRequest, "invalid_idempotency_key")
	if got := e.remaining(t, free.Key); got != 3 {
		t.Errorf("malformed keys spent credits: %d left, want 3", got)
	}
}

// TestConcurrentRetries: 20 concurrent creates with one key make one
// monitor; the others are refused 409 or replayed.
func TestConcurrentRetries(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	body := map[string]any{"name": "home", "url": "https://example.com/"}
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	replayed := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			r := e.do("POST", "/v1/monitors", e.admin, body, idemKey("burst"))
			statuses[i], replayed[i] = r.Status, r.Header.Get("Idempotent-Replayed") == "true"
		})
	}
	wg.Wait()
	created := 0
	for i, s := range statuses {
		switch {
		case s == http.StatusCreated && !replayed[i]:
			created++
		case s == http.StatusCreated, s == http.StatusConflict:
		default:
			t.Errorf("answer %d: status %d", i, s)
		}
	}
	if created != 1 {
		t.Errorf("%d requests ran the create, want 1", created)
	}
	if list := decodeJSON[listJ](t, e.do("GET", "/v1/monitors", e.admin, nil)); len(list.Data) != 1 {
		t.Errorf("%d monitors, want 1", len(list.Data))
	}
}
