package service

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey/leakreport"
)

// githubSigner stands in for GitHub's secret-scanning signing key.
type githubSigner struct {
	id   string
	priv *ecdsa.PrivateKey
}

func newGitHubSigner(t *testing.T) githubSigner {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return githubSigner{id: "test-key-1", priv: priv}
}

// report sends a report of tokens, signed by g unless sign is false, and
// returns the answer. The answer of a verified report repeats the tokens
// (the protocol's token_raw), so it is not checked for leaks here.
func (e *testEnv) report(g githubSigner, sign bool, tokens ...string) response {
	e.t.Helper()
	var findings []map[string]string
	for _, tok := range tokens {
		findings = append(findings, map[string]string{"token": tok, "type": "gatekey_api_key", "url": "https://github.com/octo/app/blob/main/.env", "source": "content"})
	}
	body, _ := json.Marshal(findings)
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/leaks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sign {
		d := sha256.Sum256(body)
		sig, _ := ecdsa.SignASN1(rand.Reader, g.priv, d[:])
		req.Header.Set("Github-Public-Key-Identifier", g.id)
		req.Header.Set("Github-Public-Key-Signature", base64.StdEncoding.EncodeToString(sig))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func TestGitHubLeakReport(t *testing.T) {
	g := newGitHubSigner(t)
	e := newTestEnv(t, withConfig(func(c *Config) {
		c.GitHubKeys = []leakreport.PublicKey{{ID: g.id, Key: &g.priv.PublicKey}}
	}))
	leaked := e.createKey(e.admin, map[string]any{"name": "ci", "permission": "read_write"})
	kept := e.createKey(e.admin, map[string]any{"name": "prod"})
	wantStatus(t, e.do("GET", "/v1/me", leaked.Key, nil), 200)

	// Unsigned, it changes nothing; no key is needed either way.
	r := e.report(g, false, leaked.Key)
	wantError(t, r, 400, "bad_request")
	checkNoLeak(t, "unsigned report", r, e.secrets())
	wantStatus(t, e.do("GET", "/v1/me", leaked.Key, nil), 200)

	r = e.report(g, true, leaked.Key, "sk_live_4eC39HqLyjWDarjtT1zdp7dc")
	wantStatus(t, r, 200)
	var answers []struct {
		TokenRaw string `json:"token_raw"`
		Label    string `json:"label"`
	}
	if err := json.Unmarshal(r.Body, &answers); err != nil || len(answers) != 2 {
		t.Fatalf("answers %s: %v", r.Body, err)
	}
	if answers[0].TokenRaw != leaked.Key || answers[0].Label != "true_positive" || answers[1].Label != "false_positive" {
		t.Errorf("labels %q %q, want true_positive false_positive", answers[0].Label, answers[1].Label)
	}
	wantError(t, e.do("GET", "/v1/me", leaked.Key, nil), 401, "revoked_api_key")
	wantStatus(t, e.do("GET", "/v1/me", kept.Key, nil), 200)

	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"key event"`) || !strings.Contains(logs, `"reason":"leaked"`) || !strings.Contains(logs, leaked.ID) {
		t.Errorf("no key event logged for the leaked key:\n%s", logs)
	}
}

func TestGitHubLeakRouteOnlyWhenConfigured(t *testing.T) {
	e := newTestEnv(t)
	r := e.report(newGitHubSigner(t), true, e.admin)
	wantError(t, r, 401, "missing_api_key") // an ordinary path: a key is needed first
	wantError(t, e.do("POST", "/v1/leaks/github", e.admin, "[]"), 404, "not_found")
	wantStatus(t, e.do("GET", "/v1/me", e.admin, nil), 200)
}
