package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/ratelimit"
)

// TestConcurrentUse drives every endpoint from several goroutines at once,
// for the race detector, and checks that no request fails with a 5xx.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*8)
	for w := range workers {
		wg.Go(func() {
			call := func(method, path, key string, body any) (int, []byte) {
				var rd io.Reader
				if body != nil {
					b, _ := json.Marshal(body)
					rd = bytes.NewReader(b)
				}
				req, _ := http.NewRequest(method, e.srv.URL+path, rd)
				req.Header.Set("Content-Type", "application/json")
				if key != "" {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				res, err := e.client.Do(req)
				if err != nil {
					errs <- err
					return 0, nil
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode >= 500 {
					errs <- fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
				}
				return res.StatusCode, b
			}
			for i := range rounds {
				_, b := call("POST", "/v1/keys", e.admin, map[string]any{"name": fmt.Sprintf("w%d-%d", w, i)})
				var k keyMeta
				json.Unmarshal(b, &k)
				e.remember(k.Key)
				call("GET", "/v1/me", k.Key, nil)
				call("GET", "/v1/keys", e.admin, nil)
				call("POST", "/v1/keys/"+k.ID+"/roll", e.admin, map[string]any{"expires_in": 10})
				call("DELETE", "/v1/keys/"+k.ID, e.admin, nil)
				call("GET", "/v1/me", k.Key, nil)
				_, mb := call("POST", "/v1/monitors", e.admin, map[string]any{"name": "m", "url": "https://example.com"})
				var m monitorJ
				json.Unmarshal(mb, &m)
				call("GET", "/v1/monitors", e.admin, nil)
				call("DELETE", "/v1/monitors/"+m.ID, e.admin, nil)
				call("GET", "/v1/me", "sk_test_bogus", nil)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLastUsedFlushedOnClose: closing the server (as main does on
// SIGTERM) writes the pending last-used times to the key store.
func TestLastUsedFlushedOnClose(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := &apikey.MemoryStore{}
	s, err := New(Config{Rate: ratelimit.MustParsePolicy("100/minute"), AuthFailureRate: ratelimit.PerMinute(100),
		CORSOrigins: []string{"*"}, Keys: store, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.handler)
	admin := s.generatedAdminKey.Reveal()
	clock.Advance(10 * time.Second)
	r := doRequest(t, srv.Client(), srv.URL, "GET", "/v1/me", admin, nil, []string{admin})
	wantStatus(t, r, http.StatusOK)
	srv.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	k, err := store.LookupKey(context.Background(), mustParse(t, admin).ID())
	if err != nil {
		t.Fatal(err)
	}
	if k.LastUsedAt.IsZero() {
		t.Errorf("last_used_at was not flushed on close")
	} else if d := k.LastUsedAt.Sub(clock.Now()); d < -time.Second || d > time.Second {
		t.Errorf("last_used_at = %v, want about %v (the fake clock)", k.LastUsedAt, clock.Now())
	}
}
