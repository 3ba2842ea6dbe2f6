// Package middlewaretest helps test HTTP handlers that sit behind gatekey's
// middleware.
//
// WithKey puts a verified API key into a request's context, where
// middleware.KeyFromContext finds it, without authentication: a handler, or
// a permission check such as middleware.RequireWrite, can then be tested in
// isolation with httptest, with no key store and no Authorization header.
// To test authentication itself, build the real chain over an
// apikeytest.Env instead.
//
// TestRouter is the conformance test of a middleware.Router: it drives a
// table of requests through a middleware.Gate in front of the router under
// test, so that an adapter for any router (chi, gorilla/mux, …) proves it
// gives the Gate what it needs.
//
// Error bodies are read back with apierrors.Decode.
//
// This package is for tests only. WithKey bypasses authentication
// entirely, which is why it lives here and not in package middleware: a
// production build that imports middlewaretest is a mistake worth a look.
package middlewaretest
