// Package middleware is the net/http glue of gatekey: it authenticates API
// keys, checks what a key may do, limits request rates, assigns request ids
// and turns panics into JSON errors.
//
// Every middleware has the standard shape func(http.Handler) http.Handler,
// so it composes with http.ServeMux, chi, gorilla/mux or plain function
// calls. Middleware that needs configuration is a struct whose zero value
// works, with a Handler method, in the manner of http.CrossOriginProtection.
// Rejections are written by an errors.Writer (imported as apierrors), so
// every failure reaches the client as a typed JSON error.
//
// A typical chain, outermost first:
//
//	handler := middleware.Chain(
//		middleware.Recover,
//		middleware.RequestID,
//	)(mux)
package middleware
