package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/apikey"
)

// result is what one run of the program produced.
type result struct {
	code           int
	stdout, stderr string
}

// keygen runs the program with the given stdin, environment and randomness
// (nil: a fixed seed).
func keygen(t *testing.T, stdin io.Reader, env map[string]string, rnd io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if rnd == nil {
		rnd = seeded(0)
	}
	var stdout, stderr bytes.Buffer
	code := run(args, stdin, &stdout, &stderr, func(k string) string { return env[k] }, rnd)
	return result{code, stdout.String(), stderr.String()}
}

func seeded(n byte) io.Reader { return rand.NewChaCha8([32]byte{n}) }

// noStdin fails the test if the program reads stdin.
type noStdin struct{ t *testing.T }

func (r noStdin) Read([]byte) (int, error) {
	r.t.Error("stdin was read")
	return 0, io.EOF
}

// fields parses "label: value" lines.
func fields(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// newKey generates a key of format f from a seeded reader.
func newKey(t *testing.T, f apikey.Format, typ apikey.Type, env apikey.Environment, seed byte) apikey.Token {
	t.Helper()
	tok, err := f.Generate(seeded(seed), typ, env)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// assertNoSecret fails if any 16-character substring of the body of key
// (its last 50 characters) appears in one of outs. A redacted key shows
// the 12-character id, so every such substring holds secret characters.
func assertNoSecret(t *testing.T, key string, outs ...string) {
	t.Helper()
	if len(key) < apikey.BodyLen {
		return
	}
	body := key[len(key)-apikey.BodyLen:]
	for i := 0; i+16 <= len(body); i++ {
		for _, out := range outs {
			if strings.Contains(out, body[i:i+16]) {
				t.Fatalf("output contains secret characters %q:\n%s", body[i:i+16], out)
			}
		}
	}
}

// Peppers for the HMAC tests.
var (
	pepper       = bytes.Repeat([]byte{0xA5, 0x17, 0x3C}, 11) // 33 bytes
	pepperHex    = hex.EncodeToString(pepper)
	pepperBase64 = base64.StdEncoding.EncodeToString(pepper)
)

func hmacHasher(t *testing.T, id string, secret []byte) apikey.Hasher {
	t.Helper()
	h, err := apikey.NewHMAC(apikey.Pepper{ID: id, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type keyParts struct {
	Service, Type, Env, ID string
}

func partsOf(tok apikey.Token) keyParts {
	return keyParts{tok.Service(), tok.Type().String(), tok.Environment().String(), tok.ID()}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		format     apikey.Format // to parse the key back
		wantPrefix string
		want       keyParts // without ID
		verifier   func(t *testing.T) apikey.Hasher
	}{
		{
			name:       "defaults",
			args:       []string{"generate"},
			wantPrefix: "sk_test_",
			want:       keyParts{Type: "secret", Env: "test"},
		},
		{
			name:       "publishable live",
			args:       []string{"generate", "-type", "publishable", "-env", "live"},
			wantPrefix: "pk_live_",
			want:       keyParts{Type: "publishable", Env: "live"},
		},
		{
			name:       "short type names",
			args:       []string{"generate", "-type=pk", "-env=test"},
			wantPrefix: "pk_test_",
			want:       keyParts{Type: "publishable", Env: "test"},
		},
		{
			name:       "service tag",
			args:       []string{"generate", "-service", "acme", "-env", "live"},
			format:     apikey.Format{Service: "acme"},
			wantPrefix: "acme_sk_live_",
			want:       keyParts{Service: "acme", Type: "secret", Env: "live"},
		},
		{
			name:       "live label omitted",
			args:       []string{"generate", "-env", "live", "-omit-live-label"},
			format:     apikey.Format{OmitLiveLabel: true},
			wantPrefix: "sk_",
			want:       keyParts{Type: "secret", Env: "live"},
		},
		{
			name:       "live label omitted keeps test label",
			args:       []string{"generate", "-env", "test", "-omit-live-label", "-service", "acme"},
			format:     apikey.Format{Service: "acme", OmitLiveLabel: true},
			wantPrefix: "acme_sk_test_",
			want:       keyParts{Service: "acme", Type: "secret", Env: "test"},
		},
		{
			name:       "sha256 explicitly",
			args:       []string{"generate", "-hash", "sha256"},
			wantPrefix: "sk_test_",
			want:       keyParts{Type: "secret", Env: "test"},
		},
		{
			name:       "hmac",
			args:       []string{"generate", "-hash", "hmac", "-type", "publishable"},
			env:        map[string]string{"GATEKEY_PEPPER": pepperHex},
			wantPrefix: "pk_test_",
			want:       keyParts{Type: "publishable", Env: "test"},
			verifier:   func(t *testing.T) apikey.Hasher { return hmacHasher(t, "v1", pepper) },
		},
		{
			name:       "hmac with pepper id",
			args:       []string{"generate", "-hash", "hmac-sha256"},
			env:        map[string]string{"GATEKEY_PEPPER": pepperBase64, "GATEKEY_PEPPER_ID": "2026-01"},
			wantPrefix: "sk_test_",
			want:       keyParts{Type: "secret", Env: "test"},
			verifier:   func(t *testing.T) apikey.Hasher { return hmacHasher(t, "2026-01", pepper) },
		},
		{
			name:       "argon2id",
			args:       []string{"generate", "-hash", "argon2id", "-env", "live"},
			wantPrefix: "sk_live_",
			want:       keyParts{Type: "secret", Env: "live"},
			verifier:   func(t *testing.T) apikey.Hasher { return apikey.Argon2id{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := keygen(t, noStdin{t}, tt.env, nil, tt.args...)
			if res.code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", res.code, res.stderr)
			}
			out := fields(res.stdout)
			key := out["key"]
			if !strings.HasPrefix(key, tt.wantPrefix) || len(key) != len(tt.wantPrefix)+apikey.BodyLen {
				t.Errorf("key %q: want prefix %q and a %d-character body", key, tt.wantPrefix, apikey.BodyLen)
			}
			tok, err := tt.format.Parse(key)
			if err != nil {
				t.Fatalf("printed key does not parse: %v", err)
			}
			want := tt.want
			want.ID = tok.ID()
			if diff := cmp.Diff(want, partsOf(tok)); diff != "" {
				t.Errorf("key parts (-want +got):\n%s", diff)
			}
			wantOut := map[string]string{
				"key": key, "id": tok.ID(), "type": tt.want.Type, "environment": tt.want.Env, "hash": out["hash"],
			}
			if diff := cmp.Diff(wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}

			var h apikey.Hasher = apikey.SHA256{}
			if tt.verifier != nil {
				h = tt.verifier(t)
			}
			if got := apikey.HashAlgorithm(out["hash"]); got != h.Algorithm() {
				t.Errorf("hash algorithm %q, want %q", got, h.Algorithm())
			}
			ok, err := h.Verify(key, out["hash"])
			if err != nil || !ok {
				t.Errorf("printed hash does not verify the printed key: %v, %v", ok, err)
			}
			if ok, _ := h.Verify(newKey(t, tt.format, tok.Type(), tok.Environment(), 99).Reveal(), out["hash"]); ok {
				t.Error("printed hash verifies another key")
			}
			// The key is never in the hash or on stderr.
			assertNoSecret(t, key, out["hash"], res.stderr)
		})
	}
}

func TestGenerateDeterministic(t *testing.T) {
	for _, algo := range []string{"sha256", "argon2id"} {
		t.Run(algo, func(t *testing.T) {
			args := []string{"generate", "-hash", algo}
			a := keygen(t, nil, nil, seeded(1), args...)
			b := keygen(t, nil, nil, seeded(1), args...)
			c := keygen(t, nil, nil, seeded(2), args...)
			if a.code != exitOK || b.code != exitOK || c.code != exitOK {
				t.Fatalf("exit codes %d %d %d: %s", a.code, b.code, c.code, a.stderr)
			}
			if diff := cmp.Diff(a.stdout, b.stdout); diff != "" {
				t.Errorf("same seed, different output (-first +second):\n%s", diff)
			}
			if fields(a.stdout)["key"] == fields(c.stdout)["key"] || fields(a.stdout)["hash"] == fields(c.stdout)["hash"] {
				t.Errorf("different seeds, same key or hash:\n%s\n%s", a.stdout, c.stdout)
			}
		})
	}
}

func TestHMACPepper(t *testing.T) {
	rawURL := base64.RawURLEncoding.EncodeToString(pepper)
	hexLooking := strings.Repeat("ab", 32) // valid hex (32 bytes) and valid base64 (48 bytes)
	hexLookingAsBase64, _ := base64.StdEncoding.DecodeString(hexLooking)
	tests := []struct {
		name       string
		env        map[string]string
		wantCode   int
		wantErr    string // substring of stderr
		wantSecret []byte // the decoded pepper, on success
		wantID     string
	}{
		{name: "missing", env: nil, wantCode: exitFail, wantErr: "needs the pepper in $GATEKEY_PEPPER"},
		{name: "blank", env: map[string]string{"GATEKEY_PEPPER": "  \n"}, wantCode: exitFail, wantErr: "needs the pepper in $GATEKEY_PEPPER"},
		{name: "short hex", env: map[string]string{"GATEKEY_PEPPER": hex.EncodeToString(pepper[:16])}, wantCode: exitFail, wantErr: "decodes to 16 bytes; -hash hmac needs at least 32"},
		{name: "short base64", env: map[string]string{"GATEKEY_PEPPER": base64.StdEncoding.EncodeToString(pepper[:31])}, wantCode: exitFail, wantErr: "decodes to 31 bytes"},
		{name: "not encoded", env: map[string]string{"GATEKEY_PEPPER": "correct horse battery staple!!!!!!!!"}, wantCode: exitFail, wantErr: "$GATEKEY_PEPPER is neither hex nor base64"},
		{name: "bad hex after prefix", env: map[string]string{"GATEKEY_PEPPER": "hex:" + pepperBase64}, wantCode: exitFail, wantErr: `not valid hex after "hex:"`},
		{name: "bad pepper id", env: map[string]string{"GATEKEY_PEPPER": pepperHex, "GATEKEY_PEPPER_ID": "no spaces"}, wantCode: exitFail, wantErr: "$GATEKEY_PEPPER_ID must be"},
		{name: "hex", env: map[string]string{"GATEKEY_PEPPER": pepperHex}, wantSecret: pepper, wantID: "v1"},
		{name: "hex with newline", env: map[string]string{"GATEKEY_PEPPER": pepperHex + "\n"}, wantSecret: pepper, wantID: "v1"},
		{name: "base64", env: map[string]string{"GATEKEY_PEPPER": pepperBase64, "GATEKEY_PEPPER_ID": "p.2"}, wantSecret: pepper, wantID: "p.2"},
		{name: "raw url base64", env: map[string]string{"GATEKEY_PEPPER": rawURL}, wantSecret: pepper, wantID: "v1"},
		{name: "hex first", env: map[string]string{"GATEKEY_PEPPER": hexLooking}, wantSecret: bytes.Repeat([]byte{0xab}, 32), wantID: "v1"},
		{name: "hex prefix", env: map[string]string{"GATEKEY_PEPPER": "hex:" + pepperHex}, wantSecret: pepper, wantID: "v1"},
		{name: "base64 prefix", env: map[string]string{"GATEKEY_PEPPER": "base64:" + hexLooking}, wantSecret: hexLookingAsBase64, wantID: "v1"},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"generate", "hash"} {
			t.Run(tt.name+"/"+cmd, func(t *testing.T) {
				key := newKey(t, apikey.Format{}, apikey.SecretKey, apikey.Test, 7).Reveal()
				var stdin io.Reader = strings.NewReader(key + "\n")
				if tt.wantCode != exitOK {
					stdin = noStdin{t} // the pepper is checked before the key is read
				}
				res := keygen(t, stdin, tt.env, nil, cmd, "-hash", "hmac")
				if res.code != tt.wantCode {
					t.Fatalf("exit %d, want %d; stderr:\n%s", res.code, tt.wantCode, res.stderr)
				}
				if !strings.Contains(res.stderr, tt.wantErr) {
					t.Errorf("stderr %q does not contain %q", res.stderr, tt.wantErr)
				}
				if p := strings.TrimSpace(tt.env["GATEKEY_PEPPER"]); len(p) >= 8 {
					for _, out := range []string{res.stdout, res.stderr} {
						if strings.Contains(out, strings.TrimPrefix(strings.TrimPrefix(p, "hex:"), "base64:")) {
							t.Errorf("output contains the pepper:\n%s", out)
						}
					}
				}
				if tt.wantCode != exitOK {
					return
				}
				out := fields(res.stdout)
				if cmd == "generate" {
					key = out["key"]
				}
				ok, err := hmacHasher(t, tt.wantID, tt.wantSecret).Verify(key, out["hash"])
				if err != nil || !ok {
					t.Errorf("hash %q does not verify with the decoded pepper: %v, %v", out["hash"], ok, err)
				}
			})
		}
	}
}

func TestCheck(t *testing.T) {
	plain := newKey(t, apikey.Format{}, apikey.SecretKey, apikey.Test, 1)
	live := newKey(t, apikey.Format{}, apikey.PublishableKey, apikey.Live, 2)
	acme := newKey(t, apikey.Format{Service: "acme"}, apikey.PublishableKey, apikey.Live, 3)
	omit := newKey(t, apikey.Format{OmitLiveLabel: true}, apikey.SecretKey, apikey.Live, 4)
	k := plain.Reveal()
	body := k[len("sk_test_"):]
	// flip changes the character at i (counted from the body's start).
	flip := func(i int, c byte) string {
		b := []byte(k)
		b[len("sk_test_")+i] = c
		if b[len("sk_test_")+i] == k[len("sk_test_")+i] {
			b[len("sk_test_")+i]++
		}
		return string(b)
	}
	valid := func(tok apikey.Token) map[string]string {
		svc := tok.Service()
		if svc == "" {
			svc = "(none)"
		}
		return map[string]string{
			"well-formed": "yes", "redacted": tok.String(), "service": svc,
			"type": tok.Type().String(), "environment": tok.Environment().String(), "id": tok.ID(),
		}
	}
	invalid := func(field, reason string) map[string]string {
		return map[string]string{"well-formed": "no", "field": field, "reason": reason}
	}
	withHint := func(m map[string]string, tok apikey.Token) map[string]string {
		m["hint"] = tok.String() + " is a well-formed key of another format; check -service and -omit-live-label"
		return m
	}
	tests := []struct {
		name  string
		args  []string
		input string
		code  int
		want  map[string]string
	}{
		{"valid", nil, k + "\n", exitOK, valid(plain)},
		{"valid without newline", nil, k, exitOK, valid(plain)},
		{"valid with CRLF and spaces", nil, "  " + k + " \r\n", exitOK, valid(plain)},
		{"valid with trailing blank lines", nil, k + "\n\n \n", exitOK, valid(plain)},
		{"publishable live", nil, live.Reveal() + "\n", exitOK, valid(live)},
		{"service", []string{"-service", "acme"}, acme.Reveal() + "\n", exitOK, valid(acme)},
		{"omitted live label", []string{"-omit-live-label"}, omit.Reveal() + "\n", exitOK, valid(omit)},
		{"expected type and env", []string{"-type", "secret", "-env", "test"}, k, exitOK, valid(plain)},
		{"wrong type", []string{"-type", "publishable"}, k, exitFail,
			invalid("type", plain.String()+" is a secret key; -type requires publishable")},
		{"wrong env", []string{"-env", "live"}, k, exitFail,
			invalid("env", plain.String()+" is a test key; -env requires live")},
		{"checksum", nil, flip(apikey.BodyLen-1, 'A'), exitFail,
			invalid("checksum", "apikey: malformed key: checksum mismatch")},
		{"changed secret", nil, flip(apikey.IDLen+5, 'z'), exitFail,
			invalid("checksum", "apikey: malformed key: checksum mismatch")},
		{"alphabet", nil, flip(20, '+'), exitFail,
			invalid("alphabet", "apikey: malformed key: invalid character")},
		{"truncated", nil, k[:len(k)-1], exitFail,
			invalid("length", "apikey: malformed key: wrong length")},
		{"too long", nil, k + "0", exitFail,
			invalid("length", "apikey: malformed key: wrong length")},
		{"unknown type", nil, "xk_test_" + body, exitFail,
			invalid("type", "apikey: malformed key: unknown key type")},
		{"unknown env", nil, "sk_prod_" + body, exitFail,
			invalid("env", "apikey: malformed key: unknown or unexpected environment")},
		{"missing service", []string{"-service", "acme"}, k, exitFail,
			withHint(invalid("service", "apikey: malformed key: unexpected service tag"), plain)},
		{"explicit live label not allowed", []string{"-omit-live-label"}, live.Reveal(), exitFail,
			withHint(invalid("env", "apikey: malformed key: unknown or unexpected environment"), live)},
		{"not a key", nil, "hello", exitFail,
			invalid("length", "apikey: malformed key: wrong length")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := keygen(t, strings.NewReader(tt.input), nil, nil, append([]string{"check"}, tt.args...)...)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", res.code, tt.code, res.stderr)
			}
			if diff := cmp.Diff(tt.want, fields(res.stdout)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			assertNoSecret(t, strings.TrimSpace(tt.input), res.stdout, res.stderr)
			// The reason for a service mismatch is judged apart from a
			// possible hint, which shows only the redacted form.
			if tt.name == "missing service" {
				assertNoSecret(t, k, res.stdout)
			}
		})
	}
}

// TestStdinErrors covers input that is not one line, for every command that
// reads stdin.
func TestStdinErrors(t *testing.T) {
	k := newKey(t, apikey.Format{}, apikey.SecretKey, apikey.Test, 1).Reveal()
	k2 := newKey(t, apikey.Format{}, apikey.SecretKey, apikey.Test, 2).Reveal()
	tests := []struct {
		name, input, wantErr string
	}{
		{"empty", "", "no key on stdin"},
		{"blank", " \n\n", "no key on stdin"},
		{"two keys", k + "\n" + k2 + "\n", "more than one line"},
		{"key after blank line", "\n" + k, "more than one line"},
		{"long line", strings.Repeat(k, 30), "longer than 1024 bytes"},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"check", "hash", "redact"} {
			t.Run(tt.name+"/"+cmd, func(t *testing.T) {
				res := keygen(t, strings.NewReader(tt.input), nil, nil, cmd)
				got := result{res.code, res.stdout, ""}
				if diff := cmp.Diff(result{code: exitFail}, got, cmp.AllowUnexported(result{})); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				if !strings.HasPrefix(res.stderr, "keygen "+cmd+": ") || !strings.Contains(res.stderr, tt.wantErr) {
					t.Errorf("stderr %q, want keygen %s: …%s…", res.stderr, cmd, tt.wantErr)
				}
				assertNoSecret(t, k, res.stderr)
				assertNoSecret(t, k2, res.stderr)
			})
		}
	}
}

func TestHash(t *testing.T) {
	plain := newKey(t, apikey.Format{}, apikey.SecretKey, apikey.Test, 1)
	acme := newKey(t, apikey.Format{Service: "acme", OmitLiveLabel: true}, apikey.PublishableKey, apikey.Live, 2)
	bad := plain.Reveal()[:len(plain.Reveal())-1] + "!"
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		tok      apikey.Token // the key on stdin
		input    string       // overrides tok
		code     int
		hasher   apikey.Hasher
		wantErr  string
		wantAlgo string
	}{
		{name: "sha256", tok: plain, code: exitOK, hasher: apikey.SHA256{}},
		{name: "argon2id", args: []string{"-hash", "argon2id"}, tok: plain, code: exitOK, hasher: apikey.Argon2id{}},
		{name: "hmac", args: []string{"-hash", "hmac"}, env: map[string]string{"GATEKEY_PEPPER": pepperHex},
			tok: plain, code: exitOK, hasher: hmacHasher(t, "v1", pepper)},
		{name: "format flags", args: []string{"-service", "acme", "-omit-live-label", "-type", "pk", "-env", "live"},
			tok: acme, code: exitOK, hasher: apikey.SHA256{}},
		{name: "other format", tok: acme, code: exitFail,
			wantErr: "not a well-formed key (service): apikey: malformed key: unexpected service tag\n  hint: " + acme.String() + " is a well-formed key"},
		{name: "wrong type", args: []string{"-type", "publishable"}, tok: plain, code: exitFail,
			wantErr: "not a well-formed key (type): " + plain.String() + " is a secret key; -type requires publishable"},
		{name: "malformed", input: bad, code: exitFail,
			wantErr: "not a well-formed key (alphabet): apikey: malformed key: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := tt.input
			if input == "" {
				input = tt.tok.Reveal() + "\n"
			}
			res := keygen(t, strings.NewReader(input), tt.env, nil, append([]string{"hash"}, tt.args...)...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", res.code, tt.code, res.stderr)
			}
			assertNoSecret(t, strings.TrimSpace(input), res.stdout, res.stderr)
			if tt.code != exitOK {
				if res.stdout != "" || !strings.Contains(res.stderr, tt.wantErr) {
					t.Errorf("stdout %q, stderr %q; want only an error containing %q", res.stdout, res.stderr, tt.wantErr)
				}
				return
			}
			out := fields(res.stdout)
			want := map[string]string{"redacted": tt.tok.String(), "id": tt.tok.ID(), "hash": out["hash"]}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			ok, err := tt.hasher.Verify(tt.tok.Reveal(), out["hash"])
			if err != nil || !ok {
				t.Errorf("hash %q does not verify the key: %v, %v", out["hash"], ok, err)
			}
		})
	}
}

func TestHashMatchesGenerate(t *testing.T) {
	gen := keygen(t, nil, nil, seeded(5), "generate")
	g := fields(gen.stdout)
	res := keygen(t, strings.NewReader(g["key"]+"\n"), nil, nil, "hash")
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	h := fields(res.stdout)
	if diff := cmp.Diff([]string{g["id"], g["hash"]}, []string{h["id"], h["hash"]}); diff != "" {
		t.Errorf("hash of a generated key differs from generate's (-generate +hash):\n%s", diff)
	}
}

func TestRedact(t *testing.T) {
	plain := newKey(t, apikey.Format{}, apikey.SecretKey, apikey.Live, 1)
	acme := newKey(t, apikey.Format{Service: "acme"}, apikey.PublishableKey, apikey.Test, 2)
	omit := newKey(t, apikey.Format{OmitLiveLabel: true}, apikey.SecretKey, apikey.Live, 3)
	k := plain.Reveal()
	tests := []struct {
		name, input, want string
	}{
		{"key", k + "\n", plain.String() + "\n"},
		{"key with CRLF", k + "\r\n", plain.String() + "\n"},
		{"service tag", acme.Reveal(), acme.String() + "\n"},
		{"live label omitted", omit.Reveal() + "\n", omit.String() + "\n"},
		{"checksum wrong", k[:len(k)-1] + "x\n", "[redacted]\n"},
		{"truncated", k[:40] + "\n", "[redacted]\n"},
		{"not a key", "password123\n", "[redacted]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := keygen(t, strings.NewReader(tt.input), nil, nil, "redact")
			if diff := cmp.Diff(result{exitOK, tt.want, ""}, res, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			assertNoSecret(t, strings.TrimSpace(tt.input), res.stdout, res.stderr)
		})
	}
}

// TestSecretArgsRefused checks that a key (or other secret) on the command
// line is refused, without being echoed, with advice to use stdin.
func TestSecretArgsRefused(t *testing.T) {
	k := newKey(t, apikey.Format{}, apikey.SecretKey, apikey.Live, 1).Reveal()
	malformed := k[:len(k)-1] + "0"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"hash argument", []string{"hash", k}, "Pass keys on stdin"},
		{"check argument", []string{"check", k}, "Pass keys on stdin"},
		{"redact argument", []string{"redact", k}, "Pass keys on stdin"},
		{"malformed key argument", []string{"check", malformed}, "Pass keys on stdin"},
		{"after flags", []string{"hash", "-hash", "sha256", k}, "Pass keys on stdin"},
		{"as flag value", []string{"check", "-service", k}, "Pass keys on stdin"},
		{"as flag=value", []string{"check", "-service=" + k}, "Pass keys on stdin"},
		{"as flag name", []string{"hash", "-" + k}, "Pass keys on stdin"},
		{"as command", []string{k}, "Pass keys on stdin"},
		{"generate", []string{"generate", k}, "Pass keys on stdin"},
		{"pepper argument", []string{"generate", "-hash", "hmac", "-pepper", pepperHex}, "GATEKEY_PEPPER"},
		{"short argument to hash", []string{"hash", "sk_test_abc"}, "hash reads the key from stdin, not from the command line"},
		{"short argument to check", []string{"check", "-type", "secret", "x"}, "check reads the key from stdin"},
		{"short argument to redact", []string{"redact", "x"}, "redact reads the key from stdin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := keygen(t, noStdin{t}, nil, nil, tt.args...)
			if res.code != exitUsage || res.stdout != "" {
				t.Errorf("exit %d, stdout %q; want exit %d and no output", res.code, res.stdout, exitUsage)
			}
			if !strings.Contains(res.stderr, tt.wantErr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantErr, res.stderr)
			}
			assertNoSecret(t, k, res.stderr)
			assertNoSecret(t, malformed, res.stderr)
			if strings.Contains(res.stderr, pepperHex[:16]) {
				t.Errorf("stderr contains the pepper:\n%s", res.stderr)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout []string // substrings
		wantStderr []string
	}{
		{"no command", nil, exitUsage, nil, []string{"Usage: keygen <command>"}},
		{"-h", []string{"-h"}, exitOK, []string{"Usage: keygen <command>", "generate", "check", "hash", "redact", "GATEKEY_PEPPER"}, nil},
		{"--help", []string{"--help"}, exitOK, []string{"Usage: keygen <command>"}, nil},
		{"help", []string{"help"}, exitOK, []string{"Usage: keygen <command>"}, nil},
		{"help generate", []string{"help", "generate"}, exitOK,
			[]string{"Usage: keygen generate", "-type", "-env", "-service", "-omit-live-label", "-hash", "GATEKEY_PEPPER"}, nil},
		{"help unknown", []string{"help", "nope"}, exitUsage, nil, []string{`unknown command "nope"`, "Usage: keygen <command>"}},
		{"unknown command", []string{"nope"}, exitUsage, nil, []string{`keygen: unknown command "nope"`, "Usage: keygen <command>"}},
		{"generate -h", []string{"generate", "-h"}, exitOK, []string{"Usage: keygen generate", "-omit-live-label"}, nil},
		{"check -help", []string{"check", "-help"}, exitOK, []string{"Usage: keygen check", "Exit status 0 if well-formed, 1 if not", "-type"}, nil},
		{"hash -h", []string{"hash", "-h"}, exitOK, []string{"Usage: keygen hash", "-hash", "stdin"}, nil},
		{"redact -h", []string{"redact", "-h"}, exitOK, []string{"Usage: keygen redact", "[redacted]"}, nil},
		{"unknown flag", []string{"generate", "-nope"}, exitUsage, nil,
			[]string{"keygen generate: flag provided but not defined: -nope", "Usage: keygen generate"}},
		{"flag of another command", []string{"check", "-hash", "sha256"}, exitUsage, nil,
			[]string{"flag provided but not defined: -hash", "Usage: keygen check"}},
		{"redact has no flags", []string{"redact", "-service", "acme"}, exitUsage, nil, []string{"Usage: keygen redact"}},
		{"bad type", []string{"generate", "-type", "admin"}, exitUsage, nil, []string{"-type must be secret or publishable"}},
		{"empty type", []string{"generate", "-type="}, exitUsage, nil, []string{"-type must be secret or publishable"}},
		{"bad env", []string{"generate", "-env", "prod"}, exitUsage, nil, []string{"-env must be live or test"}},
		{"bad expected env", []string{"check", "-env", "prod"}, exitUsage, nil, []string{"-env must be live or test"}},
		{"bad hash", []string{"generate", "-hash", "md5"}, exitUsage, nil, []string{"-hash must be sha256, hmac or argon2id"}},
		{"bad service", []string{"generate", "-service", "Acme"}, exitUsage, nil, []string{"invalid -service"}},
		{"extra argument", []string{"generate", "now"}, exitUsage, nil, []string{"keygen generate: unexpected argument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := keygen(t, noStdin{t}, nil, nil, tt.args...)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d", res.code, tt.code)
			}
			check := func(stream, got string, want []string) {
				if len(want) == 0 && got != "" {
					t.Errorf("unexpected %s:\n%s", stream, got)
				}
				for _, w := range want {
					if !strings.Contains(got, w) {
						t.Errorf("%s does not contain %q:\n%s", stream, w, got)
					}
				}
			}
			check("stdout", res.stdout, tt.wantStdout)
			check("stderr", res.stderr, tt.wantStderr)
		})
	}
}
