package errors

import (
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Stable error codes. Clients may switch on them; they never change meaning.
// Messages, by contrast, are for humans and may be reworded.
const (
	// 400
	CodeBadRequest           = "bad_request"
	CodeInvalidParameter     = "invalid_parameter"
	CodeAmbiguousCredentials = "ambiguous_credentials"

	// 401
	CodeUnauthorized   = "unauthorized"
	CodeMissingAPIKey  = "missing_api_key"
	CodeInvalidAPIKey  = "invalid_api_key"
	CodeExpiredAPIKey  = "expired_api_key"
	CodeRevokedAPIKey  = "revoked_api_key"
	CodeDisabledAPIKey = "disabled_api_key"

	// 402
	CodePaymentRequired = "payment_required"

	// 403
	CodeForbidden               = "forbidden"
	CodeInsufficientPermissions = "insufficient_permissions"
	CodeSecretKeyRequired       = "secret_key_required"
	CodeHTTPSRequired           = "https_required"
	CodeIPNotAllowed            = "ip_not_allowed"
	CodePublishableKeyRequired  = "publishable_key_required"
	CodeInsufficientScope       = "insufficient_scope"
	CodeEnvironmentNotAllowed   = "environment_not_allowed"

	// 404, 405, 409, 429
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeConflict          = "conflict"
	CodeRateLimitExceeded = "rate_limit_exceeded"

	// 5xx
	CodeInternalError      = "internal_error"
	CodeBadGateway         = "bad_gateway"
	CodeServiceUnavailable = "service_unavailable"
	CodeGatewayTimeout     = "gateway_timeout"
)

// Error is an error meant for an API client: an HTTP status, a stable
// snake_case code and a human message, plus optional fields that are sent
// when set. Err, the cause, is never sent to the client; it is there for
// logs and for errors.Is/As through Unwrap.
//
// Two Errors match with errors.Is when their codes are equal, so the
// ready-made values below (ErrInvalidAPIKey, …) can be used as targets:
//
//	if errors.Is(err, apierrors.ErrRateLimited) { … }
//
// An Error that has been returned or shared must not be modified; the With
// methods return modified copies.
type Error struct {
	Status    int            // HTTP status, 400–599
	Code      string         // stable snake_case code, e.g. "invalid_api_key"
	Message   string         // human-readable; may change between releases
	Param     string         // the offending parameter, if any
	RequestID string         // set by the Writer from the request when empty
	DocURL    string         // link to documentation about this error
	Details   map[string]any // extra machine-readable data, sent as a JSON object
	Header    http.Header    // extra response headers (Retry-After, Allow, WWW-Authenticate, …)
	Err       error          // the cause; never serialized
}

// Error returns a description for logs, including the cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("errors: ")
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteByte(' ')
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code as e.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

func (e *Error) clone() *Error {
	c := *e
	c.Header = e.Header.Clone()
	c.Details = maps.Clone(e.Details)
	return &c
}

// WithMessage returns a copy of e with the given message.
func (e *Error) WithMessage(msg string) *Error {
	c := e.clone()
	c.Message = msg
	return c
}

// WithParam returns a copy of e naming the offending parameter.
func (e *Error) WithParam(param string) *Error {
	c := e.clone()
	c.Param = param
	return c
}

// WithDocURL returns a copy of e linking to documentation.
func (e *Error) WithDocURL(url string) *Error {
	c := e.clone()
	c.DocURL = url
	return c
}

// WithDetails returns a copy of e whose details include the given key and
// value. The value must be encodable by encoding/json.
func (e *Error) WithDetails(key string, value any) *Error {
	c := e.clone()
	if c.Details == nil {
		c.Details = make(map[string]any, 1)
	}
	c.Details[key] = value
	return c
}

// WithHeader returns a copy of e that sets the response header key to value
// when written.
func (e *Error) WithHeader(key, value string) *Error {
	c := e.clone()
	if c.Header == nil {
		c.Header = make(http.Header, 1)
	}
	c.Header.Set(key, value)
	return c
}

// WithRetryAfter returns a copy of e with a Retry-After header of d rounded
// up to whole seconds (never negative).
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	return e.WithHeader("Retry-After", RetryAfterSeconds(d))
}

// WithCause returns a copy of e wrapping err. The cause is logged, never sent.
func (e *Error) WithCause(err error) *Error {
	c := e.clone()
	c.Err = err
	return c
}

// RetryAfterSeconds formats d as the delay-seconds form of Retry-After:
// whole seconds rounded up, "0" for d <= 0.
func RetryAfterSeconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return strconv.FormatInt(int64(s), 10)
}

// New returns an Error with the given status, code and message. An empty
// code or message is filled in from the status when written.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Newf is New with a formatted message.
func Newf(status int, code, format string, args ...any) *Error {
	return New(status, code, fmt.Sprintf(format, args...))
}
