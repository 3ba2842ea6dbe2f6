package service

// Helpers for the end-to-end tests of the reference service. The tests hold
// the service to the contract of the reference service: they talk to it only
// over HTTP (httptest servers, or the real binary), with a fake clock so that
// expiry, grace periods and rate limits need no sleeping.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/google/go-cmp/cmp"
)

// ---- fake clock ----

// The start time is deliberately not in UTC (and not on a second boundary
// in UTC terms of its zone) so that the API's "RFC 3339 UTC" promise is
// actually exercised.
var clockStart = time.Date(2031, 3, 4, 5, 6, 7, 0, time.FixedZone("UTC+5", 5*60*60))

func newFakeClock() *apikeytest.Clock { return apikeytest.NewClock(clockStart) }

// ---- a concurrency-safe log sink ----

type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every Write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.b.Write(p)
}

// next returns a channel that is closed at the next Write.
func (b *syncBuffer) next() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.changed
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ---- the in-process service ----

type envSettings struct {
	cfg Config
	tls bool
}

type option func(*envSettings)

func withRate(s string) option {
	return func(e *envSettings) { e.cfg.Rate = ratelimit.MustParsePolicy(s) }
}

func withAuthFailureRate(s string) option {
	return func(e *envSettings) {
		l, err := ratelimit.ParseLimit(s)
		if err != nil {
			panic(err)
		}
		e.cfg.AuthFailureRate = l
	}
}

func withConfig(f func(*Config)) option { return func(e *envSettings) { f(&e.cfg) } }

func withTLS() option { return func(e *envSettings) { e.tls = true } }

// testEnv is one running service with its fake clock, its log output and
// every plaintext key the test has learnt (for leak checks).
type testEnv struct {
	t      *testing.T
	s      *Service
	srv    *httptest.Server
	client *http.Client
	clock  *apikeytest.Clock
	logs   *syncBuffer
	admin  string // the admin key's plaintext

	mu    sync.Mutex
	known []string // plaintext keys that must never be echoed
}

func newTestEnv(t *testing.T, opts ...option) *testEnv {
	t.Helper()
	clock := newFakeClock()
	logs := &syncBuffer{}
	st := envSettings{cfg: Config{
		Rate:            ratelimit.MustParsePolicy("1000/minute,100000/day"),
		AuthFailureRate: ratelimit.PerMinute(100),
		CORSOrigins:     []string{"*"},
		ErrorEncoding:   apierrors.EncodingObject,
		Now:             clock.Now,
		Logger:          slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}}
	for _, o := range opts {
		o(&st)
	}
	s, err := New(st.cfg)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	e := &testEnv{t: t, s: s, clock: clock, logs: logs}
	// Registered first, so it runs last: after the server has been closed
	// and its last log lines (and last-used flushes) are written.
	t.Cleanup(e.checkLogs)

	srv := httptest.NewUnstartedServer(s.handler)
	srv.Config.MaxHeaderBytes = 64 << 10 // as main.go does
	if st.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.Close()
		if err := s.Close(); err != nil {
			t.Errorf("server close: %v", err)
		}
	})
	e.srv = srv
	e.client = srv.Client()
	e.client.Timeout = 10 * time.Second

	switch {
	case st.cfg.AdminKey != "":
		e.admin = st.cfg.AdminKey
	case !s.generatedAdminKey.IsZero():
		e.admin = s.generatedAdminKey.Reveal()
	default:
		t.Fatal("no admin key configured and none generated")
	}
	e.remember(e.admin)
	return e
}

// remember records a plaintext key that must never appear in a response
// (other than the key field of the create/roll response that returned it)
// or in a log line.
func (e *testEnv) remember(key string) {
	e.mu.Lock()
	e.known = append(e.known, key)
	e.mu.Unlock()
}

func (e *testEnv) secrets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.known)
}

// checkLogs fails the test when a log line holds a plaintext key or a
// key's secret part.
func (e *testEnv) checkLogs() {
	logs := e.logs.String()
	for _, k := range e.secrets() {
		for _, s := range leakForms(k) {
			if strings.Contains(logs, s) {
				e.t.Errorf("the service's logs contain a plaintext key (or its secret) %.16s…", s)
			}
		}
	}
}

// leakForms is what must not be echoed of a presented string: the string
// itself and, for a well-formed key, its 32-character secret part.
func leakForms(k string) []string {
	forms := []string{k}
	if tok, err := apikey.Parse(k); err == nil {
		// body = id(12) secret(32) checksum(6)
		full := tok.Reveal()
		forms = append(forms, full[len(full)-38:len(full)-6])
	}
	return forms
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

// Request modifiers.

func header(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Add(k, v) }
}

func contentType(v string) func(*http.Request) {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del("Content-Type")
		} else {
			r.Header.Set("Content-Type", v)
		}
	}
}

// do sends a request. key, if not empty, is sent as a Bearer token. body is
// nil (none), a string or []byte (sent as is), or a value (JSON-encoded);
// any body is labelled application/json unless a modifier says otherwise.
// Every response is checked for X-Request-Id and for leaked keys.
func (e *testEnv) do(method, path, key string, body any, mods ...func(*http.Request)) response {
	e.t.Helper()
	return doRequest(e.t, e.client, e.srv.URL, method, path, key, body, e.secrets(), mods...)
}

func doRequest(t *testing.T, client *http.Client, base, method, path, key string, body any, known []string, mods ...func(*http.Request)) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for _, m := range mods {
		m(req)
	}
	presented := presentedCredentials(req)
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	r := response{Status: res.StatusCode, Header: res.Header, Body: b}

	if !validRequestIDHeader(res.Header.Get("X-Request-Id")) {
		t.Errorf("%s %s: response %d has X-Request-Id %q; every response must carry a valid one",
			method, path, res.StatusCode, res.Header.Get("X-Request-Id"))
	}
	checkNoLeak(t, method+" "+path, r, append(slices.Clone(known), presented...))
	return r
}

// requestIDPattern is the request-id rule of the contract.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func validRequestIDHeader(id string) bool { return requestIDPattern.MatchString(id) }

// presentedCredentials extracts what a request presents as a key, from
// Authorization (any scheme, Basic decoded), X-API-Key and the api_key
// query parameter. Short strings are ignored (they could appear in a body
// by coincidence).
func presentedCredentials(r *http.Request) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 20 {
			out = append(out, s)
		}
	}
	for _, v := range r.Header.Values("Authorization") {
		scheme, cred, _ := strings.Cut(v, " ")
		add(cred)
		if strings.EqualFold(scheme, "basic") {
			if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
				user, _, _ := strings.Cut(string(dec), ":")
				add(user)
			}
		}
	}
	for _, v := range r.Header.Values("X-API-Key") {
		add(v)
	}
	for _, v := range r.URL.Query()["api_key"] {
		add(v)
	}
	return out
}

// checkNoLeak fails when a response header or body contains a known or
// presented key, except the "key" field of a 201 create/roll response.
func checkNoLeak(t *testing.T, what string, r response, keys []string) {
	t.Helper()
	body := string(r.Body)
	if r.Status == http.StatusCreated {
		var m map[string]any
		if json.Unmarshal(r.Body, &m) == nil {
			if k, ok := m["key"].(string); ok && k != "" {
				body = strings.Replace(body, `"key":"`+k+`"`, `"key":"<the one allowed copy>"`, 1)
				keys = append(keys, k) // must not appear a second time
			}
		}
	}
	var hdr strings.Builder
	for name, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&hdr, "%s: %s\n", name, v)
		}
	}
	for _, k := range keys {
		for _, s := range leakForms(k) {
			if strings.Contains(body, s) {
				t.Errorf("%s: response body leaks a plaintext key (or its secret) %.16s…: %.300s", what, s, r.Body)
			}
			if strings.Contains(hdr.String(), s) {
				t.Errorf("%s: response headers leak a plaintext key (or its secret) %.16s…", what, s)
			}
		}
	}
}

// ---- error bodies ----

// errBody is an error body as the tests compare it.
type errBody struct {
	Status    int
	Code      string
	Message   string
	Param     string
	RequestID string
	DocURL    string
	Details   map[string]any
}

// errorFields are the members the contract allows in the error object.
var errorFields = map[string]bool{"status": true, "code": true, "message": true, "param": true,
	"request_id": true, "doc_url": true, "details": true}

// decodeErr reads r's error body with apierrors.Decode, after checking
// that it has the contract's shape and nothing more.
func decodeErr(t *testing.T, r response) (errBody, bool) {
	t.Helper()
	var shape map[string]map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &shape); err != nil || len(shape) != 1 || shape["error"] == nil {
		t.Errorf("error body is not gatekey's {\"error\":{…}} object: %v; body: %.400s", err, r.Body)
		return errBody{}, false
	}
	for k := range shape["error"] {
		if !errorFields[k] {
			t.Errorf("error body has a member %q the contract does not name; body: %.400s", k, r.Body)
		}
	}
	e, err := apierrors.Decode(bytes.NewReader(r.Body))
	if err != nil {
		t.Errorf("error body: %v; body: %.400s", err, r.Body)
		return errBody{}, false
	}
	return errBody{Status: e.Status, Code: string(e.Code), Message: e.Message, Param: e.Param,
		RequestID: e.RequestID, DocURL: e.DocURL, Details: e.Details}, true
}

// errorCode returns the code of r's error body.
func errorCode(t *testing.T, r response) string {
	t.Helper()
	e, _ := decodeErr(t, r)
	return e.Code
}

// wantError checks that r is gatekey's JSON error with this status and
// code, and the headers its status requires.
func wantError(t *testing.T, r response, status int, code string) errBody {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d (%s); body: %.400s", r.Status, status, code, r.Body)
		return errBody{}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", r.Header.Get("Content-Type"))
	}
	got, ok := decodeErr(t, r)
	if !ok {
		return errBody{}
	}
	if got.Status != status || got.Code != code {
		t.Errorf("error = {status %d, code %q}, want {status %d, code %q}; body: %.400s", got.Status, got.Code, status, code, r.Body)
	}
	if got.Message == "" {
		t.Errorf("error %q has an empty message", got.Code)
	}
	if rid := r.Header.Get("X-Request-Id"); got.RequestID != rid {
		t.Errorf("error request_id = %q, X-Request-Id header = %q; want them equal", got.RequestID, rid)
	}
	wantStatusHeaders(t, r)
	return got
}

// wantStatusHeaders checks the headers the contract ties to a status.
func wantStatusHeaders(t *testing.T, r response) {
	t.Helper()
	switch r.Status {
	case http.StatusUnauthorized:
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 0 {
			t.Errorf("%d has Retry-After %q, want a number of seconds", r.Status, r.Header.Get("Retry-After"))
		}
	case http.StatusMethodNotAllowed:
		if r.Header.Get("Allow") == "" {
			t.Errorf("405 without Allow")
		}
	}
}

// wantRateLimitHeaders checks the headers of an authenticated response.
func wantRateLimitHeaders(t *testing.T, r response) {
	t.Helper()
	if r.Header.Get("RateLimit-Policy") == "" || r.Header.Get("RateLimit") == "" {
		t.Errorf("authenticated response %d lacks RateLimit-Policy/RateLimit headers (got %q / %q)",
			r.Status, r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"))
	}
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %.400s", r.Status, status, r.Body)
	}
}

// ---- key metadata ----

type limitJ struct {
	Requests      int   `json:"requests"`
	WindowSeconds int64 `json:"window_seconds"`
}

type keyMeta struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Environment string  `json:"environment"`
	Permission  string  `json:"permission"`
	Status      string  `json:"status"`
	CreatedAt   *string `json:"created_at"`
	ExpiresAt   *string `json:"expires_at"`
	LastUsedAt  *string `json:"last_used_at"`
	Key         string  `json:"key,omitempty"`
	RateLimit   *struct {
		Limits []limitJ `json:"limits"`
	} `json:"rate_limit,omitempty"`
}

var metaFields = []string{"id", "name", "type", "environment", "permission", "status", "created_at", "expires_at", "last_used_at"}

// meFields are the fields GET /v1/me adds to a key's metadata.
var meFields = []string{"rate_limit", "tier", "credits_remaining", "monthly_allowance", "credits_reset_at"}

// checkMeta checks the shape of one metadata object: exactly the
// contract's fields plus extra, RFC 3339 UTC times or null.
func checkMeta(t *testing.T, raw json.RawMessage, extra ...string) keyMeta {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("key metadata is not a JSON object: %v: %.300s", err, raw)
	}
	var got []string
	for f := range fields {
		got = append(got, f)
	}
	want := append(slices.Clone(metaFields), extra...)
	slices.Sort(got)
	slices.Sort(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("key metadata fields (-want +got):\n%s", d)
	}
	for _, f := range []string{"hash", "secret", "key_hash"} {
		if _, ok := fields[f]; ok {
			t.Errorf("key metadata exposes %q", f)
		}
	}
	for _, f := range []string{"created_at", "expires_at", "last_used_at"} {
		v := fields[f]
		if string(v) == "null" {
			if f == "created_at" {
				t.Errorf("created_at is null")
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Errorf("%s = %s, want an RFC 3339 string or null", f, v)
			continue
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") {
			t.Errorf("%s = %q, want RFC 3339 in UTC (…Z)", f, s)
		}
	}
	var m keyMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode key metadata: %v", err)
	}
	if !validKeyIDShape(m.ID) {
		t.Errorf("id %q is not the key's 12-character public id", m.ID)
	}
	if m.Key != "" {
		tok, err := apikey.Parse(m.Key)
		if err != nil {
			t.Errorf("key field is not a well-formed key: %v", err)
		} else if tok.ID() != m.ID {
			t.Errorf("key field's id %q != id %q", tok.ID(), m.ID)
		}
	}
	return m
}

func validKeyIDShape(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// rfc(t) is t as the API must show it.
func rfc(t time.Time) *string {
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// ---- crafting keys ----

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// withChecksum appends the key format's checksum to s.
func withChecksum(s string) string {
	c := crc32.ChecksumIEEE([]byte(s))
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = base62[c%62]
		c /= 62
	}
	return s + string(d[:])
}

// wrongSecret returns a well-formed key with key's id and a different
// secret (and a correct checksum).
func wrongSecret(t *testing.T, key string) string {
	t.Helper()
	prefix, body := key[:len(key)-50], key[len(key)-50:]
	secret := []byte(body[12:44])
	for i := range secret {
		secret[i] = base62[(strings.IndexByte(base62, secret[i])+1)%62]
	}
	k := withChecksum(prefix + body[:12] + string(secret))
	if _, err := apikey.Parse(k); err != nil {
		t.Fatalf("crafted wrong-secret key does not parse: %v", err)
	}
	return k
}

func generate(t *testing.T, typ apikey.Type, env apikey.Environment) string {
	t.Helper()
	tok, err := apikey.Format{}.Generate(nil, typ, env)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return tok.Reveal()
}

// createKey creates a key through the API and returns its metadata (with
// the plaintext in Key), remembering the plaintext for leak checks.
func (e *testEnv) createKey(caller string, body any) keyMeta {
	e.t.Helper()
	r := e.do("POST", "/v1/keys", caller, body)
	wantStatus(e.t, r, http.StatusCreated)
	m := checkMeta(e.t, r.Body, "key")
	if m.Key == "" {
		e.t.Fatalf("create response has no key: %s", r.Body)
	}
	e.remember(m.Key)
	return m
}

// mint creates a key directly through the manager, for set-ups the API
// cannot express (another environment, network restrictions).
func (e *testEnv) mint(p apikey.CreateParams) string {
	e.t.Helper()
	tok, _, err := e.s.mgr.Create(context.Background(), p)
	if err != nil {
		e.t.Fatalf("mint: %v", err)
	}
	e.remember(tok.Reveal())
	return tok.Reveal()
}

func decodeJSON[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %T: %v; body: %.400s", v, err, r.Body)
	}
	return v
}

type listJ struct {
	Data []json.RawMessage `json:"data"`
}

// use points e's helpers at a subtest until the returned func is called.
func (e *testEnv) use(t *testing.T) func() {
	parent := e.t
	e.t = t
	return func() { e.t = parent }
}

func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
