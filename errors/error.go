package errors

import (
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A Code is a stable snake_case error code, such as "invalid_api_key".
// Clients may switch on codes: they never change meaning. Messages, by
// contrast, are for humans and may be reworded.
//
// A Code is also the sentinel that matches every *Error carrying it:
//
//	if errors.Is(err, apierrors.CodeRateLimitExceeded) { … }
//
// Codes are constants, so no caller can change one or what it matches. A
// Code is not itself an answer: Write sends a bare Code as it sends any
// error that is not an *Error, as a 500. Build answers with New and the
// New… constructors.
type Code string

// Error returns the code itself, so that a Code prints as what it is.
func (c Code) Error() string { return string(c) }

// The codes gatekey sends. A service may define more of its own.
const (
	// 400
	CodeBadRequest            Code = "bad_request"
	CodeInvalidParameter      Code = "invalid_parameter"
	CodeAmbiguousCredentials  Code = "ambiguous_credentials"
	CodeInvalidIdempotencyKey Code = "invalid_idempotency_key"

	// 401
	CodeUnauthorized   Code = "unauthorized"
	CodeMissingAPIKey  Code = "missing_api_key"
	CodeInvalidAPIKey  Code = "invalid_api_key"
	CodeExpiredAPIKey  Code = "expired_api_key"
	CodeRevokedAPIKey  Code = "revoked_api_key"
	CodeDisabledAPIKey Code = "disabled_api_key"

	// 402
	CodePaymentRequired Code = "payment_required"
	CodeQuotaExceeded   Code = "quota_exceeded"

	// 403
	CodeForbidden               Code = "forbidden"
	CodeInsufficientPermissions Code = "insufficient_permissions"
	CodeSecretKeyRequired       Code = "secret_key_required"
	CodeHTTPSRequired           Code = "https_required"
	CodeIPNotAllowed            Code = "ip_not_allowed"
	CodePublishableKeyRequired  Code = "publishable_key_required"
	CodeInsufficientScope       Code = "insufficient_scope"
	CodeEnvironmentNotAllowed   Code = "environment_not_allowed"
	CodeInvalidSignature        Code = "invalid_signature" // a signed request (a leak report) whose signature does not verify

	// 404, 405, 409, 413, 422, 429
	CodeNotFound               Code = "not_found"
	CodeMethodNotAllowed       Code = "method_not_allowed"
	CodeConflict               Code = "conflict"
	CodeIdempotencyConflict    Code = "idempotency_conflict"     // 409: the key's first request is still running
	CodeRequestTooLarge        Code = "request_too_large"        // 413
	CodeIdempotencyKeyMismatch Code = "idempotency_key_mismatch" // 422: the key was used for another request
	CodeRateLimitExceeded      Code = "rate_limit_exceeded"

	// 5xx
	CodeInternalError      Code = "internal_error"
	CodeBadGateway         Code = "bad_gateway"
	CodeServiceUnavailable Code = "service_unavailable"
	CodeGatewayTimeout     Code = "gateway_timeout"
)

// Error is an error meant for an API client: an HTTP status, a stable code
// and a human message, plus optional fields that are sent when set. Err,
// the cause, is never sent to the client; it is there for logs and for
// errors.Is and errors.As through Unwrap.
//
// Every Error comes fresh from New or a constructor, so changing one
// changes nothing else. The With methods return changed copies, which lets
// a caller keep a template of its own.
type Error struct {
	Status    int            // HTTP status, 400–599
	Code      Code           // stable snake_case code, e.g. "invalid_api_key"
	Message   string         // human-readable; may change between releases
	Param     string         // the offending parameter, if any
	RequestID string         // empty: Write fills in the response's X-Request-Id
	DocURL    string         // link to documentation about this error
	Details   map[string]any // extra machine-readable data, sent as a JSON object
	Header    http.Header    // extra response headers (Retry-After, Allow, WWW-Authenticate, …)
	Err       error          // the cause; never serialized
}

// Error returns a description for logs, with the cause:
// "apierrors: 404 not_found: No such monitor".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("apierrors: ")
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteByte(' ')
	b.WriteString(string(e.Code))
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

// Is reports whether target is e's Code, or an *Error with the same code.
func (e *Error) Is(target error) bool {
	if e == nil {
		return false
	}
	switch t := target.(type) {
	case Code:
		return e.Code == t
	case *Error:
		return t != nil && e.Code == t.Code
	}
	return false
}

func (e *Error) clone() *Error {
	c := *e
	c.Header = e.Header.Clone()
	c.Details = maps.Clone(e.Details)
	return &c
}

// WithCause returns a copy of e wrapping err. The cause is logged, never sent.
func (e *Error) WithCause(err error) *Error {
	c := e.clone()
	c.Err = err
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

// WithRetryAfter returns a copy of e with a Retry-After header of d in
// whole seconds, rounded up (see DelaySeconds).
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	return e.WithHeader("Retry-After", strconv.FormatInt(DelaySeconds(d), 10))
}

// DelaySeconds returns d in whole seconds, rounded up, and 0 for d <= 0: the
// delay-seconds of Retry-After, and of every other header that counts
// seconds until something happens. Rounding up means that a client which
// waits that long is never early.
func DelaySeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// New returns an Error with the given status, code and message. An empty
// code or message is filled in from the status when the error is written.
func New(status int, code Code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// NewInvalidParameter returns a 400 invalid_parameter error naming param.
func NewInvalidParameter(param, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter, Message: message, Param: param}
}

// NewMethodNotAllowed returns a 405 method_not_allowed error whose Allow
// header lists the allowed methods. With no methods it sends no Allow
// header at all rather than an empty one.
func NewMethodNotAllowed(allowed ...string) *Error {
	e := &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: "Method not allowed"}
	if len(allowed) > 0 {
		e.Header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
	}
	return e
}

// NewTooManyRequests returns a 429 rate_limit_exceeded error with a
// Retry-After header of retryAfter (see WithRetryAfter).
func NewTooManyRequests(retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimitExceeded, Message: "Rate limit exceeded",
		Header: retryAfterHeader(retryAfter)}
}

// NewServiceUnavailable returns a 503 service_unavailable error with a
// Retry-After header of retryAfter (see WithRetryAfter).
func NewServiceUnavailable(retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
		Message: "The service is temporarily unavailable; try again later", Header: retryAfterHeader(retryAfter)}
}

// retryAfterHeader returns a header holding only Retry-After: d.
func retryAfterHeader(d time.Duration) http.Header {
	return http.Header{"Retry-After": {strconv.FormatInt(DelaySeconds(d), 10)}}
}

// NewInternal returns a 500 internal_error wrapping cause. The message sent
// to the client is generic; the cause is only logged.
func NewInternal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternalError,
		Message: "Internal server error", Err: cause}
}

// defaultCode returns the generic code for an HTTP error status.
func defaultCode(status int) Code {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusPaymentRequired:
		return CodePaymentRequired
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusTooManyRequests:
		return CodeRateLimitExceeded
	case http.StatusBadGateway:
		return CodeBadGateway
	case http.StatusServiceUnavailable:
		return CodeServiceUnavailable
	case http.StatusGatewayTimeout:
		return CodeGatewayTimeout
	}
	if status >= 500 {
		return CodeInternalError
	}
	// Other 4xx statuses: derive e.g. "unprocessable_entity" from the status text.
	var b strings.Builder
	for _, c := range strings.ToLower(http.StatusText(status)) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-':
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return CodeBadRequest
	}
	return Code(b.String())
}
