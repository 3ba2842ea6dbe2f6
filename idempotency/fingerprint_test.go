package idempotency_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gatekey/gatekey/idempotency"
)

func TestReadRequest(t *testing.T) {
	fp := func(method, target, body string) idempotency.Fingerprint {
		t.Helper()
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		f, err := idempotency.ReadRequest(r, 1<<10)
		if err != nil {
			t.Fatalf("ReadRequest(%s %s): %v", method, target, err)
		}
		got, _ := io.ReadAll(r.Body)
		if string(got) != body {
			t.Fatalf("after ReadRequest the body reads %q, want %q", got, body)
		}
		return f
	}
	base := fp("POST", "/v1/monitors", `{"name":"a"}`)
	if fp("POST", "/v1/monitors", `{"name":"a"}`) != base {
		t.Error("one request, two fingerprints")
	}
	for _, other := range []idempotency.Fingerprint{
		fp("PUT", "/v1/monitors", `{"name":"a"}`),
		fp("POST", "/v1/monitors/", `{"name":"a"}`),
		fp("POST", "/v1/monitors?x=1", `{"name":"a"}`),
		fp("POST", "/v1/monitors?", `{"name":"a"}`),
		fp("POST", "/v1/monitors", `{"name":"b"}`),
		fp("POST", "/v1/monitors", `{"name":"a"} `),
		fp("POST", "/v1/monitor", `s{"name":"a"}`), // the boundary between path and body counts
	} {
		if other == base {
			t.Errorf("a different request has the same fingerprint %v", other)
		}
	}
	noBody := httptest.NewRequest("POST", "/v1/x", http.NoBody)
	if f, err := idempotency.ReadRequest(noBody, 1<<10); err != nil || f != fp("POST", "/v1/x", "") {
		t.Errorf("http.NoBody and an empty body: fingerprints differ, or %v", err)
	}
}

func TestReadRequestLimits(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 1025)))
	if _, err := idempotency.ReadRequest(r, 1024); !errors.Is(err, idempotency.ErrBodyTooLarge) {
		t.Errorf("a 1025-byte body with a 1024 limit: %v, want ErrBodyTooLarge", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 1024)))
	if _, err := idempotency.ReadRequest(r, 1024); err != nil {
		t.Errorf("a 1024-byte body with a 1024 limit: %v", err)
	}
	r = httptest.NewRequest("POST", "/", iotest.ErrReader(errors.New("connection reset")))
	if _, err := idempotency.ReadRequest(r, 1024); err == nil || errors.Is(err, idempotency.ErrBodyTooLarge) {
		t.Errorf("a failing body: %v, want its error", err)
	}
	r = httptest.NewRequest("POST", "/", nil)
	r.Body = nil
	if _, err := idempotency.ReadRequest(r, 1024); err != nil {
		t.Errorf("a nil body: %v", err)
	}
	r = httptest.NewRequest("POST", "/", http.NoBody)
	if _, err := idempotency.ReadRequest(r, 0); err != nil {
		t.Errorf("http.NoBody with a 0 limit: %v", err)
	}
}
