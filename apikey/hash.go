package apikey

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// A Hasher turns a plaintext key into the self-describing string a Store
// keeps, and checks a presented key against such a string.
//
// A stored hash starts with the hasher's algorithm tag and a '$', followed by
// parameters and the digest, so hashes written by different hashers can
// coexist in one store while a service migrates: the Verifier picks the
// Hasher by tag. Implementations must be safe for concurrent use and compare
// digests in constant time.
//
// The package provides SHA256 (the default; a nil Hasher means SHA256),
// HMAC (SHA-256 with a server-side pepper) and Argon2id.
type Hasher interface {
	// Algorithm returns the tag this Hasher writes and reads, such as "sha256".
	Algorithm() string
	// Hash returns the stored form of key.
	Hash(key string) (string, error)
	// Verify reports whether key matches stored. A mismatch is (false, nil);
	// an error means stored is malformed or cannot be checked by this Hasher
	// (for example, an unknown pepper).
	Verify(key, stored string) (bool, error)
}

// ErrHashFormat is returned (wrapped) by Hasher.Verify for a stored hash that
// the hasher cannot read.
var ErrHashFormat = errors.New("apikey: malformed stored hash")

// HashAlgorithm returns the algorithm tag of a stored hash (the text before
// the first '$'), or "" if there is none.
func HashAlgorithm(stored string) string {
	i := strings.IndexByte(stored, '$')
	if i <= 0 {
		return ""
	}
	return stored[:i]
}

var b64 = base64.RawStdEncoding

// sumKey returns the SHA-256 of key without allocating for keys of normal length.
func sumKey(key string) [32]byte {
	var buf [maxKeyLen]byte
	if len(key) <= len(buf) {
		n := copy(buf[:], key)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(key))
}

// decodeDigest decodes exactly 32 bytes of unpadded standard base64.
func decodeDigest(s string) (d [32]byte, ok bool) {
	if len(s) != b64.EncodedLen(32) {
		return d, false
	}
	n, err := b64.Decode(d[:], []byte(s))
	return d, err == nil && n == 32
}

// SHA256 is the default Hasher: a single SHA-256 of the key, stored as
// "sha256$<base64 digest>". A key carries about 190 random bits, so a fast
// hash is enough to make a leaked table useless for recovering keys.
// The zero value is ready to use.
type SHA256 struct{}

// Algorithm returns "sha256".
func (SHA256) Algorithm() string { return "sha256" }

// Hash returns "sha256$" followed by the unpadded base64 SHA-256 of key.
func (SHA256) Hash(key string) (string, error) {
	d := sumKey(key)
	return "sha256$" + b64.EncodeToString(d[:]), nil
}

// Verify compares the SHA-256 of key with stored in constant time.
func (SHA256) Verify(key, stored string) (bool, error) {
	want, ok := decodeDigest(strings.TrimPrefix(stored, "sha256$"))
	if !ok || !strings.HasPrefix(stored, "sha256$") {
		return false, fmt.Errorf("%w: not a sha256 hash", ErrHashFormat)
	}
	got := sumKey(key)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1, nil
}

// Pepper is a server-side secret mixed into HMAC hashes. Its ID is written
// into each hash so that the right pepper is used after a rotation.
type Pepper struct {
	ID     string // 1 to 32 characters of [A-Za-z0-9._-]
	Secret []byte // at least 32 bytes, from a secret manager
}

// MinPepperLen is the shortest Pepper.Secret NewHMAC accepts.
const MinPepperLen = 32

// HMAC is a Hasher computing HMAC-SHA-256 of the key with a pepper, stored
// as "hmac-sha256$<pepper id>$<base64 digest>". Without the pepper a leaked
// table cannot even be checked against a guessed key. New hashes use the
// current pepper; hashes made with a previous pepper still verify, which
// allows rotation. Create one with NewHMAC.
type HMAC struct {
	current string
	peppers map[string][]byte
}

// NewHMAC returns an HMAC hasher that hashes with current and verifies
// hashes made with current or any of previous. Pepper ids must be unique and
// valid, and secrets at least MinPepperLen bytes; the secrets are copied.
func NewHMAC(current Pepper, previous ...Pepper) (*HMAC, error) {
	h := &HMAC{current: current.ID, peppers: make(map[string][]byte, 1+len(previous))}
	for _, p := range append([]Pepper{current}, previous...) {
		if !validPepperID(p.ID) {
			return nil, fmt.Errorf("apikey: invalid pepper id %q: want 1 to 32 characters of [A-Za-z0-9._-]", p.ID)
		}
		if len(p.Secret) < MinPepperLen {
			return nil, fmt.Errorf("apikey: pepper %q is %d bytes; need at least %d", p.ID, len(p.Secret), MinPepperLen)
		}
		if _, dup := h.peppers[p.ID]; dup {
			return nil, fmt.Errorf("apikey: duplicate pepper id %q", p.ID)
		}
		h.peppers[p.ID] = append([]byte(nil), p.Secret...)
	}
	return h, nil
}

func validPepperID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Algorithm returns "hmac-sha256".
func (h *HMAC) Algorithm() string { return "hmac-sha256" }

func (h *HMAC) sum(secret []byte, key string) []byte {
	m := hmac.New(sha256.New, secret)
	io.WriteString(m, key)
	return m.Sum(nil)
}

// Hash returns the HMAC of key under the current pepper.
func (h *HMAC) Hash(key string) (string, error) {
	return "hmac-sha256$" + h.current + "$" + b64.EncodeToString(h.sum(h.peppers[h.current], key)), nil
}

// Verify checks key against stored with the pepper stored names. A pepper
// this HMAC does not know is an error, not a mismatch.
func (h *HMAC) Verify(key, stored string) (bool, error) {
	rest, ok := strings.CutPrefix(stored, "hmac-sha256$")
	if !ok {
		return false, fmt.Errorf("%w: not an hmac-sha256 hash", ErrHashFormat)
	}
	id, digest, ok := strings.Cut(rest, "$")
	want, okd := decodeDigest(digest)
	if !ok || !okd {
		return false, fmt.Errorf("%w: bad hmac-sha256 hash", ErrHashFormat)
	}
	secret, known := h.peppers[id]
	if !known {
		return false, fmt.Errorf("apikey: hash uses unknown pepper %q", id)
	}
	return subtle.ConstantTimeCompare(h.sum(secret, key), want[:]) == 1, nil
}

// NeedsRehash reports whether stored was made with a pepper other than the
// current one (or by another algorithm), so it should be replaced, for
// example by rolling the key.
func (h *HMAC) NeedsRehash(stored string) bool {
	rest, ok := strings.CutPrefix(stored, "hmac-sha256$")
	id, _, _ := strings.Cut(rest, "$")
	return !ok || id != h.current
}

// Argon2id is a Hasher using the Argon2id KDF, for policies that require a
// slow hash. Stored hashes look like
// "argon2id$v=19$m=19456,t=2,p=1$<base64 salt>$<base64 hash>" and carry their
// own parameters, so changing the fields below affects new hashes only.
// Zero fields take the defaults shown (OWASP's recommendation), so the zero
// value is ready to use. The Verifier pays this cost once per key per cache
// lifetime, not per request.
type Argon2id struct {
	Time    uint32    // passes over memory; 0 means 2
	Memory  uint32    // KiB; 0 means 19456 (19 MiB)
	Threads uint8     // lanes; 0 means 1
	SaltLen uint32    // bytes; 0 means 16
	KeyLen  uint32    // bytes; 0 means 32
	Rand    io.Reader // salt source; nil means crypto/rand
}

// Algorithm returns "argon2id".
func (Argon2id) Algorithm() string { return "argon2id" }

type argonParams struct {
	m, t uint32
	p    uint8
	salt []byte
	hash []byte
}

func (a Argon2id) params() (t, m uint32, p uint8, saltLen, keyLen uint32) {
	t, m, p, saltLen, keyLen = a.Time, a.Memory, a.Threads, a.SaltLen, a.KeyLen
	if t == 0 {
		t = 2
	}
	if m == 0 {
		m = 19456
	}
	if p == 0 {
		p = 1
	}
	if saltLen == 0 {
		saltLen = 16
	}
	if keyLen == 0 {
		keyLen = 32
	}
	return
}

// Hash derives a new salted Argon2id hash of key.
func (a Argon2id) Hash(key string) (string, error) {
	t, m, p, saltLen, keyLen := a.params()
	if saltLen < 8 || saltLen > 64 || keyLen < 16 || keyLen > 64 || m < 8*uint32(p) {
		return "", fmt.Errorf("apikey: invalid Argon2id parameters")
	}
	r := a.Rand
	if r == nil {
		r = cryptoRand{}
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("apikey: reading salt: %w", err)
	}
	sum := argon2.IDKey([]byte(key), salt, t, m, p, keyLen)
	return fmt.Sprintf("argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p,
		b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// Verify recomputes the hash of key with the salt and parameters in stored.
func (a Argon2id) Verify(key, stored string) (bool, error) {
	ap, err := parseArgon2(stored)
	if err != nil {
		return false, err
	}
	sum := argon2.IDKey([]byte(key), ap.salt, ap.t, ap.m, ap.p, uint32(len(ap.hash)))
	return subtle.ConstantTimeCompare(sum, ap.hash) == 1, nil
}

// parseArgon2 reads "argon2id$v=19$m=..,t=..,p=..$salt$hash", bounding every
// parameter so that a corrupt row cannot make verification exhaust memory.
func parseArgon2(stored string) (argonParams, error) {
	bad := func(what string) (argonParams, error) {
		return argonParams{}, fmt.Errorf("%w: argon2id: %s", ErrHashFormat, what)
	}
	parts := strings.Split(stored, "$")
	if len(parts) != 5 || parts[0] != "argon2id" {
		return bad("want 5 '$'-separated fields")
	}
	if parts[1] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	var ap argonParams
	fields := strings.Split(parts[2], ",")
	if len(fields) != 3 {
		return bad("want m=,t=,p=")
	}
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return bad("want m=,t=,p=")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("bad number")
		}
		switch i {
		case 0:
			ap.m = uint32(n)
		case 1:
			ap.t = uint32(n)
		case 2:
			if n < 1 || n > 255 {
				return bad("p out of range")
			}
			ap.p = uint8(n)
		}
	}
	if ap.t < 1 || ap.t > 64 {
		return bad("t out of range")
	}
	if ap.m < 8*uint32(ap.p) || ap.m > 4<<20 { // at most 4 GiB
		return bad("m out of range")
	}
	var err error
	if ap.salt, err = b64.DecodeString(parts[3]); err != nil || len(ap.salt) < 8 || len(ap.salt) > 64 {
		return bad("bad salt")
	}
	if ap.hash, err = b64.DecodeString(parts[4]); err != nil || len(ap.hash) < 16 || len(ap.hash) > 64 {
		return bad("bad hash")
	}
	return ap, nil
}
