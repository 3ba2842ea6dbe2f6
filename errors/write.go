package errors

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/gatekey/gatekey/internal/reqctx"
)

// Encoding selects the shape of error bodies.
type Encoding uint8

const (
	// EncodingObject is the default body,
	// {"error":{"status":401,"code":"…","message":"…",…}}, sent as
	// application/json.
	EncodingObject Encoding = iota

	// EncodingSimple is {"error":"message"}, for services that already
	// promise that shape. It is sent as application/json.
	EncodingSimple

	// EncodingProblem is RFC 9457 problem details, sent as
	// application/problem+json.
	EncodingProblem
)

// Writer writes errors to HTTP clients. The zero value is ready to use: it
// sends EncodingObject bodies, switches to RFC 9457 problem details for
// clients whose Accept header prefers application/problem+json, and logs
// through slog.Default.
type Writer struct {
	// Encoding is the body shape sent unless content negotiation picks
	// problem details.
	Encoding Encoding

	// DisableNegotiation turns off the Accept header check. By default a
	// request whose Accept header names application/problem+json with a
	// weight at least that of application/json gets problem details, and
	// every error response carries "Vary: Accept".
	DisableNegotiation bool

	// Logger receives the causes of server errors (5xx) and errors written
	// after a response had started. Nil means slog.Default().
	Logger *slog.Logger
}

// Write sends err to the client with the Writer that Writer.Middleware put
// in r's context, or with the zero Writer when there is none: see
// Writer.Write. gatekey's middleware, HandlerFunc and Mux all write through
// Write, so one Writer, installed once, shapes every error a service sends.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	writerFor(r).Write(w, r, err)
}

// writerFor returns the Writer installed in r's context, or the zero Writer.
func writerFor(r *http.Request) *Writer {
	if r != nil {
		if wr, ok := r.Context().Value(reqctx.WriterKey{}).(*Writer); ok {
			return wr
		}
	}
	return &zeroWriter
}

// zeroWriter is the Writer used when none is installed. Nothing writes to it.
var zeroWriter Writer

// Middleware returns next with a copy of wr installed in each request's
// context, so that Write, HandlerFunc, Mux and the gatekey middleware write
// errors with it. Put it outermost; middleware.Gate does. Changing wr
// afterwards changes nothing.
func (wr *Writer) Middleware(next http.Handler) http.Handler {
	if wr == nil {
		panic("apierrors: Middleware called on a nil *Writer")
	}
	c := *wr
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqctx.WriterKey{}, &c)))
	})
}

// The header values below are shared between responses, read-only. Their
// length equals their capacity, so Header.Add copies rather than writes into
// them.
var (
	hdrJSON    = []string{"application/json"}
	hdrProblem = []string{"application/problem+json"}
	hdrNosniff = []string{"nosniff"}
	hdrAccept  = []string{"Accept"}
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// requestIDHeader is the response header that middleware.RequestID sets.
// Write copies it into error bodies, so that body and header always agree,
// whatever order the middleware runs in.
const requestIDHeader = "X-Request-Id"

// requestID returns the request id of the response being written: the
// X-Request-Id response header, or "".
func requestID(w http.ResponseWriter) string {
	if w == nil {
		return ""
	}
	if v := w.Header()[requestIDHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Write sends err to the client as a JSON error.
//
// If err is or wraps an *Error, that error is sent: its status, code,
// message and optional fields, and its extra headers. An empty RequestID is
// filled in from the response's X-Request-Id header, which
// middleware.RequestID sets. Any other error is sent as a generic 500
// internal_error whose body reveals nothing of it; the error itself is
// logged. An *Error whose Status is not a 4xx or 5xx code is treated the
// same way. A nil err writes nothing.
//
// Write sets Content-Type and "X-Content-Type-Options: nosniff", and sends
// no body in response to HEAD. If w reports that the response has already
// started (it or a writer it wraps with an Unwrap method has a
// ResponseStarted() bool method reporting true, as the wrappers in this
// module do), Write only logs err: a second body would corrupt the first.
func (wr *Writer) Write(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	if responseStarted(w) {
		wr.logger().LogAttrs(ctxOf(r), slog.LevelError, "gatekey: error after response started",
			requestAttrs(w, r, slog.Any("error", err))...)
		return
	}

	var e Error            // a copy: the caller's value is never modified
	ae, ok := err.(*Error) // the common case, without errors.As's reflection
	if !ok {
		errors.As(err, &ae)
	}
	if ae != nil && ae.Status >= 400 && ae.Status <= 599 {
		e = *ae
		if e.Status >= 500 && e.Err != nil {
			wr.logServerError(w, r, e.Status, err)
		}
	} else {
		e = *NewInternal(nil)
		wr.logServerError(w, r, http.StatusInternalServerError, err)
	}
	if e.Code == "" {
		e.Code = defaultCode(e.Status)
	}
	if e.Message == "" {
		e.Message = http.StatusText(e.Status)
	}
	if e.RequestID == "" {
		e.RequestID = requestID(w)
	}

	encoding := wr.Encoding
	negotiate := !wr.DisableNegotiation
	if negotiate && r != nil && prefersProblem(r.Header["Accept"]) {
		encoding = EncodingProblem
	}

	h := w.Header()
	for k, v := range e.Header {
		if len(v) > 0 {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	// The keys are canonical already: delete skips Del's canonicalising,
	// which the hot path of a 429 would pay twice.
	delete(h, "Content-Length")
	delete(h, "Content-Encoding")
	if encoding == EncodingProblem {
		h["Content-Type"] = hdrProblem
	} else {
		h["Content-Type"] = hdrJSON
	}
	h["X-Content-Type-Options"] = hdrNosniff
	if negotiate {
		addVaryAccept(h)
	}

	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	var encErr error
	switch encoding {
	case EncodingSimple:
		b = appendSimple(b, &e)
	case EncodingProblem:
		b, encErr = appendProblem(b, &e, http.StatusText(e.Status))
	default:
		b, encErr = appendObject(b, &e)
	}
	if encErr != nil {
		wr.logger().LogAttrs(ctxOf(r), slog.LevelError, "gatekey: error details not encodable",
			requestAttrs(w, r, slog.Any("error", encErr))...)
	}

	w.WriteHeader(e.Status)
	if r == nil || r.Method != http.MethodHead {
		w.Write(b) //nolint:errcheck // the client is gone; nothing to do
	}
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
}

func (wr *Writer) logger() *slog.Logger {
	if wr.Logger != nil {
		return wr.Logger
	}
	return slog.Default()
}

func (wr *Writer) logServerError(w http.ResponseWriter, r *http.Request, status int, err error) {
	wr.logger().LogAttrs(ctxOf(r), slog.LevelError, "gatekey: server error",
		requestAttrs(w, r, slog.Int("status", status), slog.Any("error", err))...)
}

// requestAttrs describes r for a log line. It names the method and the
// path but never the query, which may hold credentials.
func requestAttrs(w http.ResponseWriter, r *http.Request, extra ...slog.Attr) []slog.Attr {
	if r == nil {
		return extra
	}
	attrs := make([]slog.Attr, 0, 3+len(extra))
	if id := requestID(w); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	attrs = append(attrs, slog.String("method", r.Method))
	if r.URL != nil {
		attrs = append(attrs, slog.String("path", r.URL.Path))
	}
	return append(attrs, extra...)
}

func ctxOf(r *http.Request) context.Context {
	if r == nil {
		return context.Background()
	}
	return r.Context()
}

// addVaryAccept adds "Accept" to the Vary header unless it is already listed.
func addVaryAccept(h http.Header) {
	const token = "Accept"
	vary := h["Vary"]
	if len(vary) == 0 {
		h["Vary"] = hdrAccept
		return
	}
	for _, v := range vary {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if t = strings.TrimSpace(t); strings.EqualFold(t, token) || t == "*" {
				return
			}
		}
	}
	h.Add("Vary", token)
}

// responseStarted reports whether w, or a writer it wraps, says that the
// response has started.
func responseStarted(w http.ResponseWriter) bool {
	for range 16 { // bounded: a wrapper cycle must not hang the server
		if s, ok := w.(interface{ ResponseStarted() bool }); ok {
			return s.ResponseStarted()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
	return false
}
