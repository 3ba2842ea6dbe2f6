package idempotency_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestAnswerRoundTrip(t *testing.T) {
	tests := []idempotency.Answer{
		{Status: 204},
		{Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/monitors/mon_1"}}, Body: []byte(`{"id":"mon_1"}`)},
		{Status: 500, Body: []byte("a\x00b")},
		{Status: 200, Header: http.Header{"Content-Language": {"en", "fr"}, "Content-Type": {""}}},
	}
	for _, a := range tests {
		b, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%+v): %v", a, err)
		}
		var got idempotency.Answer
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary(%+v)): %v", a, err)
		}
		if diff := cmp.Diff(a, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestAnswerRejects(t *testing.T) {
	for _, status := range []int{0, 99, 1000, -1} {
		a := idempotency.Answer{Status: status}
		if _, err := a.MarshalBinary(); err == nil {
			t.Errorf("MarshalBinary of status %d: no error", status)
		}
	}
	good, _ := (&idempotency.Answer{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("x")}).MarshalBinary()
	// A value cut short in its body is an error, not a shorter body.
	long, _ := (&idempotency.Answer{Status: 201, Body: []byte("0123456789")}).MarshalBinary()
	var cut idempotency.Answer
	if err := cut.UnmarshalBinary(long[:len(long)-1]); !errors.Is(err, idempotency.ErrBadAnswer) {
		t.Errorf("an answer missing its body's last byte: %v (body %q), want ErrBadAnswer", err, cut.Body)
	}
	bad := [][]byte{nil, {}, {2}, {1}, {1, 0xff}, {1, 50, 0}, good[:len(good)-3], append([]byte{1, 200, 1, 0x7f}, good...)}
	for _, b := range bad {
		var a idempotency.Answer
		if err := a.UnmarshalBinary(b); !errors.Is(err, idempotency.ErrBadAnswer) {
			t.Errorf("UnmarshalBinary(%q) = %v, want ErrBadAnswer", b, err)
		}
	}
}

func TestKeepHeaders(t *testing.T) {
	h := http.Header{
		"Content-Type":        {"application/json"},
		"Location":            {"/v1/x"},
		"Set-Cookie":          {"s=1"},
		"X-Request-Id":        {"req_1"},
		"Ratelimit":           {"limit=10"},
		"Cache-Control":       {"no-store"},
		"Content-Length":      {"10"},
		"Idempotent-Replayed": {"true"},
	}
	want := http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/x"}}
	if diff := cmp.Diff(want, idempotency.KeepHeaders(h)); diff != "" {
		t.Errorf("KeepHeaders (-want +got):\n%s", diff)
	}
	if got := idempotency.KeepHeaders(http.Header{"X-A": {"1"}}); got != nil {
		t.Errorf("KeepHeaders of no kept header = %v, want nil", got)
	}
	names := idempotency.KeptHeaders()
	names[0] = "Set-Cookie"
	if idempotency.KeptHeaders()[0] == "Set-Cookie" {
		t.Error("KeptHeaders returns the package's own slice")
	}
}

func FuzzAnswerUnmarshal(f *testing.F) {
	good, _ := (&idempotency.Answer{Status: 201, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte("{}")}).MarshalBinary()
	f.Add(good)
	f.Add([]byte{1, 200, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var a idempotency.Answer
		if err := a.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, idempotency.ErrBadAnswer) {
				t.Fatalf("UnmarshalBinary: error %v does not wrap ErrBadAnswer", err)
			}
			return
		}
		again, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded answer: %v", err)
		}
		var b2 idempotency.Answer
		if err := b2.UnmarshalBinary(again); err != nil {
			t.Fatalf("UnmarshalBinary of a re-encoded answer: %v", err)
		}
		if diff := cmp.Diff(a, b2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("decode, encode, decode changed the answer (-first +second):\n%s", diff)
		}
	})
}
