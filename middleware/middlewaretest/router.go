package middlewaretest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

// A Route is one route of the API that TestRouter serves.
type Route struct {
	// Method is the route's method, or "" for a route that serves every
	// method (http.ServeMux's "/path", chi's Handle).
	Method string

	// Pattern is the path, with wildcards written {name}, as http.ServeMux
	// and chi write them: "/v1/monitors/{id}".
	Pattern string

	// Handler serves the route. It may be a middleware.Require… wrapper.
	Handler http.Handler
}

// TestRouter checks that routers made by newRouter work behind a
// middleware.Gate: that every request of a fixed table gets the status and
// error code the Gate's order fixes, and reaches its handler exactly when
// it should. newRouter is called once, with the routes to register; it
// returns the router adapted to middleware.Router. The table covers
// routing (404, 405 with Allow, path values), the per-route checks and
// their order, public routes (and paths a router might take for one, which
// must not reach any other route without a key), CORS preflights for known
// and unknown paths, keyless requests to a route that serves every method,
// and a panic.
//
// TestRouter returns nil if every request was answered as it should be,
// and otherwise an error describing each one that was not. It is how an
// adapter for another router proves itself, in the manner of
// testing/slogtest:
//
//	if err := middlewaretest.TestRouter(newRouter); err != nil {
//		t.Error(err)
//	}
func TestRouter(newRouter func(routes []Route) middleware.Router) error {
	keys, err := newSuiteKeys()
	if err != nil {
		return err
	}
	defer keys.mgr.Close()

	var ran string // the route whose handler ran last
	var sawID string
	handle := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = name
			if name == "panic" {
				panic("middlewaretest: a deliberate panic")
			}
			if _, ok := middleware.KeyFromContext(r.Context()); !ok && name != "healthz" {
				// Unreachable behind the Gate; the test says so if it is not.
				ran = name + " without a key"
			}
			sawID = r.PathValue("id")
		})
	}
	routes := []Route{
		{"GET", "/healthz", handle("healthz")},
		{"GET", "/v1/me", handle("me")},
		{"GET", "/v1/monitors", handle("list monitors")},
		{"POST", "/v1/monitors", handle("create monitor")},
		{"GET", "/v1/monitors/{id}", handle("get monitor")},
		{"DELETE", "/v1/monitors/{id}", handle("delete monitor")},
		{"GET", "/v1/keys", middleware.RequireSecret(handle("list keys"))},
		{"POST", "/v1/keys", middleware.RequireWrite(middleware.RequireSecret(handle("create key")))},
		{"", "/v1/admin/purge", handle("purge")},
		{"GET", "/v1/live", middleware.RequireEnvironment(apikey.Live)(handle("live only"))},
		{"GET", "/v1/reports", middleware.RequireScopes("reports:read")(handle("reports"))},
		{"GET", "/v1/panic", handle("panic")},
		{"GET", "/{slug}", handle("slug")},
	}
	rt := newRouter(routes)
	if rt == nil {
		return errors.New("middlewaretest: newRouter returned nil")
	}
	gate := &middleware.Gate{
		Auth:   middleware.Authenticator{Verifier: keys.mgr},
		CORS:   &middleware.CORS{AllowedOrigins: []string{"https://app.example.com"}},
		Public: []string{"GET /healthz"},
		Logger: slog.New(slog.DiscardHandler),
	}
	h := gate.Handler(rt)

	preflight := []string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "DELETE"}
	var errs []error
	for _, tc := range []struct {
		name, method, path, key string
		header                  []string
		status                  int
		code                    apierrors.Code // "" for a response that is not an error
		ran                     string         // the handler that must run, "" for none
		allow                   string         // the Allow header of a 405
	}{
		{name: "public route without a key", method: "GET", path: "/healthz", status: 200, ran: "healthz"},
		{name: "no key", method: "GET", path: "/v1/me", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "no key, unknown path", method: "GET", path: "/v1/nothing", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "bad key", method: "GET", path: "/v1/me", key: "sk_live_garbage", status: 401, code: apierrors.CodeInvalidAPIKey},
		{name: "revoked key", method: "GET", path: "/v1/me", key: "revoked", status: 401, code: apierrors.CodeRevokedAPIKey},
		{name: "two Authorization headers", method: "GET", path: "/v1/me", key: "rw",
			header: []string{"Authorization", "Bearer x"}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "valid key", method: "GET", path: "/v1/me", key: "ro", status: 200, ran: "me"},
		{name: "unknown path", method: "GET", path: "/v1/nothing", key: "ro", status: 404, code: apierrors.CodeNotFound},
		{name: "wrong method", method: "DELETE", path: "/v1/monitors", key: "rw", status: 405, code: apierrors.CodeMethodNotAllowed, allow: "GET"},
		{name: "read-only key, path without that method", method: "PUT", path: "/v1/me", key: "ro", status: 405, code: apierrors.CodeMethodNotAllowed, allow: "GET"},
		{name: "read-only key on a write route", method: "POST", path: "/v1/monitors", key: "ro", status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "read-write key on a write route", method: "POST", path: "/v1/monitors", key: "rw", status: 200, ran: "create monitor"},
		{name: "publishable key reads", method: "GET", path: "/v1/monitors/mon_1", key: "pk", status: 200, ran: "get monitor"},
		{name: "publishable key on a secret-only write route", method: "POST", path: "/v1/keys", key: "pk", status: 403, code: apierrors.CodeSecretKeyRequired},
		{name: "read-only secret key on a secret-only write route", method: "POST", path: "/v1/keys", key: "ro", status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "read-only secret key on a secret-only read route", method: "GET", path: "/v1/keys", key: "ro", status: 200, ran: "list keys"},
		{name: "read-write key on a secret-only write route", method: "POST", path: "/v1/keys", key: "rw", status: 200, ran: "create key"},
		{name: "test key on a live-only route", method: "GET", path: "/v1/live", key: "test", status: 403, code: apierrors.CodeEnvironmentNotAllowed},
		{name: "key without the scope", method: "GET", path: "/v1/reports", key: "rw", status: 403, code: apierrors.CodeInsufficientScope},
		{name: "key with the scope", method: "GET", path: "/v1/reports", key: "scoped", status: 200, ran: "reports"},
		{name: "keyless preflight, every-method route", method: "OPTIONS", path: "/v1/admin/purge", header: preflight, status: 204},
		{name: "keyless preflight, unknown path", method: "OPTIONS", path: "/v1/nothing", header: preflight, status: 404, code: apierrors.CodeNotFound},
		{name: "keyless OPTIONS without Origin, every-method route", method: "OPTIONS", path: "/v1/admin/purge",
			header: []string{"Access-Control-Request-Method", "DELETE"}, status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "keyless DELETE, every-method route", method: "DELETE", path: "/v1/admin/purge", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "read-only key, DELETE on an every-method route", method: "DELETE", path: "/v1/admin/purge", key: "ro", status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "read-write key, DELETE on an every-method route", method: "DELETE", path: "/v1/admin/purge", key: "rw", status: 200, ran: "purge"},
		{name: "panic", method: "GET", path: "/v1/panic", key: "ro", status: 500, code: apierrors.CodeInternalError, ran: "panic"},
	} {
		ran, sawID = "", ""
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.key != "" {
			k := keys.plain[tc.key]
			if k == "" {
				k = tc.key
			}
			r.Header.Set("Authorization", "Bearer "+k)
		}
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Add(tc.header[i], tc.header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		var got []string
		if w.Code != tc.status {
			got = append(got, fmt.Sprintf("status %d, want %d", w.Code, tc.status))
		}
		if ran != tc.ran {
			got = append(got, fmt.Sprintf("handler %q ran, want %q", ran, tc.ran))
		}
		if tc.ran == "get monitor" && sawID != "mon_1" {
			got = append(got, fmt.Sprintf("path value id %q, want mon_1", sawID))
		}
		id := w.Header().Get("X-Request-Id")
		if id == "" {
			got = append(got, "no X-Request-Id")
		}
		if tc.code != "" {
			e, err := apierrors.Decode(w.Body)
			switch {
			case err != nil:
				got = append(got, fmt.Sprintf("body is not a JSON error: %v", err))
			case e.Code != tc.code:
				got = append(got, fmt.Sprintf("code %q, want %q", e.Code, tc.code))
			case e.RequestID != id:
				got = append(got, fmt.Sprintf("body request_id %q, header %q", e.RequestID, id))
			}
			if tc.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				got = append(got, "401 without WWW-Authenticate")
			}
		}
		if tc.allow != "" && !hasMethods(w.Header().Get("Allow"), tc.allow) {
			got = append(got, fmt.Sprintf("Allow %q, want it to list %s", w.Header().Get("Allow"), tc.allow))
		}
		if tc.header != nil && tc.header[0] == "Origin" && w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			got = append(got, fmt.Sprintf("preflight answer without Access-Control-Allow-Origin (status %d)", w.Code))
		}
		if len(got) > 0 {
			errs = append(errs, fmt.Errorf("%s (%s %s): %s", tc.name, tc.method, tc.path, strings.Join(got, "; ")))
		}
	}
	// Keyless requests that a router might send to another route than the
	// public one: whatever the router makes of them, no handler but the
	// public one may run.
	for _, target := range []string{
		"/heal%74hz", "/%68ealthz", "/v1/monitors/../../healthz", "/./healthz", "//healthz",
		"/healthz/", "/healthz/.", "/HEALTHZ", "/anything",
	} {
		ran = ""
		r := httptest.NewRequest("GET", "/", nil)
		u, err := url.Parse(target)
		if err != nil {
			return err
		}
		r.URL, r.RequestURI = u, target
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if ran != "" && ran != "healthz" {
			errs = append(errs, fmt.Errorf("keyless GET %s: handler %q ran (status %d); only the public route may run without a key", target, ran, w.Code))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("middlewaretest: the router fails behind the Gate:\n%w", errors.Join(errs...))
	}
	return nil
}

// hasMethods reports whether the Allow value lists every method of want
// (comma-separated).
func hasMethods(allow, want string) bool {
	have := map[string]bool{}
	for m := range strings.SplitSeq(allow, ",") {
		have[strings.TrimSpace(m)] = true
	}
	for m := range strings.SplitSeq(want, ",") {
		if !have[strings.TrimSpace(m)] {
			return false
		}
	}
	return true
}

// suiteKeys is a Manager with one key of each kind TestRouter uses.
type suiteKeys struct {
	mgr   *apikey.Manager
	plain map[string]string
}

func newSuiteKeys() (*suiteKeys, error) {
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{
		Verifier: apikey.VerifierConfig{LastUsedInterval: -1, Logger: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		return nil, err
	}
	s := &suiteKeys{mgr: mgr, plain: map[string]string{}}
	ctx := context.Background()
	for name, p := range map[string]apikey.CreateParams{
		"rw":      {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite},
		"ro":      {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly},
		"pk":      {Type: apikey.PublishableKey, Environment: apikey.Live},
		"test":    {Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite},
		"scoped":  {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly, Scopes: []string{"reports:read"}},
		"revoked": {Type: apikey.SecretKey, Environment: apikey.Live},
	} {
		tok, k, err := mgr.Create(ctx, p)
		if err != nil {
			mgr.Close()
			return nil, err
		}
		s.plain[name] = tok.Reveal()
		if name == "revoked" {
			if _, err := mgr.Revoke(ctx, k.ID); err != nil {
				mgr.Close()
				return nil, err
			}
		}
	}
	return s, nil
}
