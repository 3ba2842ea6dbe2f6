package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

func TestAdversarialForgedPostsChangeNothing(t *testing.T) {
	headers := []struct {
		name string
		hdr  map[string]string
	}{
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"same-site sibling", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.bank.example"}},
		{"cross-site claiming our Origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://bank.example"}},
		{"cross-site without Origin", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"odd Sec-Fetch-Site case", map[string]string{"Sec-Fetch-Site": "Same-Origin", "Origin": "https://evil.example"}},
		{"unknown Sec-Fetch-Site", map[string]string{"Sec-Fetch-Site": "same-origin, cross-site"}},
		{"old browser, foreign Origin", map[string]string{"Origin": "https://evil.example"}},
		{"old browser, Origin null (sandbox)", map[string]string{"Origin": "null"}},
		{"old browser, suffix host", map[string]string{"Origin": "http://bank.example.evil.example"}},
		{"old browser, other port", map[string]string{"Origin": "http://bank.example:8080"}},
		{"old browser, userinfo trick", map[string]string{"Origin": "http://bank.example@evil.example"}},
		{"old browser, same-origin Referer only", map[string]string{"Origin": "https://evil.example", "Referer": "http://bank.example/dashboard/"}},
	}
	contentTypes := []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""}
	methods := []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}

	s := newSite(t, nil)
	_, k := s.env.Mint(apikey.CreateParams{Name: "victim", Owner: "acct_1"})
	createNonce := s.nonce("acct_1", "/dashboard/")
	rollNonce := s.nonce("acct_1", "/dashboard/roll?id="+k.ID)
	forms := []struct {
		path string
		form url.Values
	}{
		{"/dashboard/keys", url.Values{"form": {createNonce}, "name": {"forged"}, "type": {"secret"},
			"permission": {"read_write"}, "environment": {"live"}, "expires": {"never"}}},
		{"/dashboard/revoke", url.Values{"id": {k.ID}}},
		{"/dashboard/roll", url.Values{"id": {k.ID}, "grace": {"0"}, "form": {rollNonce}}},
	}
	before := advState(s)
	for _, f := range forms {
		for _, h := range headers {
			for _, ct := range contentTypes {
				for _, m := range methods {
					hdr := map[string]string{"Content-Type": ct}
					for k, v := range h.hdr {
						hdr[k] = v
					}
					// Ask for a method override too: it must not matter.
					hdr["X-HTTP-Method-Override"] = http.MethodPost
					body := f.form.Encode() + "&_method=POST"
					w := advRequest(s, nil, "acct_1", m, f.path+"?_method=POST", strings.NewReader(body), hdr)
					if w.Code != http.StatusForbidden {
						t.Errorf("%s %s (%s, %q): %d, want 403", m, f.path, h.name, ct, w.Code)
					}
					checkSecurityHeaders(t, "refusal", w)
					advNoKeyIn(t, "refusal", w)
				}
			}
		}
	}
	if after := advState(s); after != before {
		t.Errorf("forged posts changed the store:\nbefore:\n%safter:\n%s", before, after)
	}
	// The refusals did not use up the forms: the real ones still work.
	for _, f := range forms[:1] {
		if w := s.do("acct_1", http.MethodPost, f.path, f.form); w.Code != http.StatusCreated {
			t.Errorf("the real create form after the forgeries: %d, want 201", w.Code)
		}
	}
}

func TestAdversarialSafeMethodsChangeNothing(t *testing.T) {
	s := newSite(t, nil)
	_, k := s.env.Mint(apikey.CreateParams{Name: "mine", Owner: "acct_1"})
	create := url.Values{"form": {s.nonce("acct_1", "/dashboard/")}, "name": {"via get"}, "type": {"secret"}, "permission": {"read_write"},
		"environment": {"test"}, "expires": {"never"}, "_method": {"POST"}}
	revoke := url.Values{"id": {k.ID}, "_method": {"POST"}}
	roll := url.Values{"id": {k.ID}, "grace": {"0"}, "form": {s.nonce("acct_1", "/dashboard/roll?id="+k.ID)}, "_method": {"POST"}}
	before := advState(s)
	for _, tt := range []struct {
		method, path string
		query        url.Values
	}{
		{http.MethodGet, "/dashboard/keys", create},
		{http.MethodHead, "/dashboard/keys", create},
		{http.MethodOptions, "/dashboard/keys", create},
		{http.MethodGet, "/dashboard/", create},
		{http.MethodGet, "/dashboard/revoke", revoke},
		{http.MethodHead, "/dashboard/revoke", revoke},
		{http.MethodOptions, "/dashboard/revoke", revoke},
		{http.MethodGet, "/dashboard/roll", roll},
		{http.MethodHead, "/dashboard/roll", roll},
		{http.MethodOptions, "/dashboard/roll", roll},
	} {
		for _, site := range []string{"cross-site", "same-origin"} {
			hdr := map[string]string{"Sec-Fetch-Site": site, "X-HTTP-Method-Override": "POST",
				"X-HTTP-Method": "POST", "X-Method-Override": "POST"}
			w := advRequest(s, nil, "acct_1", tt.method, tt.path+"?"+tt.query.Encode(), nil, hdr)
			what := fmt.Sprintf("%s %s (%s)", tt.method, tt.path, site)
			advNoKeyIn(t, what, w)
			if w.Code == http.StatusCreated || w.Code == http.StatusSeeOther {
				t.Errorf("%s: %d, a change", what, w.Code)
			}
			if tt.method == http.MethodHead && w.Body.Len() != 0 {
				t.Errorf("%s: a body", what)
			}
		}
	}
	if after := advState(s); after != before {
		t.Errorf("safe methods changed the store:\nbefore:\n%safter:\n%s", before, after)
	}
	// And the nonce sent along was not used up.
	create.Del("_method")
	if w := s.do("acct_1", http.MethodPost, "/dashboard/keys", create); w.Code != http.StatusCreated {
		t.Errorf("the form after the GETs: %d, want 201", w.Code)
	}
}

func TestAdversarialOtherAccountsAndOddIDs(t *testing.T) {
	s := newSite(t, nil)
	_, mine := s.env.Mint(apikey.CreateParams{Name: "mine", Owner: "acct_1"})
	flipped := []byte(mine.ID)
	for i, c := range flipped {
		switch {
		case c >= 'a' && c <= 'z':
			flipped[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z':
			flipped[i] = c - 'A' + 'a'
		}
	}
	ids := map[string]string{
		"own id, case flipped": string(flipped),
		"own id, short":        mine.ID[:apikey.IDLen-1],
		"own id, long":         mine.ID + "A",
		"own id, space":        " " + mine.ID[1:],
		"own id, NUL":          mine.ID[:apikey.IDLen-1] + "\x00",
		"own id, CRLF":         mine.ID[:apikey.IDLen-2] + "\r\n",
		"own id, percent":      mine.ID[:apikey.IDLen-3] + "%41",
		"twelve bytes, UTF-8":  strings.Repeat("é", apikey.IDLen/2),
		"not UTF-8":            strings.Repeat("\xff", apikey.IDLen),
		"path":                 "../../../../",
		"the whole key":        "sk_test_" + mine.ID,
		"empty":                "",
	}
	for _, owner := range []string{"acct_2", "", "ACCT_1", "acct_1 ", " acct_1", "acct_10", "acct_", "acct_1\x00"} {
		_, k := s.env.Mint(apikey.CreateParams{Name: "theirs " + owner, Owner: owner})
		ids[fmt.Sprintf("key of owner %q", owner)] = k.ID
	}
	// An unknown id of the right shape answers exactly as another
	// account's key does.
	unknown := "000000000000"
	unknownBody := s.do("acct_1", http.MethodGet, "/dashboard/revoke?id="+unknown, nil).Body.String()

	before := advState(s)
	for what, id := range ids {
		rollNonce := strings.Repeat("cd", 16)
		for _, tt := range []struct {
			method, path string
			form         url.Values
		}{
			{http.MethodGet, "/dashboard/revoke?id=" + url.QueryEscape(id), nil},
			{http.MethodHead, "/dashboard/revoke?id=" + url.QueryEscape(id), nil},
			{http.MethodPost, "/dashboard/revoke", url.Values{"id": {id}}},
			{http.MethodGet, "/dashboard/roll?id=" + url.QueryEscape(id), nil},
			{http.MethodPost, "/dashboard/roll", url.Values{"id": {id}, "grace": {"0"}, "form": {rollNonce}}},
		} {
			w := s.do("acct_1", tt.method, tt.path, tt.form)
			name := fmt.Sprintf("%s %s with %s", tt.method, tt.path, what)
			if w.Code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", name, w.Code)
			}
			if strings.Contains(w.Body.String(), "theirs") {
				t.Errorf("%s: the page names the key", name)
			}
			if tt.method == http.MethodGet && strings.HasPrefix(tt.path, "/dashboard/revoke") && w.Body.String() != unknownBody {
				t.Errorf("%s: the page differs from the one for an unknown key", name)
			}
			if v := w.Header().Get("Location"); v != "" {
				t.Errorf("%s: redirects to %q", name, v)
			}
		}
	}
	if after := advState(s); after != before {
		t.Errorf("the requests changed the store:\nbefore:\n%safter:\n%s", before, after)
	}
	list := s.do("acct_1", http.MethodGet, "/dashboard/", nil).Body.String()
	if strings.Contains(list, "theirs") {
		t.Error("the list shows a key of an account that merely looks like acct_1")
	}
}

func TestAdversarialIDInQueryAndBody(t *testing.T) {
	s := newSite(t, nil)
	_, mine := s.env.Mint(apikey.CreateParams{Name: "mine", Owner: "acct_1"})
	_, theirs := s.env.Mint(apikey.CreateParams{Name: "theirs", Owner: "acct_2"})

	// The query names someone else's key, the body the account's own: only
	// the body counts.
	for _, tt := range []struct {
		name, path string
		form       url.Values
		status     int
		changed    string // the id that may change
	}{
		{"revoke: query theirs, body empty", "/dashboard/revoke?id=" + theirs.ID, url.Values{}, 404, ""},
		{"revoke: query mine, body empty", "/dashboard/revoke?id=" + mine.ID, url.Values{}, 404, ""},
		{"revoke: query mine, body theirs", "/dashboard/revoke?id=" + mine.ID, url.Values{"id": {theirs.ID}}, 404, ""},
		{"roll: query mine, body theirs", "/dashboard/roll?id=" + mine.ID + "&grace=0&form=" + strings.Repeat("1", 32),
			url.Values{"id": {theirs.ID}, "grace": {"0"}, "form": {strings.Repeat("2", 32)}}, 404, ""},
		{"roll: everything in the query", "/dashboard/roll?id=" + mine.ID + "&grace=0&form=" + strings.Repeat("3", 32), url.Values{}, 404, ""},
		{"revoke: id in body twice, mine and theirs", "/dashboard/revoke", url.Values{"id": {mine.ID, theirs.ID}}, 400, ""},
		{"revoke: id in body twice, theirs and mine", "/dashboard/revoke", url.Values{"id": {theirs.ID, mine.ID}}, 400, ""},
		{"roll: id in body twice", "/dashboard/roll", url.Values{"id": {mine.ID, theirs.ID}, "grace": {"0"}, "form": {strings.Repeat("4", 32)}}, 400, ""},
		{"roll: form in body twice", "/dashboard/roll", url.Values{"id": {mine.ID}, "grace": {"0"}, "form": {strings.Repeat("5", 32), strings.Repeat("6", 32)}}, 400, ""},
		{"revoke: query theirs, body mine", "/dashboard/revoke?id=" + theirs.ID, url.Values{"id": {mine.ID}}, 303, mine.ID},
	} {
		before := advState(s)
		w := s.do("acct_1", http.MethodPost, tt.path, tt.form)
		if w.Code != tt.status {
			t.Errorf("%s: %d, want %d:\n%s", tt.name, w.Code, tt.status, w.Body)
		}
		advNoKeyIn(t, tt.name, w)
		if tt.changed == "" && advState(s) != before {
			t.Errorf("%s: the store changed", tt.name)
		}
	}
	got, err := s.env.Manager.Get(context.Background(), theirs.ID)
	if err != nil || !got.RevokedAt.IsZero() || !got.ExpiresAt.IsZero() {
		t.Errorf("the other account's key was changed: %v %+v", err, got)
	}
	if n := len(s.keys("acct_2")); n != 1 {
		t.Errorf("the other account holds %d keys, want 1", n)
	}
	if loc := s.do("acct_1", http.MethodGet, "/dashboard/?revoked="+theirs.ID, nil).Body.String(); strings.Contains(loc, "was revoked") {
		t.Error("the list announces another account's key as revoked")
	}
}

func TestAdversarialRedirectAfterRevoke(t *testing.T) {
	s := newSite(t, nil)
	_, k := s.env.Mint(apikey.CreateParams{Name: "mine", Owner: "acct_1"})
	w := s.do("acct_1", http.MethodPost, "/dashboard/revoke", url.Values{"id": {k.ID}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", w.Code)
	}
	loc := w.Header().Get("Location")
	u, err := url.Parse(loc)
	if err != nil || u.IsAbs() || u.Host != "" || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\r\n\\") {
		t.Errorf("Location %q is not a plain relative reference", loc)
	}
	if got := u.Query(); len(got) != 1 || got.Get("revoked") != k.ID {
		t.Errorf("Location %q carries more than the key's id", loc)
	}
	checkSecurityHeaders(t, "the redirect", w)
}
