package errors_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
)

// discardWriter is a ResponseWriter that keeps its header map between
// calls, so the benchmark measures Write and not the recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkWrite(b *testing.B) {
	reqID := []string{"req_0123456789abcdef01234567"}
	r := httptest.NewRequest("GET", "/v1/monitors", nil)
	problem := r.Clone(r.Context())
	problem.Header.Set("Accept", "application/problem+json")
	invalid := apierrors.New(http.StatusUnauthorized, apierrors.CodeInvalidAPIKey, "Invalid or missing API key")
	cases := []struct {
		name string
		wr   *apierrors.Writer
		r    *http.Request
		err  error
	}{
		{"object", &apierrors.Writer{}, r, invalid},
		{"object-retry-after", &apierrors.Writer{}, r, apierrors.NewTooManyRequests(3 * time.Second)},
		{"simple", &apierrors.Writer{Encoding: apierrors.EncodingSimple}, r, invalid},
		{"problem", &apierrors.Writer{}, problem, invalid},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.h["X-Request-Id"] = reqID // as middleware.RequestID sets it
				c.wr.Write(w, c.r, c.err)
			}
		})
	}
}
