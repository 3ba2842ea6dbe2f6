package middleware

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// A Source is a place in a request where an API key may be presented.
type Source uint8

const (
	// SourceBearer is "Authorization: Bearer KEY" (RFC 6750). The scheme is
	// case-insensitive and separated from the key by one or more spaces.
	SourceBearer Source = iota + 1

	// SourceToken is "Authorization: token KEY", as GitHub's API accepts.
	SourceToken

	// SourceBasic is HTTP Basic authentication with the key as the user name
	// and an empty password, as in "curl -u KEY:". A non-empty password is
	// rejected.
	SourceBasic

	// SourceHeader is a dedicated header, X-API-Key unless
	// Authenticator.HeaderName says otherwise.
	SourceHeader

	// SourceQuery is a query parameter, api_key unless
	// Authenticator.QueryParam says otherwise. It is unsafe: URLs end up in
	// access logs, proxy logs, browser history and Referer headers, taking
	// the key with them. Enable it only for clients that cannot send
	// headers.
	SourceQuery
)

// defaultSources are the sources an Authenticator accepts when its Sources
// field is empty.
var defaultSources = [...]Source{SourceBearer, SourceToken, SourceBasic}

// String returns the source's lowercase name, such as "bearer".
func (s Source) String() string {
	switch s {
	case SourceBearer:
		return "bearer"
	case SourceToken:
		return "token"
	case SourceBasic:
		return "basic"
	case SourceHeader:
		return "header"
	case SourceQuery:
		return "query"
	}
	return "unknown"
}

// Errors from credential extraction. They never include the credentials.
var (
	errNoCredentials        = errors.New("middleware: no credentials")
	errAmbiguousCredentials = errors.New("middleware: credentials in more than one place")
	errMalformedCredentials = errors.New("middleware: malformed credentials")
)

// credentials finds the one API key a request presents in the given
// sources, and the source it came from. It fails with errNoCredentials
// when there is none, errAmbiguousCredentials when there are several (even
// if equal) or when Authorization is repeated, and errMalformedCredentials
// when the Authorization header cannot be read (with the Source of its
// scheme, if that is an enabled one).
func credentials(r *http.Request, sources []Source, headerName, queryParam string) (string, Source, error) {
	var (
		key   string
		found Source
		n     int
		bad   bool
	)
	authz := r.Header["Authorization"]
	if len(authz) > 1 {
		return "", 0, errAmbiguousCredentials
	}
	authDone := false
	for _, src := range sources {
		switch src {
		case SourceBearer, SourceToken, SourceBasic:
			// One Authorization header holds at most one credential; parse
			// it once, for whichever authorization sources are enabled.
			if authDone || len(authz) == 0 {
				continue
			}
			authDone = true
			k, s, err := parseAuthorization(authz[0], sources)
			if err != nil {
				bad, found = true, s
				n++
				continue
			}
			key, found = k, s
			n++
		case SourceHeader:
			v := r.Header[headerName]
			if len(v) == 0 {
				continue
			}
			if len(v) > 1 {
				return "", 0, errAmbiguousCredentials
			}
			key, found = v[0], SourceHeader
			n++
		case SourceQuery:
			v, ok := r.URL.Query()[queryParam]
			if !ok {
				continue
			}
			if len(v) > 1 {
				return "", 0, errAmbiguousCredentials
			}
			key, found = v[0], SourceQuery
			n++
		}
	}
	switch {
	case n > 1:
		return "", 0, errAmbiguousCredentials
	case bad:
		return "", found, errMalformedCredentials
	case n == 0:
		return "", 0, errNoCredentials
	case key == "":
		return "", 0, errMalformedCredentials
	}
	return key, found, nil
}

// parseAuthorization reads an Authorization header value in one of the
// enabled schemes. An unknown or disabled scheme is malformed. The Source
// is that of the scheme even when the credentials are malformed, so that a
// refusal can say whether a bearer token was presented.
func parseAuthorization(v string, sources []Source) (string, Source, error) {
	scheme, rest, ok := strings.Cut(v, " ")
	var src Source
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		src = SourceBearer
	case strings.EqualFold(scheme, "token"):
		src = SourceToken
	case strings.EqualFold(scheme, "Basic"):
		src = SourceBasic
	default:
		return "", 0, errMalformedCredentials
	}
	if !slices.Contains(sources, src) {
		return "", 0, errMalformedCredentials
	}
	// RFC 6750: credentials = "Bearer" 1*SP b64token. Spaces only: a tab or
	// anything after the token is malformed.
	param := strings.TrimLeft(rest, " ")
	if !ok || param == "" || !isToken68(param) {
		return "", src, errMalformedCredentials
	}
	if src != SourceBasic {
		return param, src, nil
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(param)
	if err != nil {
		return "", src, errMalformedCredentials
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || password != "" || user == "" {
		return "", src, errMalformedCredentials
	}
	return user, SourceBasic, nil
}

// isToken68 reports whether s is an RFC 9110 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for i < len(s) && isToken68Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// The token68 characters but "=", as bit sets of the ASCII codes below 64
// and from 64 to 127: one test per character instead of up to ten
// comparisons (TestToken68Masks spells them out).
const (
	token68Lo uint64 = 0x3ffe80000000000  // + - . / 0-9
	token68Hi uint64 = 0x47fffffe87fffffe // A-Z _ a-z ~
)

// isToken68Char reports whether c is a token68 character other than "=".
func isToken68Char(c byte) bool {
	if c < 64 {
		return token68Lo>>c&1 != 0
	}
	return c < 128 && token68Hi>>(c-64)&1 != 0
}

// withoutQueryParam returns a copy of u without the query parameter name,
// the other parameters left as they were, and the request-target that
// goes with it.
func withoutQueryParam(u *url.URL, name string) (*url.URL, string) {
	c := *u
	var kept []string
	for part := range strings.SplitSeq(u.RawQuery, "&") {
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name || part == "" {
			continue
		}
		kept = append(kept, part)
	}
	c.RawQuery = strings.Join(kept, "&")
	c.ForceQuery = false
	return &c, c.RequestURI()
}
