package leakreport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// GitHubKeysURL is where GitHub publishes the keys that sign its
// secret-scanning reports, in the format ParseGitHubKeys reads. GitHub
// rate-limits it: fetch it with a token, or rarely.
const GitHubKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// A PublicKey is a key that signs reports, with the identifier the
// reports name it by.
type PublicKey struct {
	ID  string
	Key *ecdsa.PublicKey // on P-256
}

// ParseGitHubKeys parses the document GitHub publishes at GitHubKeysURL:
//
//	{"public_keys": [{"key_identifier": "…", "key": "-----BEGIN PUBLIC KEY-----…", "is_current": true}]}
//
// It returns every key, current or not: GitHub lists a key before it
// signs with it and for a while after, and a report signed with any
// listed key is genuine. Every key must be a PEM-encoded P-256 public key
// with a unique, non-empty identifier.
func ParseGitHubKeys(data []byte) ([]PublicKey, error) {
	var doc struct {
		PublicKeys []struct {
			ID  string `json:"key_identifier"`
			Key string `json:"key"`
		} `json:"public_keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("leakreport: reading GitHub's public keys: %w", err)
	}
	if len(doc.PublicKeys) == 0 {
		return nil, errors.New("leakreport: GitHub's public keys: no key listed in public_keys")
	}
	keys := make([]PublicKey, 0, len(doc.PublicKeys))
	seen := make(map[string]bool)
	for i, k := range doc.PublicKeys {
		if k.ID == "" || seen[k.ID] {
			return nil, fmt.Errorf("leakreport: GitHub's public key %d: missing or repeated key_identifier", i)
		}
		seen[k.ID] = true
		pub, err := ParsePublicKey([]byte(k.Key))
		if err != nil {
			return nil, fmt.Errorf("leakreport: GitHub's public key %q: %w", k.ID, err)
		}
		keys = append(keys, PublicKey{ID: k.ID, Key: pub})
	}
	return keys, nil
}

// ParsePublicKey parses a PEM-encoded ("PUBLIC KEY", PKIX) ECDSA public
// key on the P-256 curve.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("leakreport: not a PEM-encoded PUBLIC KEY")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("leakreport: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("leakreport: not an ECDSA P-256 public key")
	}
	return ec, nil
}
