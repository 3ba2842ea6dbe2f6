package errors

import (
	"net/http"
	"strings"
	"time"
)

// Ready-made errors for the situations every gatekey service shares. They
// are targets for errors.Is and templates for the With methods; they must not
// be modified. Write them directly when their default message fits.
var (
	ErrAmbiguousCredentials = New(http.StatusBadRequest, CodeAmbiguousCredentials,
		"API key credentials were provided in more than one place; send exactly one")

	ErrMissingAPIKey = New(http.StatusUnauthorized, CodeMissingAPIKey,
		"No API key provided")
	ErrInvalidAPIKey = New(http.StatusUnauthorized, CodeInvalidAPIKey,
		"Invalid or missing API key")
	ErrExpiredAPIKey = New(http.StatusUnauthorized, CodeExpiredAPIKey,
		"This API key has expired")
	ErrRevokedAPIKey = New(http.StatusUnauthorized, CodeRevokedAPIKey,
		"This API key has been revoked")
	ErrDisabledAPIKey = New(http.StatusUnauthorized, CodeDisabledAPIKey,
		"This API key is disabled")

	ErrInsufficientPermissions = New(http.StatusForbidden, CodeInsufficientPermissions,
		"This API key does not have permission to perform this request")
	ErrSecretKeyRequired = New(http.StatusForbidden, CodeSecretKeyRequired,
		"This request requires a secret API key")
	ErrHTTPSRequired = New(http.StatusForbidden, CodeHTTPSRequired,
		"HTTPS is required")
	ErrIPNotAllowed = New(http.StatusForbidden, CodeIPNotAllowed,
		"This API key may not be used from this IP address")
	ErrPublishableKeyRequired = New(http.StatusForbidden, CodePublishableKeyRequired,
		"Secret API keys must not be used in browsers or other client-side code; use a publishable key (pk_…) there and keep secret keys on your server")
	ErrInsufficientScope = New(http.StatusForbidden, CodeInsufficientScope,
		"This API key lacks a scope this request requires")
	ErrEnvironmentNotAllowed = New(http.StatusForbidden, CodeEnvironmentNotAllowed,
		"This API key's environment (live or test) may not use this endpoint")

	ErrNotFound         = New(http.StatusNotFound, CodeNotFound, "Not found")
	ErrMethodNotAllowed = New(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed")
	ErrRateLimited      = New(http.StatusTooManyRequests, CodeRateLimitExceeded, "Rate limit exceeded")

	ErrInternal           = New(http.StatusInternalServerError, CodeInternalError, "Internal server error")
	ErrServiceUnavailable = New(http.StatusServiceUnavailable, CodeServiceUnavailable,
		"The service is temporarily unavailable; try again later")
)

// NewBadRequest returns a 400 bad_request error.
func NewBadRequest(msg string) *Error {
	return New(http.StatusBadRequest, CodeBadRequest, msg)
}

// NewInvalidParameter returns a 400 invalid_parameter error naming param.
func NewInvalidParameter(param, msg string) *Error {
	e := New(http.StatusBadRequest, CodeInvalidParameter, msg)
	e.Param = param
	return e
}

// NewUnauthorized returns a 401 unauthorized error. A 401 should carry a
// WWW-Authenticate header; add one with WithHeader.
func NewUnauthorized(msg string) *Error {
	return New(http.StatusUnauthorized, CodeUnauthorized, msg)
}

// NewPaymentRequired returns a 402 payment_required error.
func NewPaymentRequired(msg string) *Error {
	return New(http.StatusPaymentRequired, CodePaymentRequired, msg)
}

// NewForbidden returns a 403 forbidden error.
func NewForbidden(msg string) *Error {
	return New(http.StatusForbidden, CodeForbidden, msg)
}

// NewNotFound returns a 404 not_found error.
func NewNotFound(msg string) *Error {
	return New(http.StatusNotFound, CodeNotFound, msg)
}

// NewMethodNotAllowed returns a 405 method_not_allowed error whose Allow
// header lists the allowed methods.
func NewMethodNotAllowed(allowed ...string) *Error {
	e := New(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed")
	e.Header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
	return e
}

// NewConflict returns a 409 conflict error.
func NewConflict(msg string) *Error {
	return New(http.StatusConflict, CodeConflict, msg)
}

// NewTooManyRequests returns a 429 rate_limit_exceeded error with a
// Retry-After header of retryAfter rounded up to whole seconds.
func NewTooManyRequests(msg string, retryAfter time.Duration) *Error {
	e := New(http.StatusTooManyRequests, CodeRateLimitExceeded, msg)
	e.Header = http.Header{"Retry-After": {RetryAfterSeconds(retryAfter)}}
	return e
}

// NewInternal returns a 500 internal_error wrapping cause. The message sent
// to the client is generic; the cause is only logged.
func NewInternal(cause error) *Error {
	e := ErrInternal.clone()
	e.Err = cause
	return e
}

// NewBadGateway returns a 502 bad_gateway error.
func NewBadGateway(msg string) *Error {
	return New(http.StatusBadGateway, CodeBadGateway, msg)
}

// NewServiceUnavailable returns a 503 service_unavailable error with a
// Retry-After header of retryAfter rounded up to whole seconds.
func NewServiceUnavailable(msg string, retryAfter time.Duration) *Error {
	e := New(http.StatusServiceUnavailable, CodeServiceUnavailable, msg)
	e.Header = http.Header{"Retry-After": {RetryAfterSeconds(retryAfter)}}
	return e
}

// NewGatewayTimeout returns a 504 gateway_timeout error.
func NewGatewayTimeout(msg string) *Error {
	return New(http.StatusGatewayTimeout, CodeGatewayTimeout, msg)
}

// defaultCode returns the generic code for an HTTP error status.
func defaultCode(status int) string {
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
	return b.String()
}
