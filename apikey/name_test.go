package apikey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

func TestCheckName(t *testing.T) {
	key := "sk_live_" + strings.Repeat("a", apikey.BodyLen)
	tests := []struct {
		name, s string
		reason  string // "" for a valid name
	}{
		{"plain", "billing server", ""},
		{"unicode", "Zahlungsdienst – Köln", ""},
		{"longest", strings.Repeat("n", apikey.MaxNameLen), ""},
		{"empty", "", "is required"},
		{"blank", " \t ", "is required"},
		{"too long", strings.Repeat("n", apikey.MaxNameLen+1), "must be at most 200 bytes of UTF-8"},
		{"multibyte too long", strings.Repeat("é", 101), "must be at most 200 bytes of UTF-8"},
		{"control", "a\nb", "must be printable text"},
		{"invalid UTF-8", "a\xffb", "must be printable text"},
		{"holds a key", "prod " + key, "must not hold an API key (never put a key anywhere but the Authorization header)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apikey.CheckName("title", tt.s)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckName(%q) = %v, want nil", tt.s, err)
				}
				return
			}
			var pe *apikey.ParamError
			if !errors.As(err, &pe) || pe.Param != "title" || pe.Reason != tt.reason {
				t.Fatalf("CheckName = %v, want a *ParamError for title: %s", err, tt.reason)
			}
			if strings.Contains(err.Error(), key) {
				t.Error("the error holds the key")
			}
		})
	}
}

func TestFormatRedacted(t *testing.T) {
	tests := []struct {
		f    apikey.Format
		typ  apikey.Type
		env  apikey.Environment
		want string
	}{
		{apikey.Format{}, apikey.SecretKey, apikey.Live, "sk_live_0123456789AB…"},
		{apikey.Format{}, apikey.PublishableKey, apikey.Test, "pk_test_0123456789AB…"},
		{apikey.Format{Service: "acme", OmitLiveLabel: true}, apikey.SecretKey, apikey.Live, "acme_sk_0123456789AB…"},
		{apikey.Format{}, 0, apikey.Live, ""},
		{apikey.Format{}, apikey.SecretKey, 0, ""},
	}
	for _, tt := range tests {
		k := &apikey.Key{ID: "0123456789AB", Type: tt.typ, Environment: tt.env}
		if got := tt.f.Redacted(k); got != tt.want {
			t.Errorf("%+v.Redacted(%v %v) = %q, want %q", tt.f, tt.typ, tt.env, got, tt.want)
		}
	}
	if got := (apikey.Format{}).Redacted(nil); got != "" {
		t.Errorf("Redacted(nil) = %q", got)
	}
}

// A record's redacted form is its token's.
func TestRedactedMatchesToken(t *testing.T) {
	for _, f := range []apikey.Format{{}, {Service: "acme"}, {OmitLiveLabel: true}} {
		m, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{Verifier: apikey.VerifierConfig{Format: f}})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if m.Format() != f {
			t.Errorf("Manager.Format() = %+v, want %+v", m.Format(), f)
		}
		for _, env := range []apikey.Environment{apikey.Live, apikey.Test} {
			tok, k, err := m.Create(t.Context(), apikey.CreateParams{Type: apikey.PublishableKey, Environment: env})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Redacted(k); got != tok.String() {
				t.Errorf("%+v: Redacted = %q, Token.String = %q", f, got, tok.String())
			}
		}
	}
}
