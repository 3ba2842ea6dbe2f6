package errors_test

import (
	"regexp"
	"strings"
	"testing"

	apierrors "github.com/gatekey/gatekey/errors"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"":                         false,
		"a":                        true,
		"req_0123abcXYZ":           true,
		"trace:1.2-3_4":            true,
		strings.Repeat("a", 128):   true,
		strings.Repeat("a", 129):   false,
		"has space":                false,
		"quote\"":                  false,
		"new\nline":                false,
		"ü":                        false,
		"semi;colon":               false,
		strings.Repeat("x", 10240): false,
	} {
		if got := apierrors.ValidRequestID(id); got != want {
			t.Errorf("ValidRequestID(%.20q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"req_abc", "", "a b", "ü", strings.Repeat("z", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := apierrors.ValidRequestID(id), requestIDPattern.MatchString(id); got != want {
			t.Errorf("ValidRequestID(%q) = %v, regexp says %v", id, got, want)
		}
	})
}
