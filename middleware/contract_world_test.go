package middleware_test

// Contract tests of the front door (middleware.Gate), written from
// gatekey's design contract (its sections "API key format", "HTTP
// behaviour", "Error body", "Rate limiting", "The front door") and from
// the packages' documentation, not from the implementation. Every failure message quotes the contract
// sentence it checks.
//
// Keys are never printed: failure messages show status, code and a body in
// which every long alphanumeric run (any key body) is redacted.

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/ratelimittest"
)

// Contract sentences, quoted from the design contract (and, marked "doc:",
// from the packages' documentation where the contract defers to the API).
const (
	cgSentOrder      = `Order of checks for a request (the front door below composes exactly this): request id and panic recovery (so every answer, a panic's 500 included, carries the request id) → TLS requirement → CORS preflight → failed-auth throttle → authentication (so an unauthenticated request gets 401 whatever its path) → per-key rate limit → routing (404/405) → per-route checks (in this order: secret-only, read-only vs write, scopes, environment, plan) → idempotency → credits → handler.`
	cgSentOrder405   = `So a read-only key on a path that has no such method gets 405, and on a write route 403`
	cgSentPK         = `doc: a publishable key gets 403 secret_key_required, not insufficient_permissions, on a secret-only write route.`
	cgSentPKRO       = `A publishable key is always read-only (plus explicitly granted scopes).`
	cgSentNoHandler  = `a request refused before its handler runs, for any reason, ... / A request reaches a handler behind the authentication middleware only with a verified key.`
	cgSentPublic     = `Routes can be declared public (a health check) on the gate. (doc: A route listed in Public skips steps 4, 5 and 7: it is served without a key, after TLS, CORS and routing.)`
	cgSentMissing    = `| no credentials | 401 + WWW-Authenticate | missing_api_key |`
	cgSentInvalid    = `| malformed, unknown, or wrong key | 401 + WWW-Authenticate | invalid_api_key |`
	cgSentExpired    = `| expired key | 401 | expired_api_key |`
	cgSentRevoked    = `| revoked key | 401 | revoked_api_key |`
	cgSentDisabled   = `| disabled key | 401 | disabled_api_key |`
	cgSentIP         = `| client address outside the key's allowed networks | 403 | ip_not_allowed |`
	cgSentAmbiguous  = "| credentials in more than one place, or repeated `Authorization` lines | 400 | `ambiguous_credentials` |"
	cgSentStore      = "| key store unreachable | 503 + `Retry-After` | `service_unavailable` | / A store failure is not an invalid key: it surfaces as a distinct error (HTTP 503), never as 401."
	cgSentHang       = `Verification honours the request context's deadline: a hanging store ends in 503, not a hung request.`
	cgSentRO         = `| read-only key on a write method | 403 | insufficient_permissions |`
	cgSentSecretReq  = `| publishable key where a secret key is required | 403 | secret_key_required |`
	cgSentTLS        = `| plain HTTP when TLS is required | 403 | https_required |`
	cgSent429        = "| rate limit exceeded | 429 + `Retry-After` | `rate_limit_exceeded` |"
	cgSent404405     = "| no route / wrong method | 404 / 405 + `Allow` | `not_found` / `method_not_allowed` |"
	cgSent500        = `| panic or unexpected error | 500 (no internals leak) | internal_error |`
	cgSentWWW        = "Every 401 carries `WWW-Authenticate`."
	cgSentIdentical  = `Malformed, unknown and wrong-secret keys get identical 401 responses (apart from the request id); no credentials at all gets missing_api_key.`
	cgSentHolder     = `Only a caller who presents the real secret learns that it is expired or revoked.`
	cgSentParse      = `Parsing is strict: wrong length, alphabet, type, env or checksum is a malformed key, rejected without touching the store.`
	cgSentChecksum   = `checksum = 6 chars: CRC-32 (IEEE) of every character before it, base62, zero-padded`
	cgSentMethods    = `Read methods are GET, HEAD, OPTIONS; every other method, known or not, writes, and method-override headers are ignored.`
	cgSentPreflight  = "CORS preflight requests (OPTIONS with `Origin` and `Access-Control-Request-Method`) are answered by the CORS part without a key, and never reach a handler; with no CORS part in front, they are authenticated like any other request."
	cgSentCORS204    = "CORS: a preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`) for a route that exists gets 204 with `Access-Control-Allow-Origin` (from a configured list; `*` allowed since keys travel in headers, not cookies), `Access-Control-Allow-Methods`, `Access-Control-Allow-Headers` (at least Authorization, Content-Type, X-Request-Id, Idempotency-Key, and X-API-Key when that source is enabled), `Access-Control-Max-Age` and `Vary: Origin`"
	cgSentCORS404    = "for a path that does not exist, the JSON 404 with `Access-Control-Allow-Origin`, so a browser can read it."
	cgSentCORSActual = `Actual cross-origin responses carry Access-Control-Allow-Origin and expose the RateLimit, Retry-After and X-Request-Id headers.`
	cgSentThrottle   = "Failed-authentication throttling counts `invalid_api_key` answers per client address; past the limit, every request from that address (valid keys included) gets 429 `rate_limit_exceeded` with `Retry-After` before any key look-up, until the bucket refills."
	cgSentXFF        = "client IP (with an explicit trusted-proxy list, never blind `X-Forwarded-For`) for unauthenticated traffic and failed-auth throttling."
	cgSentNoRLState  = `A request whose key fails never creates rate-limit state for that key.`
	cgSentReqID      = "Request ids: an incoming `X-Request-Id` matching `[A-Za-z0-9._:-]{1,128}` is kept; anything else is replaced by a generated `req_…` id."
	cgSentReqIDAll   = `request id and panic recovery (so every answer, a panic's 500 included, carries the request id) / doc: The request_id of a body is the response's X-Request-Id header ... so that the header and the body always agree.`
	cgSentBody       = "Default (`Content-Type: application/json`): {\"error\": {\"status\": 401, \"code\": \"invalid_api_key\", \"message\": \"...\", \"request_id\": \"req_…\"}} `status`, `code` (stable snake_case, documented) and `message` (human, may change) are always present; `param`, `request_id`, `doc_url` and `details` (a JSON object) appear when set."
	cgSentSimple     = "Two other encodings are selectable: `{\"error\": \"message\"}` (for services that already promise that shape), and RFC 9457 `application/problem+json`, chosen by `Accept` (with `Vary: Accept`)."
	cgSentRLHeaders  = "Headers: `RateLimit-Policy` and `RateLimit` (IETF httpapi ratelimit-headers draft), optionally the legacy `X-RateLimit-Limit/Remaining/Reset`, and `Retry-After` on 429."
	cgSentRLConsume  = `A policy is one or more limits (e.g. 10/minute with a burst, and 1000/day); a request passes only if every limit has room, and a rejected request consumes from none.`
	cgSentRate       = "A rate written `N/unit` (e.g. `100/minute`) is a bucket of N tokens, full at the start, refilled at N per unit."
	cgSentRLKey      = `Limits can differ per key (tiers). Keys default to the API key id`
	cgSentSources    = "Credentials are accepted as, in a configurable order (default: the first three): `Authorization: Bearer KEY` (scheme case-insensitive), `Authorization: token KEY`, HTTP Basic with the key as username and an empty password, `X-API-Key: KEY`, and, only when enabled, a query parameter."
)

// ---------------------------------------------------------------------------
// The world: a key store, keys of every kind, routes and a Gate over them.

// cgStore is an in-memory key store that can be taken down or made to hang,
// and counts look-ups.
type cgStore struct {
	*apikey.MemoryStore
	mode    atomic.Int32 // 0 up, 1 down, 2 hangs until the context is done
	lookups atomic.Int64
}

func (s *cgStore) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	s.lookups.Add(1)
	switch s.mode.Load() {
	case 1:
		return nil, fmt.Errorf("contract test: store down: %w", apikey.ErrUnavailable)
	case 2:
		<-ctx.Done()
		return nil, fmt.Errorf("contract test: store hung: %w: %w", apikey.ErrUnavailable, ctx.Err())
	}
	return s.MemoryStore.LookupKey(ctx, id)
}

// cgVerifier counts calls to the real verifier.
type cgVerifier struct {
	inner middleware.KeyVerifier
	calls atomic.Int64
}

func (v *cgVerifier) Verify(ctx context.Context, presented string) (*apikey.Key, error) {
	v.calls.Add(1)
	return v.inner.Verify(ctx, presented)
}

type cgOptions struct {
	Sources  []middleware.Source
	Policy   string   // "" means 5/minute
	Throttle string   // "" means 3/minute
	Origins  []string // nil means "*"
	NoCORS   bool
	Errors   apierrors.Writer
}

type cgWorld struct {
	t        *testing.T
	opts     cgOptions
	env      *apikeytest.Env
	store    *cgStore
	verifier *cgVerifier
	rl       *ratelimittest.Recorder
	h        http.Handler

	toks map[string]apikey.Token
	recs map[string]*apikey.Key

	mu       sync.Mutex
	forged   []string // keys made up by the test, to check for leaks
	hits     atomic.Int64
	lastID   atomic.Value // request id seen by the last handler run
	lastKey  atomic.Bool  // whether the last handler run saw a key
	lastMeth atomic.Value // method seen by the last handler run
	nforged  int
	lookBase int64 // store look-ups made by the setup
}

const (
	cgClient  = "192.0.2.10"   // the ordinary client
	cgBlocked = "203.0.113.66" // an address the setup gets throttled
	cgOffice  = "198.51.100.7" // inside the "office" key's allowed network
)

func newCGWorld(t *testing.T, o cgOptions) *cgWorld {
	t.Helper()
	w := &cgWorld{t: t, opts: o, toks: map[string]apikey.Token{}, recs: map[string]*apikey.Key{}}
	w.store = &cgStore{MemoryStore: &apikey.MemoryStore{}}
	w.env = apikeytest.New(t, apikeytest.Config{
		Store:   w.store,
		Manager: apikey.ManagerConfig{Verifier: apikey.VerifierConfig{LastUsedInterval: -1}},
	})
	sk, pk := apikey.SecretKey, apikey.PublishableKey
	live, test := apikey.Live, apikey.Test
	rw, ro := apikey.ReadWrite, apikey.ReadOnly
	reports := []string{"reports:write"}
	params := map[string]apikey.CreateParams{
		"rw":          {Type: sk, Environment: live, Permission: rw},
		"rw2":         {Type: sk, Environment: live, Permission: rw},
		"ro":          {Type: sk, Environment: live, Permission: ro},
		"pk":          {Type: pk, Environment: live},
		"pk-rw":       {Type: pk, Environment: live, Permission: rw}, // asks for write; must stay read-only
		"pk-test":     {Type: pk, Environment: test},
		"test-rw":     {Type: sk, Environment: test, Permission: rw},
		"rw-scoped":   {Type: sk, Environment: live, Permission: rw, Scopes: reports},
		"ro-scoped":   {Type: sk, Environment: live, Permission: ro, Scopes: reports},
		"test-scoped": {Type: sk, Environment: test, Permission: rw, Scopes: reports},
		"expired":     {Type: sk, Environment: live, Permission: rw},
		"revoked":     {Type: sk, Environment: live, Permission: rw},
		"disabled":    {Type: sk, Environment: live, Permission: rw},
		"office":      {Type: sk, Environment: live, Permission: rw, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
	}
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := params[n]
		p.Name = n
		tok, rec := w.env.Mint(p)
		w.toks[n], w.recs[n] = tok, rec
	}
	w.env.Expire(w.recs["expired"].ID)
	w.env.Revoke(w.recs["revoked"].ID)
	w.env.Disable(w.recs["disabled"].ID)

	ok := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.hits.Add(1)
		id, _ := middleware.RequestIDFromContext(r.Context())
		w.lastID.Store(id)
		_, hasKey := middleware.KeyFromContext(r.Context())
		w.lastKey.Store(hasKey)
		w.lastMeth.Store(r.Method)
		rw.Header().Set("Content-Type", "text/plain")
		rw.WriteHeader(http.StatusOK)
		io.WriteString(rw, "ok")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", ok)
	mux.Handle("POST /v1/monitors", ok)
	mux.Handle("GET /v1/monitors/{id}", ok)
	mux.Handle("DELETE /v1/monitors/{id}", ok)
	mux.Handle("GET /v1/keys", middleware.RequireSecret(ok))
	mux.Handle("POST /v1/keys", middleware.RequireSecret(ok))
	// Per-route checks, wrapped in the order the contract lists them...
	mux.Handle("POST /v1/reports", middleware.RequireSecret(middleware.RequireScopes("reports:write")(middleware.RequireEnvironment(apikey.Live)(ok))))
	// ...and in the reverse order: the contract fixes the order of the
	// checks, not the order in which a service happens to nest wrappers.
	mux.Handle("POST /v1/reversed", middleware.RequireEnvironment(apikey.Live)(middleware.RequireScopes("reports:write")(middleware.RequireSecret(ok))))
	mux.Handle("/v1/any", ok) // every method
	mux.Handle("GET /v1/panic", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		w.hits.Add(1)
		id, _ := middleware.RequestIDFromContext(r.Context())
		w.lastID.Store(id)
		panic("cg-internal-detail: db password hunter2 at /srv/app/main.go:42")
	}))
	mux.Handle("GET /healthz", ok)
	mux.Handle("OPTIONS /v1/opt", ok) // a route of its own for OPTIONS
	mux.Handle("GET /v1/export", middleware.RequireWrite(ok))
	mux.Handle("GET /v1/export-scoped", middleware.RequireScopes("reports:write")(middleware.RequireWrite(ok)))
	// A Require wrapper under an ordinary middleware: the Gate cannot see
	// it on the handler, but the contract fixes the order of the checks.
	mux.Handle("POST /v1/wrapped", cgPassThrough(middleware.RequireSecret(ok)))
	// A nested ServeMux, as versioned APIs often mount one: with
	// middleware.StripPrefix the Gate routes through it; with
	// http.StripPrefix it cannot see inside, and must still fail closed.
	inner := http.NewServeMux()
	inner.Handle("GET /things", ok)
	inner.Handle("POST /things", middleware.RequireSecret(ok))
	mux.Handle("/v2/", middleware.StripPrefix("/v2", inner))
	opaque := http.NewServeMux()
	opaque.Handle("GET /things", ok)
	opaque.Handle("POST /things", middleware.RequireSecret(ok))
	mux.Handle("/v3/", http.StripPrefix("/v3", opaque))

	w.verifier = &cgVerifier{inner: w.env.Manager}
	w.rl = &ratelimittest.Recorder{Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: w.env.Clock.Now})}
	policy := o.Policy
	if policy == "" {
		policy = "5/minute"
	}
	throttle := o.Throttle
	if throttle == "" {
		throttle = "3/minute"
	}
	lim, err := ratelimit.ParseLimit(throttle)
	if err != nil {
		t.Fatal(err)
	}
	var cors *middleware.CORS
	if !o.NoCORS {
		origins := o.Origins
		if origins == nil {
			origins = []string{"*"}
		}
		cors = &middleware.CORS{AllowedOrigins: origins}
	}
	g := &middleware.Gate{
		Auth: middleware.Authenticator{
			Verifier: w.verifier,
			Sources:  o.Sources,
			Throttle: &middleware.AuthThrottle{Limit: lim, Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: w.env.Clock.Now}), Now: w.env.Clock.Now},
		},
		RateLimit: &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy(policy), Store: w.rl},
		CORS:      cors,
		TLS:       &middleware.RequireTLS{},
		Public:    []string{"GET /healthz"},
		Errors:    o.Errors,
		Logger:    discardLogger(),
	}
	w.h = g.Handler(mux)
	return w
}

// cgPassThrough is an ordinary middleware that sets a header.
func cgPassThrough(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Wrapped", "1")
		next.ServeHTTP(rw, r)
	})
}

func (w *cgWorld) key(name string) string {
	tok, ok := w.toks[name]
	if !ok {
		w.t.Fatalf("contract test: no key named %q", name)
	}
	return tok.Reveal()
}

// cgChecksum is the checksum of the contract, computed independently:
// CRC-32 (IEEE) of every character before it, base62 (0-9A-Za-z),
// big-endian, zero-padded to 6 digits.
func cgChecksum(s string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := crc32.ChecksumIEEE([]byte(s))
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = digits[v%62]
		v /= 62
	}
	return string(out[:])
}

func (w *cgWorld) forge(prefix, id, secret string) string {
	s := prefix + id + secret
	s += cgChecksum(s)
	w.mu.Lock()
	w.forged = append(w.forged, s)
	w.mu.Unlock()
	return s
}

// unknownKey is a well-formed key (right checksum) whose id no store holds.
func (w *cgWorld) unknownKey() string {
	w.mu.Lock()
	w.nforged++
	n := w.nforged
	w.mu.Unlock()
	return w.forge("sk_live_", fmt.Sprintf("Unknown%05d", n), strings.Repeat("Gu3ss", 7)[:32])
}

// wrongSecret is a well-formed key with name's real prefix and id and
// another secret.
func (w *cgWorld) wrongSecret(name string) string {
	real := w.key(name)
	prefix := real[:len(real)-apikey.BodyLen]
	secret := "WrongSecretWrongSecretWrongSecretWrong"[:32]
	if real[len(prefix)+apikey.IDLen:len(prefix)+apikey.IDLen+apikey.SecretLen] == secret {
		secret = strings.Repeat("x", 32)
	}
	return w.forge(prefix, w.recs[name].ID, secret)
}

// relabel is name's id and secret under another prefix, with a checksum
// recomputed for it.
func (w *cgWorld) relabel(name, prefix string) string {
	real := w.key(name)
	body := real[len(real)-apikey.BodyLen:]
	return w.forge(prefix, body[:apikey.IDLen], body[apikey.IDLen:apikey.IDLen+apikey.SecretLen])
}

// secrets lists every key plaintext of the world, real or forged.
func (w *cgWorld) secrets() []string {
	var out []string
	for _, tok := range w.toks {
		out = append(out, tok.Reveal())
	}
	w.mu.Lock()
	out = append(out, w.forged...)
	w.mu.Unlock()
	return out
}

type cgReq func(w *cgWorld, r *http.Request)

func cgKey(name string) cgReq {
	return func(w *cgWorld, r *http.Request) { r.Header.Add("Authorization", "Bearer "+w.key(name)) }
}
func cgBearer(s string) cgReq {
	return func(w *cgWorld, r *http.Request) { r.Header.Add("Authorization", "Bearer "+s) }
}
func cgUnknown() cgReq {
	return func(w *cgWorld, r *http.Request) { r.Header.Add("Authorization", "Bearer "+w.unknownKey()) }
}
func cgWrong(name string) cgReq {
	return func(w *cgWorld, r *http.Request) { r.Header.Add("Authorization", "Bearer "+w.wrongSecret(name)) }
}
func cgSet(k, v string) cgReq { return func(_ *cgWorld, r *http.Request) { r.Header.Set(k, v) } }
func cgHeaderKey(header, name string) cgReq {
	return func(w *cgWorld, r *http.Request) { r.Header.Add(header, w.key(name)) }
}
func cgQueryKey(name string) cgReq {
	return func(w *cgWorld, r *http.Request) {
		q := r.URL.Query()
		q.Add("api_key", w.key(name))
		r.URL.RawQuery = q.Encode()
	}
}
func cgFrom(ip string) cgReq {
	return func(_ *cgWorld, r *http.Request) { r.RemoteAddr = net.JoinHostPort(ip, "40000") }
}
func cgPlain() cgReq {
	return func(_ *cgWorld, r *http.Request) { r.TLS = nil; r.URL.Scheme = "http" }
}
func cgOrigin(o string) cgReq { return cgSet("Origin", o) }
func cgPreflight(method string) cgReq {
	return func(_ *cgWorld, r *http.Request) {
		r.Header.Set("Origin", "https://app.example.com")
		r.Header.Set("Access-Control-Request-Method", method)
		r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	}
}
func cgWithContext(ctx context.Context) cgReq {
	return func(_ *cgWorld, r *http.Request) { *r = *r.WithContext(ctx) }
}

// req builds an HTTPS request (r.TLS set) from the ordinary client.
func (w *cgWorld) req(method, path string, with ...cgReq) *http.Request {
	r := httptest.NewRequest(method, "https://api.example.com"+path, nil)
	r.RemoteAddr = net.JoinHostPort(cgClient, "40000")
	for _, f := range with {
		f(w, r)
	}
	return r
}

func (w *cgWorld) do(method, path string, with ...cgReq) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, w.req(method, path, with...))
	return rec
}

// block gets addr throttled: as many invalid_api_key answers as the
// throttle allows (3 by default).
func (w *cgWorld) block(addr string) {
	lim, _ := ratelimit.ParseLimit(cmpOr(w.opts.Throttle, "3/minute"))
	for range lim.Capacity() {
		w.do("GET", "/v1/monitors", cgUnknown(), cgFrom(addr))
	}
}

// exhaust spends name's whole rate-limit bucket.
func (w *cgWorld) exhaust(name string, with ...cgReq) {
	p := ratelimit.MustParsePolicy(cmpOr(w.opts.Policy, "5/minute"))
	n := p[0].Capacity()
	for _, l := range p {
		n = min(n, l.Capacity())
	}
	for range n {
		if rec := w.do("GET", "/v1/monitors", append([]cgReq{cgKey(name)}, with...)...); rec.Code != 200 {
			w.t.Fatalf("setup: spending %s's bucket got %s", name, w.desc(rec))
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var cgLongAlnum = regexp.MustCompile(`[A-Za-z0-9]{24,}`)

// scrub redacts anything that could be a key body.
func cgScrub(s string) string { return cgLongAlnum.ReplaceAllString(s, "[redacted]") }

// desc describes a response for a failure message, without any key.
func (w *cgWorld) desc(rec *httptest.ResponseRecorder) string {
	code := ""
	if e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes())); err == nil {
		code = string(e.Code)
	}
	body := rec.Body.String()
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return cgScrub(fmt.Sprintf("%d %s body=%q", rec.Code, code, body))
}

func cgCode(rec *httptest.ResponseRecorder) apierrors.Code {
	e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		return ""
	}
	return e.Code
}

// cgTokens returns the comma-separated tokens of every line of header name,
// lower-cased.
func cgTokens(h http.Header, name string) map[string]bool {
	out := map[string]bool{}
	for _, v := range h.Values(name) {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out[strings.ToLower(tok)] = true
			}
		}
	}
	return out
}

func cgMissing(h http.Header, name string, want ...string) []string {
	got := cgTokens(h, name)
	var miss []string
	for _, w := range want {
		if !got[strings.ToLower(w)] {
			miss = append(miss, w)
		}
	}
	return miss
}

// noLeak fails if the response holds any secret part of a key of the world.
func (w *cgWorld) noLeak(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	var all strings.Builder
	all.Write(rec.Body.Bytes())
	for k, vs := range rec.Header() {
		all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	for _, s := range w.secrets() {
		if len(s) < apikey.BodyLen {
			continue
		}
		body := s[len(s)-apikey.BodyLen:]
		if strings.Contains(all.String(), body[apikey.IDLen:apikey.IDLen+apikey.SecretLen]) {
			t.Errorf("the response contains the secret of a presented key\n  contract: %q", "A key is shown in full once, when created. Everywhere else (logs, errors, listings) it appears redacted: service, type, env and id, never a secret char.")
			return
		}
	}
}

var cgReqIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ---------------------------------------------------------------------------
// Table runner: every case gets a fresh world; the generic rules of the
// contract are checked on every response.

type cgCase struct {
	name     string
	contract string
	opts     cgOptions
	setup    func(w *cgWorld)
	method   string
	path     string
	with     []cgReq
	status   int
	code     apierrors.Code
	hits     int64    // handler runs expected
	headers  []string // headers that must be present
	check    func(t *testing.T, w *cgWorld, rec *httptest.ResponseRecorder)
}

func cgRun(t *testing.T, cases []cgCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newCGWorld(t, tc.opts)
			if tc.setup != nil {
				tc.setup(w)
			}
			w.hits.Store(0)
			w.lookBase = w.store.lookups.Load()
			rec := w.do(tc.method, tc.path, tc.with...)
			cgCheck(t, w, tc, rec)
		})
	}
}

func cgCheck(t *testing.T, w *cgWorld, tc cgCase, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != tc.status || (tc.code != "" && cgCode(rec) != tc.code) {
		t.Errorf("%s %s: got %s, want %d %s\n  contract: %q", tc.method, tc.path, w.desc(rec), tc.status, tc.code, tc.contract)
	}
	if got := w.hits.Load(); got != tc.hits {
		t.Errorf("%s %s: the handler ran %d times, want %d (answer %s)\n  contract: %q", tc.method, tc.path, got, tc.hits, w.desc(rec), cgSentNoHandler+" / "+tc.contract)
	}
	for _, h := range tc.headers {
		if rec.Header().Get(h) == "" {
			t.Errorf("%s %s: answer %d has no %s header\n  contract: %q", tc.method, tc.path, rec.Code, h, tc.contract)
		}
	}
	cgGeneric(t, w, tc.method, rec)
	if tc.check != nil {
		tc.check(t, w, rec)
	}
}

// cgGeneric checks what the contract says of every answer.
func cgGeneric(t *testing.T, w *cgWorld, method string, rec *httptest.ResponseRecorder) {
	t.Helper()
	id := rec.Header().Get("X-Request-Id")
	if id == "" {
		t.Errorf("answer %d has no X-Request-Id\n  contract: %q", rec.Code, cgSentReqIDAll)
	}
	switch rec.Code {
	case 401:
		if rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("a 401 (%s) without WWW-Authenticate\n  contract: %q", w.desc(rec), cgSentWWW)
		}
	case 429, 503:
		ra := rec.Header().Get("Retry-After")
		if n, err := strconv.ParseInt(ra, 10, 64); err != nil || n < 0 {
			t.Errorf("a %d with Retry-After %q, want delta-seconds\n  contract: %q", rec.Code, ra, cgSent429+" / "+cgSentStore)
		}
	case 405:
		if rec.Header().Get("Allow") == "" {
			t.Errorf("a 405 without Allow\n  contract: %q", cgSent404405)
		}
	}
	if method == "HEAD" && rec.Code >= 400 && rec.Body.Len() != 0 {
		t.Errorf("an error answer to HEAD with a %d-byte body (doc: Write ... sends no body in response to HEAD)", rec.Body.Len())
	}
	if rec.Code >= 400 && method != "HEAD" && w.opts.Errors.Encoding == apierrors.EncodingObject {
		e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Errorf("error answer %d is not a JSON error body: %v (%s)\n  contract: %q", rec.Code, err, w.desc(rec), cgSentBody)
		} else {
			if e.Status != rec.Code {
				t.Errorf("body status %d, response status %d\n  contract: %q", e.Status, rec.Code, cgSentBody)
			}
			if e.RequestID != id {
				t.Errorf("body request_id %q, X-Request-Id header %q\n  contract: %q", cgScrub(e.RequestID), cgScrub(id), cgSentReqIDAll)
			}
		}
	}
	w.noLeak(t, rec)
}

// ---------------------------------------------------------------------------
// The key format, as far as the tests below depend on it.
