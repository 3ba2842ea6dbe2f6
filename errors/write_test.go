package errors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	apierrors "github.com/gatekey/gatekey/errors"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// allErrors is every constructor, and New with each code gatekey sends, in
// a stable order.
func allErrors() []struct {
	name string
	err  *apierrors.Error
} {
	return []struct {
		name string
		err  *apierrors.Error
	}{
		{"New/bad_request", apierrors.New(400, apierrors.CodeBadRequest, "Request body is not valid JSON")},
		{"NewInvalidParameter", apierrors.NewInvalidParameter("name", "name must be 1 to 100 characters")},
		{"New/ambiguous_credentials", apierrors.New(400, apierrors.CodeAmbiguousCredentials, "Send exactly one key")},
		{"New/missing_api_key", apierrors.New(401, apierrors.CodeMissingAPIKey, "No API key provided")},
		{"New/invalid_api_key", apierrors.New(401, apierrors.CodeInvalidAPIKey, "Invalid or missing API key")},
		{"New/payment_required", apierrors.New(402, apierrors.CodePaymentRequired, "Your plan does not include this feature")},
		{"New/insufficient_permissions", apierrors.New(403, apierrors.CodeInsufficientPermissions, "Read-only key")},
		{"New/not_found", apierrors.New(404, apierrors.CodeNotFound, "No such monitor")},
		{"NewMethodNotAllowed", apierrors.NewMethodNotAllowed("GET", "HEAD")},
		{"NewMethodNotAllowed/none", apierrors.NewMethodNotAllowed()},
		{"New/conflict", apierrors.New(409, apierrors.CodeConflict, "A key with this id already exists")},
		{"NewTooManyRequests", apierrors.NewTooManyRequests(1500 * time.Millisecond)},
		{"NewInternal", apierrors.NewInternal(errors.New("db: connection reset"))},
		{"New/bad_gateway", apierrors.New(502, apierrors.CodeBadGateway, "Upstream failed")},
		{"NewServiceUnavailable", apierrors.NewServiceUnavailable(2 * time.Second)},
		{"New/gateway_timeout", apierrors.New(504, apierrors.CodeGatewayTimeout, "Upstream timed out")},
		{"WithEverything", func() *apierrors.Error {
			e := apierrors.NewInvalidParameter("api_key", "Invalid or missing API key").
				WithDetails("hint", "use a secret key").
				WithHeader("WWW-Authenticate", `Bearer realm="api"`)
			e.DocURL = "https://docs.example.com/errors/invalid_api_key"
			return e
		}()},
	}
}

// discardLogger returns a logger writing into buf.
func bufLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

func newRequest(method, target string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// TestWriteGolden writes every error in every encoding and compares status,
// headers and body bytes to testdata/<encoding>.golden.
func TestWriteGolden(t *testing.T) {
	encodings := []struct {
		name string
		wr   apierrors.Writer
	}{
		{"object", apierrors.Writer{}},
		{"simple", apierrors.Writer{Encoding: apierrors.EncodingSimple}},
		{"problem", apierrors.Writer{Encoding: apierrors.EncodingProblem}},
	}
	for _, enc := range encodings {
		t.Run(enc.name, func(t *testing.T) {
			var logs bytes.Buffer
			enc.wr.Logger = bufLogger(&logs)
			var got bytes.Buffer
			for _, tc := range allErrors() {
				r := newRequest("GET", "/v1/things")
				w := httptest.NewRecorder()
				w.Header().Set("X-Request-Id", "req_golden") // as middleware.RequestID sets it
				enc.wr.Write(w, r, tc.err)
				fmt.Fprintf(&got, "### %s\n%d\n", tc.name, w.Code)
				for _, k := range slices.Sorted(func(yield func(string) bool) {
					for k := range w.Header() {
						if !yield(k) {
							return
						}
					}
				}) {
					fmt.Fprintf(&got, "%s: %s\n", k, strings.Join(w.Header()[k], ", "))
				}
				got.Write(w.Body.Bytes())
			}
			golden := filepath.Join("testdata", enc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", golden, diff)
			}
			if strings.Contains(got.String(), "connection reset") {
				t.Error("a cause leaked into a response")
			}
		})
	}
}

// TestWriteRoundTrip decodes every encoding with encoding/json.
func TestWriteRoundTrip(t *testing.T) {
	type object struct {
		Error struct {
			Status    int            `json:"status"`
			Code      apierrors.Code `json:"code"`
			Message   string         `json:"message"`
			Param     string         `json:"param"`
			RequestID string         `json:"request_id"`
			DocURL    string         `json:"doc_url"`
			Details   map[string]any `json:"details"`
		} `json:"error"`
	}
	type problem struct {
		Type      string         `json:"type"`
		Title     string         `json:"title"`
		Status    int            `json:"status"`
		Detail    string         `json:"detail"`
		Code      apierrors.Code `json:"code"`
		Param     string         `json:"param"`
		RequestID string         `json:"request_id"`
		Details   map[string]any `json:"details"`
	}
	for _, tc := range allErrors() {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.err.WithDetails("n", 3.0)
			e.Message = "quote \" backslash \\ <tag> & \u2028 \x01 \xff é"
			wr := apierrors.Writer{Logger: bufLogger(new(bytes.Buffer))}
			r := newRequest("POST", "/x")

			w := httptest.NewRecorder()
			w.Header().Set("X-Request-Id", "abc-123")
			wr.Write(w, r, e)
			var o object
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&o); err != nil {
				t.Fatalf("object body: %v", err)
			}
			if o.Error.Status != e.Status || o.Error.Code != e.Code || o.Error.Message != strings.ToValidUTF8(e.Message, "\uFFFD") ||
				o.Error.Param != e.Param || o.Error.RequestID != "abc-123" || o.Error.DocURL != e.DocURL ||
				o.Error.Details["n"] != 3.0 {
				t.Errorf("decoded %+v from %v", o.Error, e)
			}

			r = newRequest("POST", "/x", "Accept", "application/problem+json")
			w = httptest.NewRecorder()
			wr.Write(w, r, e)
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var p problem
			dec = json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("problem body: %v", err)
			}
			wantType := e.DocURL
			if wantType == "" {
				wantType = "about:blank"
			}
			if p.Type != wantType || p.Title != http.StatusText(e.Status) || p.Status != e.Status ||
				p.Detail != strings.ToValidUTF8(e.Message, "\uFFFD") || p.Code != e.Code || p.Param != e.Param {
				t.Errorf("decoded %+v from %v", p, e)
			}

			wr.Encoding = apierrors.EncodingSimple
			w = httptest.NewRecorder()
			wr.Write(w, newRequest("GET", "/x"), e)
			var s struct {
				Error string `json:"error"`
			}
			dec = json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("simple body: %v", err)
			}
			if s.Error != strings.ToValidUTF8(e.Message, "\uFFFD") {
				t.Errorf("simple error = %q", s.Error)
			}
		})
	}
}

func TestWriteNonAPIError(t *testing.T) {
	var logs bytes.Buffer
	wr := apierrors.Writer{Logger: bufLogger(&logs)}
	cause := errors.New("pq: password authentication failed for user secret_admin")
	for _, err := range []error{
		cause,
		fmt.Errorf("loading: %w", cause),
		&apierrors.Error{Status: 200, Code: "ok", Message: "not an error status"},
		&apierrors.Error{Status: 99, Message: "bogus"},
	} {
		logs.Reset()
		w := httptest.NewRecorder()
		wr.Write(w, newRequest("GET", "/v1/me?api_key=sk_live_hidden"), err)
		if w.Code != 500 {
			t.Errorf("%v: status %d, want 500", err, w.Code)
		}
		want := `{"error":{"status":500,"code":"internal_error","message":"Internal server error"}}` + "\n"
		if diff := cmp.Diff(want, w.Body.String()); diff != "" {
			t.Errorf("%v: body (-want +got):\n%s", err, diff)
		}
		if !strings.Contains(logs.String(), err.Error()) {
			t.Errorf("cause %q not logged; log: %s", err, logs.String())
		}
		if strings.Contains(logs.String(), "sk_live_hidden") {
			t.Errorf("query string logged: %s", logs.String())
		}
	}
}

func TestWriteWrapped(t *testing.T) {
	err := fmt.Errorf("handler: %w", apierrors.New(404, apierrors.CodeNotFound, "No such monitor"))
	w := httptest.NewRecorder()
	apierrors.Write(w, newRequest("GET", "/"), err)
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"code":"not_found"`) {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

func TestWriteFillsDefaults(t *testing.T) {
	w := httptest.NewRecorder()
	apierrors.Write(w, newRequest("GET", "/"), &apierrors.Error{Status: 422})
	want := `{"error":{"status":422,"code":"unprocessable_entity","message":"Unprocessable Entity"}}` + "\n"
	if diff := cmp.Diff(want, w.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	w = httptest.NewRecorder()
	apierrors.Write(w, newRequest("GET", "/"), &apierrors.Error{Status: 418})
	if !strings.Contains(w.Body.String(), `"code":"im_a_teapot"`) {
		t.Errorf("body %s", w.Body)
	}
}

func TestWriteHeadHasNoBody(t *testing.T) {
	w := httptest.NewRecorder()
	apierrors.Write(w, newRequest("HEAD", "/"), apierrors.New(401, apierrors.CodeInvalidAPIKey, "Invalid"))
	if w.Code != 401 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d body bytes", w.Code, w.Body.Len())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestWriteHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Length", "1234")
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Vary", "Origin")
	apierrors.Write(w, newRequest("GET", "/"), apierrors.NewTooManyRequests(2001*time.Millisecond))
	want := http.Header{
		"Content-Type":           {"application/json"},
		"X-Content-Type-Options": {"nosniff"},
		"Vary":                   {"Origin", "Accept"},
		"Retry-After":            {"3"},
	}
	if diff := cmp.Diff(want, w.Header()); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}

	w = httptest.NewRecorder()
	wr := apierrors.Writer{DisableNegotiation: true}
	wr.Write(w, newRequest("GET", "/", "Accept", "application/problem+json"), notFound())
	if w.Header().Get("Vary") != "" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("negotiation disabled, got headers %v", w.Header())
	}

	// Vary is not repeated.
	w = httptest.NewRecorder()
	w.Header().Set("Vary", "accept, Origin")
	apierrors.Write(w, newRequest("GET", "/"), notFound())
	if got := w.Header()["Vary"]; !slices.Equal(got, []string{"accept, Origin"}) {
		t.Errorf("Vary = %q", got)
	}
}

// TestWriteRequestID: the body's request_id is the response's X-Request-Id
// header, never the request's.
func TestWriteRequestID(t *testing.T) {
	tests := []struct {
		name     string
		response string // X-Request-Id already on the response
		explicit string // Error.RequestID
		want     string
	}{
		{"from the response header", "req_abc", "", "req_abc"},
		{"none", "", "", ""},
		{"explicit wins", "req_abc", "req_mine", "req_mine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if tc.response != "" {
				w.Header().Set("X-Request-Id", tc.response)
			}
			e := notFound()
			e.RequestID = tc.explicit
			// A request header is a client's claim, not the response's id.
			apierrors.Write(w, newRequest("GET", "/", "X-Request-Id", "from-the-client"), e)
			got, err := apierrors.Decode(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got.RequestID != tc.want {
				t.Errorf("request_id = %q, want %q", got.RequestID, tc.want)
			}
		})
	}
}

func TestWriteUnencodableDetails(t *testing.T) {
	var logs bytes.Buffer
	wr := apierrors.Writer{Logger: bufLogger(&logs)}
	w := httptest.NewRecorder()
	wr.Write(w, newRequest("GET", "/"), apierrors.New(400, "", "bad").WithDetails("ch", make(chan int)))
	var v map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body, err)
	}
	if d, ok := v["error"]["details"].(map[string]any); !ok || len(d) != 0 {
		t.Errorf("details = %v, want {}", v["error"]["details"])
	}
	if !strings.Contains(logs.String(), "not encodable") {
		t.Errorf("encoding failure not logged: %s", logs.String())
	}
}

func TestWriteNil(t *testing.T) {
	w := httptest.NewRecorder()
	apierrors.Write(w, newRequest("GET", "/"), nil)
	if w.Body.Len() != 0 || len(w.Header()) != 0 {
		t.Errorf("nil error wrote %d %v %q", w.Code, w.Header(), w.Body)
	}
}

// started is a ResponseWriter that says its response has begun.
type started struct{ http.ResponseWriter }

func (started) ResponseStarted() bool { return true }

type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestWriteAfterResponseStarted(t *testing.T) {
	var logs bytes.Buffer
	wr := apierrors.Writer{Logger: bufLogger(&logs)}
	rec := httptest.NewRecorder()
	rec.WriteHeader(200)
	rec.WriteString(`{"ok":true}`)
	wr.Write(wrapper{started{rec}}, newRequest("GET", "/"), apierrors.NewInternal(nil))
	if rec.Code != 200 || rec.Body.String() != `{"ok":true}` {
		t.Errorf("response changed: %d %q", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "after response started") {
		t.Errorf("not logged: %s", logs.String())
	}
}

func TestErrorIsAs(t *testing.T) {
	e := apierrors.New(401, apierrors.CodeInvalidAPIKey, "custom").WithCause(context.DeadlineExceeded)
	wrapped := fmt.Errorf("auth: %w", e)
	if !errors.Is(wrapped, apierrors.CodeInvalidAPIKey) {
		t.Error("the Code does not match with errors.Is")
	}
	if !errors.Is(wrapped, apierrors.New(401, apierrors.CodeInvalidAPIKey, "")) {
		t.Error("an *Error with the same code does not match")
	}
	if errors.Is(wrapped, apierrors.CodeExpiredAPIKey) || errors.Is(wrapped, apierrors.New(401, apierrors.CodeExpiredAPIKey, "")) {
		t.Error("different codes match")
	}
	if !errors.Is(wrapped, context.DeadlineExceeded) {
		t.Error("cause not reachable through Unwrap")
	}
	var ae *apierrors.Error
	if !errors.As(wrapped, &ae) || ae.Message != "custom" {
		t.Errorf("errors.As = %v", ae)
	}
	if got, want := e.Error(), "apierrors: 401 invalid_api_key: custom: context deadline exceeded"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := apierrors.CodeNotFound.Error(), "not_found"; got != want {
		t.Errorf("Code.Error() = %q, want %q", got, want)
	}
	// The With methods never modify the receiver.
	h := apierrors.NewTooManyRequests(time.Second)
	h2 := h.WithHeader("X-Other", "1")
	if h.Header.Get("X-Other") != "" || h2.Header.Get("Retry-After") != "1" {
		t.Errorf("WithHeader shares headers: %v %v", h.Header, h2.Header)
	}
	d := notFound().WithDetails("a", 1)
	d.WithDetails("b", 2)
	if len(d.Details) != 1 {
		t.Errorf("WithDetails shares details: %v", d.Details)
	}
	c := d.WithCause(io.EOF)
	if d.Err != nil || c.Err != io.EOF {
		t.Errorf("WithCause changed its receiver: %v %v", d.Err, c.Err)
	}
}

// TestConstructorsFresh: every constructor returns a new value, so that
// changing one answer changes no other.
func TestConstructorsFresh(t *testing.T) {
	for _, mk := range []func() *apierrors.Error{
		func() *apierrors.Error { return apierrors.New(404, apierrors.CodeNotFound, "x") },
		func() *apierrors.Error { return apierrors.NewInvalidParameter("p", "x") },
		func() *apierrors.Error { return apierrors.NewMethodNotAllowed("GET") },
		func() *apierrors.Error { return apierrors.NewTooManyRequests(time.Second) },
		func() *apierrors.Error { return apierrors.NewServiceUnavailable(time.Second) },
		func() *apierrors.Error { return apierrors.NewInternal(nil) },
	} {
		a := mk()
		want := *mk()
		want.Header = want.Header.Clone()
		a.Message = "changed"
		if a.Header != nil {
			a.Header.Set("Retry-After", "999")
			a.Header.Set("Allow", "NOTHING")
		}
		b := mk()
		if diff := cmp.Diff(want, *b); diff != "" {
			t.Errorf("%s: changing one value changed the next (-want +got):\n%s", want.Code, diff)
		}
	}
}

func TestDelaySeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		-time.Second:                      0,
		0:                                 0,
		time.Nanosecond:                   1,
		time.Second:                       1,
		time.Second + time.Nanosecond:     2,
		59*time.Second + time.Millisecond: 60,
		24 * time.Hour:                    86400,
	} {
		if got := apierrors.DelaySeconds(d); got != want {
			t.Errorf("DelaySeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestWriterMiddleware(t *testing.T) {
	simple := &apierrors.Writer{Encoding: apierrors.EncodingSimple}
	mux := http.NewServeMux()
	mux.Handle("GET /fail", apierrors.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return apierrors.New(409, apierrors.CodeConflict, "taken")
	}))
	mux.HandleFunc("GET /write", func(w http.ResponseWriter, r *http.Request) {
		apierrors.Write(w, r, apierrors.NewTooManyRequests(time.Second))
	})
	h := simple.Middleware(apierrors.Mux(mux))
	simple.Encoding = apierrors.EncodingProblem // too late: Middleware took a copy
	for path, want := range map[string]string{
		"/fail":  `{"error":"taken"}`,
		"/write": `{"error":"Rate limit exceeded"}`,
		"/nope":  `{"error":"Not found"}`,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest("GET", path))
		if got := strings.TrimSpace(w.Body.String()); got != want {
			t.Errorf("%s: body %s, want %s", path, got, want)
		}
	}

	// A Writer named explicitly wins over the one in the context.
	problem := &apierrors.Writer{Encoding: apierrors.EncodingProblem}
	h = (&apierrors.Writer{Encoding: apierrors.EncodingSimple}).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, notFound())
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newRequest("GET", "/"))
	if got := w.Header().Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("explicit Writer: Content-Type %q", got)
	}
}

func TestWriterMiddlewareNil(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "apierrors: ") {
			t.Errorf("panic %v, want one naming the package", v)
		}
	}()
	(*apierrors.Writer)(nil).Middleware(http.NotFoundHandler())
}

func notFound() *apierrors.Error { return apierrors.New(404, apierrors.CodeNotFound, "Not found") }
