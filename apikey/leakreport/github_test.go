package leakreport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/google/go-cmp/cmp"
)

type wireAnswer struct {
	TokenRaw  string `json:"token_raw"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

func TestGitHubReport(t *testing.T) {
	fx := newFixture(t)
	live, liveID := fx.create(t)
	other, otherID := fx.create(t)
	unknown, _ := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Live)
	acme, _ := apikey.Format{Service: "acme"}.Generate(nil, apikey.SecretKey, apikey.Live)
	wrongSecret := live[:len(live)-7] + "0" + live[len(live)-6:] // bad checksum too
	stripe := "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	tokens := []string{live, unknown.Reveal(), acme.Reveal(), wrongSecret, stripe, live}

	for i, s := range fx.signers { // either listed key: GitHub rotates them
		body := report(t, tokens...)
		if i == 1 {
			body = report(t, other)
		}
		w := fx.serve(t, s.request(t, body), append(tokens, other)...)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("signer %s: status %d, content type %q; body %s", s.id, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		var got []wireAnswer
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		var want []wireAnswer
		if i == 0 {
			for _, tok := range tokens {
				label := "false_positive"
				if tok == live {
					label = "true_positive"
				}
				want = append(want, wireAnswer{tok, "gatekey_api_key", label})
			}
		} else {
			want = []wireAnswer{{other, "gatekey_api_key", "true_positive"}}
		}
		if !cmp.Equal(want, got) {
			t.Errorf("signer %s: answers differ (labels want %v, got %v)", s.id, labels(want), labels(got))
		}
	}
	if !fx.revoked(t, liveID) || !fx.revoked(t, otherID) {
		t.Errorf("the genuine keys were not revoked")
	}
	if _, err := fx.m.Verify(context.Background(), live); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("Verify of a reported key: %v, want ErrRevoked", err)
	}
	var kinds []string
	for _, e := range fx.events {
		if e.Kind == apikey.EventRevoked {
			kinds = append(kinds, e.Reason.String()+" "+e.Key.ID)
		}
	}
	if diff := cmp.Diff([]string{"leaked " + liveID, "leaked " + otherID}, kinds); diff != "" {
		t.Errorf("revocation events (-want +got):\n%s", diff)
	}
	if len(fx.leaks) != 2 || fx.leaks[0].URL != "https://github.com/octo/repo/blob/abc/config.env" || fx.leaks[0].Source != "content" {
		t.Errorf("OnLeak got %+v", fx.leaks)
	}
	if !strings.Contains(fx.logs.String(), liveID) {
		t.Errorf("the log does not name the revoked key's id:\n%s", fx.logs)
	}
}

func labels(as []wireAnswer) []string {
	var l []string
	for _, a := range as {
		l = append(l, a.Label)
	}
	return l
}

// TestGitHubRefused sends requests that must change nothing.
func TestGitHubRefused(t *testing.T) {
	fx := newFixture(t)
	key, id := fx.create(t)
	good := report(t, key)
	s, stranger := fx.signers[0], newSigner(t, "key-2025") // same id, another key
	signed := func(body []byte) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { return s.request(t, body) }
	}
	tests := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		code   apierrors.Code
	}{
		{"no headers", func(t *testing.T) *http.Request {
			return httptest.NewRequest("POST", "/", bytes.NewReader(good))
		}, 400, apierrors.CodeBadRequest},
		{"no signature", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Header.Del(headerSignature)
			return r
		}, 400, apierrors.CodeBadRequest},
		{"no identifier", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Header.Del(headerKeyID)
			return r
		}, 400, apierrors.CodeBadRequest},
		{"two signatures", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Header.Add(headerSignature, s.sign(t, good))
			return r
		}, 400, apierrors.CodeBadRequest},
		{"signature not base64", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Header.Set(headerSignature, "%%%")
			return r
		}, 400, apierrors.CodeBadRequest},
		{"unknown identifier", func(t *testing.T) *http.Request {
			return newSigner(t, "key-1999").request(t, good)
		}, 403, apierrors.CodeInvalidSignature},
		{"signed by another key", func(t *testing.T) *http.Request { return stranger.request(t, good) }, 403, apierrors.CodeInvalidSignature},
		{"signature of another body", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Header.Set(headerSignature, s.sign(t, report(t, "sk_live_x")))
			return r
		}, 403, apierrors.CodeInvalidSignature},
		{"body changed after signing", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Body = httpBody(append(bytes.Clone(good[:len(good)-1]), ' ', ']'))
			return r
		}, 403, apierrors.CodeInvalidSignature},
		{"signature of the other listed key", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Header.Set(headerSignature, fx.signers[1].sign(t, good))
			return r
		}, 403, apierrors.CodeInvalidSignature},
		{"empty signature bytes", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Header.Set(headerSignature, "AAAA")
			return r
		}, 403, apierrors.CodeInvalidSignature},
		{"huge body", signed(append(report(t, key), bytes.Repeat([]byte(" "), defaultMaxBody)...)), 413, apierrors.CodeRequestTooLarge},
		{"GET", func(t *testing.T) *http.Request {
			r := s.request(t, good)
			r.Method = "GET"
			return r
		}, 405, apierrors.CodeMethodNotAllowed},
		{"signed object", signed([]byte(`{"token":"` + key + `"}`)), 400, apierrors.CodeBadRequest},
		{"signed null", signed([]byte(`null`)), 400, apierrors.CodeBadRequest},
		{"signed numbers", signed([]byte(`[1]`)), 400, apierrors.CodeBadRequest},
		{"signed null finding", signed([]byte(`[null]`)), 400, apierrors.CodeBadRequest},
		{"signed no token", signed([]byte(`[{"type":"x"}]`)), 400, apierrors.CodeBadRequest},
		{"signed token not a string", signed([]byte(`[{"token":1}]`)), 400, apierrors.CodeBadRequest},
		{"signed null token", signed([]byte(`[{"token":null}]`)), 400, apierrors.CodeBadRequest},
		{"signed url not a string", signed([]byte(`[{"token":"` + key + `","url":{}}]`)), 400, apierrors.CodeBadRequest},
		{"signed trailing data", signed(append(bytes.Clone(good), []byte(`[]`)...)), 400, apierrors.CodeBadRequest},
		{"signed trailing garbage", signed(append(bytes.Clone(good), 'x')), 400, apierrors.CodeBadRequest},
		{"signed truncated", signed(good[:len(good)-1]), 400, apierrors.CodeBadRequest},
		{"signed huge token", signed(report(t, key+strings.Repeat("a", maxTokenLen))), 400, apierrors.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := fx.serve(t, tt.req(t), key)
			e, err := apierrors.Decode(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || e.Code != tt.code {
				t.Errorf("got %d %s (%s), want %d %s", w.Code, e.Code, e.Message, tt.status, tt.code)
			}
			if strings.Contains(e.Message, key) || strings.Contains(w.Body.String(), key) {
				t.Errorf("the answer echoes the token")
			}
			if fx.revoked(t, id) {
				t.Fatalf("the key was revoked")
			}
		})
	}
	if len(fx.events) != 1 || fx.events[0].Kind != apikey.EventCreated {
		t.Errorf("events: %v", fx.events)
	}
}

func TestGitHubEmptyReport(t *testing.T) {
	fx := newFixture(t)
	w := fx.serve(t, fx.signers[0].request(t, []byte(" [ ] \n")))
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("got %d %q, want 200 []", w.Code, w.Body)
	}
}

// failingRevoker fails after revoking n keys.
type failingRevoker struct {
	Revoker
	n int
}

func (f *failingRevoker) RevokeLeaked(ctx context.Context, presented string) (*apikey.Key, error) {
	if f.n == 0 {
		return nil, apikey.ErrUnavailable
	}
	f.n--
	return f.Revoker.RevokeLeaked(ctx, presented)
}

func TestGitHubStoreDown(t *testing.T) {
	fx := newFixture(t)
	a, aID := fx.create(t)
	b, bID := fx.create(t)
	h := (&GitHub{Revoker: &failingRevoker{Revoker: fx.m, n: 1}, PublicKeys: []PublicKey{fx.signers[0].public()}, Logger: fx.newLogger()}).Handler()
	fx.h = h
	body := report(t, a, b)
	w := fx.serve(t, fx.signers[0].request(t, body), a, b)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503 so that GitHub sends the report again", w.Code)
	}
	if strings.Contains(w.Body.String(), a) {
		t.Errorf("a 503 echoes a token")
	}
	if !fx.revoked(t, aID) || fx.revoked(t, bID) {
		t.Errorf("revoked: a %v, b %v; want the first only", fx.revoked(t, aID), fx.revoked(t, bID))
	}
	// GitHub sends it again: both are revoked, and both are genuine.
	fx.h = (&GitHub{Revoker: fx.m, PublicKeys: []PublicKey{fx.signers[0].public()}, Logger: fx.newLogger()}).Handler()
	w = fx.serve(t, fx.signers[0].request(t, body), a, b)
	if w.Code != 200 || strings.Count(w.Body.String(), "true_positive") != 2 || !fx.revoked(t, bID) {
		t.Errorf("the retry: %d %s", w.Code, w.Body)
	}
}

func TestGitHubScrubsURLs(t *testing.T) {
	fx := newFixture(t)
	key, _ := fx.create(t)
	body, _ := json.Marshal([]map[string]string{{"token": key, "type": "t", "url": "https://example.com/?k=" + key, "source": key}})
	w := fx.serve(t, fx.signers[0].request(t, body), key)
	if w.Code != 200 {
		t.Fatalf("got %d", w.Code)
	}
	for _, l := range fx.leaks {
		if strings.Contains(l.URL, key) || strings.Contains(l.Source, key) {
			t.Errorf("OnLeak was given the token in %+v", l)
		}
	}
}

func TestGitHubHandlerPanics(t *testing.T) {
	pub := newSigner(t, "a").public()
	tests := []struct {
		name string
		g    GitHub
		want string
	}{
		{"no revoker", GitHub{PublicKeys: []PublicKey{pub}}, "leakreport: GitHub.Revoker is nil"},
		{"no keys", GitHub{Revoker: &failingRevoker{}}, "leakreport: GitHub.PublicKeys is empty"},
		{"duplicate id", GitHub{Revoker: &failingRevoker{}, PublicKeys: []PublicKey{pub, pub}}, "leakreport: GitHub.PublicKeys[1]"},
		{"nil key", GitHub{Revoker: &failingRevoker{}, PublicKeys: []PublicKey{{ID: "x"}}}, "leakreport: GitHub.PublicKeys[0]"},
		{"negative limit", GitHub{Revoker: &failingRevoker{}, PublicKeys: []PublicKey{pub}, MaxBodyBytes: -1}, "leakreport: GitHub.MaxBodyBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, tt.want) {
					t.Errorf("panic %v, want one starting %q", r, tt.want)
				}
			}()
			tt.g.Handler()
		})
	}
}

func TestGitHubLimits(t *testing.T) {
	fx := newFixture(t)
	key, id := fx.create(t)
	fx.h = (&GitHub{Revoker: fx.m, PublicKeys: []PublicKey{fx.signers[0].public()}, MaxFindings: 2, Logger: fx.newLogger()}).Handler()

	w := fx.serve(t, fx.signers[0].request(t, report(t, key, "a", "b")), key)
	if e, _ := apierrors.Decode(w.Body); w.Code != 413 || e.Code != apierrors.CodeRequestTooLarge || fx.revoked(t, id) {
		t.Errorf("3 findings with MaxFindings 2: %d, revoked %v", w.Code, fx.revoked(t, id))
	}
	// Null optional fields are as if absent.
	body := []byte(`[{"token":"` + key + `","type":null,"url":null,"source":null}]`)
	w = fx.serve(t, fx.signers[0].request(t, body), key)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"label":"true_positive"`) || !fx.revoked(t, id) {
		t.Errorf("null optional fields: %d, revoked %v", w.Code, fx.revoked(t, id))
	}
}

// TestGitHubRefusalsLoggedRarely: anyone can send refused requests, so
// they cannot fill the log.
func TestGitHubRefusalsLoggedRarely(t *testing.T) {
	fx := newFixture(t)
	for range 100 {
		if w := fx.serve(t, httptest.NewRequest("POST", "/", strings.NewReader("[]"))); w.Code != 400 {
			t.Fatalf("unsigned: %d", w.Code)
		}
	}
	if n := strings.Count(fx.logs.String(), "refused a GitHub report"); n != 1 {
		t.Errorf("100 refused requests logged %d lines, want 1", n)
	}
}
