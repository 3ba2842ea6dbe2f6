package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming []string
		keep     bool
	}{
		{"none", nil, false},
		{"valid", []string{"abc-123_X.y:z"}, true},
		{"max length", []string{strings.Repeat("a", 128)}, true},
		{"too long", []string{strings.Repeat("a", 129)}, false},
		{"10 KB", []string{strings.Repeat("b", 10<<10)}, false},
		{"header injection", []string{"a\r\nSet-Cookie: x=1"}, false},
		{"spaces", []string{"a b"}, false},
		{"two headers", []string{"a", "b"}, false},
		{"empty", []string{""}, false},
		{"W3C trace id", []string{"4bf92f3577b34da6a3ce929d0e0e4736"}, true},
		{"an API key", []string{"sk_test_" + strings.Repeat("a1B2", 12) + "ab"}, false},
		{"an API key inside", []string{"req:pk_live_" + strings.Repeat("Z9", 22) + "-1"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var inHandler string
			h := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inHandler, _ = middleware.RequestIDFromContext(r.Context())
				apierrors.Write(w, r, apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "Not found"))
			}))
			r := httptest.NewRequest("GET", "/", nil)
			for _, v := range tc.incoming {
				r.Header.Add("X-Request-Id", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			got := w.Header().Get("X-Request-Id")
			if got != inHandler {
				t.Errorf("header %q, context %q", got, inHandler)
			}
			if tc.keep {
				if got != tc.incoming[0] {
					t.Errorf("id %q, want incoming %q", got, tc.incoming[0])
				}
			} else if !generatedID.MatchString(got) {
				t.Errorf("generated id %q", got)
			}
			if !strings.Contains(w.Body.String(), `"request_id":"`+got+`"`) {
				t.Errorf("error body %q lacks request id %q", w.Body, got)
			}
		})
	}
}

var generatedID = regexp.MustCompile(`^req_[0-9a-z]{24}$`)

func BenchmarkRequestID(b *testing.B) {
	h := middleware.RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, incoming := range []string{"", "req_from_client_0123"} {
		b.Run("incoming="+incoming, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			if incoming != "" {
				r.Header.Set("X-Request-Id", incoming)
			}
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
