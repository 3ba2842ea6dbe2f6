package apikey

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var prefixCmp = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func TestKeyStatus(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	for _, tc := range []struct {
		name string
		k    Key
		want Status
	}{
		{"active", Key{}, StatusActive},
		{"future expiry", Key{ExpiresAt: future}, StatusActive},
		{"expires now", Key{ExpiresAt: now}, StatusExpired},
		{"expired", Key{ExpiresAt: past}, StatusExpired},
		{"disabled", Key{Disabled: true}, StatusDisabled},
		{"revoked", Key{RevokedAt: past}, StatusRevoked},
		{"revoked wins over expired and disabled", Key{RevokedAt: past, ExpiresAt: past, Disabled: true}, StatusRevoked},
		{"expired wins over disabled", Key{ExpiresAt: past, Disabled: true}, StatusExpired},
	} {
		if got := tc.k.Status(now); got != tc.want {
			t.Errorf("%s: Status = %v, want %v", tc.name, got, tc.want)
		}
	}
	wantErr := map[Status]error{StatusActive: nil, StatusRevoked: ErrRevoked, StatusExpired: ErrExpired, StatusDisabled: ErrDisabled}
	for s, want := range wantErr {
		if s.Err() != want {
			t.Errorf("%v.Err() = %v, want %v", s, s.Err(), want)
		}
	}
}

func TestKeyAllowsAddr(t *testing.T) {
	k := &Key{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true}, {"11.0.0.1", false}, {"::ffff:10.1.2.3", true},
		{"2001:db8::1", true}, {"2001:db8::1%eth0", true}, {"2001:db9::1", false},
	} {
		if got := k.AllowsAddr(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("AllowsAddr(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	// Records written by other tools may hold IPv4-mapped networks.
	mapped := &Key{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}
	for addr, want := range map[string]bool{"10.1.2.3": true, "::ffff:10.1.2.3": true, "11.0.0.1": false, "2001:db8::1": false} {
		if got := mapped.AllowsAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IPv4-mapped network: AllowsAddr(%s) = %v, want %v", addr, got, want)
		}
	}
	if !(&Key{}).AllowsAddr(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("a key without networks rejects an address")
	}
	if !(&Key{}).AllowsAddr(netip.Addr{}) {
		t.Errorf("a key without networks rejects the zero address")
	}
}

func TestKeyPermissions(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		want bool
	}{
		{Key{Type: SecretKey, Permission: ReadWrite}, true},
		{Key{Type: SecretKey}, false},
		{Key{Type: PublishableKey, Permission: ReadWrite}, false},
		{Key{}, false},
	} {
		if got := tc.k.CanWrite(); got != tc.want {
			t.Errorf("%v %v CanWrite = %v, want %v", tc.k.Type, tc.k.Permission, got, tc.want)
		}
	}
	k := &Key{Scopes: []string{"a", "b"}}
	if !k.HasScope("b") || k.HasScope("c") || k.HasScope("") {
		t.Errorf("HasScope is wrong")
	}
}

func TestKeyCloneAndJSON(t *testing.T) {
	k := &Key{
		ID: "AAAAAAAAAAAA", Type: SecretKey, Environment: Live, Scopes: []string{"a"},
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Metadata:        map[string]string{"k": "v"}, Hash: "sha256$secretish",
		CreatedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	c := k.Clone()
	if diff := cmp.Diff(k, c, prefixCmp); diff != "" {
		t.Fatalf("Clone differs:\n%s", diff)
	}
	c.Scopes[0], c.Metadata["k"], c.AllowedNetworks[0] = "x", "x", netip.Prefix{}
	if k.Scopes[0] != "a" || k.Metadata["k"] != "v" || !k.AllowedNetworks[0].IsValid() {
		t.Errorf("Clone shares memory with the original")
	}
	if (*Key)(nil).Clone() != nil {
		t.Errorf("nil.Clone() != nil")
	}
	js, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "sha256") {
		t.Errorf("JSON of a Key contains its hash: %s", js)
	}
	want := `{"id":"AAAAAAAAAAAA","type":"secret","environment":"live","permission":"read_only","scopes":["a"],"allowed_networks":["10.0.0.0/8"],"created_at":"2030-01-01T00:00:00Z","metadata":{"k":"v"}}`
	if string(js) != want {
		t.Errorf("JSON = %s\nwant   %s", js, want)
	}
	var back Key
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	k.Hash = ""
	if diff := cmp.Diff(k, &back, prefixCmp); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestKeyAccount(t *testing.T) {
	for _, tt := range []struct {
		k    Key
		want string
	}{
		{Key{ID: "abc", Owner: "acct_1"}, "acct_1"},
		{Key{ID: "abc"}, "abc"},
	} {
		if got := tt.k.Account(); got != tt.want {
			t.Errorf("%+v.Account() = %q, want %q", tt.k, got, tt.want)
		}
	}
}
