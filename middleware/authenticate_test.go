package middleware_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

func keyFrom(r *http.Request) (*apikey.Key, bool) { return middleware.KeyFromContext(r.Context()) }

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestAuthenticateCredentialForms(t *testing.T) {
	f := newFixture(t)
	key := f.keys["secret"]
	other := f.keys["secret-ro"]
	challenge := `Bearer realm="api", token realm="api", Basic realm="api", charset="UTF-8"`
	invalidChallenge := `Bearer realm="api", error="invalid_token", token realm="api", Basic realm="api", charset="UTF-8"`

	type hdr = [2]string
	tests := []struct {
		name      string
		sources   []middleware.Source
		target    string
		headers   []hdr
		status    int
		code      string // "" for success
		challenge string
	}{
		{"bearer", nil, "/", []hdr{{"Authorization", "Bearer " + key}}, 200, "", ""},
		{"bearer lowercase", nil, "/", []hdr{{"Authorization", "bearer " + key}}, 200, "", ""},
		{"bearer uppercase", nil, "/", []hdr{{"Authorization", "BEARER " + key}}, 200, "", ""},
		{"bearer extra spaces", nil, "/", []hdr{{"Authorization", "Bearer    " + key}}, 200, "", ""},
		{"token", nil, "/", []hdr{{"Authorization", "token " + key}}, 200, "", ""},
		{"basic", nil, "/", []hdr{{"Authorization", basic(key, "")}}, 200, "", ""},
		{"x-api-key", []middleware.Source{middleware.SourceHeader}, "/", []hdr{{"X-API-Key", key}}, 200, "", ""},
		{"query", []middleware.Source{middleware.SourceQuery}, "/?api_key=" + key, nil, 200, "", ""},

		{"no credentials", nil, "/", nil, 401, "missing_api_key", challenge},
		{"x-api-key not enabled", nil, "/", []hdr{{"X-API-Key", key}}, 401, "missing_api_key", challenge},
		{"query not enabled", nil, "/?api_key=" + key, nil, 401, "missing_api_key", challenge},
		{"bearer without token", nil, "/", []hdr{{"Authorization", "Bearer"}}, 401, "invalid_api_key", invalidChallenge},
		{"bearer empty token", nil, "/", []hdr{{"Authorization", "Bearer "}}, 401, "invalid_api_key", invalidChallenge},
		{"bearer tab", nil, "/", []hdr{{"Authorization", "Bearer\t" + key}}, 401, "invalid_api_key", challenge},
		{"bearer trailing param", nil, "/", []hdr{{"Authorization", "Bearer " + key + ", realm=x"}}, 401, "invalid_api_key", invalidChallenge},
		{"bearer trailing space", nil, "/", []hdr{{"Authorization", "Bearer " + key + " "}}, 401, "invalid_api_key", invalidChallenge},
		{"unknown scheme", nil, "/", []hdr{{"Authorization", "Digest " + key}}, 401, "invalid_api_key", challenge},
		{"basic bad base64", nil, "/", []hdr{{"Authorization", "Basic " + key + "!"}}, 401, "invalid_api_key", challenge},
		{"basic with password", nil, "/", []hdr{{"Authorization", basic(key, "hunter2")}}, 401, "invalid_api_key", challenge},
		{"basic key as password", nil, "/", []hdr{{"Authorization", basic("", key)}}, 401, "invalid_api_key", challenge},
		{"non-ascii", nil, "/", []hdr{{"Authorization", "Bearer " + key + "é"}}, 401, "invalid_api_key", invalidChallenge},
		{"nul byte", nil, "/", []hdr{{"Authorization", "Bearer " + key[:20] + "\x00" + key[21:]}}, 401, "invalid_api_key", invalidChallenge},
		{"8 KB header", nil, "/", []hdr{{"Authorization", "Bearer " + key + strings.Repeat("A", 8<<10)}}, 401, "invalid_api_key", invalidChallenge},
		{"malformed key", nil, "/", []hdr{{"Authorization", "Bearer sk_live_short"}}, 401, "invalid_api_key", invalidChallenge},
		{"bad checksum", nil, "/", []hdr{{"Authorization", "Bearer " + flipLast(key)}}, 401, "invalid_api_key", invalidChallenge},
		{"two authorization headers", nil, "/", []hdr{{"Authorization", "Bearer " + key}, {"Authorization", "Bearer " + key}}, 400, "ambiguous_credentials", ""},
		{"authorization and x-api-key, same key", []middleware.Source{middleware.SourceBearer, middleware.SourceHeader}, "/",
			[]hdr{{"Authorization", "Bearer " + key}, {"X-API-Key", key}}, 400, "ambiguous_credentials", ""},
		{"authorization and x-api-key, different keys", []middleware.Source{middleware.SourceBearer, middleware.SourceHeader}, "/",
			[]hdr{{"Authorization", "Bearer " + key}, {"X-API-Key", other}}, 400, "ambiguous_credentials", ""},
		{"header and query", []middleware.Source{middleware.SourceHeader, middleware.SourceQuery}, "/?api_key=" + key,
			[]hdr{{"X-API-Key", key}}, 400, "ambiguous_credentials", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lookups atomic.Int64
			auth := &middleware.Authenticator{Verifier: countingVerifier{f.mgr, &lookups}, Sources: tc.sources}
			h := &okHandler{}
			r := httptest.NewRequest("GET", tc.target, nil)
			for _, kv := range tc.headers {
				r.Header.Add(kv[0], kv[1])
			}
			w := httptest.NewRecorder()
			auth.Handler(h).ServeHTTP(w, r)

			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if tc.code == "" {
				if !h.called || h.key == nil || h.key.ID != f.recs["secret"].ID {
					t.Errorf("handler called=%v with key %v", h.called, h.key)
				}
				return
			}
			if h.called {
				t.Error("handler was called")
			}
			if got := string(decodeError(t, w).Code); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if tc.code == "ambiguous_credentials" && lookups.Load() != 0 {
				t.Errorf("%d store look-ups for ambiguous credentials", lookups.Load())
			}
			assertNoLeak(t, w, key, other)
		})
	}
}

// countingVerifier counts Verify calls that reach the verifier.
type countingVerifier struct {
	v middleware.KeyVerifier
	n *atomic.Int64
}

func (c countingVerifier) Verify(ctx context.Context, k string) (*apikey.Key, error) {
	c.n.Add(1)
	return c.v.Verify(ctx, k)
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

func TestAuthenticateKeyStates(t *testing.T) {
	f := newFixture(t)
	wrongSecret := func(k string) string {
		// Same id, different secret, valid checksum: a guess at a real id.
		tok, err := apikey.Parse(k)
		if err != nil {
			t.Fatal(err)
		}
		return forge(t, tok.ID())
	}
	tests := []struct {
		name   string
		key    string
		remote string
		origin string
		status int
		code   string
	}{
		{"active", f.keys["secret"], "", "", 200, ""},
		{"expired", f.keys["expiring"], "", "", 401, "expired_api_key"},
		{"revoked", f.keys["revoked"], "", "", 401, "revoked_api_key"},
		{"disabled", f.keys["disabled"], "", "", 401, "disabled_api_key"},
		{"wrong secret of expired key", wrongSecret(f.keys["expiring"]), "", "", 401, "invalid_api_key"},
		{"wrong secret of revoked key", wrongSecret(f.keys["revoked"]), "", "", 401, "invalid_api_key"},
		{"wrong secret of disabled key", wrongSecret(f.keys["disabled"]), "", "", 401, "invalid_api_key"},
		{"wrong secret of active key", wrongSecret(f.keys["secret"]), "", "", 401, "invalid_api_key"},
		{"unknown id", forge(t, "AAAAAAAAAAAA"), "", "", 401, "invalid_api_key"},
		{"allowed network", f.keys["office-only"], "198.51.100.7:5000", "", 200, ""},
		{"outside allowed network", f.keys["office-only"], "203.0.113.7:5000", "", 403, "ip_not_allowed"},
		{"secret key from a browser", f.keys["secret"], "", "https://app.example.com", 403, "publishable_key_required"},
		{"publishable key from a browser", f.keys["publishable"], "", "https://app.example.com", 200, ""},
	}
	var bodies = map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var failures []string
			auth := &middleware.Authenticator{
				Verifier:                     f.mgr,
				RejectSecretKeysFromBrowsers: true,
				OnFailure:                    func(_ *http.Request, e *apierrors.Error) { failures = append(failures, string(e.Code)) },
			}
			h := &okHandler{}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+tc.key)
			if tc.remote != "" {
				r.RemoteAddr = tc.remote
			}
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			auth.Handler(h).ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if tc.code == "" {
				if !h.called {
					t.Error("handler not called")
				}
				return
			}
			if h.called {
				t.Error("handler was called")
			}
			if got := string(decodeError(t, w).Code); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
			if diff := cmp.Diff([]string{tc.code}, failures); diff != "" {
				t.Errorf("OnFailure calls (-want +got):\n%s", diff)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.code == "publishable_key_required" && !strings.Contains(w.Body.String(), "publishable key") {
				t.Errorf("message does not point to publishable keys: %s", w.Body)
			}
			bodies[tc.code] = w.Body.String() + "|" + strings.Join(w.Header().Values("WWW-Authenticate"), ",")
			assertNoLeak(t, w, tc.key)
		})
	}
}

// TestAuthenticateInvalidIdentical checks that malformed, unknown and
// wrong-secret keys get byte-identical responses.
func TestAuthenticateInvalidIdentical(t *testing.T) {
	f := newFixture(t)
	tok, _ := apikey.Parse(f.keys["secret"])
	presented := []string{
		"sk_live_nonsense",
		flipLast(f.keys["secret"]),
		forge(t, "ZZZZZZZZZZZZ"),
		forge(t, tok.ID()),
		"Bearer",
	}
	auth := (&middleware.Authenticator{Verifier: f.mgr}).Handler(&okHandler{})
	var first string
	for i, p := range presented {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+p)
		w := httptest.NewRecorder()
		auth.ServeHTTP(w, r)
		got := w.Body.String() + "|" + strings.Join(w.Header().Values("WWW-Authenticate"), ",") + "|" + w.Header().Get("Content-Type")
		if i == 0 {
			first = got
			continue
		}
		if got != first {
			t.Errorf("response %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}

// forge returns a well-formed key with the given id and a random secret.
func forge(t testing.TB, id string) string {
	t.Helper()
	tok, err := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Live)
	if err != nil {
		t.Fatal(err)
	}
	s := tok.Reveal()
	prefix := "sk_live_"
	body := id + s[len(prefix)+12:len(s)-6]
	return prefix + body + checksum(prefix+body)
}

func TestAuthenticateStoreUnavailable(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		store apikey.Store
		ctx   func() (context.Context, context.CancelFunc)
	}{
		{"store error", failingStore{}, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"store hangs past the request deadline", hangingStore{}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := apikey.NewVerifier(tc.store, apikey.VerifierConfig{LastUsedInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			var logs bytes.Buffer
			h := &okHandler{}
			auth := &middleware.Authenticator{Verifier: v, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			ctx, cancel := tc.ctx()
			defer cancel()
			r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
			r.Header.Set("Authorization", "Bearer "+f.keys["secret"])
			w := httptest.NewRecorder()
			quietWriter(auth.Handler(h)).ServeHTTP(w, r)
			if w.Code != 503 || h.called {
				t.Fatalf("status %d handler=%v, want 503 without the handler", w.Code, h.called)
			}
			if got := string(decodeError(t, w).Code); got != "service_unavailable" {
				t.Errorf("code %q", got)
			}
			if w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if !strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), f.keys["secret"]) {
				t.Errorf("log: %s", logs.String())
			}
		})
	}
}

type failingStore struct{}

func (failingStore) LookupKey(context.Context, string) (*apikey.Key, error) {
	return nil, errors.Join(apikey.ErrUnavailable, errors.New("dial tcp 127.0.0.1:5432: connection refused"))
}

type hangingStore struct{}

func (hangingStore) LookupKey(ctx context.Context, _ string) (*apikey.Key, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestAuthenticatePreflightRefused: a CORS preflight carries no key, so
// the Authenticator refuses it like any keyless request. Answering
// preflights is the CORS part's job, in front of it; letting them through
// here let a keyless OPTIONS reach any method-less route.
func TestAuthenticatePreflightRefused(t *testing.T) {
	f := newFixture(t)
	auth := &middleware.Authenticator{Verifier: f.mgr}
	preflight := httptest.NewRequest("OPTIONS", "/v1/monitors", nil)
	preflight.Header.Set("Origin", "https://app.example.com")
	preflight.Header.Set("Access-Control-Request-Method", "POST")
	noOrigin := httptest.NewRequest("OPTIONS", "/v1/monitors", nil)
	noOrigin.Header.Set("Access-Control-Request-Method", "POST")
	for _, r := range []*http.Request{preflight, httptest.NewRequest("OPTIONS", "/v1/monitors", nil), noOrigin} {
		h := &okHandler{}
		w := httptest.NewRecorder()
		auth.Handler(h).ServeHTTP(w, r)
		if w.Code != 401 || h.called {
			t.Errorf("OPTIONS %v: %d, handler=%v; want 401 without the handler", r.Header, w.Code, h.called)
		}
	}
}

func TestAuthenticateMisconfiguration(t *testing.T) {
	for name, a := range map[string]*middleware.Authenticator{
		"nil verifier":   {},
		"unknown source": {Verifier: failingVerifier{}, Sources: []middleware.Source{99}},
		"quoted realm":   {Verifier: failingVerifier{}, Realm: `a"b`},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				v := recover()
				if s, _ := v.(string); !strings.HasPrefix(s, "middleware: ") {
					t.Errorf("panic %v, want a middleware: message", v)
				}
			}()
			a.Handler(http.NotFoundHandler())
		})
	}
}

type failingVerifier struct{}

func (failingVerifier) Verify(context.Context, string) (*apikey.Key, error) {
	return nil, errors.New("boom")
}

func TestAuthenticateUnexpectedVerifierError(t *testing.T) {
	auth := &middleware.Authenticator{Verifier: failingVerifier{}, Logger: slog.New(slog.DiscardHandler)}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer whatever")
	w := httptest.NewRecorder()
	quietWriter(auth.Handler(&okHandler{})).ServeHTTP(w, r)
	if w.Code != 500 || strings.Contains(w.Body.String(), "boom") {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

func TestAuthenticateMethod(t *testing.T) {
	f := newFixture(t)
	a := &middleware.Authenticator{Verifier: f.mgr}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "token "+f.keys["secret-ro"])
	k, err := a.Authenticate(r)
	if err != nil || k.ID != f.recs["secret-ro"].ID {
		t.Fatalf("Authenticate = %v, %v", k, err)
	}
	r.Header.Set("Authorization", "Bearer "+f.keys["revoked"])
	_, err = a.Authenticate(r)
	var ae *apierrors.Error
	if !errors.Is(err, apierrors.CodeRevokedAPIKey) || !errors.As(err, &ae) ||
		!strings.Contains(ae.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("Authenticate(revoked bearer token) err = %v", err)
	}
	// RFC 6750's error attribute is about bearer tokens: a key sent another
	// way is refused without it.
	r.Header.Set("Authorization", "token "+f.keys["revoked"])
	_, err = a.Authenticate(r)
	if !errors.As(err, &ae) || ae.Code != apierrors.CodeRevokedAPIKey || strings.Contains(ae.Header.Get("WWW-Authenticate"), "error=") {
		t.Fatalf("Authenticate(revoked, token scheme) err = %v, WWW-Authenticate %q", err, ae.Header.Get("WWW-Authenticate"))
	}
	r.Header.Del("Authorization")
	_, err = a.Authenticate(r)
	if !errors.As(err, &ae) || ae.Code != apierrors.CodeMissingAPIKey || ae.Header.Get("WWW-Authenticate") != `Bearer realm="api", token realm="api", Basic realm="api", charset="UTF-8"` {
		t.Fatalf("Authenticate(no key) err = %v, header %v", err, ae.Header)
	}
}
