package leakreport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// signer is a test stand-in for one of GitHub's signing keys.
type signer struct {
	id   string
	priv *ecdsa.PrivateKey
}

func newSigner(t testing.TB, id string) signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{id: id, priv: priv}
}

func (s signer) public() PublicKey { return PublicKey{ID: s.id, Key: &s.priv.PublicKey} }

// pem returns the public key as GitHub publishes it.
func (s signer) pem(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&s.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sign returns the Github-Public-Key-Signature of body.
func (s signer) sign(t testing.TB, body []byte) string {
	t.Helper()
	d := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// request returns a report request signed by s.
func (s signer) request(t testing.TB, body []byte) *http.Request {
	r := httptest.NewRequest("POST", "/v1/leaks/github", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(headerKeyID, s.id)
	r.Header.Set(headerSignature, s.sign(t, body))
	return r
}

// report encodes findings of the given tokens as GitHub would.
func report(t testing.TB, tokens ...string) []byte {
	t.Helper()
	type f struct {
		Token  string `json:"token"`
		Type   string `json:"type"`
		URL    string `json:"url"`
		Source string `json:"source"`
	}
	fs := make([]f, len(tokens))
	for i, tok := range tokens {
		fs[i] = f{tok, "gatekey_api_key", "https://github.com/octo/repo/blob/abc/config.env", "content"}
	}
	b, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is a Manager with keys, and the handler in front of it.
type fixture struct {
	m       *apikey.Manager
	h       http.Handler
	logs    *syncBuffer
	events  []apikey.Event
	leaks   []Leak
	signers []signer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{logs: new(syncBuffer)}
	var mu sync.Mutex
	m, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{
		OnEvent: func(_ context.Context, e apikey.Event) {
			mu.Lock()
			defer mu.Unlock()
			fx.events = append(fx.events, e)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	fx.m = m
	fx.signers = []signer{newSigner(t, "key-2025"), newSigner(t, "key-2026")}
	g := &GitHub{
		Revoker:    m,
		PublicKeys: []PublicKey{fx.signers[0].public(), fx.signers[1].public()},
		Logger:     slog.New(slog.NewTextHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnLeak:     func(_ context.Context, _ *apikey.Key, l Leak) { fx.leaks = append(fx.leaks, l) },
	}
	fx.h = g.Handler()
	return fx
}

// create makes a live secret key and returns its plaintext and id.
func (fx *fixture) create(t *testing.T) (string, string) {
	t.Helper()
	tok, k, err := fx.m.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal(), k.ID
}

// serve sends r to the handler and checks that the logs hold no secret.
func (fx *fixture) serve(t *testing.T, r *http.Request, secrets ...string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	for _, s := range secrets {
		if strings.Contains(fx.logs.String(), s) {
			t.Errorf("a log line holds a reported token")
		}
	}
	return w
}

// revoked reports whether the key with id is revoked.
func (fx *fixture) revoked(t *testing.T, id string) bool {
	t.Helper()
	k, err := fx.m.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return !k.RevokedAt.IsZero()
}

func (fx *fixture) newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func httpBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
