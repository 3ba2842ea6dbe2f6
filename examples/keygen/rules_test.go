package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/scanrules"
)

func TestRules(t *testing.T) {
	acme, err := scanrules.For(apikey.Format{Service: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want scanrules.Rule
	}{
		{"every key", nil, scanrules.Any()},
		{"a service", []string{"-service", "acme"}, acme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rules")
			r := keygen(t, nil, nil, nil, append([]string{"rules", "-out", dir}, tt.args...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			files := tt.want.Files()
			if n := strings.Count(r.stdout, "\n"); n != len(files) {
				t.Errorf("printed %d paths, want %d", n, len(files))
			}
			for name, want := range files {
				got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: %v, or not what scanrules writes", name, err)
				}
			}
			if !strings.Contains(r.stderr, tt.want.Pattern) {
				t.Errorf("stderr does not show the pattern: %s", r.stderr)
			}
		})
	}
}

func TestRulesUsage(t *testing.T) {
	for _, args := range [][]string{
		{"rules"}, // no -out
		{"rules", "-out", t.TempDir(), "-service", "Acme"},
		{"rules", "-out", t.TempDir(), "extra"},
		{"checksum-webhook", "extra"},
	} {
		if r := keygen(t, nil, nil, nil, args...); r.code != exitUsage {
			t.Errorf("keygen %q: exit %d, want %d", args, r.code, exitUsage)
		}
	}
}

func TestChecksumWebhookBadAddress(t *testing.T) {
	r := keygen(t, nil, nil, nil, "checksum-webhook", "-addr", "256.0.0.1:1")
	if r.code != exitFail || !strings.HasPrefix(r.stderr, "keygen checksum-webhook: ") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
