package leakreport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

func pemOf(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func keysDoc(t *testing.T, ids []string, pems []string) []byte {
	t.Helper()
	type k struct {
		ID      string `json:"key_identifier"`
		Key     string `json:"key"`
		Current bool   `json:"is_current"`
	}
	var doc struct {
		PublicKeys []k `json:"public_keys"`
	}
	for i := range ids {
		doc.PublicKeys = append(doc.PublicKeys, k{ids[i], pems[i], i == len(ids)-1})
	}
	b, _ := json.Marshal(doc)
	return b
}

func TestParseGitHubKeys(t *testing.T) {
	a, b := newSigner(t, "a1"), newSigner(t, "b2")
	keys, err := ParseGitHubKeys(keysDoc(t, []string{"a1", "b2"}, []string{a.pem(t), b.pem(t)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "a1" || !keys[0].Key.Equal(&a.priv.PublicKey) || keys[1].ID != "b2" || !keys[1].Key.Equal(&b.priv.PublicKey) {
		t.Errorf("got %+v", keys)
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	cert := strings.Replace(a.pem(t), "PUBLIC KEY", "CERTIFICATE", 2)
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		{"not JSON", []byte("<html>"), "leakreport: reading GitHub's public keys"},
		{"no keys", []byte(`{"public_keys":[]}`), "no key listed"},
		{"other document", []byte(`{"keys":[1]}`), "no key listed"},
		{"repeated id", keysDoc(t, []string{"a1", "a1"}, []string{a.pem(t), b.pem(t)}), "repeated key_identifier"},
		{"empty id", keysDoc(t, []string{""}, []string{a.pem(t)}), "missing or repeated key_identifier"},
		{"P-384", keysDoc(t, []string{"x"}, []string{pemOf(t, &p384.PublicKey)}), "not an ECDSA P-256 public key"},
		{"RSA", keysDoc(t, []string{"x"}, []string{pemOf(t, &rsaKey.PublicKey)}), "not an ECDSA P-256 public key"},
		{"not PEM", keysDoc(t, []string{"x"}, []string{"MFkwEwYHKoZI"}), "not a PEM-encoded PUBLIC KEY"},
		{"wrong PEM type", keysDoc(t, []string{"x"}, []string{cert}), "not a PEM-encoded PUBLIC KEY"},
		{"bad DER", keysDoc(t, []string{"x"}, []string{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}), "leakreport: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGitHubKeys(tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "leakreport: ") {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseGitHubKeys(f *testing.F) {
	s := newSigner(f, "k")
	der, _ := x509.MarshalPKIXPublicKey(&s.priv.PublicKey)
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	doc, _ := json.Marshal(map[string]any{"public_keys": []map[string]any{{"key_identifier": "k", "key": p, "is_current": true}}})
	f.Add(doc)
	f.Add([]byte(`{"public_keys":[{"key_identifier":"k","key":"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseGitHubKeys(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "leakreport: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if k.ID == "" || seen[k.ID] || k.Key == nil || k.Key.Curve != elliptic.P256() {
				t.Fatalf("accepted key %+v", k)
			}
			seen[k.ID] = true
		}
	})
}

func FuzzParseReport(f *testing.F) {
	f.Add([]byte(`[{"token":"sk_live_x","type":"t","url":"u","source":"content"}]`))
	f.Add([]byte(`[{"token":"a","extra":{"nested":[1,2]}}, {"token":"b"}]`))
	f.Add([]byte(`[] []`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fs, err := parseReport(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "leakreport: ") || strings.Contains(err.Error(), `"`) {
				t.Fatalf("error %q lacks the prefix or quotes the body", err)
			}
			return
		}
		for _, f := range fs {
			if f.Token == "" || len(f.Token) > maxTokenLen {
				t.Fatalf("accepted a finding with token of %d bytes", len(f.Token))
			}
		}
		var back []wireAnswer
		answers := make([]answer, len(fs))
		for i, f := range fs {
			answers[i] = answer{Token: f.Token, Type: f.Type}
		}
		if err := json.Unmarshal(encodeAnswers(answers), &back); err != nil || len(back) != len(fs) {
			t.Fatalf("answers do not encode: %v", err)
		}
	})
}
