package apikey

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unsafe"
)

// Lengths of the parts of a key body.
const (
	IDLen       = 12 // random public identifier
	SecretLen   = 32 // random secret, about 190 bits
	ChecksumLen = 6  // base62 CRC-32 of everything before it
	BodyLen     = IDLen + SecretLen + ChecksumLen

	maxServiceLen = 20
	// maxKeyLen bounds the whole key: service "_" "sk_" "live_" body.
	maxKeyLen = maxServiceLen + 1 + 3 + 5 + BodyLen
)

// A Token stores the key length in a uint8.
const _ = uint8(maxKeyLen)

// alphabet is base62 in the order the key format fixes: 0-9, A-Z, a-z.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Format describes the shape of the keys a service issues:
//
//	[service "_"] type "_" [env "_"] body
//
// The zero Format issues and accepts keys with no service tag and an explicit
// live label: sk_live_…, pk_test_…. A Format is a plain value, safe to copy
// and to use concurrently.
type Format struct {
	// Service is an optional tag in front of every key ("acme" gives
	// acme_sk_live_…), so secret scanners and people can tell whose key it
	// is. It must match [a-z][a-z0-9]{0,19}; empty means no tag.
	Service string

	// OmitLiveLabel writes production keys without the "live" label
	// (sk_… beside sk_test_…). Parsing then rejects an explicit "live_".
	OmitLiveLabel bool
}

// Validate reports whether f.Service is a valid service tag.
func (f Format) Validate() error {
	if f.Service == "" {
		return nil
	}
	if !validService(f.Service) {
		return fmt.Errorf("apikey: invalid Format.Service %q: want 1 to %d characters matching [a-z][a-z0-9]*", f.Service, maxServiceLen)
	}
	return nil
}

func validService(s string) bool {
	if len(s) == 0 || len(s) > maxServiceLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// appendPrefix appends what comes before the body of a key of type t in
// env: [service "_"] type "_" [env "_"].
func (f Format) appendPrefix(buf []byte, t Type, env Environment) []byte {
	if f.Service != "" {
		buf = append(buf, f.Service...)
		buf = append(buf, '_')
	}
	buf = append(buf, t.prefix()...)
	buf = append(buf, '_')
	if env == Test {
		buf = append(buf, "test_"...)
	} else if !f.OmitLiveLabel {
		buf = append(buf, "live_"...)
	}
	return buf
}

// Redacted returns the redacted form of the key that k records, as
// Token.String gives it for the key itself ("sk_live_4XkT2mZpQa9B…"): its
// prefix and public id, never anything secret. It returns "" for a nil k
// or one whose Type or Environment is invalid.
func (f Format) Redacted(k *Key) string {
	if k == nil || !k.Type.Valid() || !k.Environment.Valid() {
		return ""
	}
	buf := f.appendPrefix(make([]byte, 0, maxKeyLen), k.Type, k.Environment)
	buf = append(buf, k.ID...)
	return string(append(buf, "…"...))
}

// Generate returns a new random key of type t in environment env. The id
// and secret are drawn from rand with rejection sampling, so every
// character of the alphabet is equally likely; a nil rand means
// crypto/rand. Pass a deterministic reader only in tests.
func (f Format) Generate(rand io.Reader, t Type, env Environment) (Token, error) {
	if err := f.Validate(); err != nil {
		return Token{}, err
	}
	if !t.Valid() {
		return Token{}, fmt.Errorf("apikey: cannot generate a key of invalid type %d", uint8(t))
	}
	if !env.Valid() {
		return Token{}, fmt.Errorf("apikey: cannot generate a key for invalid environment %d", uint8(env))
	}
	if rand == nil {
		rand = cryptoRand{}
	}
	buf := f.appendPrefix(make([]byte, 0, maxKeyLen), t, env)
	bodyAt := len(buf)
	var err error
	buf, err = appendRandom(buf, rand, IDLen+SecretLen)
	if err != nil {
		return Token{}, err
	}
	buf = appendChecksum(buf, crc32String(string(buf)))
	p := parsed{key: string(buf), body: uint8(bodyAt), svc: uint8(len(f.Service)), typ: t, env: env}
	return p.token(), nil
}

type cryptoRand struct{}

func (cryptoRand) Read(p []byte) (int, error) { return rand.Read(p) }

// appendRandom appends n characters of the alphabet drawn uniformly from r.
// Bytes >= 248 (the largest multiple of 62 that fits a byte) are discarded,
// so byte%62 has no modulo bias.
func appendRandom(dst []byte, r io.Reader, n int) ([]byte, error) {
	var raw [64]byte
	for n > 0 {
		// Ask for a little more than needed: about 3% of bytes are rejected.
		want := min(n+n/8+2, len(raw))
		if _, err := io.ReadFull(r, raw[:want]); err != nil {
			return dst, fmt.Errorf("apikey: reading random bytes: %w", err)
		}
		for _, b := range raw[:want] {
			if b >= 248 || n == 0 {
				continue
			}
			dst = append(dst, alphabet[b%62])
			n--
		}
	}
	return dst, nil
}

// crc32String is crc32.ChecksumIEEE of s without converting s to []byte
// (which would allocate: the conversion escapes into hash/crc32), so that
// parsing does not allocate. It uses slicing-by-8 tables.
func crc32String(s string) uint32 {
	crc := ^uint32(0)
	for len(s) >= 8 {
		crc ^= uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		crc = crcTab[0][s[7]] ^ crcTab[1][s[6]] ^ crcTab[2][s[5]] ^ crcTab[3][s[4]] ^
			crcTab[4][crc>>24] ^ crcTab[5][(crc>>16)&0xff] ^ crcTab[6][(crc>>8)&0xff] ^ crcTab[7][crc&0xff]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		crc = crcTab[0][byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// crcTab holds slicing-by-8 tables for the IEEE polynomial.
var crcTab = func() (t [8][256]uint32) {
	t[0] = *crc32.IEEETable
	for i := range 256 {
		c := t[0][i]
		for j := 1; j < 8; j++ {
			c = t[0][c&0xff] ^ (c >> 8)
			t[j][i] = c
		}
	}
	return t
}()

// appendChecksum appends c in base62, most significant digit first, in
// exactly ChecksumLen digits (62^6 > 2^32).
func appendChecksum(dst []byte, c uint32) []byte {
	var d [ChecksumLen]byte
	v := uint64(c)
	for i := ChecksumLen - 1; i >= 0; i-- {
		d[i] = alphabet[v%62]
		v /= 62
	}
	return append(dst, d[:]...)
}

// digits maps a byte to its base62 value, or -1.
var digits = func() (d [256]int8) {
	for i := range d {
		d[i] = -1
	}
	for i := range len(alphabet) {
		d[alphabet[i]] = int8(i)
	}
	return d
}()

// Parse parses s as a key of this Format. Parsing is strict: the service
// tag, type label, environment label, body length, alphabet and checksum
// must all be right, otherwise Parse returns a *FormatError (matching
// ErrMalformed and ErrInvalidKey) whose message contains no part of s.
// On success Parse does not allocate; the Token refers to s.
func (f Format) Parse(s string) (Token, error) {
	var p parsed
	if err := f.parseShape(s, &p); err != nil {
		return Token{}, err
	}
	if !checksumOK(s) {
		return Token{}, errChecksum
	}
	return p.token(), nil
}

// parseShape is Parse without the checksum test. The Verifier uses it to
// defer that test: a key whose SHA-256 matches a stored genuine key's has a
// valid checksum, so the test is only needed before a store look-up and to
// classify a mismatch.
func (f Format) parseShape(s string, p *parsed) error {
	if err := parseShapeTo(s, p); err != nil {
		return err
	}
	if s[:p.svc] != f.Service {
		return errService
	}
	if p.env == Live && p.explicitEnv == f.OmitLiveLabel {
		return errEnv
	}
	return nil
}

// Parse parses s as a key of the zero Format (no service tag, explicit
// live label). See Format.Parse.
func Parse(s string) (Token, error) { return Format{}.Parse(s) }

// parsed is a key string and where its parts are. It is internal, and
// holds the plaintext as a plain string; callers get a Token (see p.token).
type parsed struct {
	key         string
	body        uint8 // offset of the body (id) in key
	svc         uint8 // length of the service tag, 0 if none
	typ         Type
	env         Environment
	explicitEnv bool
}

// id returns the key's id.
func (p *parsed) id() string { return p.key[p.body : int(p.body)+IDLen] }

// token returns the Token for p.key, which must not be empty. It refers to
// the bytes of p.key without copying them.
func (p *parsed) token() Token {
	return Token{
		p: unsafe.Pointer(unsafe.StringData(p.key)), n: uint8(len(p.key)),
		body: p.body, svc: p.svc, typ: p.typ, env: p.env,
	}
}

// checksumOK reports whether the last ChecksumLen characters of s, which
// must have passed parseShapeTo, are the checksum of the rest.
func checksumOK(s string) bool {
	n := len(s)
	var want uint64
	for i := n - ChecksumLen; i < n; i++ {
		want = want*62 + uint64(digits[s[i]])
	}
	return want == uint64(crc32String(s[:n-ChecksumLen]))
}

// parseShapeTo checks the structure, labels and alphabet of s, accepting
// any valid service tag and an optional live label, and fills *p, which it
// may leave partly filled on error. It does not check the checksum.
func parseShapeTo(s string, p *parsed) error {
	*p = parsed{}
	n := len(s)
	// Shortest: "sk_" body. The body must be exactly BodyLen characters after
	// the last '_' of the prefix.
	if n < 3+BodyLen || n > maxKeyLen || s[n-BodyLen-1] != '_' {
		return errLength
	}
	bodyAt := n - BodyLen
	prefix := s[:bodyAt-1] // without the trailing '_'
	p.key = s
	p.body = uint8(bodyAt)

	// Environment label (optional; absent means live).
	seg, rest := lastSegment(prefix)
	switch seg {
	case "live":
		p.env, p.explicitEnv, prefix = Live, true, strings.TrimSuffix(rest, "_")
	case "test":
		p.env, p.explicitEnv, prefix = Test, true, strings.TrimSuffix(rest, "_")
	default:
		p.env = Live
	}
	if p.explicitEnv && prefix == "" {
		return errType // "live_" with no type in front
	}
	seg, rest = lastSegment(prefix)
	switch seg {
	case "sk":
		p.typ = SecretKey
	case "pk":
		p.typ = PublishableKey
	default:
		// "sk_prod_…": a known type followed by an unknown environment label.
		if t, _ := lastSegment(strings.TrimSuffix(rest, "_")); !p.explicitEnv && (t == "sk" || t == "pk") {
			return errEnv
		}
		return errType
	}
	if rest != "" {
		if len(rest) < 2 || rest[len(rest)-1] != '_' || !validService(rest[:len(rest)-1]) {
			return errService
		}
		p.svc = uint8(len(rest) - 1)
	}
	body := s[bodyAt:]
	for i := 0; i < len(body); i++ {
		if digits[body[i]] < 0 {
			return errAlphabet
		}
	}
	return nil
}

// lastSegment splits s at its last '_': "a_b_c" gives "c" and "a_b_"; a
// string without '_' gives s and "".
func lastSegment(s string) (seg, rest string) {
	i := strings.LastIndexByte(s, '_')
	if i < 0 {
		return s, ""
	}
	return s[i+1:], s[:i+1]
}
