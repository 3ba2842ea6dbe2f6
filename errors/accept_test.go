package errors

import (
	"strings"
	"testing"
)

func TestPrefersProblem(t *testing.T) {
	tests := []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"*/*"}, false},
		{[]string{"application/json"}, false},
		{[]string{"application/problem+json"}, true},
		{[]string{"Application/Problem+JSON"}, true},
		{[]string{"application/problem+json, application/json"}, true},
		{[]string{"application/json, application/problem+json;q=0.9"}, false},
		{[]string{"application/json;q=0.5, application/problem+json"}, true},
		{[]string{"application/problem+json;q=0"}, false},
		{[]string{"application/problem+json;q=0.5, */*;q=0.1"}, true},
		{[]string{"application/problem+json;q=0.5, application/*"}, false},
		{[]string{"application/problem+json;q=0.5, application/*;q=0.4, */*"}, true}, // application/* is more specific than */*
		{[]string{"application/problem+json;q=0.5, application/json;q=0.1, application/*"}, true},
		{[]string{"application/problem+json;q=2"}, false},      // invalid q: ignored
		{[]string{"application/problem+json;q=0.1234"}, false}, // too many digits
		{[]string{"application/problem+json;q=1.000"}, true},
		{[]string{"application/problem+json;q=1.001"}, false},
		{[]string{"application/problem+json; charset=utf-8; q=0.8", "application/json;q=0.7"}, true},
		{[]string{";;;,,,=,q=,application/problem+json;q"}, true},                         // "q" without "=": not a q parameter
		{[]string{strings.Repeat("text/html,", 100) + "application/problem+json"}, false}, // past the element bound
	}
	for _, tc := range tests {
		if got := prefersProblem(tc.accept); got != tc.want {
			t.Errorf("prefersProblem(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func FuzzPrefersProblem(f *testing.F) {
	for _, s := range []string{"application/problem+json", "application/json;q=0.5, application/problem+json", "*/*;q=0.1", ";q=1.", "a/b;q=0.000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got := prefersProblem([]string{accept})
		if got && !strings.Contains(strings.ToLower(accept), "application/problem+json") {
			t.Errorf("prefersProblem(%q) = true without naming problem+json", accept)
		}
	})
}

func FuzzParseQValue(f *testing.F) {
	for _, s := range []string{"0", "1", "0.5", "1.000", "0.123", "1.1", ".5", "01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, ok := parseQValue(s)
		if ok && (q < 0 || q > 1000) {
			t.Errorf("parseQValue(%q) = %d", s, q)
		}
	})
}
