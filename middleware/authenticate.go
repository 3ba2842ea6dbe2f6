package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/internal/keyctx"
	"github.com/gatekey/gatekey/internal/reqctx"
)

// KeyVerifier verifies a presented API key and returns its record.
// *apikey.Verifier and *apikey.Manager implement it. Errors must follow
// apikey's conventions: apikey.ErrInvalidKey for malformed, unknown and
// wrong keys; apikey.ErrExpired, ErrRevoked and ErrDisabled for genuine keys
// that may not be used; apikey.ErrUnavailable when no decision could be
// made.
type KeyVerifier interface {
	Verify(ctx context.Context, presented string) (*apikey.Key, error)
}

// unavailableRetryAfter is the Retry-After of a 503 when a store cannot be
// reached.
const unavailableRetryAfter = 2 * time.Second

// Authenticator requires a valid API key on every request, and puts the
// key's record in the request context (see KeyFromContext). The plaintext
// key never enters the context. No request is let through without a key:
// CORS preflights, which browsers send without credentials, are the CORS
// part's to answer in front of it.
//
// Failures are answered without calling the next handler: 401
// missing_api_key when no credentials are sent; 401 invalid_api_key,
// identical for malformed, unknown and wrong-secret keys; 401
// expired_api_key, revoked_api_key or disabled_api_key only to a caller who
// presented the genuine secret; 400 ambiguous_credentials for repeated
// Authorization headers or credentials in more than one place; 403
// ip_not_allowed when the key is restricted to networks the client is not
// in; 429 rate_limit_exceeded to an address the Throttle blocks; and 503
// service_unavailable with Retry-After when the key store cannot answer in
// time (never a 401, never the handler). Every 401 carries a
// WWW-Authenticate challenge for each accepted Authorization scheme; the
// Bearer challenge has error="invalid_token" (RFC 6750) when a bearer
// token was presented and refused.
//
// A store that hangs is cut off by the request's deadline or by the
// verifier's own bound (apikey.VerifierConfig.LookupTimeout).
//
// Verifier is required; the other fields have working zero values. Handler
// takes a copy of the configuration: changing the Authenticator afterwards
// does not change the handler.
type Authenticator struct {
	// Verifier checks presented keys. Required.
	Verifier KeyVerifier

	// Sources lists where keys are accepted, in order. Empty means Bearer,
	// token and Basic, in the Authorization header. Enabling SourceQuery
	// puts keys in URLs: see its documentation.
	Sources []Source

	// HeaderName is the header read by SourceHeader. Empty means
	// "X-API-Key".
	HeaderName string

	// QueryParam is the parameter read by SourceQuery. Empty means
	// "api_key".
	QueryParam string

	// Realm names the protection space in WWW-Authenticate challenges.
	// Empty means "api".
	Realm string

	// Proxies resolves the client address that a key's AllowedNetworks and
	// the Throttle see. The zero value uses the TCP peer.
	Proxies TrustedProxies

	// Throttle, if set, counts invalid_api_key answers per client address,
	// and the 503s of look-ups refused because the Verifier's look-up
	// slots are full (apikey.ErrTooManyLookups, the mark of a flood), and
	// answers 429 rate_limit_exceeded, before any key look-up, to
	// addresses past its limit. See AuthThrottle.
	Throttle *AuthThrottle

	// RejectSecretKeysFromBrowsers answers 403 publishable_key_required
	// when a secret key arrives on a request with an Origin header, that is
	// from a browser: a secret key in client-side code is a leaked key.
	RejectSecretKeysFromBrowsers bool

	// OnSuccess, if set, is called with each authenticated request and its
	// key before the next handler runs. It must not modify the key.
	OnSuccess func(r *http.Request, key *apikey.Key)

	// OnFailure, if set, is called with each rejected request and the error
	// about to be written (a copy: changing it changes nothing). Its Code
	// tells the kind of failure, and its cause (Unwrap) the internal
	// reason, such as an *apikey.FormatError. Neither holds the presented
	// key.
	OnFailure func(r *http.Request, err *apierrors.Error)

	// Logger receives a line per rejection (store failures at level Error,
	// others at Debug), naming keys only by their id. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// The kinds of 401, indexes of authenticator.rejections.
const (
	rejectMissing = iota
	rejectInvalid
	rejectExpired
	rejectRevoked
	rejectDisabled
	rejectKinds
)

var rejectCodes = [rejectKinds]struct {
	code apierrors.Code
	msg  string
}{
	rejectMissing:  {apierrors.CodeMissingAPIKey, "No API key provided"},
	rejectInvalid:  {apierrors.CodeInvalidAPIKey, "Invalid or missing API key"},
	rejectExpired:  {apierrors.CodeExpiredAPIKey, "This API key has expired"},
	rejectRevoked:  {apierrors.CodeRevokedAPIKey, "This API key has been revoked"},
	rejectDisabled: {apierrors.CodeDisabledAPIKey, "This API key is disabled"},
}

// authenticator is the immutable form of an Authenticator, with defaults
// filled in. Handler also prepares its 401s once; the Authenticate method,
// which builds an authenticator per call, builds a 401 only when a request
// fails.
type authenticator struct {
	Authenticator
	challenge [2]string // WWW-Authenticate without and with error="invalid_token"; set by prepare

	prepared   bool
	rejections [rejectKinds][2]*apierrors.Error // [kind][bearer presented]; shared: never modify
}

// settings returns a's configuration with defaults filled in, and panics
// on a misconfiguration. It returns a value, so that Authenticate's copy
// can stay on the stack.
func (a *Authenticator) settings() authenticator {
	c := authenticator{Authenticator: *a}
	if c.Verifier == nil {
		panic("middleware: Authenticator.Verifier is nil")
	}
	if len(c.Sources) == 0 {
		c.Sources = defaultSources[:]
	} else {
		c.Sources = append([]Source(nil), c.Sources...)
	}
	for _, s := range c.Sources {
		if s < SourceBearer || s > SourceQuery {
			panic("middleware: Authenticator.Sources holds an unknown Source")
		}
	}
	if c.HeaderName == "" {
		c.HeaderName = "X-Api-Key" // canonical form of X-API-Key
	} else {
		c.HeaderName = http.CanonicalHeaderKey(c.HeaderName)
	}
	if c.QueryParam == "" {
		c.QueryParam = "api_key"
	}
	if c.Realm == "" {
		c.Realm = "api"
	}
	if strings.ContainsAny(c.Realm, "\"\\\r\n") {
		panic("middleware: Authenticator.Realm must not contain quotes, backslashes or line breaks")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Throttle != nil {
		c.Throttle.init() // panics on a misconfigured throttle, now rather than later
	}
	return c
}

// prepare builds the challenges and 401s once, for Handler.
func (c *authenticator) prepare() {
	c.challenge[0] = c.buildChallenge(false)
	c.challenge[1] = c.buildChallenge(true)
	for kind := range rejectKinds {
		for bearer := range 2 {
			c.rejections[kind][bearer] = c.newRejection(kind, bearer == 1)
		}
	}
	c.prepared = true
}

// rejection returns the 401 of a kind; bearer says whether a bearer token
// was presented. The result may be shared: never modify it.
func (c *authenticator) rejection(kind int, bearer bool) *apierrors.Error {
	b := 0
	if bearer {
		b = 1
	}
	if c.prepared {
		return c.rejections[kind][b]
	}
	return c.newRejection(kind, bearer)
}

func (c *authenticator) newRejection(kind int, bearer bool) *apierrors.Error {
	rc := rejectCodes[kind]
	// RFC 6750, 3.1: an error code only for a bearer token that was
	// presented, never when no credentials were sent.
	withError := bearer && kind != rejectMissing
	ch := c.challenge[0]
	if withError {
		ch = c.challenge[1]
	}
	if ch == "" { // not prepared: Authenticate builds it only when it refuses
		ch = c.buildChallenge(withError)
	}
	return apierrors.New(http.StatusUnauthorized, rc.code, rc.msg).WithHeader("WWW-Authenticate", ch)
}

// buildChallenge builds the WWW-Authenticate value naming every accepted
// Authorization scheme; invalidToken adds RFC 6750's error attribute to the
// Bearer challenge.
func (c *authenticator) buildChallenge(invalidToken bool) string {
	var parts []string
	for _, s := range c.Sources {
		switch s {
		case SourceBearer:
			p := `Bearer realm="` + c.Realm + `"`
			if invalidToken {
				p += `, error="invalid_token"`
			}
			parts = append(parts, p)
		case SourceToken:
			parts = append(parts, `token realm="`+c.Realm+`"`)
		case SourceBasic:
			parts = append(parts, `Basic realm="`+c.Realm+`", charset="UTF-8"`)
		}
	}
	if len(parts) == 0 {
		// Only X-API-Key or the query parameter: name the header.
		parts = append(parts, `APIKey realm="`+c.Realm+`", header="`+c.HeaderName+`"`)
	}
	return strings.Join(parts, ", ")
}

// Authenticate checks the credentials of r and returns the key's record,
// or an *apierrors.Error saying why it was refused: the decision that
// Handler makes, without its side effects. It does not count a failure
// against the Throttle (it does consult the Throttle's block list), call
// OnSuccess or OnFailure, or log; the Verifier may still cache what it
// looked up. Like Handler, it panics if the configuration is invalid.
func (a *Authenticator) Authenticate(r *http.Request) (*apikey.Key, error) {
	c := a.settings()
	k, _, f := c.authenticate(r)
	if f != nil {
		return nil, f.err.WithCause(f.cause)
	}
	return k, nil
}

// Handler returns next behind authentication. It panics if Verifier is nil
// or the configuration is invalid.
func (a *Authenticator) Handler(next http.Handler) http.Handler {
	return a.handler(next, false)
}

// handler is Handler; inGate says that it runs inside a Gate, which
// keeps the key in its reqctx.State instead of a new context.
func (a *Authenticator) handler(next http.Handler, inGate bool) http.Handler {
	s := a.settings()
	c := &s
	c.prepare()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, src, f := c.authenticate(r)
		if f != nil {
			if f.invalid || f.counted {
				c.countFailure(r, f)
			}
			c.report(r, f)
			apierrors.Write(w, r, f.err)
			return
		}
		if c.OnSuccess != nil {
			c.OnSuccess(r, key)
		}
		if st := reqctx.From(r.Context()); inGate && st != nil && src != SourceQuery {
			keyctx.Set(st, key)
		} else {
			r = r.WithContext(keyctx.With(r.Context(), key))
		}
		if src == SourceQuery {
			// Nothing past this point (a handler, a log line, a redirect
			// that copies the query) gets to see the key.
			r.URL, r.RequestURI = withoutQueryParam(r.URL, c.QueryParam)
		}
		next.ServeHTTP(w, r)
	})
}

// A failure is a refused request: the answer, and what hooks and logs learn.
type failure struct {
	err     *apierrors.Error // the answer; may be shared: never modify
	cause   error            // the internal reason, or nil
	key     *apikey.Key      // the refused key, when its secret matched
	invalid bool             // an invalid_api_key answer, which the Throttle counts
	counted bool             // another answer the Throttle counts: a look-up refused for want of slots
}

var errThrottled = errors.New("middleware: too many failed authentications from this address")

// authenticate returns the key and where it was found, or the failure to
// answer. It has no side effects of its own.
func (c *authenticator) authenticate(r *http.Request) (*apikey.Key, Source, *failure) {
	if c.Throttle != nil && c.Throttle.anyBlocked() {
		// Resolving the client address walks X-Forwarded-For: only pay for
		// it when some address is blocked.
		if wait, blocked := c.Throttle.Blocked(c.Proxies.ClientAddr(r)); blocked {
			return nil, 0, &failure{err: apierrors.NewTooManyRequests(wait), cause: errThrottled}
		}
	}
	presented, src, err := credentials(r, c.Sources, c.HeaderName, c.QueryParam)
	bearer := src == SourceBearer
	switch err {
	case nil:
	case errNoCredentials:
		return nil, 0, &failure{err: c.rejection(rejectMissing, false)}
	case errAmbiguousCredentials:
		return nil, 0, &failure{err: apierrors.New(http.StatusBadRequest, apierrors.CodeAmbiguousCredentials,
			"API key credentials were provided in more than one place; send exactly one"), cause: err}
	default:
		return nil, 0, &failure{err: c.rejection(rejectInvalid, bearer), cause: err, invalid: true}
	}

	key, err := c.Verifier.Verify(r.Context(), presented)
	if err != nil {
		switch {
		case errors.Is(err, apikey.ErrTooManyLookups):
			// The mark of a flood of made-up keys: it counts toward the
			// address's throttle as a guess does.
			return nil, 0, &failure{err: apierrors.NewServiceUnavailable(unavailableRetryAfter), cause: err, counted: true}
		case errors.Is(err, apikey.ErrUnavailable):
			return nil, 0, &failure{err: apierrors.NewServiceUnavailable(unavailableRetryAfter), cause: err}
		case errors.Is(err, apikey.ErrInvalidKey):
			return nil, 0, &failure{err: c.rejection(rejectInvalid, bearer), cause: err, invalid: true}
		case errors.Is(err, apikey.ErrExpired):
			return nil, 0, &failure{err: c.rejection(rejectExpired, bearer), cause: err, key: key}
		case errors.Is(err, apikey.ErrRevoked):
			return nil, 0, &failure{err: c.rejection(rejectRevoked, bearer), cause: err, key: key}
		case errors.Is(err, apikey.ErrDisabled):
			return nil, 0, &failure{err: c.rejection(rejectDisabled, bearer), cause: err, key: key}
		default:
			// Not a verdict about the key: fail closed, as a server error.
			return nil, 0, &failure{err: apierrors.NewInternal(nil), cause: err}
		}
	}
	if key == nil {
		return nil, 0, &failure{err: apierrors.NewInternal(nil), cause: errors.New("middleware: verifier returned no key and no error")}
	}
	if len(key.AllowedNetworks) > 0 && !key.AllowsAddr(c.Proxies.ClientAddr(r)) {
		return nil, 0, &failure{err: apierrors.New(http.StatusForbidden, apierrors.CodeIPNotAllowed,
			"This API key may not be used from this IP address"), key: key}
	}
	if c.RejectSecretKeysFromBrowsers && key.Type == apikey.SecretKey && len(r.Header["Origin"]) > 0 {
		return nil, 0, &failure{err: apierrors.New(http.StatusForbidden, apierrors.CodePublishableKeyRequired,
			"Secret API keys must not be used in browsers or other client-side code; use a publishable key (pk_…) there and keep secret keys on your server"), key: key}
	}
	return key, src, nil
}

// countFailure counts an invalid key against the client's address. The
// failure that finds the address's allowance already spent is answered 429
// rather than 401.
func (c *authenticator) countFailure(r *http.Request, f *failure) {
	if c.Throttle == nil {
		return
	}
	wait, blocked, err := c.Throttle.Failed(r.Context(), c.Proxies.ClientAddr(r))
	if err != nil {
		c.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: auth throttle store failed", slog.String("error", err.Error()))
	}
	if blocked {
		f.err, f.cause = apierrors.NewTooManyRequests(wait), errThrottled
	}
}

// report tells the hook and the logger about a rejection.
func (c *authenticator) report(r *http.Request, f *failure) {
	if c.OnFailure != nil {
		c.OnFailure(r, f.err.WithCause(f.cause)) // a copy: the hook cannot change shared answers
	}
	level := slog.LevelDebug
	if f.err.Status >= 500 {
		level = slog.LevelError
	}
	ctx := r.Context()
	if !c.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("code", string(f.err.Code)), slog.String("method", r.Method)}
	if id, ok := RequestIDFromContext(ctx); ok {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if f.key != nil {
		attrs = append(attrs, slog.String("key_id", f.key.ID))
	}
	if f.cause != nil {
		attrs = append(attrs, slog.String("reason", f.cause.Error()))
	}
	c.Logger.LogAttrs(ctx, level, "gatekey: authentication failed", attrs...)
}

// KeyFromContext returns the API key record that the Authenticator stored
// in ctx. Behind an Authenticator it always reports true. The record is
// shared: do not modify it.
func KeyFromContext(ctx context.Context) (*apikey.Key, bool) {
	return keyctx.From(ctx)
}
