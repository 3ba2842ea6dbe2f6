package middleware

import "testing"

func TestIsReadMethod(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "OPTIONS"} {
		if !isReadMethod(m) {
			t.Errorf("%s is not a read method", m)
		}
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT", "PROPFIND", "get", "BREW", ""} {
		if isReadMethod(m) {
			t.Errorf("%q counted as a read method", m)
		}
	}
}

func TestNewRequestIDUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 10000 {
		id := newRequestID()
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}
