// Package errors defines the typed errors a gatekey service sends to its API
// clients, and writes them as JSON.
//
// The package is named errors; import it as apierrors so that it sits beside
// the standard library's errors package, which keeps working on its values:
//
//	import apierrors "github.com/gatekey/gatekey/errors"
//
// Its own error strings and panics begin with "apierrors:", the name it is
// imported by, so that they do not read as the standard library's.
//
// An [*Error] carries an HTTP status, a stable snake_case [Code] that
// clients may switch on, and a human message, plus optional fields (param,
// request id, doc URL, details) and extra response headers such as
// Retry-After. Its cause, if any, is logged and never sent. Build one with
// [New], or with the constructor of a situation that needs more than a
// message ([NewInvalidParameter], [NewMethodNotAllowed],
// [NewTooManyRequests], [NewServiceUnavailable], [NewInternal]). Each call
// returns a fresh value: there is no shared *Error that a caller could
// change for the whole process.
//
// The codes are constants, and a Code is the sentinel that matches every
// *Error carrying it, through any wrapping:
//
//	if errors.Is(err, apierrors.CodeRevokedAPIKey) { … }
//
// [Writer.Write] (or [Write]) sends any error: an *Error as itself, anything
// else as a 500 internal_error that reveals nothing. Three encodings exist:
//
//	{"error": {"status": 401, "code": "invalid_api_key", "message": "…", "request_id": "req_…"}}
//	{"error": "Invalid or missing API key"}
//	{"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "…", "code": "…"}
//
// The first is the default; the third, RFC 9457 application/problem+json,
// is also chosen per request by the Accept header. [Decode] reads any of
// the three back, for clients and tests.
//
// The request_id of a body is the response's X-Request-Id header, which
// the request-id middleware (package middleware) sets before anything can
// fail, so that the header and the body always agree.
//
// [HandlerFunc] adapts handlers that return errors, and [Mux] makes a
// standard http.ServeMux answer unknown paths and wrong methods with JSON
// 404 and 405 errors without changing how it routes.
package errors
