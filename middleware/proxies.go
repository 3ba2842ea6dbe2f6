package middleware

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// TrustedProxies says which peers' forwarding headers (X-Forwarded-For,
// X-Real-IP, X-Forwarded-Proto) are believed. The zero value trusts no one:
// the client is the TCP peer and TLS means r.TLS != nil, whatever the
// headers say. Blindly trusting X-Forwarded-For would let any client choose
// its own address, and so its rate limits and network restrictions.
type TrustedProxies struct {
	// Networks holds the addresses of the proxies in front of the service.
	Networks []netip.Prefix
}

// ParseTrustedProxies parses a comma-separated list of CIDRs or bare
// addresses, such as "10.0.0.0/8, 192.0.2.7". An empty string trusts no one.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	var tp TrustedProxies
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := parsePrefixOrAddr(f)
		if err != nil {
			return TrustedProxies{}, fmt.Errorf("middleware: trusted proxy %q: not a CIDR or IP address", f)
		}
		tp.Networks = append(tp.Networks, p)
	}
	return tp, nil
}

func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// clone returns a copy of tp that shares no memory with it.
func (tp TrustedProxies) clone() TrustedProxies {
	return TrustedProxies{Networks: slices.Clone(tp.Networks)}
}

func (tp TrustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range tp.Networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr returns the TCP peer of r, or the zero Addr when RemoteAddr is
// not an IP address (as with a Unix socket).
func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ClientAddr returns the address of the client that sent r. When the TCP
// peer is a trusted proxy, X-Forwarded-For is read from right to left,
// skipping trusted proxies; the first address that is not trusted is the
// client. If every hop is trusted, the leftmost is the client. A hop may
// carry a port, as some proxies (Azure Application Gateway among them)
// write it: "192.0.2.1:4711" and "[2001:db8::1]:4711" are those addresses.
// Without X-Forwarded-For, a single X-Real-IP from a trusted peer is
// believed. A malformed entry stops the walk at the last address known
// good. The zero Addr means the peer itself is not an IP address.
func (tp TrustedProxies) ClientAddr(r *http.Request) netip.Addr {
	client := peerAddr(r)
	if !client.IsValid() || len(tp.Networks) == 0 || !tp.trusts(client) {
		return client
	}
	xff := r.Header["X-Forwarded-For"]
	if len(xff) == 0 {
		if v := r.Header["X-Real-Ip"]; len(v) == 1 {
			if a, ok := parseHop(v[0]); ok {
				return a
			}
		}
		return client
	}
	// Walk all X-Forwarded-For lines, last line last, from the right.
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			a, ok := parseHop(hop)
			if !ok {
				return client
			}
			client = a
			if !tp.trusts(client) {
				return client
			}
		}
	}
	return client
}

// parseHop parses one X-Forwarded-For hop: an IP address, optionally with
// a port as some proxies write it ("192.0.2.1:4711", "[2001:db8::1]:4711"),
// or a bracketed IPv6 address without one. Surrounding spaces are ignored.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// isTLS reports whether the client reached the service over TLS: r.TLS is
// set, or the TCP peer is a trusted proxy that says "X-Forwarded-Proto:
// https" (a single value; a list is read by its last entry, the one the
// nearest proxy added).
func (tp TrustedProxies) isTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(tp.Networks) == 0 {
		return false
	}
	v := r.Header["X-Forwarded-Proto"]
	if len(v) == 0 {
		return false
	}
	peer := peerAddr(r)
	if !peer.IsValid() || !tp.trusts(peer) {
		return false
	}
	last := v[len(v)-1]
	if j := strings.LastIndexByte(last, ','); j >= 0 {
		last = last[j+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}
