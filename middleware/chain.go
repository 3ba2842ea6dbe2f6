package middleware

import "net/http"

// Chain composes middleware: Chain(a, b, c)(h) is a(b(c(h))), so requests
// pass through a first. Plain nested calls work just as well; Chain only
// reads better.
func Chain(middleware ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		for i := len(middleware) - 1; i >= 0; i-- {
			h = middleware[i](h)
		}
		return h
	}
}
