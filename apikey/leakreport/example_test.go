package leakreport_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/leakreport"
)

// A service mounts the handler at the URL it registered with GitHub, with
// the keys GitHub publishes, fetched ahead of time:
//
//	curl -s https://api.github.com/meta/public_keys/secret_scanning > github-keys.json
//
// Here a test key stands in for GitHub's, to sign a report.
func ExampleGitHub() {
	github, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // stands in for GitHub's key
	// In a service: keys, err := leakreport.ParseGitHubKeys(data of github-keys.json)
	keys := []leakreport.PublicKey{{ID: "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a", Key: &github.PublicKey}}

	m, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{
		OnEvent: func(_ context.Context, e apikey.Event) {
			if e.Kind == apikey.EventRevoked {
				fmt.Println("tell the key's owner that it was revoked:", e.Reason)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	tok, _, _ := m.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})

	mux := http.NewServeMux()
	mux.Handle("POST /v1/leaks/github", (&leakreport.GitHub{
		Revoker:    m,
		PublicKeys: keys,
		Logger:     slog.New(slog.DiscardHandler),
	}).Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What GitHub sends when it finds the key in a public repository.
	body := []byte(`[{"token":"` + tok.Reveal() + `","type":"gatekey_api_key","url":"https://github.com/octo/app/blob/main/.env","source":"content"}]`)
	digest := sha256.Sum256(body)
	sig, _ := ecdsa.SignASN1(rand.Reader, github, digest[:])
	req, _ := http.NewRequest("POST", srv.URL+"/v1/leaks/github", bytes.NewReader(body))
	req.Header.Set("Github-Public-Key-Identifier", keys[0].ID)
	req.Header.Set("Github-Public-Key-Signature", base64.StdEncoding.EncodeToString(sig))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var answer bytes.Buffer
	answer.ReadFrom(resp.Body)
	fmt.Println(resp.Status, strings.Contains(answer.String(), `"label":"true_positive"`))
	_, err = m.Verify(context.Background(), tok.Reveal())
	fmt.Println("the key now:", err)
	// Output:
	// tell the key's owner that it was revoked: leaked
	// 200 OK true
	// the key now: apikey: key revoked
}
