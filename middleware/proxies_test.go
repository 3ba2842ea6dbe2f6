package middleware_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
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
			if got := tc.tp.IsTLS(r); got != tc.want {
				t.Errorf("IsTLS = %v, want %v", got, tc.want)
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
		{"tls", &middleware.RequireTLS{}, true, 200, middleware.DefaultHSTS, true},
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
