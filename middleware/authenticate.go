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

// unavailableRetryAfter is the Retry-After of a 503 when the key store
// cannot be reached.
const unavailableRetryAfter = 2 * time.Second

// Authenticator requires a valid API key on every request except CORS
// preflights, and puts the key's record in the request context (see
// KeyFromContext). The plaintext key never enters the context.
//
// Failures are answered, without calling the next handler, as DESIGN.md's
// table fixes: 401 missing_api_key when no credentials are sent; 401
// invalid_api_key, identical for malformed, unknown and wrong-secret keys;
// 401 expired_api_key, revoked_api_key or disabled_api_key only to a caller
// who presented the genuine secret; 400 ambiguous_credentials for repeated
// Authorization headers or credentials in more than one place; 403
// ip_not_allowed when the key is restricted to networks the client is not
// in; and 503 service_unavailable with Retry-After when the key store
// cannot answer in time (never a 401, never the handler). Every 401 carries
// WWW-Authenticate.
//
// A store that hangs is cut off by the request's deadline or by the
// verifier's own bound (apikey.VerifierConfig.LookupTimeout).
//
// Verifier is required; the other fields have working zero values. The
// Authenticator must not be modified after Handler is called.
type Authenticator struct {
	// Verifier checks presented keys. Required.
	Verifier KeyVerifier

	// Sources lists where keys are accepted. Empty means DefaultSources
	// (Bearer, token and Basic, in the Authorization header). Enabling
	// SourceQuery puts keys in URLs: see its documentation.
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

	// Proxies resolves the client address checked against a key's
	// AllowedNetworks. The zero value uses the TCP peer.
	Proxies TrustedProxies

	// Throttle, if set, counts invalid_api_key answers per client address
	// (resolved with Proxies) and answers 429 rate_limit_exceeded, before
	// any key look-up, to addresses past its limit. See AuthThrottle.
	Throttle *AuthThrottle

	// RejectSecretKeysFromBrowsers answers 403 publishable_key_required
	// when a secret key arrives on a request with an Origin header, that is
	// from a browser: a secret key in client-side code is a leaked key.
	RejectSecretKeysFromBrowsers bool

	// OnSuccess, if set, is called with each authenticated request and its
	// key before the next handler runs. It must not modify the key.
	OnSuccess func(r *http.Request, key *apikey.Key)

	// OnFailure, if set, is called with each rejected request and the error
	// about to be written. Its Code tells the kind of failure, and its
	// cause (Unwrap) the internal reason, such as an *apikey.FormatError.
	// Neither holds the presented key.
	OnFailure func(r *http.Request, err *apierrors.Error)

	// Errors writes rejections. Nil means apierrors.Write: the Writer
	// installed by apierrors.Writer.Middleware, or the default one.
	Errors *apierrors.Writer

	// Logger, if set, receives a line per rejection (store failures at
	// level Error, others at Debug), naming keys only by their id.
	Logger *slog.Logger
}

// authenticator is the immutable form of an Authenticator, with defaults
// filled in. Handler also prepares its rejections once (prepared); the
// Authenticate method, which builds an authenticator per call, builds a
// rejection only when a request fails.
type authenticator struct {
	Authenticator
	prepared                                     bool
	missing, invalid, expired, revoked, disabled *apierrors.Error
}

// settings fills in c's defaults and panics on a misconfiguration. It does
// not allocate for the default header name.
func (c *authenticator) settings() {
	if c.Verifier == nil {
		panic("middleware: Authenticator.Verifier is nil")
	}
	if len(c.Sources) == 0 {
		c.Sources = DefaultSources
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
}

// prepare builds the rejections once, for Handler.
func (c *authenticator) prepare() {
	c.missing = c.rejection(apierrors.ErrMissingAPIKey)
	c.invalid = c.rejection(apierrors.ErrInvalidAPIKey)
	c.expired = c.rejection(apierrors.ErrExpiredAPIKey)
	c.revoked = c.rejection(apierrors.ErrRevokedAPIKey)
	c.disabled = c.rejection(apierrors.ErrDisabledAPIKey)
	c.prepared = true
}

// rejection returns the 401 for base with its WWW-Authenticate challenge:
// the prepared one when there is one.
func (c *authenticator) rejection(base *apierrors.Error) *apierrors.Error {
	if c.prepared {
		switch base {
		case apierrors.ErrMissingAPIKey:
			return c.missing
		case apierrors.ErrInvalidAPIKey:
			return c.invalid
		case apierrors.ErrExpiredAPIKey:
			return c.expired
		case apierrors.ErrRevokedAPIKey:
			return c.revoked
		case apierrors.ErrDisabledAPIKey:
			return c.disabled
		}
	}
	bearerError := "invalid_token"
	if base == apierrors.ErrMissingAPIKey {
		bearerError = "" // RFC 6750 3.1: no error code when no credentials were sent
	}
	return base.WithHeader("WWW-Authenticate", c.challenge(bearerError))
}

// challenge builds the WWW-Authenticate value naming every accepted
// Authorization scheme; bearerError is RFC 6750's error attribute.
func (c *authenticator) challenge(bearerError string) string {
	var parts []string
	for _, s := range c.Sources {
		switch s {
		case SourceBearer:
			p := `Bearer realm="` + c.Realm + `"`
			if bearerError != "" {
				p += `, error="` + bearerError + `"`
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
// or an *apierrors.Error saying why it was refused. It is the decision that
// Handler makes, without HTTP around it; unlike Handler it does not skip
// CORS preflights. Like Handler, it panics if the configuration is invalid.
func (a *Authenticator) Authenticate(r *http.Request) (*apikey.Key, error) {
	c := authenticator{Authenticator: *a}
	c.settings()
	k, err := c.authenticate(r)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Handler returns next behind authentication. It panics if Verifier is nil
// or the configuration is invalid.
func (a *Authenticator) Handler(next http.Handler) http.Handler {
	c := &authenticator{Authenticator: *a}
	c.settings()
	c.prepare()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPreflight(r) {
			next.ServeHTTP(w, r)
			return
		}
		key, err := c.authenticate(r)
		if err != nil {
			c.Errors.Write(w, r, err)
			return
		}
		if c.OnSuccess != nil {
			c.OnSuccess(r, key)
		}
		next.ServeHTTP(w, r.WithContext(keyctx.With(r.Context(), key)))
	})
}

// authenticate returns the key or the *apierrors.Error to send.
func (c *authenticator) authenticate(r *http.Request) (*apikey.Key, *apierrors.Error) {
	if c.Throttle != nil && c.Throttle.anyBlocked() {
		// Resolving the client address walks X-Forwarded-For: only pay for
		// it when some address is blocked.
		if wait, blocked := c.Throttle.Blocked(c.Proxies.ClientAddr(r)); blocked {
			return nil, c.fail(r, apierrors.ErrRateLimited.WithRetryAfter(wait), errThrottled, nil)
		}
	}
	presented, _, err := credentials(r, c.Sources, c.HeaderName, c.QueryParam)
	switch err {
	case nil:
	case errNoCredentials:
		return nil, c.fail(r, c.rejection(apierrors.ErrMissingAPIKey), nil, nil)
	case errAmbiguousCredentials:
		return nil, c.fail(r, apierrors.ErrAmbiguousCredentials, err, nil)
	default:
		return nil, c.invalidKey(r, err)
	}

	key, err := c.Verifier.Verify(r.Context(), presented)
	if err != nil {
		switch {
		case errors.Is(err, apikey.ErrUnavailable):
			return nil, c.fail(r, apierrors.ErrServiceUnavailable.WithRetryAfter(unavailableRetryAfter), err, nil)
		case errors.Is(err, apikey.ErrInvalidKey):
			return nil, c.invalidKey(r, err)
		case errors.Is(err, apikey.ErrExpired):
			return nil, c.fail(r, c.rejection(apierrors.ErrExpiredAPIKey), err, key)
		case errors.Is(err, apikey.ErrRevoked):
			return nil, c.fail(r, c.rejection(apierrors.ErrRevokedAPIKey), err, key)
		case errors.Is(err, apikey.ErrDisabled):
			return nil, c.fail(r, c.rejection(apierrors.ErrDisabledAPIKey), err, key)
		default:
			// Not a verdict about the key: fail closed, as a server error.
			return nil, c.fail(r, apierrors.ErrInternal, err, nil)
		}
	}
	if key == nil {
		return nil, c.fail(r, apierrors.ErrInternal, errors.New("middleware: verifier returned no key and no error"), nil)
	}
	if len(key.AllowedNetworks) > 0 && !key.AllowsAddr(c.Proxies.ClientAddr(r)) {
		return nil, c.fail(r, apierrors.ErrIPNotAllowed, nil, key)
	}
	if c.RejectSecretKeysFromBrowsers && key.Type == apikey.SecretKey && len(r.Header["Origin"]) > 0 {
		return nil, c.fail(r, apierrors.ErrPublishableKeyRequired, nil, key)
	}
	return key, nil
}

var errThrottled = errors.New("middleware: too many failed authentications from this address")

// invalidKey answers an invalid key, counting it against the client's
// address when a Throttle is set; the failure that exhausts the allowance
// is answered 429 rather than 401.
func (c *authenticator) invalidKey(r *http.Request, cause error) *apierrors.Error {
	if c.Throttle != nil {
		wait, blocked, err := c.Throttle.Failed(r.Context(), c.Proxies.ClientAddr(r))
		if err != nil && c.Logger != nil {
			c.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: auth throttle store failed", slog.String("error", err.Error()))
		}
		if blocked {
			return c.fail(r, apierrors.ErrRateLimited.WithRetryAfter(wait), errThrottled, nil)
		}
	}
	return c.fail(r, c.rejection(apierrors.ErrInvalidAPIKey), cause, nil)
}

// fail reports a rejection to the hook and the logger and returns the error
// to write. key is set when the rejected key was genuine.
func (c *authenticator) fail(r *http.Request, e *apierrors.Error, cause error, key *apikey.Key) *apierrors.Error {
	if cause != nil && (c.OnFailure != nil || e.Status >= 500) {
		// Keep the cause for the hook and for the 5xx log line.
		e = e.WithCause(cause)
	}
	if c.OnFailure != nil {
		c.OnFailure(r, e)
	}
	if c.Logger != nil {
		level := slog.LevelDebug
		if e.Status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{slog.String("code", e.Code), slog.String("method", r.Method), slog.String("path", r.URL.Path)}
		if id, ok := apierrors.RequestIDFromContext(r.Context()); ok {
			attrs = append(attrs, slog.String("request_id", id))
		}
		if key != nil {
			attrs = append(attrs, slog.String("key_id", key.ID))
		}
		if cause != nil {
			attrs = append(attrs, slog.String("reason", cause.Error()))
		}
		c.Logger.LogAttrs(r.Context(), level, "gatekey: authentication failed", attrs...)
	}
	return e
}

// isPreflight reports whether r is a CORS preflight request, which browsers
// send without credentials: OPTIONS with Origin and
// Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Access-Control-Request-Method"]) > 0 &&
		len(r.Header["Origin"]) > 0
}

// KeyFromContext returns the API key record that Authenticator stored in
// ctx. The record is shared: do not modify it.
func KeyFromContext(ctx context.Context) (*apikey.Key, bool) {
	return keyctx.From(ctx)
}
