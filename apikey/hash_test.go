package apikey

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fastArgon keeps tests quick; production uses the defaults.
var fastArgon = Argon2id{Time: 1, Memory: 64, Threads: 1}

func testHMAC(t testing.TB) *HMAC {
	h, err := NewHMAC(Pepper{ID: "p2", Secret: bytes.Repeat([]byte{2}, 32)}, Pepper{ID: "p1", Secret: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashers(t *testing.T) {
	tok, _ := Format{}.Generate(seeded(4), SecretKey, Live)
	other, _ := Format{}.Generate(seeded(5), SecretKey, Live)
	for _, tc := range []struct {
		h      Hasher
		prefix string
	}{
		{SHA256{}, "sha256$"},
		{testHMAC(t), "hmac-sha256$p2$"},
		{fastArgon, "argon2id$v=19$m=64,t=1,p=1$"},
	} {
		t.Run(tc.h.Algorithm(), func(t *testing.T) {
			stored, err := tc.h.Hash(tok.Reveal())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, tc.prefix) || HashAlgorithm(stored) != tc.h.Algorithm() {
				t.Errorf("Hash = %q, want prefix %q", stored, tc.prefix)
			}
			if strings.Contains(stored, tok.Reveal()[8:20]) {
				t.Errorf("stored hash contains key characters")
			}
			if ok, err := tc.h.Verify(tok.Reveal(), stored); !ok || err != nil {
				t.Errorf("Verify(right key) = %v, %v", ok, err)
			}
			if ok, err := tc.h.Verify(other.Reveal(), stored); ok || err != nil {
				t.Errorf("Verify(wrong key) = %v, %v", ok, err)
			}
			bads := []string{"", "$", tc.prefix, "md5$abc", strings.Replace(stored, "$", "$$", 1)}
			if tc.h.Algorithm() != "argon2id" { // argon2id allows other digest lengths
				bads = append(bads, stored+"A", stored[:len(stored)-1])
			}
			for _, bad := range bads {
				if ok, err := tc.h.Verify(tok.Reveal(), bad); ok || err == nil {
					t.Errorf("Verify(stored=%q) = %v, %v; want an error", bad, ok, err)
				}
			}
		})
	}
}

func TestHMACRotation(t *testing.T) {
	tok, _ := Format{}.Generate(seeded(4), SecretKey, Live)
	old, err := NewHMAC(Pepper{ID: "p1", Secret: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	storedOld, _ := old.Hash(tok.Reveal())
	rotated := testHMAC(t) // current p2, previous p1
	if ok, err := rotated.Verify(tok.Reveal(), storedOld); !ok || err != nil {
		t.Errorf("rotated hasher rejects a hash made with the previous pepper: %v, %v", ok, err)
	}
	if !rotated.NeedsRehash(storedOld) {
		t.Errorf("NeedsRehash(old pepper) = false")
	}
	storedNew, _ := rotated.Hash(tok.Reveal())
	if rotated.NeedsRehash(storedNew) {
		t.Errorf("NeedsRehash(current pepper) = true")
	}
	if _, err := old.Verify(tok.Reveal(), storedNew); err == nil {
		t.Errorf("a hasher without pepper p2 verified a p2 hash without error")
	}
}

func TestNewHMACValidation(t *testing.T) {
	good := bytes.Repeat([]byte{1}, 32)
	for _, tc := range []struct {
		name string
		cur  Pepper
		prev []Pepper
	}{
		{"short secret", Pepper{ID: "a", Secret: good[:31]}, nil},
		{"empty id", Pepper{ID: "", Secret: good}, nil},
		{"bad id", Pepper{ID: "a$b", Secret: good}, nil},
		{"long id", Pepper{ID: strings.Repeat("a", 33), Secret: good}, nil},
		{"duplicate id", Pepper{ID: "a", Secret: good}, []Pepper{{ID: "a", Secret: good}}},
		{"short previous", Pepper{ID: "a", Secret: good}, []Pepper{{ID: "b", Secret: nil}}},
	} {
		if _, err := NewHMAC(tc.cur, tc.prev...); err == nil {
			t.Errorf("NewHMAC(%s) succeeded", tc.name)
		}
	}
	// The secret is copied.
	secret := bytes.Repeat([]byte{1}, 32)
	h, _ := NewHMAC(Pepper{ID: "a", Secret: secret})
	s1, _ := h.Hash("k")
	secret[0] = 9
	if s2, _ := h.Hash("k"); s1 != s2 {
		t.Errorf("changing the caller's pepper slice changed the hasher")
	}
}

func TestArgon2Params(t *testing.T) {
	stored, err := Argon2id{Rand: seeded(1)}.Hash("k")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("default parameters: %q", stored)
	}
	for _, bad := range []string{
		"argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"argon2id$v=19$m=64,t=0,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"argon2id$v=19$m=64,t=1,p=0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"argon2id$v=18$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"argon2id$v=19$t=1,m=64,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"argon2id$v=19$m=64,t=1,p=1$AA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"argon2id$v=19$m=064,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		if _, err := parseArgon2(bad); !errors.Is(err, ErrHashFormat) {
			t.Errorf("parseArgon2(%q) = %v, want ErrHashFormat", bad, err)
		}
	}
}

func FuzzHashString(f *testing.F) {
	tok, _ := Format{}.Generate(seeded(4), SecretKey, Live)
	hm := testHMAC(f)
	for _, h := range []Hasher{SHA256{}, hm, fastArgon} {
		s, _ := h.Hash(tok.Reveal())
		f.Add(s)
	}
	f.Add("argon2id$v=19$m=4194304,t=64,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("hmac-sha256$$")
	f.Fuzz(func(t *testing.T, stored string) {
		key := tok.Reveal()
		_ = HashAlgorithm(stored)
		SHA256{}.Verify(key, stored)
		hm.Verify(key, stored)
		hm.NeedsRehash(stored)
		ap, err := parseArgon2(stored)
		if err == nil && ap.m <= 256 && ap.t <= 2 {
			fastArgon.Verify(key, stored) // only cheap parameters
		}
	})
}
