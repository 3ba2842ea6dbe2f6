package service

import (
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

func TestRedactPath(t *testing.T) {
	tok, err := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Test)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/v1/keys/01uoTHatT215":                       "/v1/keys/01uoTHatT215",
		"/v1/monitors/mon_ABCDEFGH12345678":           "/v1/monitors/mon_ABCDEFGH12345678",
		"/v1/keys/" + tok.Reveal():                    "/v1/keys/" + tok.String(),
		"/v1/keys/" + tok.Reveal() + "/roll":          "/v1/keys/" + tok.String() + "/roll",
		"/v1/keys/sk_test_" + strings.Repeat("A", 50): "/v1/keys/[redacted]",
		"/v1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x":        "/v1/[redacted]/x",
	} {
		if got := redactPath(path); got != want {
			t.Errorf("redactPath(%s) = %s, want %s", apikey.Redact(path), got, want)
		}
	}
}
