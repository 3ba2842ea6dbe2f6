package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/ratelimit"
)

// A configured admin key registered by an earlier start against a
// persistent store (here: the same MemoryStore) is accepted again, not
// treated as a conflict, and not duplicated.
func TestAdminKeyRegisteredTwice(t *testing.T) {
	tok, err := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Live)
	if err != nil {
		t.Fatal(err)
	}
	store := &apikey.MemoryStore{}
	for i := range 2 {
		s, err := New(Config{Rate: ratelimit.MustParsePolicy("10/minute"), AuthFailureRate: ratelimit.PerMinute(10),
			AdminKey: tok.Reveal(), Keys: store})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		s.Close()
	}
	keys, err := store.ListKeys(context.Background(), apikey.ListFilter{})
	if err != nil || len(keys) != 1 || keys[0].ID != tok.ID() {
		t.Errorf("store holds %d keys (%v), want the one admin key", len(keys), err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	notKeys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(notKeys, []byte(`{"public_keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-github-keys", filepath.Join(t.TempDir(), "missing.json")},
		{"-github-keys", notKeys},
		{"-key-cache-ttl", "0s"},
		{"-key-cache-ttl", "-1s"},
		{"-rate", "lots"},
		{"-error-format", "xml"},
		{"-tls-cert", "c.pem"},
		{"-tiers", "free:10/minute:500/month"}, // no pro tier
		{"-tiers", "pro:10/minute:lots/month"}, // no allowance
		{"-tiers", "pro:10/minute:3/month"},    // cannot pay for a check
		{"-tiers", "pro:10/minute:100/day"},    // /v1/me reports a month's
		{"-tiers", "pro:1/minute:9/month;pro:1/minute:9/month"},
		{"-dashboard"}, // no GATEKEY_DASHBOARD_PASSWORD
	} {
		var stderr strings.Builder
		// Should the flag be accepted, Run serves until this context ends
		// and returns nil, which fails the test instead of hanging it.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := Run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...),
			func(string) string { return "" }, &stderr, nil)
		cancel()
		if err == nil {
			t.Errorf("Run(%q) succeeded", args)
		}
		if strings.Contains(stderr.String(), "listening on") {
			t.Errorf("Run(%q) started listening", args)
		}
	}
}
