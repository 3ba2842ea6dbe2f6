package middleware_test

// Contract tests: CORS, request ids, error encodings, rate-limit headers.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

func TestContractCORSPreflight(t *testing.T) {
	wantAllowHeaders := []string{"Authorization", "Content-Type", "X-Request-Id", "Idempotency-Key"}
	preflight204 := func(methods []string, apiKeyHeader bool) func(*testing.T, *cgWorld, *httptest.ResponseRecorder) {
		return func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
			h := rec.Header()
			if o := h.Get("Access-Control-Allow-Origin"); o != "*" && o != "https://app.example.com" {
				t.Errorf("Access-Control-Allow-Origin %q\n  contract: %q", o, cgSentCORS204)
			}
			if miss := cgMissing(h, "Access-Control-Allow-Methods", methods...); len(miss) > 0 {
				t.Errorf("Access-Control-Allow-Methods %q lacks %v\n  contract: %q", h.Values("Access-Control-Allow-Methods"), miss, cgSentCORS204)
			}
			if miss := cgMissing(h, "Access-Control-Allow-Headers", wantAllowHeaders...); len(miss) > 0 {
				t.Errorf("Access-Control-Allow-Headers %q lacks %v\n  contract: %q", h.Values("Access-Control-Allow-Headers"), miss, cgSentCORS204)
			}
			hasAPIKey := cgTokens(h, "Access-Control-Allow-Headers")["x-api-key"]
			if hasAPIKey != apiKeyHeader {
				t.Errorf("Access-Control-Allow-Headers %q: X-API-Key listed %v with that source enabled %v\n  contract: %q", h.Values("Access-Control-Allow-Headers"), hasAPIKey, apiKeyHeader, cgSentCORS204)
			}
			if n, err := strconv.Atoi(h.Get("Access-Control-Max-Age")); err != nil || n <= 0 {
				t.Errorf("Access-Control-Max-Age %q\n  contract: %q", h.Get("Access-Control-Max-Age"), cgSentCORS204)
			}
			if !cgTokens(h, "Vary")["origin"] {
				t.Errorf("Vary %q lacks Origin\n  contract: %q", h.Values("Vary"), cgSentCORS204)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("a 204 with a body of %d bytes", rec.Body.Len())
			}
		}
	}
	notFound := func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
		if o := rec.Header().Get("Access-Control-Allow-Origin"); o != "*" && o != "https://app.example.com" {
			t.Errorf("404 to a preflight: Access-Control-Allow-Origin %q\n  contract: %q", o, cgSentCORS404)
		}
		if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/json" {
			t.Errorf("404 to a preflight: Content-Type %q, want JSON\n  contract: %q", rec.Header().Get("Content-Type"), cgSentCORS404)
		}
	}
	withHeader := cgOptions{Sources: []middleware.Source{middleware.SourceBearer, middleware.SourceHeader}}
	cgRun(t, []cgCase{
		{name: "known path", contract: cgSentCORS204, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("POST")}, status: 204, check: preflight204([]string{"GET", "POST"}, false)},
		{name: "known path, wildcard route", contract: cgSentCORS204, method: "OPTIONS", path: "/v1/monitors/mon_1", with: []cgReq{cgPreflight("DELETE")}, status: 204, check: preflight204([]string{"GET", "DELETE"}, false)},
		{name: "known path, secret-only route", contract: cgSentCORS204, method: "OPTIONS", path: "/v1/keys", with: []cgReq{cgPreflight("POST")}, status: 204, check: preflight204([]string{"GET", "POST"}, false)},
		{name: "known path, every-method route", contract: cgSentCORS204 + " / " + cgSentPreflight, method: "OPTIONS", path: "/v1/any", with: []cgReq{cgPreflight("DELETE")}, status: 204, check: preflight204(nil, false)},
		{name: "known path, X-API-Key source enabled", contract: cgSentCORS204, opts: withHeader, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("GET")}, status: 204, check: preflight204([]string{"GET", "POST"}, true)},
		{name: "known path, preflight carrying a wrong key", contract: cgSentPreflight, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("GET"), cgWrong("rw")}, status: 204},
		{name: "known path, configured origin list", contract: cgSentCORS204, opts: cgOptions{Origins: []string{"https://app.example.com"}}, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("GET")}, status: 204,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if o := rec.Header().Get("Access-Control-Allow-Origin"); o != "https://app.example.com" {
					t.Errorf("listed origin: Access-Control-Allow-Origin %q\n  contract: %q", o, cgSentCORS204)
				}
				if !cgTokens(rec.Header(), "Vary")["origin"] {
					t.Errorf("Vary %q lacks Origin\n  contract: %q", rec.Header().Values("Vary"), cgSentCORS204)
				}
			}},
		{name: "known path, origin not in the list", contract: cgSentCORS204 + " (from a configured list)", opts: cgOptions{Origins: []string{"https://app.example.com"}}, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("GET"), cgOrigin("https://evil.example")}, status: 204,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if o := rec.Header().Get("Access-Control-Allow-Origin"); o != "" {
					t.Errorf("unlisted origin: Access-Control-Allow-Origin %q\n  contract: %q", o, cgSentCORS204)
				}
			}},
		// HTTP methods are case-sensitive: "options" is not OPTIONS, so
		// this is no preflight, and without a key it gets 401.
		{name: "lower-case options is not a preflight", contract: cgSentPreflight + " (RFC 9110 §9.1: methods are case-sensitive)", method: "options", path: "/v1/monitors", with: []cgReq{cgPreflight("GET")}, status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "unknown path", contract: cgSentCORS404, method: "OPTIONS", path: "/v1/nowhere", with: []cgReq{cgPreflight("GET")}, status: 404, code: apierrors.CodeNotFound, check: notFound},
		{name: "unknown path under a known prefix", contract: cgSentCORS404, method: "OPTIONS", path: "/v1/monitors/mon_1/checks", with: []cgReq{cgPreflight("POST")}, status: 404, code: apierrors.CodeNotFound, check: notFound},
		{name: "unknown path, problem details", contract: cgSentCORS404 + " / " + cgSentSimple, method: "OPTIONS", path: "/v1/nowhere", with: []cgReq{cgPreflight("GET"), cgSet("Accept", "application/problem+json")}, status: 404, check: notFoundProblem},
		// Ambiguous: "for a route that exists". Here the path exists but
		// has no DELETE route. The preflight must not reach the handler
		// and must not advertise DELETE; whether it is a 204 (the path's
		// methods) or a 404/405 the contract does not say.
		{name: "known path, method it lacks", contract: cgSentCORS204, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("DELETE")}, status: 204,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if cgTokens(rec.Header(), "Access-Control-Allow-Methods")["delete"] {
					t.Errorf("a preflight for DELETE on a path without DELETE was allowed DELETE\n  contract: %q", cgSentCORS204)
				}
			}},
		// With no CORS part, a preflight is authenticated like any request.
		{name: "no CORS part/keyless preflight on known path", contract: cgSentPreflight, opts: cgOptions{NoCORS: true}, method: "OPTIONS", path: "/v1/monitors", with: []cgReq{cgPreflight("GET")}, status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "no CORS part/keyless preflight on every-method route", contract: cgSentPreflight + " / " + cgSentNoHandler, opts: cgOptions{NoCORS: true}, method: "OPTIONS", path: "/v1/any", with: []cgReq{cgPreflight("DELETE")}, status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "no CORS part/keyless preflight on unknown path", contract: cgSentPreflight + " / " + cgSentOrder, opts: cgOptions{NoCORS: true}, method: "OPTIONS", path: "/v1/nowhere", with: []cgReq{cgPreflight("GET")}, status: 401, code: apierrors.CodeMissingAPIKey},
		// OPTIONS /healthz does not match the public pattern "GET /healthz",
		// so it is not public: authenticated, and refused.
		{name: "no CORS part/keyless preflight on a public path", contract: cgSentPreflight + " / " + cgSentOrder, opts: cgOptions{NoCORS: true}, method: "OPTIONS", path: "/healthz", with: []cgReq{cgPreflight("GET")}, status: 401, code: apierrors.CodeMissingAPIKey},
		{name: "no CORS part/preflight with a wrong key", contract: cgSentPreflight, opts: cgOptions{NoCORS: true}, method: "OPTIONS", path: "/v1/any", with: []cgReq{cgPreflight("GET"), cgWrong("rw")}, status: 401, code: apierrors.CodeInvalidAPIKey},
		{name: "no CORS part/preflight with a key is an OPTIONS request", contract: cgSentPreflight, opts: cgOptions{NoCORS: true}, method: "OPTIONS", path: "/v1/any", with: []cgReq{cgPreflight("DELETE"), cgKey("ro")}, status: 200, hits: 1},
		{name: "no CORS part/preflight with a key on a GET-only path", contract: cgSentPreflight, opts: cgOptions{NoCORS: true}, method: "OPTIONS", path: "/v1/keys", with: []cgReq{cgPreflight("GET"), cgKey("rw")}, status: 405, code: apierrors.CodeMethodNotAllowed},
	})
}

func notFoundProblem(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
	if o := rec.Header().Get("Access-Control-Allow-Origin"); o == "" {
		t.Errorf("404 to a preflight without Access-Control-Allow-Origin\n  contract: %q", cgSentCORS404)
	}
	if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/problem+json" {
		t.Errorf("404 to a preflight asking for problem details: Content-Type %q\n  contract: %q", rec.Header().Get("Content-Type"), cgSentSimple)
	}
}

// TestContractCORSActualResponses: actual cross-origin answers, successes
// and errors alike, carry Access-Control-Allow-Origin and expose the
// headers scripts need.
func TestContractCORSActualResponses(t *testing.T) {
	// Ambiguous: "expose the RateLimit, Retry-After and X-Request-Id
	// headers". "the RateLimit ... headers" is read here as the draft's
	// pair, RateLimit and RateLimit-Policy, which the rate-limit section
	// names together.
	exposed := []string{"RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id"}
	check := func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
		if o := rec.Header().Get("Access-Control-Allow-Origin"); o != "*" && o != "https://app.example.com" {
			t.Errorf("answer %d: Access-Control-Allow-Origin %q\n  contract: %q", rec.Code, o, cgSentCORSActual)
		}
		if miss := cgMissing(rec.Header(), "Access-Control-Expose-Headers", exposed...); len(miss) > 0 {
			t.Errorf("answer %d: Access-Control-Expose-Headers %q lacks %v\n  contract: %q", rec.Code, rec.Header().Values("Access-Control-Expose-Headers"), miss, cgSentCORSActual)
		}
	}
	origin := cgOrigin("https://app.example.com")
	cgRun(t, []cgCase{
		{name: "200", contract: cgSentCORSActual, method: "GET", path: "/v1/monitors", with: []cgReq{origin, cgKey("pk")}, status: 200, hits: 1, check: check},
		{name: "401", contract: cgSentCORSActual, method: "GET", path: "/v1/monitors", with: []cgReq{origin}, status: 401, check: check},
		{name: "403 read-only", contract: cgSentCORSActual, method: "POST", path: "/v1/monitors", with: []cgReq{origin, cgKey("pk")}, status: 403, check: check},
		{name: "404", contract: cgSentCORSActual, method: "GET", path: "/v1/nowhere", with: []cgReq{origin, cgKey("pk")}, status: 404, check: check},
		{name: "429 rate limit", contract: cgSentCORSActual, setup: func(w *cgWorld) { w.exhaust("pk") }, method: "GET", path: "/v1/monitors", with: []cgReq{origin, cgKey("pk")}, status: 429, check: check},
		{name: "429 throttle", contract: cgSentCORSActual, setup: func(w *cgWorld) { w.block(cgBlocked) }, method: "GET", path: "/v1/monitors", with: []cgReq{origin, cgKey("pk"), cgFrom(cgBlocked)}, status: 429, check: check},
		{name: "500", contract: cgSentCORSActual, method: "GET", path: "/v1/panic", with: []cgReq{origin, cgKey("pk")}, status: 500, hits: 1, check: check},
		{name: "public route", contract: cgSentCORSActual, method: "GET", path: "/healthz", with: []cgReq{origin}, status: 200, hits: 1, check: check},
		{name: "listed origin echoed", contract: cgSentCORSActual, opts: cgOptions{Origins: []string{"https://app.example.com"}}, method: "GET", path: "/v1/monitors", with: []cgReq{origin, cgKey("pk")}, status: 200, hits: 1,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if o := rec.Header().Get("Access-Control-Allow-Origin"); o != "https://app.example.com" {
					t.Errorf("Access-Control-Allow-Origin %q\n  contract: %q", o, cgSentCORSActual)
				}
			}},
		{name: "listed origin: Vary: Origin", contract: cgSentCORSActual + " (doc: Responses to requests with an Origin say \"Vary: Origin\")", opts: cgOptions{Origins: []string{"https://app.example.com"}}, method: "GET", path: "/v1/monitors", with: []cgReq{origin}, status: 401,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if !cgTokens(rec.Header(), "Vary")["origin"] {
					t.Errorf("Vary %q lacks Origin on a cross-origin answer that depends on it", rec.Header().Values("Vary"))
				}
			}},
		{name: "unlisted origin gets none", contract: cgSentCORS204 + " (from a configured list)", opts: cgOptions{Origins: []string{"https://app.example.com"}}, method: "GET", path: "/v1/monitors", with: []cgReq{cgOrigin("https://evil.example"), cgKey("pk")}, status: 200, hits: 1,
			check: func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder) {
				if o := rec.Header().Get("Access-Control-Allow-Origin"); o != "" {
					t.Errorf("unlisted origin: Access-Control-Allow-Origin %q\n  contract: %q", o, cgSentCORS204)
				}
			}},
	})
}

// ---------------------------------------------------------------------------
// Failed-authentication throttle.

// TestContractCORSPreflightOptionsOnlyRoute: a path whose only route is
// "OPTIONS /v1/opt" exists, and a preflight for that route (a browser
// preflights fetch(url, {method: "OPTIONS"}), since OPTIONS is not a
// CORS-safelisted method) must get the 204, not the 404 for paths that do
// not exist. (The handler must not run either way.)
func TestContractCORSPreflightOptionsOnlyRoute(t *testing.T) {
	cgRun(t, []cgCase{
		{name: "preflight for the OPTIONS route of an OPTIONS-only path", contract: cgSentCORS204, method: "OPTIONS", path: "/v1/opt", with: []cgReq{cgPreflight("OPTIONS")}, status: 204},
	})
}

func TestContractRequestID(t *testing.T) {
	kept := []string{"abc", "0", "trace.id:1-2", "Z9.-:", "A-B.C:D", strings.Repeat("a", 128), "f47ac10b-58cc-4372-a567-0e02b2c3d479"}
	// Note: "_" is not in [A-Za-z0-9._:-], so an id shaped like the
	// generated ones ("req_…") is replaced, by the letter of the contract.
	replaced := []string{"", strings.Repeat("a", 129), "has space", "a/b", "é", "a_b", "req_abc123", "<script>", "a,b", "a;b", "\tabc", "abc\x7f", "ab\"c"}
	for _, kind := range cgAnswerKinds() {
		t.Run(kind.name, func(t *testing.T) {
			variants := append([]string{}, kept[:2]...)
			variants = append(variants, replaced[0], replaced[2], "req_abc123")
			if kind.name == "401 missing" || kind.name == "500 panic" {
				variants = append(append([]string{}, kept...), replaced...)
			}
			variants = append(variants, "\x00absent") // no header at all
			for _, in := range variants {
				w := newCGWorld(t, cgOptions{})
				if kind.setup != nil {
					kind.setup(w)
				}
				w.hits.Store(0)
				with := append([]cgReq{}, kind.with...)
				if in != "\x00absent" {
					with = append(with, cgSet("X-Request-Id", in))
				}
				rec := w.do(kind.method, kind.path, with...)
				kind.contract = cgSentReqIDAll
				cgCheck(t, w, kind, rec)
				got := rec.Header().Get("X-Request-Id")
				keep := in != "\x00absent" && cgReqIDPattern.MatchString(in)
				switch {
				case keep && got != in:
					t.Errorf("incoming X-Request-Id %q (well-formed) answered with %q\n  contract: %q", cgScrub(in), cgScrub(got), cgSentReqID)
				case !keep && (got == in || !strings.HasPrefix(got, "req_")):
					t.Errorf("incoming X-Request-Id %q (absent or not matching the pattern) answered with %q, want a generated req_… id\n  contract: %q", cgScrub(in), cgScrub(got), cgSentReqID)
				}
				if kind.hits > 0 {
					if seen, _ := w.lastID.Load().(string); seen != got {
						t.Errorf("the handler saw request id %q, the answer carries %q\n  contract: %q", cgScrub(seen), cgScrub(got), cgSentReqIDAll)
					}
				}
				if kind.status >= 400 && kind.method != "HEAD" {
					for _, accept := range []string{"application/problem+json"} {
						rec2 := w.do(kind.method, kind.path, append(with, cgSet("Accept", accept))...)
						e, err := apierrors.Decode(bytes.NewReader(rec2.Body.Bytes()))
						if err != nil || e.RequestID != rec2.Header().Get("X-Request-Id") || e.RequestID == "" {
							t.Errorf("problem details: request id in body %v, header %q\n  contract: %q", e, cgScrub(rec2.Header().Get("X-Request-Id")), cgSentReqIDAll)
						}
					}
				}
			}
		})
	}
	t.Run("generated ids differ", func(t *testing.T) {
		w := newCGWorld(t, cgOptions{})
		seen := map[string]bool{}
		for range 50 {
			id := w.do("GET", "/v1/monitors").Header().Get("X-Request-Id")
			if seen[id] {
				t.Fatalf("generated request id %q twice\n  contract: %q", id, cgSentReqID)
			}
			seen[id] = true
		}
	})
}

// ---------------------------------------------------------------------------
// Error encodings.

func TestContractErrorEncodings(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	objectShape := func(t *testing.T, rec *httptest.ResponseRecorder, want apierrors.Code) {
		t.Helper()
		if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/json" {
			t.Errorf("Content-Type %q, want application/json\n  contract: %q", rec.Header().Get("Content-Type"), cgSentBody)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &top); err != nil || len(top) != 1 || top["error"] == nil {
			t.Errorf("body %s is not {\"error\": {...}}\n  contract: %q", cgScrub(rec.Body.String()), cgSentBody)
			return
		}
		var inner map[string]any
		if err := json.Unmarshal(top["error"], &inner); err != nil {
			t.Errorf("\"error\" is not an object: %s\n  contract: %q", cgScrub(rec.Body.String()), cgSentBody)
			return
		}
		if s, ok := inner["status"].(float64); !ok || int(s) != rec.Code {
			t.Errorf("error.status %v, response %d\n  contract: %q", inner["status"], rec.Code, cgSentBody)
		}
		if c, ok := inner["code"].(string); !ok || !snake.MatchString(c) || (want != "" && apierrors.Code(c) != want) {
			t.Errorf("error.code %v, want snake_case %s\n  contract: %q", inner["code"], want, cgSentBody)
		}
		if m, ok := inner["message"].(string); !ok || m == "" {
			t.Errorf("error.message %v\n  contract: %q", inner["message"], cgSentBody)
		}
		if id, ok := inner["request_id"].(string); !ok || id != rec.Header().Get("X-Request-Id") {
			t.Errorf("error.request_id %v, header %q\n  contract: %q", inner["request_id"], rec.Header().Get("X-Request-Id"), cgSentBody)
		}
		for k, v := range inner {
			switch k {
			case "status", "code", "message", "request_id", "param", "doc_url":
			case "details":
				if _, ok := v.(map[string]any); !ok {
					t.Errorf("error.details is %T, want a JSON object\n  contract: %q", v, cgSentBody)
				}
			default:
				t.Errorf("error has the member %q, which the contract does not list\n  contract: %q", k, cgSentBody)
			}
		}
	}
	simpleShape := func(t *testing.T, rec *httptest.ResponseRecorder, _ apierrors.Code) {
		t.Helper()
		if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/json" {
			t.Errorf("Content-Type %q, want application/json\n  contract: %q", rec.Header().Get("Content-Type"), cgSentSimple)
		}
		var top map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &top); err != nil || len(top) != 1 {
			t.Errorf("body %s is not {\"error\": \"message\"}\n  contract: %q", cgScrub(rec.Body.String()), cgSentSimple)
			return
		}
		if s, ok := top["error"].(string); !ok || s == "" {
			t.Errorf("body %s is not {\"error\": \"message\"}\n  contract: %q", cgScrub(rec.Body.String()), cgSentSimple)
		}
	}
	problemShape := func(t *testing.T, rec *httptest.ResponseRecorder, want apierrors.Code) {
		t.Helper()
		if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/problem+json" {
			t.Errorf("Content-Type %q, want application/problem+json\n  contract: %q", rec.Header().Get("Content-Type"), cgSentSimple)
		}
		var p map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Errorf("body %s is not a JSON object\n  contract: %q", cgScrub(rec.Body.String()), cgSentSimple)
			return
		}
		if s, ok := p["status"].(float64); !ok || int(s) != rec.Code {
			t.Errorf("problem status %v, response %d (RFC 9457 §3.1.2)\n  contract: %q", p["status"], rec.Code, cgSentSimple)
		}
		if ty, ok := p["type"]; ok {
			if _, isStr := ty.(string); !isStr {
				t.Errorf("problem type %v is not a string (RFC 9457 §3.1.1)", ty)
			}
		}
		if ti, ok := p["title"].(string); !ok || ti == "" {
			t.Errorf("problem without a title: %s\n  contract: %q", cgScrub(rec.Body.String()), cgSentSimple)
		}
		if _, ok := p["error"]; ok {
			t.Errorf("problem details carrying the default body's \"error\" member: %s", cgScrub(rec.Body.String()))
		}
		if want != "" {
			if c, _ := p["code"].(string); apierrors.Code(c) != want {
				t.Errorf("problem code %v, want %s\n  contract: %q", p["code"], want, "doc: {\"type\": \"about:blank\", \"title\": \"Unauthorized\", \"status\": 401, \"detail\": \"…\", \"code\": \"…\"}")
			}
		}
	}
	type shape func(*testing.T, *httptest.ResponseRecorder, apierrors.Code)
	writers := []struct {
		name   string
		w      apierrors.Writer
		accept map[string]shape
	}{
		{"object", apierrors.Writer{}, map[string]shape{"": objectShape, "application/json": objectShape, "application/problem+json": problemShape}},
		// Ambiguous: whether a service that chose the simple shape still
		// switches to problem details for a client that asks. The
		// errors.Writer documentation says so ("Encoding is the body
		// shape sent unless content negotiation picks problem details").
		{"simple", apierrors.Writer{Encoding: apierrors.EncodingSimple}, map[string]shape{"": simpleShape, "application/json": simpleShape, "application/problem+json": problemShape}},
		{"problem", apierrors.Writer{Encoding: apierrors.EncodingProblem}, map[string]shape{"": problemShape, "application/json": problemShape, "application/problem+json": problemShape}},
	}
	for _, wr := range writers {
		for _, kind := range cgAnswerKinds() {
			if kind.status < 400 || kind.method == "HEAD" {
				continue
			}
			for accept, sh := range wr.accept {
				t.Run(fmt.Sprintf("%s/%s/Accept=%q", wr.name, kind.name, accept), func(t *testing.T) {
					w := newCGWorld(t, cgOptions{Errors: wr.w})
					if kind.setup != nil {
						kind.setup(w)
					}
					rec := w.do(kind.method, kind.path, append(append([]cgReq{}, kind.with...), cgSet("Accept", accept))...)
					if rec.Code != kind.status {
						t.Errorf("got %s, want %d\n  contract: %q", w.desc(rec), kind.status, "rejections go through the one error writer")
					}
					sh(t, rec, kind.code)
					if !cgTokens(rec.Header(), "Vary")["accept"] && !wr.w.DisableNegotiation {
						t.Errorf("an error answer without Vary: Accept (Vary %q)\n  contract: %q", rec.Header().Values("Vary"), cgSentSimple)
					}
					if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
						t.Errorf("an error answer without X-Content-Type-Options: nosniff (doc: Write sets Content-Type and \"X-Content-Type-Options: nosniff\")")
					}
					// WWW-Authenticate on 401, Retry-After on 429/503,
					// Allow on 405, the request id, no leak: in every
					// encoding.
					cgGeneric(t, w, kind.method, rec)
				})
			}
		}
	}
}

// TestContractProblemNegotiation: problem details are chosen by Accept.
func TestContractProblemNegotiation(t *testing.T) {
	w := newCGWorld(t, cgOptions{})
	for _, tc := range []struct {
		accept  string
		problem bool
		note    string
	}{
		{"", false, "no Accept: the default"},
		{"application/json", false, ""},
		{"*/*", false, "anything: the default"},
		{"application/problem+json", true, ""},
		{"Application/Problem+JSON", true, "media types are case-insensitive (RFC 9110 §8.3.1)"},
		{"application/problem+json; charset=utf-8", true, ""},
		{"application/json, application/problem+json;q=0.5", false, "json preferred"},
		{"application/json;q=0.5, application/problem+json", true, "problem preferred"},
		{"application/problem+json;q=0, application/json", false, "q=0 means not acceptable (RFC 9110 §12.4.2)"},
		{"application/problem+json;q=0", false, "q=0 means not acceptable (RFC 9110 §12.4.2)"},
		{"text/html", false, "unacceptable: the default"},
	} {
		rec := w.do("GET", "/v1/monitors", cgSet("Accept", tc.accept))
		mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
		want := "application/json"
		if tc.problem {
			want = "application/problem+json"
		}
		if mt != want {
			t.Errorf("Accept %q (%s): Content-Type %q, want %s\n  contract: %q", tc.accept, tc.note, rec.Header().Get("Content-Type"), want, cgSentSimple)
		}
		if !cgTokens(rec.Header(), "Vary")["accept"] {
			t.Errorf("Accept %q: Vary %q lacks Accept\n  contract: %q", tc.accept, rec.Header().Values("Vary"), cgSentSimple)
		}
		if e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes())); err != nil || e.Code != apierrors.CodeMissingAPIKey {
			t.Errorf("Accept %q: body does not decode to missing_api_key: %s", tc.accept, w.desc(rec))
		}
	}
}

// ---------------------------------------------------------------------------
// Rate-limit headers and consumption.

// cgRLItems parses the items of RateLimit / RateLimit-Policy structured
// field lists: `"name";q=5;w=60, …`.
func cgRLItems(values []string) []map[string]string {
	var out []map[string]string
	for _, item := range strings.Split(strings.Join(values, ","), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ";")
		m := map[string]string{"name": strings.Trim(strings.TrimSpace(parts[0]), `"`)}
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}

// Not asserted: requests answered 404/405 or refused by a per-route check
// come after the rate limit in the order, so they spend a token; "a
// rejected request consumes from none" is read as speaking of requests the
// rate limit itself rejects.
func TestContractRateLimitHeaders(t *testing.T) {
	w := newCGWorld(t, cgOptions{Policy: "5/minute"})
	checkHeaders := func(step string, rec *httptest.ResponseRecorder, wantR int) {
		t.Helper()
		pol := cgRLItems(rec.Header().Values("RateLimit-Policy"))
		if len(pol) != 1 || pol[0]["q"] != "5" || pol[0]["w"] != "60" {
			t.Errorf("%s: RateLimit-Policy %q, want one item with q=5;w=60\n  contract: %q", step, rec.Header().Values("RateLimit-Policy"), cgSentRLHeaders+" / "+cgSentRate)
			return
		}
		rl := cgRLItems(rec.Header().Values("RateLimit"))
		if len(rl) != 1 || rl[0]["r"] != strconv.Itoa(wantR) {
			t.Errorf("%s: RateLimit %q, want r=%d\n  contract: %q", step, rec.Header().Values("RateLimit"), wantR, cgSentRLHeaders+" / "+cgSentRate)
			return
		}
		if rl[0]["name"] != pol[0]["name"] {
			t.Errorf("%s: RateLimit names %q, the policy is %q (the draft ties them by name)\n  contract: %q", step, rl[0]["name"], pol[0]["name"], cgSentRLHeaders)
		}
		if n, err := strconv.Atoi(rl[0]["t"]); err != nil || n < 0 {
			t.Errorf("%s: RateLimit t=%q, want delta-seconds\n  contract: %q", step, rl[0]["t"], cgSentRLHeaders)
		}
	}
	for i := range 5 {
		rec := w.do("GET", "/v1/monitors", cgKey("rw"))
		if rec.Code != 200 {
			t.Fatalf("request %d of a full 5/minute bucket: %s\n  contract: %q", i+1, w.desc(rec), cgSentRate)
		}
		checkHeaders(fmt.Sprintf("request %d", i+1), rec, 4-i)
	}
	wantRetry := func(step string, rec *httptest.ResponseRecorder, want string) {
		t.Helper()
		if rec.Code != 429 || cgCode(rec) != apierrors.CodeRateLimitExceeded {
			t.Fatalf("%s: %s, want 429 rate_limit_exceeded\n  contract: %q", step, w.desc(rec), cgSent429)
		}
		if got := rec.Header().Get("Retry-After"); got != want {
			t.Errorf("%s: Retry-After %q, want %q (5/minute refills one token every 12s)\n  contract: %q", step, got, want, cgSentRate+" / "+cgSentRLConsume)
		}
		checkHeaders(step, rec, 0)
		cgGeneric(t, w, "GET", rec)
	}
	wantRetry("request 6", w.do("GET", "/v1/monitors", cgKey("rw")), "12")
	for i := range 5 {
		w.do("GET", "/v1/monitors", cgKey("rw"))
		_ = i
	}
	if w.hits.Load() != 5 {
		t.Errorf("the handler ran %d times, want 5: rejected requests must not reach it", w.hits.Load())
	}
	w.env.Clock.Advance(11 * time.Second)
	wantRetry("after 11s and 6 rejections", w.do("GET", "/v1/monitors", cgKey("rw")), "1")
	w.env.Clock.Advance(time.Second)
	rec := w.do("GET", "/v1/monitors", cgKey("rw"))
	if rec.Code != 200 {
		t.Fatalf("after 12s, with only rejected requests since the bucket emptied: %s\n  contract: %q", w.desc(rec), cgSentRLConsume)
	}
	checkHeaders("after refill", rec, 0)
	wantRetry("right after", w.do("GET", "/v1/monitors", cgKey("rw")), "12")
	if rec := w.do("GET", "/v1/monitors", cgKey("rw2")); rec.Code != 200 {
		t.Errorf("another key while the first is limited: %s\n  contract: %q", w.desc(rec), cgSentRLKey)
	} else {
		checkHeaders("another key", rec, 4)
	}
}

// TestContractRateLimitMultiLimit: every limit must have room, and a
// rejected request consumes from none.
func TestContractRateLimitMultiLimit(t *testing.T) {
	w := newCGWorld(t, cgOptions{Policy: "3/minute, 4/hour"})
	get := func() *httptest.ResponseRecorder { return w.do("GET", "/v1/monitors", cgKey("rw")) }
	for i := range 3 {
		rec := get()
		if rec.Code != 200 {
			t.Fatalf("request %d: %s", i+1, w.desc(rec))
		}
		if i == 0 {
			pol := cgRLItems(rec.Header().Values("RateLimit-Policy"))
			got := map[string]bool{}
			for _, p := range pol {
				got[p["q"]+"/"+p["w"]] = true
			}
			if len(pol) != 2 || !got["3/60"] || !got["4/3600"] {
				t.Errorf("RateLimit-Policy %q, want both limits (q=3;w=60 and q=4;w=3600)\n  contract: %q", rec.Header().Values("RateLimit-Policy"), cgSentRLHeaders)
			}
			if rl := cgRLItems(rec.Header().Values("RateLimit")); len(rl) != 2 {
				t.Errorf("RateLimit %q, want an item per limit\n  contract: %q", rec.Header().Values("RateLimit"), cgSentRLHeaders)
			}
		}
	}
	for range 5 {
		if rec := get(); rec.Code != 429 {
			t.Fatalf("the minute limit is spent, yet: %s\n  contract: %q", w.desc(rec), cgSentRLConsume)
		}
	}
	// The hour bucket still has 1 token, unless the rejected requests took
	// from it.
	w.env.Clock.Advance(20 * time.Second)
	if rec := get(); rec.Code != 200 {
		t.Fatalf("after 20s (one minute-token back, one hour-token left): %s\n  contract: %q", w.desc(rec), cgSentRLConsume)
	}
	w.env.Clock.Advance(time.Minute)
	rec := get()
	if rec.Code != 429 {
		t.Fatalf("the hour limit is spent, the minute one is not: %s\n  contract: %q", w.desc(rec), cgSentRLConsume)
	}
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra <= 60 {
		t.Errorf("rejected by the 4/hour limit: Retry-After %q, want the hour limit's wait (> 60s)\n  contract: %q", rec.Header().Get("Retry-After"), cgSentRLConsume)
	}
}

// ---------------------------------------------------------------------------
// More of the order: routes of unusual shapes.
