package leakreport

// Adversarial tests of the GitHub secret-scanning handler, written from
// the contract (issue 17), not from the code's comments. Every identifier
// here starts with "adv" to stay clear of the package's other tests.
//
// The threat model: anyone can make GitHub send a (genuinely signed)
// report holding any string of a key's shape, by pushing it to a public
// repository; anyone who can reach the handler can send unsigned or
// badly signed requests of any shape.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/google/go-cmp/cmp"
)

// advFixture is a Manager and a handler in front of it, whose callbacks
// are safe for concurrent reports.
type advFixture struct {
	m       *apikey.Manager
	g       *GitHub
	h       http.Handler
	logs    *syncBuffer
	signer  signer
	mu      sync.Mutex
	events  []apikey.Event
	leaks   []Leak
	leakKey []*apikey.Key
	calls   int // RevokeLeaked calls
}

// advCounting counts the Revoker's calls.
type advCounting struct {
	fx *advFixture
	Revoker
}

func (c advCounting) RevokeLeaked(ctx context.Context, presented string) (*apikey.Key, error) {
	c.fx.mu.Lock()
	c.fx.calls++
	c.fx.mu.Unlock()
	return c.Revoker.RevokeLeaked(ctx, presented)
}

func advNew(t *testing.T, maxBody int64) *advFixture {
	t.Helper()
	fx := &advFixture{logs: new(syncBuffer)}
	m, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{
		OnEvent: func(_ context.Context, e apikey.Event) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.events = append(fx.events, e)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	fx.m = m
	fx.signer = newSigner(t, "adv-key")
	fx.g = &GitHub{
		Revoker:      advCounting{fx, m},
		PublicKeys:   []PublicKey{fx.signer.public(), newSigner(t, "adv-other").public()},
		MaxBodyBytes: maxBody,
		Logger:       slog.New(slog.NewTextHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnLeak: func(_ context.Context, k *apikey.Key, l Leak) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.leaks = append(fx.leaks, l)
			fx.leakKey = append(fx.leakKey, k)
		},
	}
	fx.h = fx.g.Handler()
	return fx
}

func (fx *advFixture) key(t *testing.T, typ apikey.Type, env apikey.Environment) (string, string) {
	t.Helper()
	tok, k, err := fx.m.Create(context.Background(), apikey.CreateParams{Type: typ, Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal(), k.ID
}

// revokedIDs returns the ids of the keys revoked so far, with how many
// revocation events each got.
func (fx *advFixture) revokedIDs(t *testing.T) map[string]int {
	t.Helper()
	fx.mu.Lock()
	defer fx.mu.Unlock()
	got := map[string]int{}
	for _, e := range fx.events {
		if e.Kind == apikey.EventRevoked {
			got[e.Key.ID]++
		}
	}
	keys, err := fx.m.List(context.Background(), apikey.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !k.RevokedAt.IsZero() && got[k.ID] == 0 {
			t.Errorf("key %s is revoked without an event", k.ID)
		}
	}
	return got
}

// serve sends r and checks what must hold of every answer: no log line,
// no OnLeak call and no error body holds any of secrets.
func (fx *advFixture) serve(t *testing.T, r *http.Request, secrets ...string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	fx.noSecrets(t, w.Code, w.Body.String(), secrets...)
	return w
}

func (fx *advFixture) noSecrets(t *testing.T, code int, body string, secrets ...string) {
	t.Helper()
	logs := fx.logs.String()
	fx.mu.Lock()
	leaks := fmt.Sprintf("%+v", fx.leaks)
	fx.mu.Unlock()
	for i, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a log line holds secret #%d (%s)", i, apikey.Redact(s))
		}
		if strings.Contains(leaks, s) {
			t.Errorf("OnLeak was given secret #%d (%s)", i, apikey.Redact(s))
		}
		if code != http.StatusOK && strings.Contains(body, s) {
			t.Errorf("the %d answer echoes secret #%d (%s)", code, i, apikey.Redact(s))
		}
	}
}

// req is a report request signed by fx's signer.
func (fx *advFixture) req(t *testing.T, body []byte) *http.Request {
	return fx.signer.request(t, body)
}

// advSum returns s with a valid checksum, computed as the contract says.
func advSum(s string) string {
	const a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	head := s[:len(s)-6]
	v := uint64(crc32.ChecksumIEEE([]byte(head)))
	d := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		d[i] = a[v%62]
		v /= 62
	}
	return head + string(d)
}

// advWrongSecret is k with its last secret character changed and a valid
// checksum: a valid-shaped key with the id of k that is not k.
func advWrongSecret(k string) string {
	i := len(k) - 7
	c := byte('A')
	if k[i] == 'A' {
		c = 'B'
	}
	return advSum(k[:i] + string(c) + k[i+1:])
}

type advFinding struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

func advBody(t *testing.T, fs ...advFinding) []byte {
	t.Helper()
	for i := range fs {
		if fs[i].Type == "" {
			fs[i].Type = "gatekey_api_key"
		}
		if fs[i].URL == "" {
			fs[i].URL = "https://github.com/octo/repo/blob/abc/.env"
		}
		if fs[i].Source == "" {
			fs[i].Source = "content"
		}
	}
	b, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func advAnswers(t *testing.T, w *httptest.ResponseRecorder) []wireAnswer {
	t.Helper()
	var got []wireAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("the answer is not JSON: %v", err)
	}
	return got
}

// --- signatures -----------------------------------------------------------

type advECSig struct{ R, S *big.Int }

func advDER(t *testing.T, s signer, body []byte) []byte {
	t.Helper()
	d := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func advParseDER(t *testing.T, der []byte) advECSig {
	t.Helper()
	var sig advECSig
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		t.Fatal(err)
	}
	return sig
}

func advMarshal(t *testing.T, r, s *big.Int) []byte {
	t.Helper()
	b, err := asn1.Marshal(advECSig{r, s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAdvSignatureEncodings tampers with the signature header of a report
// of a genuine key. A forged or ill-encoded signature must change nothing;
// some re-encodings of a genuine signature may be accepted, but then the
// report must be handled as the genuine one it is.
func TestAdvSignatureEncodings(t *testing.T) {
	n := elliptic.P256().Params().N
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name   string
		sig    func(t *testing.T, fx *advFixture, body []byte) string
		refuse bool // must be refused; otherwise either refused or handled
	}{
		{"genuine", func(t *testing.T, fx *advFixture, body []byte) string { return b64(advDER(t, fx.signer, body)) }, false},
		{"surrounding whitespace", func(t *testing.T, fx *advFixture, body []byte) string {
			return " \t" + b64(advDER(t, fx.signer, body)) + " "
		}, false},
		{"unpadded", func(t *testing.T, fx *advFixture, body []byte) string {
			return base64.RawStdEncoding.EncodeToString(advDER(t, fx.signer, body))
		}, false},
		{"URL-safe alphabet", func(t *testing.T, fx *advFixture, body []byte) string {
			for {
				der := advDER(t, fx.signer, body)
				if std, url := b64(der), base64.URLEncoding.EncodeToString(der); std != url {
					return url
				}
			}
		}, false},
		{"high S (malleated)", func(t *testing.T, fx *advFixture, body []byte) string {
			sig := advParseDER(t, advDER(t, fx.signer, body))
			return b64(advMarshal(t, sig.R, new(big.Int).Sub(n, sig.S)))
		}, false},
		{"raw r||s", func(t *testing.T, fx *advFixture, body []byte) string {
			sig := advParseDER(t, advDER(t, fx.signer, body))
			raw := make([]byte, 64)
			sig.R.FillBytes(raw[:32])
			sig.S.FillBytes(raw[32:])
			return b64(raw)
		}, true},
		{"DER with a trailing byte", func(t *testing.T, fx *advFixture, body []byte) string {
			return b64(append(advDER(t, fx.signer, body), 0))
		}, true},
		{"BER long-form length", func(t *testing.T, fx *advFixture, body []byte) string {
			der := advDER(t, fx.signer, body)
			return b64(append([]byte{0x30, 0x81, der[1]}, der[2:]...))
		}, true},
		{"integer with a needless leading zero", func(t *testing.T, fx *advFixture, body []byte) string {
			sig := advParseDER(t, advDER(t, fx.signer, body))
			r, s := sig.R.Bytes(), advMarshalInt(sig.S)
			rr := append([]byte{0x02, byte(len(r) + 2), 0, 0}, r...)
			if r[0] < 0x80 {
				rr = append([]byte{0x02, byte(len(r) + 1), 0}, r...)
			}
			inner := append(rr, s...)
			return b64(append([]byte{0x30, byte(len(inner))}, inner...))
		}, true},
		{"r and s swapped", func(t *testing.T, fx *advFixture, body []byte) string {
			sig := advParseDER(t, advDER(t, fx.signer, body))
			return b64(advMarshal(t, sig.S, sig.R))
		}, true},
		{"r = s = 0", func(t *testing.T, fx *advFixture, body []byte) string {
			return b64(advMarshal(t, big.NewInt(0), big.NewInt(0)))
		}, true},
		{"r = s = n", func(t *testing.T, fx *advFixture, body []byte) string { return b64(advMarshal(t, n, n)) }, true},
		{"r + n", func(t *testing.T, fx *advFixture, body []byte) string {
			sig := advParseDER(t, advDER(t, fx.signer, body))
			return b64(advMarshal(t, new(big.Int).Add(sig.R, n), sig.S))
		}, true},
		{"negated r", func(t *testing.T, fx *advFixture, body []byte) string {
			sig := advParseDER(t, advDER(t, fx.signer, body))
			return b64(advMarshal(t, new(big.Int).Neg(sig.R), sig.S))
		}, true},
		{"over the body without its last byte", func(t *testing.T, fx *advFixture, body []byte) string {
			return b64(advDER(t, fx.signer, body[:len(body)-1]))
		}, true},
		{"over the body re-encoded", func(t *testing.T, fx *advFixture, body []byte) string {
			var v any
			json.Unmarshal(body, &v)
			re, _ := json.MarshalIndent(v, "", " ")
			return b64(advDER(t, fx.signer, re))
		}, true},
		{"over the digest, not the body", func(t *testing.T, fx *advFixture, body []byte) string {
			d := sha256.Sum256(body)
			return b64(advDER(t, fx.signer, d[:]))
		}, true},
		{"by the other listed key's id", func(t *testing.T, fx *advFixture, body []byte) string {
			return b64(advDER(t, newSigner(t, "adv-other"), body))
		}, true},
		{"two signatures joined by a comma", func(t *testing.T, fx *advFixture, body []byte) string {
			return b64(advDER(t, fx.signer, []byte("x"))) + "," + b64(advDER(t, fx.signer, body))
		}, true},
		{"only padding", func(t *testing.T, fx *advFixture, body []byte) string { return "====" }, true},
		{"whitespace only", func(t *testing.T, fx *advFixture, body []byte) string { return "   " }, true},
		{"hex", func(t *testing.T, fx *advFixture, body []byte) string {
			return fmt.Sprintf("%x", advDER(t, fx.signer, body))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := advNew(t, 0)
			key, id := fx.key(t, apikey.SecretKey, apikey.Live)
			body := advBody(t, advFinding{Token: key})
			r := fx.req(t, body)
			r.Header.Set(headerSignature, tt.sig(t, fx, body))
			w := fx.serve(t, r, key)
			revoked := fx.revokedIDs(t)
			switch {
			case w.Code == http.StatusOK && tt.refuse:
				t.Errorf("accepted (revoked %v)", revoked)
			case w.Code == http.StatusOK:
				if revoked[id] != 1 || !cmp.Equal(labels(advAnswers(t, w)), []string{"true_positive"}) {
					t.Errorf("accepted but not handled: revoked %v, answer %s", revoked, apikey.Redact(w.Body.String()))
				}
				// The same report again, with another encoding of the same
				// signature: it changes nothing more.
				again := fx.serve(t, r, key)
				if again.Code == http.StatusOK && fx.revokedIDs(t)[id] != 1 {
					t.Errorf("a replay sent another event")
				}
			case w.Code < 400 || w.Code > 499:
				t.Errorf("status %d, want 200 or a 4xx", w.Code)
			default:
				if len(revoked) != 0 || fx.calls != 0 {
					t.Errorf("refused (%d) but the Revoker was called %d times, revoked %v", w.Code, fx.calls, revoked)
				}
			}
		})
	}
}

func advMarshalInt(v *big.Int) []byte {
	b, _ := asn1.Marshal(v)
	return b
}

// --- the wire: header names, duplicates, lengths, chunking ---------------

// advRaw sends raw bytes on a new connection to srv and returns the
// status of the first response. With half set it closes its writing side
// after sending, as a client that lied about its Content-Length and gave
// up would.
func advRaw(t *testing.T, srv *httptest.Server, raw string, half bool) int {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang fails; it is not a wait
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if half {
		c.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func advChunked(body []byte, size int) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

func TestAdvWire(t *testing.T) {
	const limit = 4096
	tests := []struct {
		name   string
		raw    func(id, sig string, body []byte) string
		half   bool
		status int // 0: any 4xx
	}{
		{"lower-case header names", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nhost: x\r\ngithub-public-key-identifier: " + id + "\r\ngithub-public-key-signature: " + sig +
				"\r\ncontent-length: " + strconv.Itoa(len(body)) + "\r\nconnection: close\r\n\r\n" + string(body)
		}, false, 200},
		{"upper-case header names", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nHost: x\r\nGITHUB-PUBLIC-KEY-IDENTIFIER: " + id + "\r\nGITHUB-PUBLIC-KEY-SIGNATURE: " + sig +
				"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + string(body)
		}, false, 200},
		{"chunked, within the limit", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + advChunked(body, 7)
		}, false, 200},
		{"identifier twice, two spellings", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\ngithub-public-key-identifier: " + id +
				"\r\nGithub-Public-Key-Signature: " + sig + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + string(body)
		}, false, 400},
		{"signature twice, same value", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nGithub-Public-Key-Signature: " + sig + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + string(body)
		}, false, 400},
		{"Content-Length short of the signed body", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nContent-Length: " + strconv.Itoa(len(body)-2) + "\r\nConnection: close\r\n\r\n" + string(body)
		}, false, 403},
		{"Content-Length beyond the body sent", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nContent-Length: " + strconv.Itoa(len(body)+100) + "\r\nConnection: close\r\n\r\n" + string(body)
		}, true, 0},
		{"chunked, over the limit", func(id, sig string, body []byte) string {
			pad := bytes.Repeat([]byte(" "), limit)
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + advChunked(append(append([]byte{}, body...), pad...), 1000)
		}, false, 413},
		{"Content-Length over the limit", func(id, sig string, body []byte) string {
			big := append(append([]byte{}, body...), bytes.Repeat([]byte(" "), limit)...)
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\nConnection: close\r\n\r\n" + string(big)
		}, false, 413},
		{"chunked, truncated", func(id, sig string, body []byte) string {
			c := advChunked(body, 7)
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + c[:len(c)-10]
		}, true, 0},
		{"chunk size lies", func(id, sig string, body []byte) string {
			return "POST / HTTP/1.1\r\nHost: x\r\nGithub-Public-Key-Identifier: " + id + "\r\nGithub-Public-Key-Signature: " + sig +
				"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nffffffff\r\n" + string(body) + "\r\n0\r\n\r\n"
		}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := advNew(t, limit)
			srv := httptest.NewServer(fx.h)
			defer srv.Close()
			key, id := fx.key(t, apikey.SecretKey, apikey.Live)
			body := advBody(t, advFinding{Token: key})
			sig := fx.signer.sign(t, body)
			code := advRaw(t, srv, tt.raw(fx.signer.id, sig, body), tt.half)
			srv.Close() // waits for the handler: its effects are all in
			fx.noSecrets(t, code, "", key)
			revoked := fx.revokedIDs(t)
			if tt.status == 200 {
				if code != 200 || revoked[id] != 1 {
					t.Errorf("status %d, revoked %v; want 200 and the key revoked", code, revoked)
				}
				return
			}
			if tt.status != 0 && code != tt.status || code < 400 || code > 499 {
				t.Errorf("status %d, want %d (0: any 4xx)", code, tt.status)
			}
			if len(revoked) != 0 {
				t.Errorf("revoked %v", revoked)
			}
		})
	}
}

// --- the report's JSON ------------------------------------------------------

// advCase is one report of TestAdvReportContents.
type advCase struct {
	name    string
	body    string
	status  int      // 200, or 0 for any 4xx
	labels  []string // for 200
	revoked []string // ids revoked by this report
	tokens  []string // token_raw expected, for 200 (nil: not checked)
}

// advCases returns the reports of TestAdvReportContents for genuine keys
// g1 and g2 (with ids g1ID and g2ID) and victim, a genuine key that none
// of them may revoke.
func advCases(t *testing.T, g1, g1ID, g2, g2ID, victim string) []advCase {
	forged := advWrongSecret(victim)
	other, _ := apikey.Format{Service: "acme"}.Generate(nil, apikey.SecretKey, apikey.Live)
	omit, _ := apikey.Format{OmitLiveLabel: true}.Generate(nil, apikey.SecretKey, apikey.Live)
	unknown, _ := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Live)
	// victim's id and secret, without the live label: another form of the
	// same key, which this Manager does not issue.
	relabelled := advSum(strings.Replace(victim, "sk_live_", "sk_", 1))
	esc := func(s string) string { // every character as a \u escape
		var b strings.Builder
		for _, c := range s {
			fmt.Fprintf(&b, `\u%04x`, c)
		}
		return b.String()
	}
	nest := func(depth int) string { return strings.Repeat(`{"a":[`, depth) + strings.Repeat(`]}`, depth) }
	const T, F = "true_positive", "false_positive"
	return []advCase{
		{"mixed genuine and fake", string(advBody(t,
			advFinding{Token: g1}, advFinding{Token: forged}, advFinding{Token: other.Reveal()}, advFinding{Token: unknown.Reveal()},
			advFinding{Token: omit.Reveal()}, advFinding{Token: relabelled}, advFinding{Token: g1}, advFinding{Token: "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
			advFinding{Token: g2})),
			200, []string{T, F, F, F, F, F, T, F, T}, []string{g1ID, g2ID}, nil},
		{"every character escaped", `[{"token":"` + esc(victim[:len(victim)-1]) + `","type":"t"}]`, 200, []string{F}, nil, nil},
		{"a genuine key, escaped", `[{"token":"` + esc(g1) + `","type":"t"}]`, 200, []string{T}, []string{g1ID}, []string{g1}},
		{"whitespace everywhere", " \r\n[ { \"token\" :\t\"" + g1 + "\" , \"type\" : \"t\" , \"url\" : \"u\" , \"source\" : \"s\" } ] \n", 200, []string{T}, []string{g1ID}, nil},
		{"extra fields of every kind", `[{"token":"` + g1 + `","n":1e400,"b":true,"z":null,"o":{"token":"x"},"extra":` + nest(200) + `}]`, 200, []string{T}, []string{g1ID}, nil},
		{"Token, capitalised", `[{"Token":"` + g1 + `"}]`, 0, nil, nil, nil},
		{"TOKEN beside token", `[{"TOKEN":"` + g1 + `","token":"` + forged + `"}]`, 200, []string{F}, nil, []string{forged}},
		{"token with spaces", `[{"token":" ` + victim + ` "}]`, 200, []string{F}, nil, nil},
		{"token with a newline", `[{"token":"` + victim + `\n"}]`, 200, []string{F}, nil, nil},
		{"token with a NUL", `[{"token":"` + victim + `\u0000"}]`, 200, []string{F}, nil, nil},
		{"BOM", "\ufeff" + string(advBody(t, advFinding{Token: g1})), 0, nil, nil, nil},
		{"nested too deep", `[{"token":"` + g1 + `","extra":` + nest(20000) + `}]`, 0, nil, nil, nil},
		{"genuine, then a finding that is not an object", `[{"token":"` + g1 + `"},"` + g2 + `"]`, 0, nil, nil, nil},
		{"genuine, then a finding without a token", `[{"token":"` + g1 + `"},{"type":"t"}]`, 0, nil, nil, nil},
		{"genuine, then an empty token", `[{"token":"` + g1 + `"},{"token":""}]`, 0, nil, nil, nil},
		{"genuine, then a token array", `[{"token":"` + g1 + `"},{"token":["` + g2 + `"]}]`, 0, nil, nil, nil},
		{"genuine, then a number type", `[{"token":"` + g1 + `","type":7}]`, 0, nil, nil, nil},
		{"a report inside an object", `{"findings":[{"token":"` + g1 + `"}]}`, 0, nil, nil, nil},
		{"two reports", `[{"token":"` + g1 + `"}][{"token":"` + g2 + `"}]`, 0, nil, nil, nil},
		{"a comment after", `[{"token":"` + g1 + `"}] // x`, 0, nil, nil, nil},
		{"NaN", `[{"token":"` + g1 + `","n":NaN}]`, 0, nil, nil, nil},
		{"single quotes", `[{'token':'` + g1 + `'}]`, 0, nil, nil, nil},
		{"a string", `"` + g1 + `"`, 0, nil, nil, nil},
		{"empty body", ``, 0, nil, nil, nil},
	}
}

func TestAdvReportContents(t *testing.T) {
	// The names of the cases, from a throw-away set of keys.
	for i, c := range advCases(t, "a", "a", "b", "b", "sk_live_"+strings.Repeat("A", 50)) {
		t.Run(c.name, func(t *testing.T) {
			fx := advNew(t, 0)
			g1, g1ID := fx.key(t, apikey.SecretKey, apikey.Live)
			g2, g2ID := fx.key(t, apikey.PublishableKey, apikey.Test)
			victim, victimID := fx.key(t, apikey.SecretKey, apikey.Live)
			tt := advCases(t, g1, g1ID, g2, g2ID, victim)[i]
			w := fx.serve(t, fx.req(t, []byte(tt.body)), g1, g2, victim)
			var revoked []string
			for id, n := range fx.revokedIDs(t) {
				revoked = append(revoked, id)
				if n > 1 {
					t.Errorf("key %s got %d revocation events", id, n)
				}
				if id == victimID {
					t.Errorf("a string that is not the victim key revoked it")
				}
			}
			if tt.status == 0 {
				if w.Code < 400 || w.Code > 499 {
					t.Errorf("status %d, want a 4xx", w.Code)
				}
				if e, err := apierrors.Decode(w.Body); err != nil || e.Code == "" {
					t.Errorf("the refusal is not an API error: %v", err)
				}
			} else {
				if w.Code != 200 {
					t.Fatalf("status %d, want 200", w.Code)
				}
				got := advAnswers(t, w)
				if diff := cmp.Diff(tt.labels, labels(got)); diff != "" {
					t.Errorf("labels (-want +got):\n%s", diff)
				}
				for i, tok := range tt.tokens {
					if i < len(got) && got[i].TokenRaw != tok {
						t.Errorf("answer %d names token %s, want %s", i, apikey.Redact(got[i].TokenRaw), apikey.Redact(tok))
					}
				}
			}
			if diff := cmp.Diff(tt.revoked, revoked, cmpSortStrings); diff != "" {
				t.Errorf("keys revoked (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpSortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
})

// TestAdvAnswerEchoesTheFinding: the answer names each finding's token and
// type as sent, in order, even when they need escaping in JSON.
func TestAdvAnswerEchoesTheFinding(t *testing.T) {
	fx := advNew(t, 0)
	g, _ := fx.key(t, apikey.SecretKey, apikey.Live)
	fs := []advFinding{{Token: g, Type: `a"b\c</script>&é`}, {Token: "<b>not a key</b>", Type: "\u2028"}, {Token: g, Type: "second"}}
	w := fx.serve(t, fx.req(t, advBody(t, fs...)), g)
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	got := advAnswers(t, w)
	want := []wireAnswer{{g, fs[0].Type, "true_positive"}, {fs[1].Token, fs[1].Type, "false_positive"}, {g, "second", "true_positive"}}
	if !cmp.Equal(want, got) {
		t.Errorf("answers differ (labels %v, want %v)", labels(got), labels(want))
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

// --- logs and OnLeak ---------------------------------------------------------

// TestAdvLogsHoldNoKey puts keys in every field of a report: no log line and
// no Leak may hold any key, the reported one or another.
func TestAdvLogsHoldNoKey(t *testing.T) {
	tests := []struct {
		name string
		mk   func(reported, bystander string) []advFinding
	}{
		{"the token in url, source and type", func(r, _ string) []advFinding {
			return []advFinding{{Token: r, Type: r, URL: "https://github.com/o/r/blob/main/" + r + "?k=" + r, Source: r + r}}
		}},
		{"another key in the url of a genuine finding", func(r, b string) []advFinding {
			return []advFinding{{Token: r, URL: "https://github.com/o/r/blob/main/keys/" + b + ".txt"}}
		}},
		{"another key in the source of a genuine finding", func(r, b string) []advFinding {
			return []advFinding{{Token: r, Source: "content " + b}}
		}},
		{"two genuine findings naming each other", func(r, b string) []advFinding {
			return []advFinding{{Token: r, URL: "https://x/?k=" + b}, {Token: b, URL: "https://x/?k=" + r}}
		}},
		{"a key in the url of a false positive", func(_, b string) []advFinding {
			return []advFinding{{Token: "sk_live_0000", URL: "https://x/?k=" + b}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := advNew(t, 0)
			reported, _ := fx.key(t, apikey.SecretKey, apikey.Live)
			bystander, _ := fx.key(t, apikey.SecretKey, apikey.Live)
			w := fx.serve(t, fx.req(t, advBody(t, tt.mk(reported, bystander)...)), reported, bystander)
			if w.Code != 200 {
				t.Errorf("status %d", w.Code)
			}
		})
	}
}

// advLeakyRevoker fails as a store driver might: its error names the value
// it was asked about.
type advLeakyRevoker struct{}

func (advLeakyRevoker) RevokeLeaked(_ context.Context, presented string) (*apikey.Key, error) {
	return nil, fmt.Errorf("%w: query failed for %q", apikey.ErrUnavailable, presented)
}

// TestAdvStoreErrorsLogNoKey: when the Revoker fails, the 503, the
// handler's log and the error writer's log hold no token.
func TestAdvStoreErrorsLogNoKey(t *testing.T) {
	fx := advNew(t, 0)
	key, _ := fx.key(t, apikey.SecretKey, apikey.Live)
	var defaultLog syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&defaultLog, nil)))
	defer slog.SetDefault(old)
	h := (&GitHub{Revoker: advLeakyRevoker{}, PublicKeys: []PublicKey{fx.signer.public()}, Logger: fx.g.Logger}).Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, fx.req(t, advBody(t, advFinding{Token: key})))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", w.Code)
	}
	fx.noSecrets(t, w.Code, w.Body.String(), key)
	if strings.Contains(defaultLog.String(), key) {
		t.Errorf("slog.Default received a log line holding the token")
	}
}

// --- replays, duplicates, concurrency ---------------------------------------

func TestAdvReplayIsIdempotent(t *testing.T) {
	fx := advNew(t, 0)
	a, aID := fx.key(t, apikey.SecretKey, apikey.Live)
	b, bID := fx.key(t, apikey.SecretKey, apikey.Test)
	body := advBody(t, advFinding{Token: a}, advFinding{Token: b}, advFinding{Token: a}, advFinding{Token: advWrongSecret(a)})
	sig := fx.signer.sign(t, body)
	var first []wireAnswer
	for i := range 3 {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set(headerKeyID, fx.signer.id)
		r.Header.Set(headerSignature, sig) // the very same request, replayed
		w := fx.serve(t, r, a, b)
		if w.Code != 200 {
			t.Fatalf("delivery %d: status %d", i, w.Code)
		}
		got := advAnswers(t, w)
		if i == 0 {
			first = got
		} else if !cmp.Equal(first, got) {
			t.Errorf("delivery %d answers %v, the first %v", i, labels(got), labels(first))
		}
	}
	if diff := cmp.Diff([]string{"true_positive", "true_positive", "true_positive", "false_positive"}, labels(first)); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{aID: 1, bID: 1}, fx.revokedIDs(t)); diff != "" {
		t.Errorf("revocation events per key (-want +got):\n%s", diff)
	}
}

// TestAdvOnLeakGetsNoHash: OnLeak is how a service tells a key's owner
// where the key was found, the same job as the Manager's events, which
// never carry the stored Hash. The *apikey.Key it is given should not
// either: notification code (templates, queues, webhooks) is exactly
// where a record would be serialised whole.
func TestAdvOnLeakGetsNoHash(t *testing.T) {
	fx := advNew(t, 0)
	a, _ := fx.key(t, apikey.SecretKey, apikey.Live)
	if w := fx.serve(t, fx.req(t, advBody(t, advFinding{Token: a})), a); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if len(fx.leakKey) != 1 {
		t.Fatalf("OnLeak called %d times", len(fx.leakKey))
	}
	if k := fx.leakKey[0]; k.Hash != "" {
		t.Errorf("OnLeak was given the stored hash of key %s (algorithm %s)", k.ID, apikey.HashAlgorithm(k.Hash))
	}
}

func TestAdvConcurrentReports(t *testing.T) {
	fx := advNew(t, 0)
	a, aID := fx.key(t, apikey.SecretKey, apikey.Live)
	b, bID := fx.key(t, apikey.PublishableKey, apikey.Live)
	var wg sync.WaitGroup
	const n = 24
	codes := make([]int, n)
	answers := make([][]string, n)
	reqs := make([]*http.Request, n)
	for i := range n {
		fs := []advFinding{{Token: a}, {Token: b}}
		if i%2 == 1 {
			fs[0], fs[1] = fs[1], fs[0]
		}
		reqs[i] = fx.req(t, advBody(t, fs...))
	}
	for i := range n {
		wg.Go(func() {
			w := httptest.NewRecorder()
			fx.h.ServeHTTP(w, reqs[i])
			codes[i] = w.Code
			var got []wireAnswer
			json.Unmarshal(w.Body.Bytes(), &got)
			answers[i] = labels(got)
		})
	}
	wg.Wait()
	for i := range n {
		if codes[i] != 200 || !cmp.Equal(answers[i], []string{"true_positive", "true_positive"}) {
			t.Errorf("report %d: %d %v", i, codes[i], answers[i])
		}
	}
	fx.noSecrets(t, 200, "", a, b)
	if diff := cmp.Diff(map[string]int{aID: 1, bID: 1}, fx.revokedIDs(t)); diff != "" {
		t.Errorf("revocation events per key (-want +got):\n%s", diff)
	}
}

// --- size limits and methods --------------------------------------------------

func TestAdvBodyLimits(t *testing.T) {
	pad := func(body []byte, size int) []byte { // whitespace inside the array, to size bytes
		return append(append([]byte{'['}, bytes.Repeat([]byte(" "), size-len(body))...), body[1:]...)
	}
	tests := []struct {
		name   string
		limit  int64
		size   int // bytes of body
		status int
	}{
		{"default limit, exactly 1 MiB", 0, 1 << 20, 200},
		{"default limit, 1 MiB + 1", 0, 1<<20 + 1, 413},
		{"limit 600, exactly", 600, 600, 200},
		{"limit 600, one over", 600, 601, 413},
		{"limit 600, far over", 600, 1 << 21, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := advNew(t, tt.limit)
			key, id := fx.key(t, apikey.SecretKey, apikey.Live)
			body := pad(advBody(t, advFinding{Token: key}), tt.size)
			w := fx.serve(t, fx.req(t, body), key)
			revoked := fx.revokedIDs(t)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if (revoked[id] == 1) != (tt.status == 200) {
				t.Errorf("revoked %v", revoked)
			}
		})
	}
}

func TestAdvMethods(t *testing.T) {
	for _, method := range []string{"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "post"} {
		t.Run(method, func(t *testing.T) {
			fx := advNew(t, 0)
			key, _ := fx.key(t, apikey.SecretKey, apikey.Live)
			r := fx.req(t, advBody(t, advFinding{Token: key}))
			r.Method = method
			w := fx.serve(t, r, key)
			if w.Code != http.StatusMethodNotAllowed || len(fx.revokedIDs(t)) != 0 {
				t.Errorf("status %d, revoked %v", w.Code, fx.revokedIDs(t))
			}
		})
	}
}

// --- misconfiguration -----------------------------------------------------------

// TestAdvHandlerRefusesKeysItCannotUse: Handler panics on misconfiguration;
// a key that is not an ECDSA P-256 public key (GitHub signs with P-256) is
// one, and would otherwise make every report fail, or the handler panic
// at request time.
func TestAdvHandlerRefusesKeysItCannotUse(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	good := newSigner(t, "good").public()
	tests := []struct {
		name string
		g    GitHub
	}{
		{"P-384 key", GitHub{Revoker: advLeakyRevoker{}, PublicKeys: []PublicKey{good, {ID: "p384", Key: &p384.PublicKey}}}},
		{"P-224 key", GitHub{Revoker: advLeakyRevoker{}, PublicKeys: []PublicKey{{ID: "p224", Key: &p224.PublicKey}}}},
		{"zero key", GitHub{Revoker: advLeakyRevoker{}, PublicKeys: []PublicKey{{ID: "zero", Key: &ecdsa.PublicKey{}}}}},
		{"point not on the curve", GitHub{Revoker: advLeakyRevoker{}, PublicKeys: []PublicKey{{ID: "off", Key: &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}}}}},
		{"nil *apikey.Manager", GitHub{Revoker: (*apikey.Manager)(nil), PublicKeys: []PublicKey{good}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("Handler accepted the configuration")
				} else if s, _ := r.(string); !strings.HasPrefix(s, "leakreport: ") {
					t.Errorf("panic %v, want a leakreport: message", r)
				}
			}()
			tt.g.Handler()
		})
	}
}

func TestAdvParseGitHubKeys(t *testing.T) {
	a := newSigner(t, "a")
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name string
		doc  []byte
		ok   bool
	}{
		{"one P-256 key, not current", []byte(`{"public_keys":[{"key_identifier":"a","key":` + strconv.Quote(a.pem(t)) + `,"is_current":false}]}`), true},
		{"P-224", keysDoc(t, []string{"x"}, []string{pemOf(t, &p224.PublicKey)}), false},
		{"Ed25519", keysDoc(t, []string{"x"}, []string{pemOf(t, edPub)}), false},
		{"P-384 after a good key", keysDoc(t, []string{"a", "x"}, []string{a.pem(t), pemOf(t, &p384.PublicKey)}), false},
		{"null key", []byte(`{"public_keys":[null]}`), false},
		{"key not a string", []byte(`{"public_keys":[{"key_identifier":"a","key":1}]}`), false},
		{"public_keys null", []byte(`{"public_keys":null}`), false},
		{"trailing data", append(keysDoc(t, []string{"a"}, []string{a.pem(t)}), []byte(`{}`)...), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseGitHubKeys(tt.doc)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseGitHubKeys: %v, want ok=%v", err, tt.ok)
			}
			for _, k := range keys {
				if k.Key.Curve != elliptic.P256() {
					t.Errorf("accepted a key on %s", k.Key.Curve.Params().Name)
				}
			}
		})
	}
}

// TestAdvRefusalsNeverCallTheRevoker: a request refused for its headers or
// signature never reaches the Revoker, whatever its body holds.
func TestAdvRefusalsNeverCallTheRevoker(t *testing.T) {
	fx := advNew(t, 0)
	key, _ := fx.key(t, apikey.SecretKey, apikey.Live)
	body := advBody(t, advFinding{Token: key})
	mods := map[string]func(r *http.Request){
		"no headers":         func(r *http.Request) { r.Header.Del(headerKeyID); r.Header.Del(headerSignature) },
		"unknown key id":     func(r *http.Request) { r.Header.Set(headerKeyID, "nope") },
		"key id with spaces": func(r *http.Request) { r.Header.Set(headerKeyID, " "+fx.signer.id+" ") },
		"key id case":        func(r *http.Request) { r.Header.Set(headerKeyID, strings.ToUpper(fx.signer.id)) },
		"empty key id":       func(r *http.Request) { r.Header.Set(headerKeyID, "") },
		"signature of []":    func(r *http.Request) { r.Header.Set(headerSignature, fx.signer.sign(t, []byte(`[]`))) },
	}
	for name, mod := range mods {
		r := fx.req(t, body)
		mod(r)
		w := fx.serve(t, r, key)
		if w.Code < 400 || w.Code > 499 {
			t.Errorf("%s: status %d", name, w.Code)
		}
	}
	if fx.calls != 0 || len(fx.revokedIDs(t)) != 0 {
		t.Errorf("refused requests called the Revoker %d times", fx.calls)
	}
}
