package middleware_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/middleware"
)

func TestParseTrustedProxies(t *testing.T) {
	tp, err := middleware.ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,,::ffff:198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "198.51.100.1/32"}
	if len(tp.Networks) != len(want) {
		t.Fatalf("got %v", tp.Networks)
	}
	for i, p := range tp.Networks {
		if p.String() != want[i] {
			t.Errorf("network %d = %s, want %s", i, p, want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1/x"} {
		if _, err := middleware.ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) succeeded", bad)
		}
	}
}

func TestClientAddr(t *testing.T) {
	tp, _ := middleware.ParseTrustedProxies("10.0.0.0/8")
	tests := []struct {
		name   string
		tp     middleware.TrustedProxies
		remote string
		xff    []string
		realIP string
		want   string
	}{
		{"no proxies trusted", middleware.TrustedProxies{}, "203.0.113.9:1234", []string{"1.2.3.4"}, "", "203.0.113.9"},
		{"untrusted peer lies", tp, "203.0.113.9:1234", []string{"1.2.3.4"}, "5.6.7.8", "203.0.113.9"},
		{"trusted peer", tp, "10.0.0.1:1234", []string{"198.51.100.2"}, "", "198.51.100.2"},
		{"client spoofs left entries", tp, "10.0.0.1:1234", []string{"1.1.1.1, 198.51.100.2"}, "", "198.51.100.2"},
		{"two trusted hops", tp, "10.0.0.1:1234", []string{"198.51.100.2, 10.0.0.5"}, "", "198.51.100.2"},
		{"several lines", tp, "10.0.0.1:1234", []string{"1.1.1.1", "198.51.100.2, 10.0.0.9"}, "", "198.51.100.2"},
		{"all trusted", tp, "10.0.0.1:1234", []string{"10.0.0.3, 10.0.0.2"}, "", "10.0.0.3"},
		{"malformed hop", tp, "10.0.0.1:1234", []string{"198.51.100.2, garbage"}, "", "10.0.0.1"},
		{"x-real-ip", tp, "10.0.0.1:1234", nil, "198.51.100.3", "198.51.100.3"},
		{"bad x-real-ip", tp, "10.0.0.1:1234", nil, "nope", "10.0.0.1"},
		{"ipv6 peer", middleware.TrustedProxies{}, "[2001:db8::1]:443", nil, "", "2001:db8::1"},
		{"mapped ipv4", middleware.TrustedProxies{}, "[::ffff:203.0.113.9]:80", nil, "", "203.0.113.9"},
		{"not an ip", middleware.TrustedProxies{}, "@unix", nil, "", "invalid IP"},
		// Some proxies (Azure Application Gateway) write hops with a port.
		{"hop with a port", tp, "10.0.0.1:1234", []string{"198.51.100.2:4711"}, "", "198.51.100.2"},
		{"v6 hop with a port", tp, "10.0.0.1:1234", []string{"[2001:db8::7]:4711"}, "", "2001:db8::7"},
		{"bracketed v6 hop", tp, "10.0.0.1:1234", []string{"[2001:db8::7]"}, "", "2001:db8::7"},
		{"trusted hop with a port", tp, "10.0.0.1:1234", []string{"198.51.100.2, 10.0.0.5:80"}, "", "198.51.100.2"},
		{"spoof left of a hop with a port", tp, "10.0.0.1:1234", []string{"1.1.1.1, 198.51.100.2:4711"}, "", "198.51.100.2"},
		{"bad port", tp, "10.0.0.1:1234", []string{"198.51.100.2:99999"}, "", "10.0.0.1"},
		{"empty port", tp, "10.0.0.1:1234", []string{"198.51.100.2:"}, "", "10.0.0.1"},
		{"bracketed v4", tp, "10.0.0.1:1234", []string{"[198.51.100.2]"}, "", "10.0.0.1"},
		{"x-real-ip with a port", tp, "10.0.0.1:1234", nil, "198.51.100.3:80", "198.51.100.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := tc.tp.ClientAddr(r); got.String() != tc.want {
				t.Errorf("ClientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestIsTLS: what RequireTLS counts as TLS.
func TestIsTLS(t *testing.T) {
	tp := middleware.TrustedProxies{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name   string
		tp     middleware.TrustedProxies
		remote string
		tls    bool
		proto  []string
		want   bool
	}{
		{"direct tls", middleware.TrustedProxies{}, "203.0.113.9:1", true, nil, true},
		{"plain", middleware.TrustedProxies{}, "203.0.113.9:1", false, nil, false},
		{"untrusted header", middleware.TrustedProxies{}, "10.0.0.1:1", false, []string{"https"}, false},
		{"trusted header", tp, "10.0.0.1:1", false, []string{"https"}, true},
		{"trusted header upper", tp, "10.0.0.1:1", false, []string{"HTTPS"}, true},
		{"trusted says http", tp, "10.0.0.1:1", false, []string{"http"}, false},
		{"spoofed list", tp, "10.0.0.1:1", false, []string{"https, http"}, false},
		{"untrusted peer", tp, "203.0.113.9:1", false, []string{"https"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for _, v := range tc.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			if got := (&middleware.RequireTLS{Proxies: tc.tp}).Check(r) == nil; got != tc.want {
				t.Errorf("TLS = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequireTLS(t *testing.T) {
	tests := []struct {
		name     string
		rt       *middleware.RequireTLS
		tls      bool
		status   int
		hsts     string
		reachesH bool
	}{
		{"plain", &middleware.RequireTLS{}, false, 403, "", false},
		{"tls", &middleware.RequireTLS{}, true, 200, "max-age=31536000", true},
		{"custom hsts", &middleware.RequireTLS{HSTS: "max-age=60; includeSubDomains"}, true, 200, "max-age=60; includeSubDomains", true},
		{"no hsts", &middleware.RequireTLS{HSTS: "-"}, true, 200, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reached := false
			h := tc.rt.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			r := httptest.NewRequest("POST", "http://api.example.com/v1/keys", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || reached != tc.reachesH || w.Header().Get("Strict-Transport-Security") != tc.hsts {
				t.Errorf("got %d reached=%v HSTS=%q", w.Code, reached, w.Header().Get("Strict-Transport-Security"))
			}
			if tc.status == 403 {
				if w.Header().Get("Location") != "" || w.Body.String() != `{"error":{"status":403,"code":"https_required","message":"HTTPS is required"}}`+"\n" {
					t.Errorf("body %q, Location %q", w.Body, w.Header().Get("Location"))
				}
			}
		})
	}
}

// FuzzParseTrustedProxies: ParseTrustedProxies never panics, and what it
// accepts it accepts again, the same, in its canonical form.
func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{"", "10.0.0.0/8", " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32", "::ffff:1.2.3.4", "10.1.2.3/8", "fe80::1%eth0", "1.2.3.4/33", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := middleware.ParseTrustedProxies(s)
		if err != nil {
			if len(tp.Networks) != 0 {
				t.Fatalf("error %v with networks %v", err, tp.Networks)
			}
			return
		}
		var canon []string
		for _, p := range tp.Networks {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("network %v is not valid and masked", p)
			}
			canon = append(canon, p.String())
		}
		again, err := middleware.ParseTrustedProxies(strings.Join(canon, ","))
		if err != nil || !slices.Equal(again.Networks, tp.Networks) {
			t.Fatalf("canonical form %q parsed as %v, %v; want %v", canon, again.Networks, err, tp.Networks)
		}
	})
}

// FuzzClientAddr: ClientAddr never panics; it answers the TCP peer unless
// the peer is trusted, and otherwise an address that the request itself
// names, never an address a client could choose from outside the proxy
// chain: every hop right of the answer is a trusted proxy.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:1234", "198.51.100.2", "")
	f.Add("10.0.0.1:1234", "1.1.1.1, 198.51.100.2:4711, 10.0.0.5", "")
	f.Add("10.0.0.1:1234", "[2001:db8::7]:80", "")
	f.Add("203.0.113.9:1", "1.2.3.4", "5.6.7.8")
	f.Add("10.0.0.1:1", "", "198.51.100.3:80")
	f.Add("@", "garbage", "")
	tp, _ := middleware.ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48")
	f.Fuzz(func(t *testing.T, remote, xff, realIP string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if realIP != "" {
			r.Header.Set("X-Real-Ip", realIP)
		}
		got := tp.ClientAddr(r)
		peer := middleware.TrustedProxies{}.ClientAddr(r)
		if !peer.IsValid() || !trusted(tp, peer) {
			if got != peer {
				t.Fatalf("untrusted peer %v: ClientAddr = %v", peer, got)
			}
			return
		}
		if got == peer {
			return
		}
		if !got.IsValid() {
			t.Fatalf("ClientAddr = invalid behind trusted peer %v", peer)
		}
		if xff == "" {
			return // from X-Real-IP
		}
		// Every hop right of the answer is trusted.
		hops := strings.Split(xff, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := hopAddr(hops[i])
			if ok && a == got {
				return
			}
			if !ok || !trusted(tp, a) {
				t.Fatalf("ClientAddr = %v, but hop %q right of it is not a trusted proxy", got, hops[i])
			}
		}
		t.Fatalf("ClientAddr = %v, which X-Forwarded-For %q does not name", got, xff)
	})
}

func trusted(tp middleware.TrustedProxies, a netip.Addr) bool {
	for _, p := range tp.Networks {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// hopAddr parses a hop as the test understands hops: an address, with or
// without a port, an IPv6 address perhaps in brackets.
func hopAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
