// Package errors defines the typed errors a gatekey service sends to its API
// clients, and writes them as JSON.
//
// The package is named errors; import it as apierrors so that it sits beside
// the standard library's errors package, which keeps working on its values:
//
//	import apierrors "github.com/gatekey/gatekey/errors"
//
// An [*Error] carries an HTTP status, a stable snake_case code that clients
// may switch on, and a human message, plus optional fields (param, request
// id, doc URL, details) and extra response headers such as Retry-After. Its
// cause, if any, is logged and never sent. Two Errors with the same code
// match with errors.Is, and errors.As finds an Error anywhere in a wrap
// chain, so handlers can return wrapped errors freely.
//
// [Writer.Write] (or [Write]) sends any error: an *Error as itself, anything
// else as a 500 internal_error that reveals nothing. Three encodings exist:
//
//	{"error": {"status": 401, "code": "invalid_api_key", "message": "…", "request_id": "req_…"}}
//	{"error": "Invalid or missing API key"}
//	{"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "…", "code": "…"}
//
// The first is the default; the third, RFC 9457 application/problem+json,
// is also chosen per request by the Accept header.
//
// [HandlerFunc] adapts handlers that return errors, and [Mux] makes a
// standard http.ServeMux answer unknown paths and wrong methods with JSON
// 404 and 405 errors without changing how it routes.
//
// Request ids placed in the context by the request-id middleware (see
// [ContextWithRequestID]) appear in every error body.
package errors
