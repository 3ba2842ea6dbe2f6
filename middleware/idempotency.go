package middleware

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/idempotency"
)

// Idempotency makes retried writes safe. A write (any method but GET, HEAD
// and OPTIONS) that carries an Idempotency-Key header runs once per key
// and account; its answer is kept, and a retry with the same key and the
// same request (method, path with query, body) gets that answer again,
// byte for byte, with Idempotent-Replayed: true, without running the
// handler. The same key with another request gets 422
// idempotency_key_mismatch; while the first request runs, 409
// idempotency_conflict. A malformed key (see idempotency.ParseKey), or
// more than one Idempotency-Key line, gets 400 invalid_idempotency_key.
// Read methods ignore the header.
//
// Answers are kept whatever their status, except server errors (5xx):
// those free the key, so that a retry runs again, unless
// KeepServerErrors is set. A request refused before its handler runs (a
// per-route check, or credits: 402, 503) is not kept either, and can be
// retried with its key. A request that dies mid-flight frees its key
// when LockTimeout ends.
//
// Behind a Gate this step comes after every per-route check and before
// credits, so that a replay or a conflict spends nothing. Without a Gate,
// put Handler behind the Authenticator and in front of a Credits handler.
//
// Routes opt out with IgnoreIdempotencyKey: a route whose answer carries
// a secret (a key's creation or roll) must, because kept answers are
// stored. RequireIdempotencyKey, or Required for every route, makes the
// header mandatory on writes.
//
// A failing store answers 503 service_unavailable: a write whose key
// cannot be claimed does not run. If the store fails to keep an answer
// once the handler has run, the key stays claimed until LockTimeout ends
// (retries meet 409, then run again), and the failure is logged.
//
// Store is required; the other fields have working zero values. Handler
// takes a copy of the configuration.
type Idempotency struct {
	// Store keeps claims and answers. Required: an idempotency.MemoryStore
	// for one process, a shared store (idempotency/redisstore,
	// idempotency/sqlstore) for a fleet.
	Store idempotency.Store

	// Retention is how long an answer is kept. 0 means 24 hours.
	Retention time.Duration

	// LockTimeout is how long a request holds its key without an answer:
	// when it ends (the process died mid-request) the key is free again.
	// Set it above the longest a handler runs (the server's WriteTimeout).
	// 0 means 1 minute.
	LockTimeout time.Duration

	// MaxBodyBytes bounds the request bodies fingerprinted, which are read
	// before the handler runs: a longer body with an Idempotency-Key gets
	// 413 request_too_large. 0 means 1 MiB.
	MaxBodyBytes int64

	// MaxAnswerBytes bounds the answers kept: a longer one is sent but not
	// kept, and frees the key, with a warning in the log. 0 means 1 MiB.
	MaxAnswerBytes int64

	// KeepServerErrors keeps 5xx answers too, as Stripe does, for services
	// whose handlers may fail after changing something.
	KeepServerErrors bool

	// Required makes the header mandatory on every write route that does
	// not ignore it: a write without one gets 400 invalid_idempotency_key.
	Required bool

	// Account returns the account a key's idempotency keys belong to. Nil
	// means apikey.Key.Account: the key's Owner, or its ID when it has none.
	Account func(k *apikey.Key) string

	// Logger receives store failures and answers too big to keep. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// IdempotencyKeyHeader is the request header Idempotency reads, and
// IdempotentReplayedHeader the response header of a replayed answer.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

// settings returns i's configuration with defaults filled in, and panics
// on a misconfiguration.
func (i *Idempotency) settings() Idempotency {
	s := *i
	if s.Store == nil {
		panic("middleware: Idempotency.Store is nil")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"Retention", int64(s.Retention)}, {"LockTimeout", int64(s.LockTimeout)}, {"MaxBodyBytes", s.MaxBodyBytes}, {"MaxAnswerBytes", s.MaxAnswerBytes}} {
		if f.v < 0 {
			panic("middleware: Idempotency." + f.name + " is negative")
		}
	}
	if s.Retention == 0 {
		s.Retention = 24 * time.Hour
	}
	if s.LockTimeout == 0 {
		s.LockTimeout = time.Minute
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.MaxAnswerBytes == 0 {
		s.MaxAnswerBytes = 1 << 20
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s
}

func (i *Idempotency) account(k *apikey.Key) string {
	if i.Account != nil {
		return i.Account(k)
	}
	return k.Account()
}

// Handler returns next behind the idempotency step. Requests must carry a
// key: put Handler behind the Authenticator. next's IgnoreIdempotencyKey
// and RequireIdempotencyKey wrappers are found as the Gate finds them,
// through a Router if next is one. It panics if Store is nil or a field
// is negative.
func (i *Idempotency) Handler(next http.Handler) http.Handler {
	s := i.settings()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := KeyFromContext(r.Context())
		if !ok {
			apierrors.Write(w, r, apierrors.NewInternal(errNoKey))
			return
		}
		q, routed := routeOf(next, r)
		if !routed {
			next.ServeHTTP(w, r) // no route: the Router answers 404 or 405, and nothing is kept
			return
		}
		s.serve(w, r, k, &q, func(w http.ResponseWriter, r *http.Request) bool {
			next.ServeHTTP(w, r)
			st, _ := r.Context().Value(idemStateKey{}).(*idemState)
			return st == nil || !st.refused
		})
	})
}

// idemStateKey is the context key of the idempotency step's *idemState.
type idemStateKey struct{}

// idemState is what the idempotency step shares with the parts inside it:
// that it ran, and whether a part refused the request before its handler.
type idemState struct {
	refused bool // a part refused the request before its handler
	ignored bool // the route ignores idempotency keys (IgnoreIdempotencyKey, found late)
}

// markRefused notes that r was refused before its handler ran, for an
// idempotency step outside that must not keep the answer.
func markRefused(r *http.Request) {
	if st, ok := r.Context().Value(idemStateKey{}).(*idemState); ok {
		st.refused = true
	}
}

// serve puts r through the idempotency step: a request that takes part is
// claimed, then run (run reports whether the handler was reached), and
// its answer kept; a replay, a conflict or a mismatch is answered here.
func (i *Idempotency) serve(w http.ResponseWriter, r *http.Request, k *apikey.Key, q *rules, run func(http.ResponseWriter, *http.Request) bool) {
	if isReadMethod(r.Method) || q.idem == idemIgnore {
		run(w, r)
		return
	}
	lines := r.Header[IdempotencyKeyHeader]
	if len(lines) == 0 {
		if i.Required || q.idem == idemRequire {
			apierrors.Write(w, r, errIdempotencyKeyRequired())
			return
		}
		run(w, r)
		return
	}
	if len(lines) > 1 {
		apierrors.Write(w, r, invalidIdempotencyKey("Send one Idempotency-Key header, not "+strconv.Itoa(len(lines))))
		return
	}
	key, err := idempotency.ParseKey(lines[0])
	if err != nil {
		apierrors.Write(w, r, invalidIdempotencyKey("The Idempotency-Key header must be 1 to 255 visible ASCII characters, bare or as a quoted string"))
		return
	}
	fp, err := idempotency.ReadRequest(r, i.MaxBodyBytes)
	switch {
	case errors.Is(err, idempotency.ErrBodyTooLarge):
		apierrors.Write(w, r, apierrors.New(http.StatusRequestEntityTooLarge, apierrors.CodeRequestTooLarge,
			"A request with an Idempotency-Key may have a body of at most "+strconv.FormatInt(i.MaxBodyBytes, 10)+" bytes"))
		return
	case errors.As(err, new(*http.MaxBytesError)):
		apierrors.Write(w, r, apierrors.New(http.StatusRequestEntityTooLarge, apierrors.CodeRequestTooLarge,
			"The request body is too large"))
		return
	case err != nil:
		apierrors.Write(w, r, apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest, "The request body could not be read").WithCause(err))
		return
	}
	account := i.account(k)
	token := rand.Uint64()
	rec, claimed, err := i.Store.Begin(r.Context(), account, key, fp, token, i.LockTimeout)
	switch {
	case err != nil:
		i.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: idempotency store failed",
			slog.String("key_id", k.ID), slog.String("error", err.Error()))
		if errors.Is(err, idempotency.ErrUnavailable) {
			apierrors.Write(w, r, apierrors.NewServiceUnavailable(unavailableRetryAfter))
		} else {
			apierrors.Write(w, r, apierrors.NewInternal(err))
		}
		return
	case !claimed && rec.Fingerprint != fp:
		apierrors.Write(w, r, apierrors.New(http.StatusUnprocessableEntity, apierrors.CodeIdempotencyKeyMismatch,
			"This Idempotency-Key was used for another request (method, path or body); use a new key for a new request"))
		return
	case !claimed && rec.Answer == nil:
		apierrors.Write(w, r, apierrors.New(http.StatusConflict, apierrors.CodeIdempotencyConflict,
			"A request with this Idempotency-Key is still in progress; retry once it has finished"))
		return
	case !claimed:
		replay(w, rec.Answer)
		return
	}
	i.runClaimed(w, r, k, account, key, token, run)
}

func errIdempotencyKeyRequired() *apierrors.Error {
	return invalidIdempotencyKey("This request requires an Idempotency-Key header")
}

func invalidIdempotencyKey(msg string) *apierrors.Error {
	return apierrors.New(http.StatusBadRequest, apierrors.CodeInvalidIdempotencyKey, msg)
}

// replay writes a kept answer.
func replay(w http.ResponseWriter, a *idempotency.Answer) {
	h := w.Header()
	for name, vs := range a.Header {
		// Shared with every replay of a: clipped, so that a part that
		// appends to the header copies it rather than writing into a.
		h[name] = vs[:len(vs):len(vs)]
	}
	h[IdempotentReplayedHeader] = replayedTrue
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

var replayedTrue = []string{"true"}

// runClaimed runs a claimed request, then keeps its answer or frees its
// key.
func (i *Idempotency) runClaimed(w http.ResponseWriter, r *http.Request, k *apikey.Key, account, key string, token uint64, run func(http.ResponseWriter, *http.Request) bool) {
	rec := &answerRecorder{ResponseWriter: w, max: i.MaxAnswerBytes}
	st := &rec.state // one allocation for both
	r = r.WithContext(context.WithValue(r.Context(), idemStateKey{}, st))
	done := false
	defer func() {
		if !done { // the handler panicked: free the key, let the panic go on
			i.release(context.WithoutCancel(r.Context()), r, k, account, key, token)
		}
	}()
	reached := run(rec, r)
	done = true
	// The outcome is stored even if the client has gone; stores bound
	// their own calls (the Redis and SQL stores' Timeout).
	ctx := context.WithoutCancel(r.Context())
	a, ok := rec.answer()
	switch {
	case !reached || st.refused || st.ignored:
		i.release(ctx, r, k, account, key, token)
	case !ok:
		i.Logger.LogAttrs(r.Context(), slog.LevelWarn, "gatekey: answer too big to keep for its Idempotency-Key; a retry will run again",
			slog.String("key_id", k.ID), slog.Int64("max_answer_bytes", i.MaxAnswerBytes))
		i.release(ctx, r, k, account, key, token)
	case a.Status >= 500 && !i.KeepServerErrors:
		i.release(ctx, r, k, account, key, token)
	default:
		if _, err := i.Store.Finish(ctx, account, key, token, a, i.Retention); err != nil {
			i.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: idempotency store failed to keep an answer; retries get 409 until the lock ends",
				slog.String("key_id", k.ID), slog.String("error", err.Error()))
		}
	}
}

func (i *Idempotency) release(ctx context.Context, r *http.Request, k *apikey.Key, account, key string, token uint64) {
	if err := i.Store.Release(ctx, account, key, token); err != nil {
		i.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: idempotency store failed to free a key; retries get 409 until the lock ends",
			slog.String("key_id", k.ID), slog.String("error", err.Error()))
	}
}

// IgnoreIdempotencyKey declares that a route does not take part in
// idempotency: its requests run whatever their Idempotency-Key, and its
// answers are never kept. Routes whose answers carry a secret, such as an
// API key's creation or roll, must use it. It wins over
// RequireIdempotencyKey and Idempotency.Required.
//
// The idempotency step sees it where the Gate sees every route wrapper:
// outermost on the handler the Router returns. Hidden deeper (under a
// wrapper of another kind, or a router the Gate cannot look into), it
// still keeps the answer out of the store when the route is served, but
// the request was claimed first: its retries meet 409 while it runs, and
// the header is checked.
func IgnoreIdempotencyKey(next http.Handler) http.Handler {
	return require(next, rules{idem: idemIgnore})
}

// RequireIdempotencyKey declares that a route's writes must carry an
// Idempotency-Key: behind a Gate with Idempotency, or an Idempotency
// handler, a write without one gets 400 invalid_idempotency_key. Served
// with no idempotency step in front, a write gets 500 internal_error,
// never the handler: the route would be unprotected.
func RequireIdempotencyKey(next http.Handler) http.Handler {
	return require(next, rules{idem: idemRequire})
}

// idemUse is a route's declared use of idempotency keys.
type idemUse uint8

const (
	idemDefault idemUse = iota // as the Idempotency part says
	idemRequire
	idemIgnore
)

var errNoIdempotency = errors.New("middleware: RequireIdempotencyKey route served without an Idempotency step in front")
