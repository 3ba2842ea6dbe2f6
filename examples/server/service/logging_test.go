package service

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// TestRedactingHandler: whatever part of a record holds a key, the line
// written holds its redacted form only; ids pass unchanged.
func TestRedactingHandler(t *testing.T) {
	tok, err := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Test)
	if err != nil {
		t.Fatal(err)
	}
	key := tok.Reveal()
	bad := "sk_test_" + strings.Repeat("A", 50)
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var out bytes.Buffer
		logger := slog.New(redacting(newHandler(&out)))
		logger = slog.New(redacting(logger.Handler())) // wrapping twice is harmless
		logger.With("with_"+key, key).WithGroup("group_"+key).Info("message "+key,
			"path", "/v1/keys/"+key+"/roll",
			"method", key,
			"request_id", "req_"+key,
			"err", errors.New("store said: "+key),
			"any", []string{key, bad},
			slog.Group("g", "inner", key),
			key, "as a key",
			"key_id", tok.ID(),
			"monitor", "mon_ABCDEFGH12345678",
		)
		line := out.String()
		secret := key[len(key)-38 : len(key)-6]
		if strings.Contains(line, secret) || strings.Contains(line, bad) {
			t.Errorf("a log line holds a key: %s", apikey.RedactAll(line))
		}
		for _, want := range []string{tok.String(), tok.ID(), "mon_ABCDEFGH12345678", "[redacted]"} {
			if !strings.Contains(line, want) {
				t.Errorf("the line lacks %q: %s", want, line)
			}
		}
	}
}
