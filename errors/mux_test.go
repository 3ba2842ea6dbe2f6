package errors_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	apierrors "github.com/gatekey/gatekey/errors"
)

func TestMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "thing "+r.PathValue("id")+" via "+r.Pattern)
	})
	mux.HandleFunc("POST /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /v1/tree/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tree")
	})
	mux.HandleFunc("GET /v1/gone", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "handler's own 404", http.StatusNotFound)
	})
	srv := httptest.NewServer(apierrors.Mux(mux))
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	tests := []struct {
		method, path string
		status       int
		code         string // JSON error code, "" for a non-JSON response
		body         string // expected body when code is ""
		header       http.Header
	}{
		{"GET", "/v1/things/42", 200, "", "thing 42 via GET /v1/things/{id}", nil},
		{"POST", "/v1/things/42", 201, "", "", nil},
		{"HEAD", "/v1/things/42", 200, "", "", nil},
		{"DELETE", "/v1/things/42", 405, "method_not_allowed", "", http.Header{"Allow": {"GET, HEAD, POST"}}},
		{"PUT", "/v1/tree/a/b", 405, "method_not_allowed", "", http.Header{"Allow": {"GET, HEAD"}}},
		{"GET", "/nope", 404, "not_found", "", nil},
		{"POST", "/nope", 404, "not_found", "", nil},
		{"GET", "/v1/tree", 307, "", "-", http.Header{"Location": {"/v1/tree/"}}},                // 301 before Go 1.26
		{"GET", "/v1/tree/../things/7", 307, "", "-", http.Header{"Location": {"/v1/things/7"}}}, // 301 before Go 1.26
		{"GET", "/v1/gone", 404, "", "handler's own 404\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status && !(tc.status == 307 && resp.StatusCode == 301) {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			for k := range tc.header {
				if got, want := resp.Header.Get(k), tc.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tc.code == "" {
				if tc.method != "HEAD" && tc.body != "-" && string(body) != tc.body {
					t.Errorf("body %q, want %q", body, tc.body)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var e struct {
				Error struct {
					Status int    `json:"status"`
					Code   string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if diff := cmp.Diff(tc.code, e.Error.Code); diff != "" || e.Error.Status != tc.status {
				t.Errorf("error %+v, want %d %s", e.Error, tc.status, tc.code)
			}
		})
	}
}

// TestMuxCleanPathRedirect sends an unclean path that net/http's client
// would clean, directly to the handler.
func TestMuxCleanPathRedirect(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a/b", func(http.ResponseWriter, *http.Request) {})
	for _, path := range []string{"/a//b", "/x/../a/b"} {
		r := httptest.NewRequest("GET", "http://example.com/", nil)
		r.URL.Path = path
		w := httptest.NewRecorder()
		apierrors.Mux(mux).ServeHTTP(w, r)
		// ServeMux redirects with 307 since Go 1.26, with 301 before.
		if (w.Code != http.StatusTemporaryRedirect && w.Code != http.StatusMovedPermanently) || w.Header().Get("Location") != "/a/b" {
			t.Errorf("%s: %d Location=%q", path, w.Code, w.Header().Get("Location"))
		}
	}
}

func TestMuxNilPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("Mux(nil) did not panic")
		}
	}()
	apierrors.Mux(nil)
}
