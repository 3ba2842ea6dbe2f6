package idempotency_test

// Adversarial tests of package idempotency, written from the package's
// doc comments, not from the code.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/idempotencystoretest"
)

// iadvClock is a fake clock that moves only when told to.
type iadvClock struct {
	mu sync.Mutex
	t  time.Time
}

func newIadvClock() *iadvClock {
	return &iadvClock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *iadvClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *iadvClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func iadvFP(s string) idempotency.Fingerprint {
	r := httptest.NewRequest("POST", "/x", strings.NewReader(s))
	fp, err := idempotency.ReadRequest(r, 1<<20)
	if err != nil {
		panic(err)
	}
	return fp
}

// ---------------------------------------------------------------- ParseKey

func TestIdemAdvParseKeyAccepts(t *testing.T) {
	long := strings.Repeat("k", 255)
	var all strings.Builder
	for c := byte(0x21); c <= 0x7e; c++ {
		if c == '"' {
			continue
		}
		all.WriteByte(c)
	}
	for _, tc := range []struct{ in, want string }{
		{"a", "a"},
		{"abc", "abc"},
		{`"abc"`, "abc"},
		{long, long},
		{`"` + long + `"`, long},
		{all.String(), all.String()},
		{`a"b`, `a"b`},         // a quote not at the start is just a character
		{`"a\"b"`, `a"b`},      // escaped quote
		{`a\b`, `a\b`},         // bare backslash
		{`"a\\b"`, `a\b`},      // escaped backslash
		{`"\"abc"`, `"abc`},    // a key that starts with a quote, only as a string
		{"abc;p=1", "abc;p=1"}, // bare: ';' and '=' are visible ASCII
		{"abc,def", "abc,def"},
		{`"` + strings.Repeat(`\\`, 255) + `"`, strings.Repeat(`\`, 255)}, // 255 escaped chars: 512 header bytes
	} {
		got, err := idempotency.ParseKey(tc.in)
		if err != nil {
			t.Errorf("ParseKey(%q): %v, want %q", tc.in, err, tc.want)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIdemAdvParseKeyBareAndStringSame(t *testing.T) {
	for _, bare := range []string{"abc", "A-1_2.3~x", `x\y`, `x"y`, "(){}[]<>", strings.Repeat("Z", 255)} {
		var q strings.Builder
		q.WriteByte('"')
		for i := 0; i < len(bare); i++ {
			if bare[i] == '"' || bare[i] == '\\' {
				q.WriteByte('\\')
			}
			q.WriteByte(bare[i])
		}
		q.WriteByte('"')
		a, err1 := idempotency.ParseKey(bare)
		b, err2 := idempotency.ParseKey(q.String())
		if err1 != nil || err2 != nil {
			t.Errorf("ParseKey(%q) err %v; ParseKey(%q) err %v", bare, err1, q.String(), err2)
			continue
		}
		if a != b {
			t.Errorf("bare %q → %q but string %q → %q: must be the same key", bare, a, q.String(), b)
		}
	}
	// Case matters: keys are opaque.
	a, _ := idempotency.ParseKey("abc")
	b, _ := idempotency.ParseKey("ABC")
	if a == b {
		t.Errorf("abc and ABC parse to the same key %q", a)
	}
}

func TestIdemAdvParseKeyRejects(t *testing.T) {
	const marker = "SeCrEtMaRkEr"
	for _, in := range []string{
		"",
		`""`,                     // empty string
		strings.Repeat("k", 256), // too long
		`"` + strings.Repeat("k", 256) + `"`,
		`"` + strings.Repeat(`\\`, 256) + `"`,
		" ",
		"a b",
		marker + " x",
		"a\tb",
		"\t" + marker,
		marker + "\x7f",
		marker + "\x00",
		marker + "\r\n",
		"\x1f" + marker,
		marker + "é",
		"é",
		"\xff" + marker,
		`"` + marker,           // unterminated
		`"` + marker + `"x`,    // trailing garbage
		`"` + marker + `";p=1`, // parameters
		`"` + marker + `"; p=1`,
		`"` + marker + `\n"`, // only \" and \\ may be escaped
		`"` + marker + `\"`,  // escape eats the closing quote
		`"` + marker + `\`,
		`"` + marker + ` x"`, // space is not visible ASCII
		`"` + marker + "\x7f" + `"`,
		`"` + marker + "é" + `"`,
		`"` + marker + `""`,
		`"` + marker + `", "x"`, // a list, not one string
	} {
		got, err := idempotency.ParseKey(in)
		if err == nil {
			t.Errorf("ParseKey(%q) = %q, want an error", in, got)
			continue
		}
		if !errors.Is(err, idempotency.ErrInvalidKey) {
			t.Errorf("ParseKey(%q) error %v does not wrap ErrInvalidKey", in, err)
		}
		if len(in) > 2 && strings.Contains(err.Error(), in) || strings.Contains(err.Error(), marker) {
			t.Errorf("ParseKey(%q) error %q repeats the value", in, err)
		}
	}
}

// --------------------------------------------------------------- ReadRequest

func TestIdemAdvFingerprintDistinguishes(t *testing.T) {
	type req struct{ method, target, body string }
	fpOf := func(t *testing.T, q req) idempotency.Fingerprint {
		t.Helper()
		var body io.Reader
		if q.body != "" {
			body = strings.NewReader(q.body)
		}
		r := httptest.NewRequest(q.method, q.target, body)
		fp, err := idempotency.ReadRequest(r, 1<<20)
		if err != nil {
			t.Fatalf("ReadRequest(%v): %v", q, err)
		}
		return fp
	}
	for _, tc := range []struct {
		name string
		a, b req
	}{
		{"method", req{"POST", "/a", "x"}, req{"PUT", "/a", "x"}},
		{"method case", req{"POST", "/a", "x"}, req{"post", "/a", "x"}},
		{"unknown method", req{"PURGE", "/a", "x"}, req{"FOO", "/a", "x"}},
		{"path", req{"POST", "/a", "x"}, req{"POST", "/b", "x"}},
		{"trailing slash", req{"POST", "/a", "x"}, req{"POST", "/a/", "x"}},
		{"query", req{"POST", "/a?x=1", "x"}, req{"POST", "/a?x=2", "x"}},
		{"query vs none", req{"POST", "/a?", "x"}, req{"POST", "/a?x", "x"}},
		{"body", req{"POST", "/a", "x"}, req{"POST", "/a", "y"}},
		{"body vs none", req{"POST", "/a", ""}, req{"POST", "/a", " "}},
		// No ambiguity between the parts: moving bytes across a boundary
		// must change the fingerprint.
		{"path|body boundary", req{"POST", "/ab", "c"}, req{"POST", "/a", "bc"}},
		{"query|body boundary", req{"POST", "/a?x=1", "2"}, req{"POST", "/a?x=12", ""}},
		{"path|query boundary", req{"POST", "/a%3Fb", "x"}, req{"POST", "/a?b", "x"}},
		{"method|path boundary", req{"POST", "/a", "x"}, req{"POS", "/a", "x"}},
		{"escaped slash", req{"POST", "/a%2Fb", "x"}, req{"POST", "/a/b", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fpOf(t, tc.a) == fpOf(t, tc.b) {
				t.Errorf("%v and %v have the same fingerprint", tc.a, tc.b)
			}
		})
	}
}

func TestIdemAdvFingerprintStable(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10000)
	r1 := httptest.NewRequest("POST", "/v1/x?y=1", bytes.NewReader(body))
	r2 := httptest.NewRequest("POST", "/v1/x?y=1", iotest.OneByteReader(bytes.NewReader(body)))
	r2.Header.Set("Content-Type", "text/plain") // headers are not part of it
	r2.Header.Set("Authorization", "Bearer other")
	f1, err1 := idempotency.ReadRequest(r1, int64(len(body)))
	f2, err2 := idempotency.ReadRequest(r2, int64(len(body)))
	if err1 != nil || err2 != nil {
		t.Fatalf("ReadRequest: %v, %v", err1, err2)
	}
	if f1 != f2 {
		t.Errorf("same request read in different chunks: %s vs %s", f1, f2)
	}
	for i, r := range []*http.Request{r1, r2} {
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("request %d: handler reads %d bytes (err %v), want the whole %d-byte body", i, len(got), err, len(body))
		}
	}
	// nil body and http.NoBody are empty bodies.
	rn := httptest.NewRequest("POST", "/v1/x?y=1", nil)
	rn.Body = nil
	rnb := httptest.NewRequest("POST", "/v1/x?y=1", nil)
	rnb.Body = http.NoBody
	re := httptest.NewRequest("POST", "/v1/x?y=1", strings.NewReader(""))
	fn, err := idempotency.ReadRequest(rn, 10)
	if err != nil {
		t.Fatalf("nil body: %v", err)
	}
	fnb, err := idempotency.ReadRequest(rnb, 10)
	if err != nil {
		t.Fatalf("NoBody: %v", err)
	}
	fe, err := idempotency.ReadRequest(re, 10)
	if err != nil {
		t.Fatalf("empty body: %v", err)
	}
	if fn != fnb || fn != fe {
		t.Errorf("nil %s, NoBody %s, empty %s: want one fingerprint", fn, fnb, fe)
	}
	if fn.String() != fmt.Sprintf("%x", [32]byte(fn)) || len(fn.String()) != 64 {
		t.Errorf("String() = %q, want 64 hex digits", fn.String())
	}
}

func TestIdemAdvReadRequestLimit(t *testing.T) {
	for _, tc := range []struct {
		n, max int64
		ok     bool
	}{
		{0, 0, true},
		{1, 0, false},
		{99, 100, true},
		{100, 100, true},
		{101, 100, false},
		{1 << 16, 100, false},
	} {
		body := bytes.Repeat([]byte{'b'}, int(tc.n))
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		_, err := idempotency.ReadRequest(r, tc.max)
		if tc.ok {
			if err != nil {
				t.Errorf("%d bytes, max %d: %v", tc.n, tc.max, err)
				continue
			}
			got, _ := io.ReadAll(r.Body)
			if !bytes.Equal(got, body) {
				t.Errorf("%d bytes, max %d: body put back is %d bytes", tc.n, tc.max, len(got))
			}
		} else if !errors.Is(err, idempotency.ErrBodyTooLarge) {
			t.Errorf("%d bytes, max %d: err %v, want ErrBodyTooLarge", tc.n, tc.max, err)
		}
	}
	// A lying Content-Length changes nothing.
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("z", 50)))
	r.ContentLength = 5
	if _, err := idempotency.ReadRequest(r, 10); !errors.Is(err, idempotency.ErrBodyTooLarge) {
		t.Errorf("50 bytes with Content-Length 5, max 10: err %v, want ErrBodyTooLarge", err)
	}
	// The error of a failing body is returned as it is.
	boom := errors.New("boom")
	r = httptest.NewRequest("POST", "/", nil)
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)))
	if _, err := idempotency.ReadRequest(r, 100); !errors.Is(err, boom) {
		t.Errorf("failing body: err %v, want %v", err, boom)
	}
}

// ------------------------------------------------------------------ Answer

func TestIdemAdvAnswerRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<16)
	for _, a := range []idempotency.Answer{
		{Status: 200},
		{Status: 204, Header: http.Header{}},
		{Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/x/1"}}, Body: []byte(`{"id":1}`)},
		{Status: 400, Header: http.Header{"Content-Type": {"a", "b", ""}}, Body: []byte{0}},
		{Status: 999, Body: big},
		{Status: 100, Header: http.Header{"Content-Language": {strings.Repeat("x", 70000)}}},
	} {
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Errorf("MarshalBinary(%d): %v", a.Status, err)
			continue
		}
		var got idempotency.Answer
		if err := got.UnmarshalBinary(enc); err != nil {
			t.Errorf("UnmarshalBinary(MarshalBinary(%d)): %v", a.Status, err)
			continue
		}
		norm := func(x idempotency.Answer) idempotency.Answer {
			if len(x.Header) == 0 {
				x.Header = nil
			}
			if len(x.Body) == 0 {
				x.Body = nil
			}
			return x
		}
		if d := cmp.Diff(norm(a), norm(got)); d != "" {
			t.Errorf("round trip of status %d (-want +got):\n%.2000s", a.Status, d)
		}
		// Body is a copy.
		if len(enc) > 0 && len(got.Body) > 0 {
			want := append([]byte(nil), got.Body...)
			for i := range enc {
				enc[i] ^= 0x5a
			}
			if !bytes.Equal(got.Body, want) {
				t.Errorf("status %d: decoded body changed with the encoding: not a copy", a.Status)
			}
		}
		// AppendBinary appends.
		prefix := []byte("PREFIX")
		out, err := a.AppendBinary(append([]byte(nil), prefix...))
		if err != nil || !bytes.HasPrefix(out, prefix) {
			t.Errorf("AppendBinary lost the prefix (err %v)", err)
			continue
		}
		var got2 idempotency.Answer
		if err := got2.UnmarshalBinary(out[len(prefix):]); err != nil {
			t.Errorf("UnmarshalBinary(AppendBinary): %v", err)
		}
	}
}

func TestIdemAdvAnswerCorruptNoPanic(t *testing.T) {
	a := idempotency.Answer{Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/x"}}, Body: []byte(`{"id":"abc"}`)}
	enc, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		var x idempotency.Answer
		return x.UnmarshalBinary(b)
	}
	// Every strict prefix that cuts the status or the headers is malformed.
	// (The body is "the rest" of the encoding, so a cut in the body cannot
	// be detected: see TestIdemAdvAnswerTruncatedBody.)
	for i := 0; i < len(enc)-len(a.Body); i++ {
		err := decode(enc[:i])
		if err == nil {
			t.Errorf("prefix of %d/%d bytes decoded without error", i, len(enc))
		} else if !errors.Is(err, idempotency.ErrBadAnswer) {
			t.Errorf("prefix of %d/%d bytes: %v, want ErrBadAnswer", i, len(enc), err)
		}
	}
	// Single-byte mutations never panic.
	for i := range enc {
		for _, v := range []byte{0, 0xff, 0x7f, 0x80} {
			m := append([]byte(nil), enc...)
			m[i] = v
			if err := decode(m); err != nil && strings.HasPrefix(err.Error(), "panic") {
				t.Fatalf("byte %d set to %#x: %v", i, v, err)
			}
		}
	}
	// Huge length prefixes must not allocate wildly or panic.
	for _, b := range [][]byte{
		bytes.Repeat([]byte{0xff}, 64),
		append([]byte{enc[0]}, bytes.Repeat([]byte{0xff}, 20)...),
	} {
		if err := decode(b); err == nil {
			t.Errorf("%x decoded without error", b)
		}
	}
}

func TestIdemAdvKeptHeaders(t *testing.T) {
	kept := map[string]bool{}
	for _, h := range idempotency.KeptHeaders() {
		kept[http.CanonicalHeaderKey(h)] = true
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("KeptHeaders has non-canonical %q", h)
		}
	}
	for _, h := range []string{"Content-Type", "Location"} {
		if !kept[h] {
			t.Errorf("KeptHeaders() lacks %s", h)
		}
	}
	for _, h := range []string{"X-Request-Id", "Set-Cookie", "Cache-Control", "Ratelimit", "Ratelimit-Policy", "X-Ratelimit-Remaining", "Retry-After", "Date", "Idempotent-Replayed", "Www-Authenticate", "Access-Control-Allow-Origin", "Vary", "Expires", "Age", "Etag"} {
		if kept[h] {
			t.Errorf("KeptHeaders() keeps per-request header %s", h)
		}
	}
	in := http.Header{
		"Content-Type":     {"application/json"},
		"Location":         {"/v1/x/1"},
		"X-Request-Id":     {"req_1"},
		"Set-Cookie":       {"s=1"},
		"Cache-Control":    {"no-store"},
		"Ratelimit":        {"limit=1"},
		"Ratelimit-Policy": {"1;w=60"},
	}
	got := idempotency.KeepHeaders(in)
	want := http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/x/1"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("KeepHeaders (-want +got):\n%s", d)
	}
	got["Content-Type"][0] = "changed"
	got.Set("Location", "changed")
	if in.Get("Content-Type") != "application/json" || in.Get("Location") != "/v1/x/1" {
		t.Errorf("KeepHeaders shares storage with its input: %v", in)
	}
	if h := idempotency.KeepHeaders(http.Header{"X-Request-Id": {"x"}, "Set-Cookie": {"y"}}); h != nil {
		t.Errorf("KeepHeaders of per-request headers only = %v, want nil", h)
	}
	if h := idempotency.KeepHeaders(nil); h != nil {
		t.Errorf("KeepHeaders(nil) = %v, want nil", h)
	}
}

// TestIdemAdvAnswerTruncatedBody documents that a truncated encoding decodes
// to a shorter body without an error: the encoding has no body length. A
// byte store that truncates a value (a column too narrow, a proxy cutting a
// value) would replay a cut answer as if it were whole. The contract does
// not ask for detection, so this only logs.
func TestIdemAdvAnswerTruncatedBody(t *testing.T) {
	a := idempotency.Answer{Status: 201, Body: []byte(`{"id":"abc"}`)}
	enc, _ := a.MarshalBinary()
	var got idempotency.Answer
	if err := got.UnmarshalBinary(enc[:len(enc)-3]); err == nil {
		t.Logf("AMBIGUITY: a truncated encoding decodes without error to body %q (want %q)", got.Body, a.Body)
	}
}

// ------------------------------------------------------------- MemoryStore

const iadvLock = time.Minute
const iadvRetain = 24 * time.Hour

func TestIdemAdvMemoryClaimProtocol(t *testing.T) {
	ctx := context.Background()
	clk := newIadvClock()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: clk.Now})
	fpA, fpB := iadvFP("a"), iadvFP("b")

	rec, ok, err := s.Begin(ctx, "acct", "k", fpA, 1, iadvLock)
	if err != nil || !ok {
		t.Fatalf("first Begin = %v, %v, %v; want a claim", rec, ok, err)
	}
	for _, fp := range []idempotency.Fingerprint{fpA, fpB} {
		rec, ok, err = s.Begin(ctx, "acct", "k", fp, 2, iadvLock)
		if err != nil || ok || rec.Answer != nil || rec.Fingerprint != fpA {
			t.Errorf("Begin of a claimed key = %+v, %v, %v; want the in-flight record of fpA", rec, ok, err)
		}
	}
	// A wrong token can neither finish nor release.
	if ok, err := s.Finish(ctx, "acct", "k", 2, &idempotency.Answer{Status: 201}, iadvRetain); ok || err != nil {
		t.Errorf("Finish with a wrong token = %v, %v; want false", ok, err)
	}
	if err := s.Release(ctx, "acct", "k", 2); err != nil {
		t.Errorf("Release with a wrong token: %v", err)
	}
	if _, ok, _ := s.Begin(ctx, "acct", "k", fpA, 3, iadvLock); ok {
		t.Fatalf("a wrong token's Finish or Release freed the key")
	}
	want := &idempotency.Answer{Status: 201, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("made")}
	if ok, err := s.Finish(ctx, "acct", "k", 1, want, iadvRetain); !ok || err != nil {
		t.Fatalf("Finish = %v, %v; want true", ok, err)
	}
	rec, ok, err = s.Begin(ctx, "acct", "k", fpA, 4, iadvLock)
	if err != nil || ok || rec.Answer == nil {
		t.Fatalf("Begin after Finish = %+v, %v, %v; want the answer", rec, ok, err)
	}
	if d := cmp.Diff(want, rec.Answer); d != "" || rec.Fingerprint != fpA {
		t.Errorf("kept answer (-want +got):\n%s", d)
	}
	// Finishing again, or releasing, does nothing to a kept answer.
	if ok, _ := s.Finish(ctx, "acct", "k", 1, &idempotency.Answer{Status: 500}, iadvRetain); ok {
		t.Errorf("second Finish of the same token replaced a kept answer")
	}
	_ = s.Release(ctx, "acct", "k", 1)
	rec, ok, _ = s.Begin(ctx, "acct", "k", fpA, 5, iadvLock)
	if ok || rec.Answer == nil || rec.Answer.Status != 201 {
		t.Errorf("after a second Finish/Release by the old token: %+v, %v; want the 201 kept", rec, ok)
	}
	// Retention ends.
	clk.Advance(iadvRetain - time.Second)
	if _, ok, _ := s.Begin(ctx, "acct", "k", fpB, 6, iadvLock); ok {
		t.Errorf("answer dropped before its retention ended")
	}
	clk.Advance(2 * time.Second)
	if _, ok, _ := s.Begin(ctx, "acct", "k", fpB, 7, iadvLock); !ok {
		t.Errorf("answer still kept after its retention ended")
	}
}

func TestIdemAdvMemoryLateFinish(t *testing.T) {
	ctx := context.Background()
	clk := newIadvClock()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: clk.Now})
	fp := iadvFP("x")
	if _, ok, _ := s.Begin(ctx, "a", "k", fp, 10, iadvLock); !ok {
		t.Fatal("no claim")
	}
	clk.Advance(iadvLock - time.Millisecond)
	if _, ok, _ := s.Begin(ctx, "a", "k", fp, 11, iadvLock); ok {
		t.Fatal("claim freed before its lock ended")
	}
	clk.Advance(2 * time.Millisecond)
	if _, ok, _ := s.Begin(ctx, "a", "k", fp, 12, iadvLock); !ok {
		t.Fatal("crashed claim not freed after its lock ended")
	}
	// The dead request comes back late.
	if ok, _ := s.Finish(ctx, "a", "k", 10, &idempotency.Answer{Status: 299, Body: []byte("stale")}, iadvRetain); ok {
		t.Errorf("late Finish of an expired claim reported true")
	}
	_ = s.Release(ctx, "a", "k", 10)
	rec, ok, _ := s.Begin(ctx, "a", "k", fp, 13, iadvLock)
	if ok || rec.Answer != nil {
		t.Fatalf("late Finish/Release of the dead claim touched the new claim: %+v, %v", rec, ok)
	}
	if ok, _ := s.Finish(ctx, "a", "k", 12, &idempotency.Answer{Status: 201, Body: []byte("fresh")}, iadvRetain); !ok {
		t.Fatal("the live claim could not finish")
	}
	if ok, _ := s.Finish(ctx, "a", "k", 10, &idempotency.Answer{Status: 299, Body: []byte("stale")}, iadvRetain); ok {
		t.Errorf("late Finish after the new answer reported true")
	}
	rec, _, _ = s.Begin(ctx, "a", "k", fp, 14, iadvLock)
	if rec.Answer == nil || string(rec.Answer.Body) != "fresh" {
		t.Errorf("kept answer %+v, want the new claim's", rec.Answer)
	}
	// Expired claim of a key whose lock ended, finished after the lock but
	// with nobody else claiming: the contract says it keeps nothing.
	if _, ok, _ := s.Begin(ctx, "a", "k2", fp, 20, iadvLock); !ok {
		t.Fatal("no claim")
	}
	clk.Advance(iadvLock + time.Second)
	if ok, _ := s.Finish(ctx, "a", "k2", 20, &idempotency.Answer{Status: 201}, iadvRetain); ok {
		t.Errorf("Finish after the lock ended reported true (the contract: a request whose lock ended keeps nothing)")
	}
}

func TestIdemAdvMemoryScopes(t *testing.T) {
	ctx := context.Background()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	fp := iadvFP("x")
	pairs := [][2]string{
		{"a", "bc"}, {"ab", "c"}, {"abc", ""},
		{"a:b", "c"}, {"a", "b:c"},
		{"a\x00b", "c"}, {"a", "b\x00c"},
		{"a|b", "c"}, {"a", "b|c"},
		{"a/b", "c"}, {"a", "b/c"},
		{"a b", "c"}, {"a", "b c"},
		{"", "abc"}, {"A", "bc"}, {"a", "BC"}, {"a", "Bc"},
		{"a\x01", "bc"}, {"a", "\x01bc"},
		{"a", "b\x00\x00c"}, {"a\x00", "\x00b\x00c"},
	}
	for i, p := range pairs {
		_, ok, err := s.Begin(ctx, p[0], p[1], fp, uint64(100+i), iadvLock)
		if err != nil || !ok {
			t.Errorf("account %q key %q: Begin = %v, %v; it is a distinct (account, key), want a claim", p[0], p[1], ok, err)
		}
	}
}

func TestIdemAdvMemoryConcurrentBegin(t *testing.T) {
	ctx := context.Background()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	fp := iadvFP("x")
	for round := 0; round < 20; round++ {
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		key := fmt.Sprintf("k%d", round)
		for g := 0; g < 200; g++ {
			wg.Add(1)
			go func(tok uint64) {
				defer wg.Done()
				<-start
				_, ok, err := s.Begin(ctx, "acct", key, fp, tok, iadvLock)
				if err != nil {
					t.Errorf("Begin: %v", err)
				}
				if ok {
					wins.Add(1)
				}
			}(uint64(round*1000 + g + 1))
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d of 200 concurrent Begins claimed one key, want exactly 1", round, wins.Load())
		}
	}
}

func TestIdemAdvMemoryNeverDropsLiveClaim(t *testing.T) {
	ctx := context.Background()
	clk := newIadvClock()
	const max = 64
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: max, Now: clk.Now})
	fp := iadvFP("x")
	var claimed []string
	full := false
	for i := 0; i < 10*max; i++ {
		k := fmt.Sprintf("live-%d", i)
		_, ok, err := s.Begin(ctx, "acct", k, fp, uint64(i+1), iadvLock)
		if err != nil {
			if !errors.Is(err, idempotency.ErrUnavailable) {
				t.Fatalf("Begin on a full store: %v, want ErrUnavailable", err)
			}
			full = true
			continue
		}
		if !ok {
			t.Fatalf("fresh key %s not claimed", k)
		}
		claimed = append(claimed, k)
		if n := s.Len(); n > max {
			t.Fatalf("Len() = %d > MaxRecords %d", n, max)
		}
	}
	if !full {
		t.Fatalf("%d live claims fit in a store of MaxRecords %d", len(claimed), max)
	}
	for _, k := range claimed {
		rec, ok, err := s.Begin(ctx, "acct", k, iadvFP("other"), 1<<40, iadvLock)
		if err != nil || ok || rec.Answer != nil || rec.Fingerprint != fp {
			t.Errorf("live claim %s dropped under pressure: %+v, %v, %v", k, rec, ok, err)
		}
	}
	// Once the locks end, the dead claims make room.
	clk.Advance(iadvLock + time.Second)
	for i := 0; i < 2*max; i++ {
		if _, ok, err := s.Begin(ctx, "acct", fmt.Sprintf("next-%d", i), fp, uint64(1<<30+i), iadvLock); err != nil || !ok {
			t.Fatalf("after the locks ended, Begin %d = %v, %v; want a claim", i, ok, err)
		}
		if n := s.Len(); n > max {
			t.Fatalf("Len() = %d > MaxRecords %d", n, max)
		}
		// Finish them so that they become droppable answers.
		if ok, err := s.Finish(ctx, "acct", fmt.Sprintf("next-%d", i), uint64(1<<30+i), &idempotency.Answer{Status: 200}, iadvRetain); err != nil || !ok {
			t.Fatalf("Finish %d = %v, %v", i, ok, err)
		}
	}
}

func TestIdemAdvMemoryBoundsUnderLoad(t *testing.T) {
	ctx := context.Background()
	const maxRecords = 256
	const maxBytes = 256 << 10
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: maxRecords, MaxBytes: maxBytes})
	fp := iadvFP("x")

	// A handful of live claims that must survive the flood.
	var live []string
	for i := 0; i < 8; i++ {
		k := fmt.Sprintf("keep-%d", i)
		if _, ok, err := s.Begin(ctx, "vip", k, fp, uint64(1<<50+i), time.Hour); !ok || err != nil {
			t.Fatalf("claim %s: %v %v", k, ok, err)
		}
		live = append(live, k)
	}
	body := bytes.Repeat([]byte("b"), 1000)
	var tok atomic.Uint64
	tok.Store(1)
	var wg sync.WaitGroup
	var unavailable atomic.Int32
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				k := fmt.Sprintf("flood-%d-%d", g, i)
				tk := tok.Add(1)
				_, ok, err := s.Begin(ctx, "acct", k, fp, tk, iadvLock)
				if err != nil {
					unavailable.Add(1)
					continue
				}
				if !ok {
					t.Errorf("fresh key %s not claimed", k)
					continue
				}
				if _, err := s.Finish(ctx, "acct", k, tk, &idempotency.Answer{Status: 201, Body: body}, iadvRetain); err != nil {
					t.Errorf("Finish: %v", err)
				}
				if n := s.Len(); n > maxRecords {
					t.Errorf("Len() = %d > MaxRecords %d", n, maxRecords)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if unavailable.Load() > 0 {
		t.Errorf("%d Begins failed although old answers could be dropped", unavailable.Load())
	}
	for _, k := range live {
		rec, ok, err := s.Begin(ctx, "vip", k, fp, 1<<60, time.Hour)
		if err != nil || ok || rec.Answer != nil {
			t.Errorf("live claim %s dropped by the flood: %v %v %v", k, rec, ok, err)
		}
	}
	// Count the answers still kept: their bytes must fit in MaxBytes.
	kept := 0
	for g := 0; g < 16; g++ {
		for i := 0; i < 500; i++ {
			k, tk := fmt.Sprintf("flood-%d-%d", g, i), tok.Add(1)
			rec, ok, _ := s.Begin(ctx, "acct", k, fp, tk, iadvLock)
			if ok {
				_ = s.Release(ctx, "acct", k, tk) // leave no claim behind
			} else if rec.Answer != nil {
				kept++
			}
		}
	}
	if kept == 0 {
		t.Errorf("no answer kept at all")
	}
	if int64(kept*len(body)) > maxBytes {
		t.Errorf("%d answers of %d bytes kept: %d bytes > MaxBytes %d", kept, len(body), kept*len(body), maxBytes)
	}
}

func TestIdemAdvMemoryTooBigAnswer(t *testing.T) {
	ctx := context.Background()
	const maxBytes = 16 * 1024 // 1 KiB per shard
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxBytes: maxBytes})
	fp := iadvFP("x")
	if _, ok, _ := s.Begin(ctx, "a", "big", fp, 1, iadvLock); !ok {
		t.Fatal("no claim")
	}
	ok, err := s.Finish(ctx, "a", "big", 1, &idempotency.Answer{Status: 201, Body: make([]byte, 4096)}, iadvRetain)
	if err != nil || ok {
		t.Errorf("Finish of an answer bigger than a shard = %v, %v; want false", ok, err)
	}
	if _, ok, _ := s.Begin(ctx, "a", "big", fp, 2, iadvLock); !ok {
		t.Errorf("key not freed after an answer too big to keep")
	}
}

// ------------------------------------------- the conformance suite can fail

// iadvRefStore is a simple reference Store with switchable bugs, to check
// that idempotencystoretest notices them.
type iadvRefStore struct {
	mu   sync.Mutex
	now  func() time.Time
	recs map[[2]string]*iadvRec
	bug  string
}

type iadvRec struct {
	fp       idempotency.Fingerprint
	token    uint64
	answer   *idempotency.Answer
	deadline time.Time
}

func (s *iadvRefStore) id(account, key string) [2]string {
	switch s.bug {
	case "ignore-account":
		return [2]string{"", key}
	case "fold-case":
		return [2]string{account, strings.ToLower(key)}
	case "concat":
		return [2]string{"", account + key}
	}
	return [2]string{account, key}
}

func (s *iadvRefStore) Begin(ctx context.Context, account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if r := s.recs[s.id(account, key)]; r != nil && (s.bug == "no-expiry" || now.Before(r.deadline)) {
		if s.bug == "always-claim" {
			r.fp, r.token, r.answer, r.deadline = fp, token, nil, now.Add(lock)
			return idempotency.Record{}, true, nil
		}
		return idempotency.Record{Fingerprint: r.fp, Answer: r.answer}, false, nil
	}
	s.recs[s.id(account, key)] = &iadvRec{fp: fp, token: token, deadline: now.Add(lock)}
	return idempotency.Record{}, true, nil
}

func (s *iadvRefStore) Finish(ctx context.Context, account, key string, token uint64, a *idempotency.Answer, retain time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[s.id(account, key)]
	now := s.now()
	if r == nil || r.answer != nil {
		return false, nil
	}
	if s.bug != "ignore-token" && r.token != token {
		return false, nil
	}
	if s.bug != "late-finish" && !now.Before(r.deadline) {
		return false, nil
	}
	r.answer, r.deadline = a, now.Add(retain)
	return true, nil
}

func (s *iadvRefStore) Release(ctx context.Context, account, key string, token uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bug == "release-noop" {
		return nil
	}
	r := s.recs[s.id(account, key)]
	if r == nil || r.answer != nil {
		return nil
	}
	if s.bug != "release-any" && r.token != token {
		return nil
	}
	delete(s.recs, s.id(account, key))
	return nil
}

func TestIdemAdvConformanceSuiteCatchesBugs(t *testing.T) {
	ctx := context.Background()
	newFor := func(bug string) func(now func() time.Time) (idempotency.Store, error) {
		return func(now func() time.Time) (idempotency.Store, error) {
			return &iadvRefStore{now: now, recs: map[[2]string]*iadvRec{}, bug: bug}, nil
		}
	}
	if err := idempotencystoretest.TestStore(ctx, newFor("")); err != nil {
		t.Fatalf("the reference store fails the suite (the test's store is wrong, or the suite is):\n%v", err)
	}
	for _, bug := range []string{"ignore-account", "fold-case", "concat", "no-expiry", "always-claim", "ignore-token", "late-finish", "release-noop", "release-any"} {
		t.Run(bug, func(t *testing.T) {
			if err := idempotencystoretest.TestStore(ctx, newFor(bug)); err == nil {
				t.Errorf("store with bug %q passes idempotencystoretest", bug)
			} else {
				t.Logf("bug %q: %.300v", bug, err)
			}
		})
	}
	// And a store that MemoryStore backs passes.
	if err := idempotencystoretest.TestStore(ctx, func(now func() time.Time) (idempotency.Store, error) {
		return idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: now}), nil
	}); err != nil {
		t.Errorf("MemoryStore fails the suite: %v", err)
	}
}
