package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
)

// unrelatedKey is a context key of none of gatekey's parts.
type unrelatedKey struct{}

// seen is what a handler found in its request's context.
type seen struct{ keyID, requestID string }

func look(r *http.Request) seen {
	var s seen
	if k, ok := middleware.KeyFromContext(r.Context()); ok {
		s.keyID = k.ID
	}
	s.requestID, _ = middleware.RequestIDFromContext(r.Context())
	return s
}

// recording returns a handler that stores what it sees in *before, and
// in *after once next (if any) has returned.
func recording(before, after *seen, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*before = look(r)
		if next != nil {
			next.ServeHTTP(w, r)
		}
		if after != nil {
			*after = look(r)
		}
	})
}

// TestGateContextIsPositional: the Gate keeps the key and the request id
// of a request in one context value that its parts fill in, and parts used
// alone add theirs as usual. What a handler finds must be what the nearest
// part around it stored, wherever parts used alone sit: inside the Gate's
// routes, their values win; outside the Gate, the Gate's do; and nothing
// the Gate stores leaks out to the middleware around it.
func TestGateContextIsPositional(t *testing.T) {
	f := newFixture(t)
	other, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	tok, otherRec, err := other.Create(context.Background(), apikey.CreateParams{Name: "other", Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	gateKey := f.recs["secret"].ID
	// The Gate reads the bearer key; the parts used alone read X-Api-Key.
	alone := middleware.Authenticator{Verifier: other, Sources: []middleware.Source{middleware.SourceHeader}, Logger: discardLogger()}
	newGate := func(route http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /v1/x", route)
		return (&middleware.Gate{
			Auth:   middleware.Authenticator{Verifier: f.mgr, Sources: []middleware.Source{middleware.SourceBearer}},
			Logger: discardLogger(),
		}).Handler(mux)
	}
	serve := func(h http.Handler) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.Header.Set("Authorization", "Bearer "+f.keys["secret"])
		r.Header.Set("X-Api-Key", tok.Reveal())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d, body %s", w.Code, w.Body)
		}
		return w
	}

	t.Run("gate alone", func(t *testing.T) {
		var got seen
		w := serve(newGate(recording(&got, nil, nil)))
		if want := (seen{gateKey, w.Header().Get("X-Request-Id")}); got != want || got.requestID == "" {
			t.Errorf("route saw %+v, want %+v", got, want)
		}
	})
	t.Run("parts inside the routes win", func(t *testing.T) {
		var outer, inner, outerAfter seen
		route := recording(&outer, &outerAfter, middleware.RequestID(alone.Handler(recording(&inner, nil, nil))))
		w := serve(newGate(route))
		if outer.keyID != gateKey || outer.requestID == "" {
			t.Errorf("route saw %+v before the inner parts, want the Gate's key and an id", outer)
		}
		if inner.keyID != otherRec.ID || inner.requestID == outer.requestID || inner.requestID != w.Header().Get("X-Request-Id") {
			t.Errorf("inner handler saw %+v, want key %s and the inner id %s (the Gate's was %s)",
				inner, otherRec.ID, w.Header().Get("X-Request-Id"), outer.requestID)
		}
		if outerAfter != outer {
			t.Errorf("route saw %+v after the inner parts, want %+v as before", outerAfter, outer)
		}
	})
	t.Run("the gate wins over parts outside it", func(t *testing.T) {
		var around, aroundAfter, route seen
		h := alone.Handler(recording(&around, &aroundAfter, newGate(recording(&route, nil, nil))))
		serve(h)
		if route.keyID != gateKey {
			t.Errorf("route saw key %s, want the Gate's %s", route.keyID, gateKey)
		}
		if around.keyID != otherRec.ID || aroundAfter != around {
			t.Errorf("middleware around the Gate saw %+v, then %+v: want the outer key, unchanged", around, aroundAfter)
		}
	})
	t.Run("derived contexts", func(t *testing.T) {
		var got seen
		var gotID string
		route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			got = look(r.WithContext(context.WithValue(ctx, unrelatedKey{}, 1)))
			gotID = w.Header().Get("X-Request-Id")
		})
		serve(newGate(route))
		if got.keyID != gateKey || got.requestID != gotID {
			t.Errorf("a derived context gave %+v, want key %s and id %s", got, gateKey, gotID)
		}
	})
}
