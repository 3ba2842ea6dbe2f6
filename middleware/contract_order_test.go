package middleware_test

// Contract tests: the order of checks, the status table, route shapes.

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// TestContractKeyChecksum: the forged keys of these tests are well-formed
// only if the checksum is what the contract says it is.
func TestContractKeyChecksum(t *testing.T) {
	w := newCGWorld(t, cgOptions{})
	for name, tok := range w.toks {
		k := tok.Reveal()
		if len(k) < apikey.BodyLen {
			t.Fatalf("%s: key shorter than its body", name)
		}
		if got, want := k[len(k)-apikey.ChecksumLen:], cgChecksum(k[:len(k)-apikey.ChecksumLen]); got != want {
			t.Errorf("%s (%v): checksum is not CRC-32 (IEEE) of the characters before it in base62\n  contract: %q", name, tok, cgSentChecksum)
		}
	}
}

// ---------------------------------------------------------------------------
// Order of checks.

// TestContractGateOrder: for each pair of adjacent steps of the order, a
// request that would fail both gets the earlier step's answer, and a
// request refused anywhere never reaches the handler.
func TestContractGateOrder(t *testing.T) {
	exhaust := func(name string, with ...cgReq) func(*cgWorld) {
		return func(w *cgWorld) { w.exhaust(name, with...) }
	}
	block := func(w *cgWorld) { w.block(cgBlocked) }
	down := func(w *cgWorld) { w.store.mode.Store(1) }
	checkHandlerSawID := func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
		if got, _ := w.lastID.Load().(string); got != rec.Header().Get("X-Request-Id") {
			t.Errorf("the handler saw request id %q, the answer says %q\n  contract: %q", got, rec.Header().Get("X-Request-Id"), cgSentReqIDAll)
		}
	}
	cgRun(t, []cgCase{
		// request id and recovery → TLS
		{name: "request id/plain HTTP gets an id", contract: cgSentOrder, method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain()}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "recovery/panic answered 500 with the id", contract: cgSent500, method: "GET", path: "/v1/panic", with: []cgReq{cgKey("rw")}, status: 500, code: apierrors.CodeInternalError, hits: 1},
		// TLS → CORS preflight
		{name: "TLS before CORS/plain preflight", contract: cgSentOrder, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPlain(), cgPreflight("GET")}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before CORS/plain preflight unknown path", contract: cgSentOrder, method: "OPTIONS", path: "/v1/nowhere", with: []cgReq{cgPlain(), cgPreflight("GET")}, status: 403, code: apierrors.CodeHTTPSRequired},
		// TLS → throttle, authentication, rate limit, routing, public
		{name: "TLS before throttle/plain from blocked address", contract: cgSentOrder, setup: block, method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain(), cgKey("rw"), cgFrom(cgBlocked)}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before auth/plain no key", contract: cgSentOrder + " (brief: plain HTTP + no key -> 403 https_required)", method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain()}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before auth/plain invalid key", contract: cgSentOrder, method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain(), cgUnknown()}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before auth/plain revoked key", contract: cgSentOrder, method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain(), cgKey("revoked")}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before auth/plain ambiguous", contract: cgSentOrder, method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain(), cgKey("rw"), cgKey("rw")}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before auth/spoofed X-Forwarded-Proto from untrusted peer", contract: cgSentTLS + " (doc: TrustedProxies zero value believes none)", method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain(), cgSet("X-Forwarded-Proto", "https"), cgKey("rw")}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before rate limit/plain with spent key", contract: cgSentOrder, setup: exhaust("rw"), method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain(), cgKey("rw")}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before routing/plain unknown path", contract: cgSentOrder, method: "GET", path: "/v1/nowhere", with: []cgReq{cgPlain(), cgKey("rw")}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "TLS before public route", contract: cgSentPublic + " / " + cgSentOrder, method: "GET", path: "/healthz", with: []cgReq{cgPlain()}, status: 403, code: apierrors.CodeHTTPSRequired},
		// CORS preflight → throttle → authentication
		{name: "CORS before throttle/preflight from blocked address", contract: cgSentOrder + " / " + cgSentPreflight, setup: block, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("GET"), cgFrom(cgBlocked)}, status: 204},
		{name: "CORS before throttle/preflight unknown path from blocked address", contract: cgSentOrder + " / " + cgSentCORS404, setup: block, method: "OPTIONS", path: "/v1/nowhere", with: []cgReq{cgPreflight("GET"), cgFrom(cgBlocked)}, status: 404, code: apierrors.CodeNotFound, headers: []string{"Access-Control-Allow-Origin"}},
		{name: "CORS before auth/preflight without key", contract: cgSentPreflight, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("POST")}, status: 204},
		{name: "CORS before auth/preflight with an invalid key", contract: cgSentPreflight, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("POST"), cgUnknown()}, status: 204},
		{name: "CORS before auth/preflight on every-method route never reaches handler", contract: cgSentPreflight, method: "OPTIONS", path: "/v1/any", with: []cgReq{cgPreflight("DELETE")}, status: 204},
		// throttle → authentication
		{name: "throttle before auth/valid key from blocked address", contract: cgSentThrottle, setup: block, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw"), cgFrom(cgBlocked)}, status: 429, code: apierrors.CodeRateLimitExceeded},
		{name: "throttle before auth/no key from blocked address", contract: cgSentThrottle, setup: block, method: "GET", path: "/v1/monitors", with: []cgReq{cgFrom(cgBlocked)}, status: 429, code: apierrors.CodeRateLimitExceeded},
		{name: "throttle before auth/ambiguous from blocked address", contract: cgSentThrottle, setup: block, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw"), cgKey("rw"), cgFrom(cgBlocked)}, status: 429, code: apierrors.CodeRateLimitExceeded},
		{name: "throttle before auth/spoofed X-Forwarded-For from blocked address", contract: cgSentXFF, setup: block, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw"), cgFrom(cgBlocked), cgSet("X-Forwarded-For", "192.0.2.200"), cgSet("X-Real-IP", "192.0.2.200")}, status: 429, code: apierrors.CodeRateLimitExceeded},
		// authentication → rate limit
		{name: "auth before rate limit/revoked key with spent bucket", contract: cgSentOrder, setup: func(w *cgWorld) { w.exhaust("rw"); w.env.Revoke(w.recs["rw"].ID) }, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw")}, status: 401, code: apierrors.CodeRevokedAPIKey},
		{name: "auth before rate limit/disabled key with spent bucket", contract: cgSentOrder, setup: func(w *cgWorld) { w.exhaust("rw"); w.env.Disable(w.recs["rw"].ID) }, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw")}, status: 401, code: apierrors.CodeDisabledAPIKey},
		{name: "auth before rate limit/wrong secret for a spent key", contract: cgSentOrder + " / " + cgSentInvalid, setup: exhaust("rw"), method: "GET", path: "/v1/monitors", with: []cgReq{cgWrong("rw")}, status: 401, code: apierrors.CodeInvalidAPIKey},
		{name: "auth before rate limit/outside network with spent bucket", contract: cgSentOrder + " / " + cgSentIP, setup: exhaust("office", cgFrom(cgOffice)), method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("office")}, status: 403, code: apierrors.CodeIPNotAllowed},
		// authentication → routing
		{name: "auth before routing/no key unknown path", contract: cgSentOrder, method: "GET", path: "/v1/nowhere", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "auth before routing/invalid key unknown path", contract: cgSentOrder, method: "GET", path: "/v1/nowhere", with: []cgReq{cgUnknown()}, status: 401, code: apierrors.CodeInvalidAPIKey},
		{name: "auth before routing/no key wrong method", contract: cgSentOrder, method: "DELETE", path: "/v1/monitors", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "auth before routing/no key unknown method", contract: cgSentOrder, method: "BREW", path: "/v1/monitors", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "auth before routing/no key on a method the public route lacks", contract: cgSentOrder, method: "POST", path: "/healthz", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "auth before routing/ambiguous unknown path", contract: cgSentOrder + " / " + cgSentAmbiguous, method: "GET", path: "/v1/nowhere", with: []cgReq{cgKey("rw"), cgKey("rw")}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "auth before routing/store down unknown path", contract: cgSentOrder + " / " + cgSentStore, setup: down, method: "GET", path: "/v1/nowhere", with: []cgReq{cgKey("rw")}, status: 503, code: apierrors.CodeServiceUnavailable},
		{name: "auth before routing/outside network unknown path", contract: cgSentOrder + " / " + cgSentIP, method: "GET", path: "/v1/nowhere", with: []cgReq{cgKey("office")}, status: 403, code: apierrors.CodeIPNotAllowed},
		// rate limit → routing → per-route checks
		{name: "rate limit before routing/spent key unknown path", contract: cgSentOrder, setup: exhaust("rw"), method: "GET", path: "/v1/nowhere", with: []cgReq{cgKey("rw")}, status: 429, code: apierrors.CodeRateLimitExceeded},
		{name: "rate limit before routing/spent key wrong method", contract: cgSentOrder, setup: exhaust("rw"), method: "PUT", path: "/v1/monitors", with: []cgReq{cgKey("rw")}, status: 429, code: apierrors.CodeRateLimitExceeded},
		{name: "rate limit before per-route/spent read-only key on write route", contract: cgSentOrder, setup: exhaust("ro"), method: "POST", path: "/v1/monitors", with: []cgReq{cgKey("ro")}, status: 429, code: apierrors.CodeRateLimitExceeded},
		{name: "rate limit before per-route/spent publishable key on secret route", contract: cgSentOrder, setup: exhaust("pk"), method: "POST", path: "/v1/keys", with: []cgReq{cgKey("pk")}, status: 429, code: apierrors.CodeRateLimitExceeded},
		{name: "routing before per-route/read-only key, method the path lacks", contract: cgSentOrder405, method: "DELETE", path: "/v1/monitors", with: []cgReq{cgKey("ro")}, status: 405, code: apierrors.CodeMethodNotAllowed,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if miss := cgMissing(rec.Header(), "Allow", "GET", "POST"); len(miss) > 0 || cgTokens(rec.Header(), "Allow")["delete"] {
					t.Errorf("Allow %q, want the path's methods GET and POST and not DELETE\n  contract: %q", rec.Header().Values("Allow"), cgSent404405)
				}
			}},
		{name: "routing before per-route/read-only key, unknown method on known path", contract: cgSentOrder405, method: "PURGE", path: "/v1/monitors", with: []cgReq{cgKey("ro")}, status: 405, code: apierrors.CodeMethodNotAllowed},
		{name: "routing before per-route/read-only key, write on unknown path", contract: cgSentOrder, method: "POST", path: "/v1/nowhere", with: []cgReq{cgKey("ro")}, status: 404, code: apierrors.CodeNotFound},
		{name: "routing before per-route/publishable key, method a secret-only path lacks", contract: cgSentOrder, method: "PUT", path: "/v1/keys", with: []cgReq{cgKey("pk")}, status: 405, code: apierrors.CodeMethodNotAllowed},
		{name: "routing before per-route/test key on live-only path, wrong method", contract: cgSentOrder, method: "GET", path: "/v1/reports", with: []cgReq{cgKey("test-rw")}, status: 405, code: apierrors.CodeMethodNotAllowed},
		// per-route checks, in their order
		{name: "per-route/read-only key on write route", contract: cgSentOrder405 + " / " + cgSentRO, method: "POST", path: "/v1/monitors", with: []cgReq{cgKey("ro")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "per-route/read-only key on write method of a wildcard route", contract: cgSentRO, method: "DELETE", path: "/v1/monitors/mon_1", with: []cgReq{cgKey("ro")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "per-route/publishable key (asked read-write) on write route", contract: cgSentPKRO + " / " + cgSentRO, method: "POST", path: "/v1/monitors", with: []cgReq{cgKey("pk-rw")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "per-route/secret-only before read-only: publishable on secret-only write route", contract: cgSentPK + " / " + cgSentOrder, method: "POST", path: "/v1/keys", with: []cgReq{cgKey("pk")}, status: 403, code: apierrors.CodeSecretKeyRequired},
		{name: "per-route/secret-only: publishable on secret-only read route", contract: cgSentSecretReq, method: "GET", path: "/v1/keys", with: []cgReq{cgKey("pk")}, status: 403, code: apierrors.CodeSecretKeyRequired},
		{name: "per-route/secret-only: read-only secret key may read a secret-only route", contract: cgSentSecretReq, method: "GET", path: "/v1/keys", with: []cgReq{cgKey("ro")}, status: 200, hits: 1},
		{name: "per-route/secret-only before everything: publishable test key without scope", contract: cgSentOrder, method: "POST", path: "/v1/reports", with: []cgReq{cgKey("pk-test")}, status: 403, code: apierrors.CodeSecretKeyRequired},
		{name: "per-route/secret-only before everything, wrappers nested in reverse", contract: cgSentOrder + " (the order is the contract's, whatever the nesting)", method: "POST", path: "/v1/reversed", with: []cgReq{cgKey("pk-test")}, status: 403, code: apierrors.CodeSecretKeyRequired},
		{name: "per-route/write before scopes", contract: cgSentOrder, method: "POST", path: "/v1/reports", with: []cgReq{cgKey("ro")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "per-route/write before scopes, wrappers nested in reverse", contract: cgSentOrder + " (the order is the contract's, whatever the nesting)", method: "POST", path: "/v1/reversed", with: []cgReq{cgKey("ro")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "per-route/write with scope still refused to read-only key", contract: cgSentRO, method: "POST", path: "/v1/reports", with: []cgReq{cgKey("ro-scoped")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "per-route/scopes before environment", contract: cgSentOrder, method: "POST", path: "/v1/reports", with: []cgReq{cgKey("test-rw")}, status: 403, code: apierrors.CodeInsufficientScope},
		{name: "per-route/scopes before environment, wrappers nested in reverse", contract: cgSentOrder + " (the order is the contract's, whatever the nesting)", method: "POST", path: "/v1/reversed", with: []cgReq{cgKey("test-rw")}, status: 403, code: apierrors.CodeInsufficientScope},
		{name: "per-route/environment", contract: cgSentOrder, method: "POST", path: "/v1/reports", with: []cgReq{cgKey("test-scoped")}, status: 403, code: apierrors.CodeEnvironmentNotAllowed},
		{name: "per-route/every check passed reaches the handler", contract: cgSentOrder, method: "POST", path: "/v1/reports", with: []cgReq{cgKey("rw-scoped")}, status: 200, hits: 1, check: checkHandlerSawID},
		// public route
		{name: "public/served without a key", contract: cgSentPublic, method: "GET", path: "/healthz", status: 200, hits: 1,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if w.lastKey.Load() {
					t.Errorf("the public route saw a key\n  contract: %q", cgSentPublic)
				}
			}},
		{name: "public/served without a key, HEAD", contract: cgSentPublic, method: "HEAD", path: "/healthz", status: 200, hits: 1},
		{name: "public/preflight answered by CORS", contract: cgSentPreflight, method: "OPTIONS", path: "/healthz", with: []cgReq{cgPreflight("GET")}, status: 204},
	})
}

// TestContractGateOrderThrottleLookups: the blocked address's valid key is
// refused "before any key look-up": the verifier is not even called.
func TestContractGateOrderThrottleLookups(t *testing.T) {
	w := newCGWorld(t, cgOptions{})
	w.block(cgBlocked)
	calls, lookups := w.verifier.calls.Load(), w.store.lookups.Load()
	for _, name := range []string{"rw", "ro", "pk"} {
		rec := w.do("GET", "/v1/monitors", cgKey(name), cgFrom(cgBlocked))
		if rec.Code != 429 || cgCode(rec) != apierrors.CodeRateLimitExceeded {
			t.Errorf("valid key %s from a blocked address: %s\n  contract: %q", name, w.desc(rec), cgSentThrottle)
		}
	}
	if d := w.verifier.calls.Load() - calls; d != 0 {
		t.Errorf("the verifier was called %d times for requests from a blocked address\n  contract: %q", d, cgSentThrottle)
	}
	if d := w.store.lookups.Load() - lookups; d != 0 {
		t.Errorf("the store was asked %d times for requests from a blocked address\n  contract: %q", d, cgSentThrottle)
	}
	if w.hits.Load() != 0 {
		t.Errorf("a request from a blocked address reached the handler\n  contract: %q", cgSentThrottle)
	}
}

// TestContractGateTLSConsumesNothing: requests the TLS step refuses reach
// neither the failed-auth throttle nor the rate limit.
func TestContractGateTLSConsumesNothing(t *testing.T) {
	w := newCGWorld(t, cgOptions{})
	for range 10 {
		w.do("GET", "/v1/monitors", cgPlain(), cgUnknown())
		w.do("GET", "/v1/monitors", cgPlain(), cgKey("rw"))
	}
	rec := w.do("GET", "/v1/monitors", cgKey("rw"))
	if rec.Code != 200 {
		t.Fatalf("after plain-HTTP requests, an HTTPS request with a valid key got %s\n  contract: %q", w.desc(rec), cgSentOrder)
	}
	if r := cgRLItems(rec.Header().Values("RateLimit")); len(r) != 1 || r[0]["r"] != "4" {
		t.Errorf("after 10 refused plain-HTTP requests and 1 HTTPS request, RateLimit %q, want r=4 of 5\n  contract: %q", rec.Header().Values("RateLimit"), cgSentOrder)
	}
	if len(w.rl.Calls()) != 1 {
		t.Errorf("the rate limiter was consulted %d times, want once (plain-HTTP requests are refused before it)\n  contract: %q", len(w.rl.Calls()), cgSentOrder)
	}
}

// ---------------------------------------------------------------------------
// The status table.

// Ambiguous, and not asserted:
//   - "credentials in more than one place": whether a key in a place that is
//     not an enabled source (X-API-Key or ?api_key= next to a Bearer key,
//     with only the default sources) counts as a second place. The current
//     code ignores it (200).
//   - "Authorization: Bearer " with an empty token: "no credentials"
//     (missing_api_key) or a malformed key (invalid_api_key)? Only the 401
//     and its WWW-Authenticate are asserted.
//   - repeated X-API-Key lines are not "repeated Authorization lines"; the
//     current code answers ambiguous_credentials, which the contract allows
//     but does not require.
func TestContractStatusTable(t *testing.T) {
	headerSources := cgOptions{Sources: []middleware.Source{middleware.SourceBearer, middleware.SourceToken, middleware.SourceBasic, middleware.SourceHeader, middleware.SourceQuery}}
	down := func(w *cgWorld) { w.store.mode.Store(1) }
	noInternals := func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
		for _, s := range []string{"hunter2", "cg-internal-detail", "main.go", "goroutine", "panic"} {
			if strings.Contains(rec.Body.String(), s) {
				t.Errorf("the 500 body contains %q\n  contract: %q", s, cgSent500)
			}
		}
	}
	cgRun(t, []cgCase{
		{name: "no credentials", contract: cgSentMissing, method: "GET", path: "/v1/monitors", status: 401, code: apierrors.CodeMissingAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "no credentials, HEAD", contract: cgSentMissing, method: "HEAD", path: "/v1/monitors", status: 401, headers: []string{"WWW-Authenticate"}},
		{name: "no credentials, empty Authorization", contract: cgSentMissing, method: "GET", path: "/v1/monitors", with: []cgReq{cgSet("Authorization", "")}, status: 401, headers: []string{"WWW-Authenticate"}},
		{name: "unknown key", contract: cgSentInvalid, method: "GET", path: "/v1/monitors", with: []cgReq{cgUnknown()}, status: 401, code: apierrors.CodeInvalidAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "wrong secret", contract: cgSentInvalid, method: "GET", path: "/v1/monitors", with: []cgReq{cgWrong("rw")}, status: 401, code: apierrors.CodeInvalidAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "malformed key", contract: cgSentInvalid, method: "GET", path: "/v1/monitors", with: []cgReq{cgBearer("sk_live_nope")}, status: 401, code: apierrors.CodeInvalidAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "expired key", contract: cgSentExpired + " / " + cgSentWWW, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("expired")}, status: 401, code: apierrors.CodeExpiredAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "key expired by the clock", contract: cgSentExpired, setup: func(w *cgWorld) {
			tok, _ := w.env.Mint(apikey.CreateParams{Name: "soon", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite, ExpiresAt: w.env.Clock.Now().Add(time.Hour)})
			w.toks["soon"] = tok
			if rec := w.do("GET", "/v1/monitors", cgKey("soon")); rec.Code != 200 {
				w.t.Fatalf("setup: the key before its expiry got %s", w.desc(rec))
			}
			w.env.Clock.Advance(time.Hour + time.Second)
		}, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("soon")}, status: 401, code: apierrors.CodeExpiredAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "revoked key", contract: cgSentRevoked + " / " + cgSentWWW, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("revoked")}, status: 401, code: apierrors.CodeRevokedAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "disabled key", contract: cgSentDisabled + " / " + cgSentWWW, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("disabled")}, status: 401, code: apierrors.CodeDisabledAPIKey, headers: []string{"WWW-Authenticate"}},
		{name: "outside allowed networks", contract: cgSentIP, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("office")}, status: 403, code: apierrors.CodeIPNotAllowed},
		{name: "inside allowed networks", contract: cgSentIP, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("office"), cgFrom(cgOffice)}, status: 200, hits: 1},
		{name: "outside allowed networks, spoofed X-Forwarded-For", contract: cgSentIP + " / " + cgSentXFF, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("office"), cgSet("X-Forwarded-For", cgOffice), cgSet("X-Real-IP", cgOffice)}, status: 403, code: apierrors.CodeIPNotAllowed},
		{name: "wrong secret for an address-restricted key, from outside", contract: cgSentInvalid + " / " + cgSentIdentical, method: "GET", path: "/v1/monitors", with: []cgReq{cgWrong("office")}, status: 401, code: apierrors.CodeInvalidAPIKey},
		{name: "ambiguous/repeated Authorization lines, same key", contract: cgSentAmbiguous, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw"), cgKey("rw")}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "ambiguous/repeated Authorization lines, valid and invalid", contract: cgSentAmbiguous, method: "GET", path: "/v1/monitors", with: []cgReq{cgUnknown(), cgKey("rw")}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "ambiguous/Bearer and Basic lines", contract: cgSentAmbiguous, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw"), func(w *cgWorld, r *http.Request) {
			r.Header.Add("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(w.key("rw")+":")))
		}}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "ambiguous/Authorization and X-API-Key", contract: cgSentAmbiguous, opts: headerSources, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw"), cgHeaderKey("X-API-Key", "rw")}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "ambiguous/Authorization and query", contract: cgSentAmbiguous, opts: headerSources, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw"), cgQueryKey("rw")}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "ambiguous/X-API-Key and query", contract: cgSentAmbiguous, opts: headerSources, method: "GET", path: "/v1/monitors", with: []cgReq{cgHeaderKey("X-API-Key", "rw"), cgQueryKey("rw")}, status: 400, code: apierrors.CodeAmbiguousCredentials},
		{name: "store unreachable/well-formed key never seen", contract: cgSentStore, setup: down, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw")}, status: 503, code: apierrors.CodeServiceUnavailable, headers: []string{"Retry-After"}},
		{name: "store unreachable/unknown id is not a 401", contract: cgSentStore, setup: down, method: "GET", path: "/v1/monitors", with: []cgReq{cgUnknown()}, status: 503, code: apierrors.CodeServiceUnavailable, headers: []string{"Retry-After"}},
		{name: "store unreachable/wrong secret is not a 401", contract: cgSentStore, setup: down, method: "GET", path: "/v1/monitors", with: []cgReq{cgWrong("rw2")}, status: 503, code: apierrors.CodeServiceUnavailable, headers: []string{"Retry-After"}},
		{name: "store unreachable/malformed key still 401 (store never touched)", contract: cgSentParse, setup: down, method: "GET", path: "/v1/monitors", with: []cgReq{cgBearer("sk_live_tooShort")}, status: 401, code: apierrors.CodeInvalidAPIKey,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if n := w.store.lookups.Load() - w.lookBase; n != 0 {
					t.Errorf("a malformed key caused %d store look-ups\n  contract: %q", n, cgSentParse)
				}
			}},
		{name: "read-only key on write method", contract: cgSentRO, method: "POST", path: "/v1/monitors", with: []cgReq{cgKey("ro")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "publishable key where a secret key is required", contract: cgSentSecretReq, method: "POST", path: "/v1/keys", with: []cgReq{cgKey("pk")}, status: 403, code: apierrors.CodeSecretKeyRequired},
		{name: "plain HTTP", contract: cgSentTLS, method: "GET", path: "/v1/monitors", with: []cgReq{cgPlain(), cgKey("rw")}, status: 403, code: apierrors.CodeHTTPSRequired},
		{name: "rate limit exceeded", contract: cgSent429, setup: func(w *cgWorld) { w.exhaust("rw") }, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("rw")}, status: 429, code: apierrors.CodeRateLimitExceeded, headers: []string{"Retry-After"}},
		{name: "no route", contract: cgSent404405, method: "GET", path: "/v1/nowhere", with: []cgReq{cgKey("rw")}, status: 404, code: apierrors.CodeNotFound},
		{name: "wrong method", contract: cgSent404405, method: "PATCH", path: "/v1/monitors/mon_1", with: []cgReq{cgKey("rw")}, status: 405, code: apierrors.CodeMethodNotAllowed, headers: []string{"Allow"},
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if miss := cgMissing(rec.Header(), "Allow", "GET", "DELETE"); len(miss) > 0 {
					t.Errorf("Allow %q lacks %v\n  contract: %q", rec.Header().Values("Allow"), miss, cgSent404405)
				}
			}},
		{name: "panic", contract: cgSent500, method: "GET", path: "/v1/panic", with: []cgReq{cgKey("rw")}, status: 500, code: apierrors.CodeInternalError, hits: 1, check: noInternals},
		{name: "panic, problem details", contract: cgSent500, method: "GET", path: "/v1/panic", with: []cgReq{cgKey("rw"), cgSet("Accept", "application/problem+json")}, status: 500, hits: 1, check: noInternals},
	})
}

// TestContractHangingStore: a hanging store ends in 503 at the request's
// deadline, never a hung request and never a 401.
func TestContractHangingStore(t *testing.T) {
	w := newCGWorld(t, cgOptions{})
	w.store.mode.Store(2)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- w.do("GET", "/v1/monitors", cgKey("rw"), cgWithContext(ctx)) }()
	select {
	case rec := <-done:
		if rec.Code != 503 || cgCode(rec) != apierrors.CodeServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("a hanging store at the request's deadline: %s\n  contract: %q", w.desc(rec), cgSentHang)
		}
		if w.hits.Load() != 0 {
			t.Errorf("the handler ran\n  contract: %q", cgSentHang)
		}
	case <-time.After(4 * time.Second):
		t.Fatalf("the request was still hanging 4s after a 300ms deadline\n  contract: %q", cgSentHang)
	}
}

// ---------------------------------------------------------------------------
// Identical 401s.

// TestContractGateRouteShapes: the order holds for routes with their own
// OPTIONS handler, RequireWrite on a read method, and unclean paths.
func TestContractGateRouteShapes(t *testing.T) {
	cgRun(t, []cgCase{
		{name: "keyless OPTIONS (not a preflight) to an OPTIONS route", contract: cgSentPreflight + " / " + cgSentOrder, method: "OPTIONS", path: "/v1/opt", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "read-only key on an OPTIONS route", contract: cgSentMethods, method: "OPTIONS", path: "/v1/opt", with: []cgReq{cgKey("ro")}, status: 200, hits: 1},
		{name: "RequireWrite on GET refuses a read-only key", contract: cgSentOrder + " (read-only vs write)", method: "GET", path: "/v1/export", with: []cgReq{cgKey("ro")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "RequireWrite on GET refuses a publishable key", contract: cgSentPKRO, method: "GET", path: "/v1/export", with: []cgReq{cgKey("pk-rw")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "RequireWrite on GET lets a read-write key through", contract: cgSentOrder, method: "GET", path: "/v1/export", with: []cgReq{cgKey("rw")}, status: 200, hits: 1},
		{name: "RequireWrite before scopes, nested in reverse", contract: cgSentOrder, method: "GET", path: "/v1/export-scoped", with: []cgReq{cgKey("ro")}, status: 403, code: apierrors.CodeInsufficientPermissions},
		{name: "scopes after RequireWrite", contract: cgSentOrder, method: "GET", path: "/v1/export-scoped", with: []cgReq{cgKey("rw")}, status: 403, code: apierrors.CodeInsufficientScope},
		{name: "secret-only under an ordinary middleware, read-write secret key", contract: cgSentOrder, method: "POST", path: "/v1/wrapped", with: []cgReq{cgKey("rw")}, status: 200, hits: 1},
		{name: "nested router/keyless", contract: cgSentOrder, method: "GET", path: "/v2/nothing", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "nested router/served", contract: cgSentOrder, method: "GET", path: "/v2/things", with: []cgReq{cgKey("ro")}, status: 200, hits: 1},
		// Unclean paths: an unauthenticated request gets 401 whatever its
		// path, not a redirect that tells it which routes exist.
		{name: "unclean path/double slash, keyless", contract: cgSentOrder, method: "GET", path: "/v1//monitors", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "unclean path/dot segment, keyless", contract: cgSentOrder, method: "GET", path: "/v1/./monitors", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "unclean path/dot-dot out of the public route, keyless", contract: cgSentOrder + " / " + cgSentPublic, method: "GET", path: "/healthz/../v1/monitors", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "unclean path/nested router, keyless", contract: cgSentOrder, method: "GET", path: "/v2//things", status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "unclean path/trailing slash, keyless", contract: cgSentOrder, method: "GET", path: "/v2", status: 401, code: apierrors.CodeMissingAPIKey},
	})
}

// TestContractGateHiddenWrappers: a RequireSecret under an ordinary
// middleware is out of the Gate's sight, which finds a route's checks only
// on the handler the Router returns ("when they wrap the route
// outermost"). The contract fixes the order without that condition; what the
// Gate can promise for a hidden check is that it fails closed: the request
// is refused 403 and never reaches the handler. (Which 403 depends on
// whether the secret-only check is visible: insufficient_permissions here,
// from the read-only-versus-write check that the Gate applies to every
// route before the route's own wrappers run.)
func TestContractGateHiddenWrappers(t *testing.T) {
	cgRun(t, []cgCase{
		{name: "publishable key, RequireSecret under another middleware", contract: cgSentOrder + " / " + cgSentPK, method: "POST", path: "/v1/wrapped", with: []cgReq{cgKey("pk")}, status: 403},
		{name: "publishable key, RequireSecret in a router mounted with http.StripPrefix", contract: cgSentOrder + " / " + cgSentPK, method: "POST", path: "/v3/things", with: []cgReq{cgKey("pk")}, status: 403},
	})
}

// TestContractGateNestedRouter: a ServeMux mounted inside the Gate's
// ServeMux ("/v2/" → middleware.StripPrefix → ServeMux) is still "any
// http.Handler router" to the service; its 404 and 405 must be the table's
// JSON not_found / method_not_allowed, and the order (routing before
// per-route checks, secret-only before read-only) must hold inside it.
func TestContractGateNestedRouter(t *testing.T) {
	cgRun(t, []cgCase{
		{name: "no route is a JSON 404", contract: cgSent404405 + " / " + cgSentBody, method: "GET", path: "/v2/nothing", with: []cgReq{cgKey("rw")}, status: 404, code: apierrors.CodeNotFound},
		{name: "wrong method is a JSON 405", contract: cgSent404405 + " / " + cgSentBody, method: "DELETE", path: "/v2/things", with: []cgReq{cgKey("rw")}, status: 405, code: apierrors.CodeMethodNotAllowed},
		{name: "read-only key on a method the path lacks", contract: cgSentOrder405, method: "DELETE", path: "/v2/things", with: []cgReq{cgKey("ro")}, status: 405, code: apierrors.CodeMethodNotAllowed},
		{name: "publishable key on a secret-only write route", contract: cgSentOrder + " / " + cgSentPK, method: "POST", path: "/v2/things", with: []cgReq{cgKey("pk")}, status: 403, code: apierrors.CodeSecretKeyRequired},
	})
}

// TestContractGateMoreAuth: credentials and addresses at the edges.
func TestContractGateMoreAuth(t *testing.T) {
	cgRun(t, []cgCase{
		{name: "IPv4-mapped IPv6 client inside the allowed network", contract: cgSentIP + " (doc: Addresses and networks are compared unmapped)", method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("office"), func(_ *cgWorld, r *http.Request) { r.RemoteAddr = "[::ffff:198.51.100.7]:4000" }}, status: 200, hits: 1},
		{name: "IPv4-mapped IPv6 client outside the allowed network", contract: cgSentIP, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("office"), func(_ *cgWorld, r *http.Request) { r.RemoteAddr = "[::ffff:203.0.113.9]:4000" }}, status: 403, code: apierrors.CodeIPNotAllowed},
		{name: "IPv6 client outside the allowed network", contract: cgSentIP, method: "GET", path: "/v1/monitors", with: []cgReq{cgKey("office"), func(_ *cgWorld, r *http.Request) { r.RemoteAddr = "[2001:db8::7]:4000" }}, status: 403, code: apierrors.CodeIPNotAllowed},
		{name: "oversized credentials get a JSON 401", contract: cgSentInvalid + " / Servers built on gatekey accept request headers of at least 16 KB (MaxHeaderBytes), so that oversized credentials reach the middleware and get a JSON error", method: "GET", path: "/v1/monitors", with: []cgReq{cgBearer(strings.Repeat("k", 12<<10))}, status: 401, code: apierrors.CodeInvalidAPIKey},
		{name: "oversized X-Request-Id is replaced", contract: cgSentReqID, method: "GET", path: "/v1/monitors", with: []cgReq{cgSet("X-Request-Id", strings.Repeat("a", 12<<10))}, status: 401, code: apierrors.CodeMissingAPIKey,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if !strings.HasPrefix(rec.Header().Get("X-Request-Id"), "req_") {
					t.Errorf("a 12 KB X-Request-Id was kept\n  contract: %q", cgSentReqID)
				}
			}},
		{name: "unknown Authorization scheme", contract: cgSentWWW, method: "GET", path: "/v1/monitors", with: []cgReq{cgSet("Authorization", "Digest username=\"x\"")}, status: 401},
		{name: "Bearer without a token", contract: cgSentWWW, method: "GET", path: "/v1/monitors", with: []cgReq{cgSet("Authorization", "Bearer")}, status: 401},
		{name: "Bearer with a blank token", contract: cgSentWWW, method: "GET", path: "/v1/monitors", with: []cgReq{cgSet("Authorization", "Bearer    ")}, status: 401},
		{name: "key with a NUL byte", contract: cgSentInvalid, method: "GET", path: "/v1/monitors", with: []cgReq{func(w *cgWorld, r *http.Request) { r.Header.Set("Authorization", "Bearer "+w.key("rw")+"\x00") }}, status: 401, code: apierrors.CodeInvalidAPIKey},
		{name: "key with trailing junk after a space", contract: cgSentInvalid, method: "GET", path: "/v1/monitors", with: []cgReq{func(w *cgWorld, r *http.Request) { r.Header.Set("Authorization", "Bearer "+w.key("rw")+" extra") }}, status: 401},
	})
}

// TestContractGateSnapshot: Handler takes a snapshot of the configuration,
// parts included.
func TestContractGateSnapshot(t *testing.T) {
	w := newCGWorld(t, cgOptions{})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(200) }))
	mux.Handle("GET /healthz", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(200) }))
	cors := &middleware.CORS{AllowedOrigins: []string{"https://app.example.com"}}
	tls := &middleware.RequireTLS{}
	rl := &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("1/minute"), Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: w.env.Clock.Now})}
	public := []string{"GET /healthz"}
	g := &middleware.Gate{Auth: middleware.Authenticator{Verifier: w.env.Manager}, CORS: cors, TLS: tls, RateLimit: rl, Public: public, Logger: discardLogger()}
	w.h = g.Handler(mux)
	cors.AllowedOrigins[0] = "https://evil.example"
	cors.AllowedOrigins = append(cors.AllowedOrigins, "*")
	tls.HSTS = "-"
	rl.Policy[0] = ratelimit.PerMinute(1000)
	public[0] = "GET /v1/monitors"
	g.TLS, g.CORS, g.RateLimit, g.Public = nil, nil, nil, []string{"/"}
	const sent = "Handler takes a snapshot of the configuration"
	if rec := w.do("GET", "/v1/monitors", cgPlain()); rec.Code != 403 {
		t.Errorf("after the TLS part was removed from the Gate: plain HTTP got %d\n  contract: %q", rec.Code, sent)
	}
	if rec := w.do("GET", "/v1/monitors"); rec.Code != 401 {
		t.Errorf("after the Public list changed: keyless got %d\n  contract: %q", rec.Code, sent)
	}
	rec := w.do("OPTIONS", "/v1/monitors", cgPreflight("GET"), cgOrigin("https://evil.example"))
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("after the CORS origins changed: %d, Access-Control-Allow-Origin %q\n  contract: %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), sent)
	}
	w.do("GET", "/v1/monitors", cgKey("rw"))
	if rec := w.do("GET", "/v1/monitors", cgKey("rw")); rec.Code != 429 {
		t.Errorf("after the policy was changed in place: second request got %d, want 429 under the original 1/minute\n  contract: %q", rec.Code, sent)
	}
}
