package errors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
)

// Write sends an API error with its status, headers and JSON body.
func ExampleWrite() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		apierrors.Write(w, r, apierrors.NewTooManyRequests(1200*time.Millisecond))
	}

	w := httptest.NewRecorder()
	w.Header().Set("X-Request-Id", "req_42") // middleware.RequestID sets it first
	handler(w, httptest.NewRequest("GET", "/v1/monitors", nil))

	fmt.Println(w.Code, w.Header().Get("Content-Type"), "Retry-After:", w.Header().Get("Retry-After"))
	fmt.Print(w.Body)
	// Output:
	// 429 application/json Retry-After: 2
	// {"error":{"status":429,"code":"rate_limit_exceeded","message":"Rate limit exceeded","request_id":"req_42"}}
}

// Clients that ask for application/problem+json get RFC 9457 problem details.
func ExampleWriter_problemDetails() {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v1/keys", nil)
	r.Header.Set("Accept", "application/problem+json")
	apierrors.Write(w, r, apierrors.NewInvalidParameter("name", "name is required"))

	fmt.Println(w.Header().Get("Content-Type"), "Vary:", w.Header().Get("Vary"))
	fmt.Print(w.Body)
	// Output:
	// application/problem+json Vary: Accept
	// {"type":"about:blank","title":"Bad Request","status":400,"detail":"name is required","code":"invalid_parameter","param":"name"}
}

// A service that already promises {"error": "message"} keeps that shape.
func ExampleWriter_simple() {
	wr := &apierrors.Writer{Encoding: apierrors.EncodingSimple}
	w := httptest.NewRecorder()
	wr.Write(w, httptest.NewRequest("GET", "/", nil), apierrors.New(http.StatusUnauthorized, apierrors.CodeInvalidAPIKey, "Invalid or missing API key"))
	fmt.Print(w.Code, " ", w.Body)
	// Output:
	// 401 {"error":"Invalid or missing API key"}
}

type monitor struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// Handlers return errors instead of writing them. API errors reach the
// client as they are, wrapped or not; anything else becomes a 500 that
// reveals nothing.
func ExampleHandlerFunc() {
	monitors := map[string]monitor{"mon_1": {ID: "mon_1", URL: "https://example.com"}}

	getMonitor := apierrors.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		m, ok := monitors[r.PathValue("id")]
		if !ok {
			return fmt.Errorf("monitor %q: %w", r.PathValue("id"), apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "No such monitor"))
		}
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(m)
	})

	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors/{id}", getMonitor)

	for _, path := range []string{"/v1/monitors/mon_1", "/v1/monitors/mon_2"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		fmt.Print(w.Code, " ", w.Body)
	}
	// Output:
	// 200 {"id":"mon_1","url":"https://example.com"}
	// 404 {"error":{"status":404,"code":"not_found","message":"No such monitor"}}
}

// Mux gives a standard ServeMux JSON 404 and 405 answers, with Allow.
func ExampleMux() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/monitors", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"data":[]}`)
	})
	handler := apierrors.Mux(mux)

	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/v1/monitors", nil),
		httptest.NewRequest("DELETE", "/v1/monitors", nil),
		httptest.NewRequest("GET", "/v1/nothing", nil),
	} {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if allow := w.Header().Get("Allow"); allow != "" {
			fmt.Print("Allow: ", allow, " ")
		}
		fmt.Print(w.Code, " ", w.Body)
	}
	// Output:
	// 200 {"data":[]}
	// Allow: GET, HEAD 405 {"error":{"status":405,"code":"method_not_allowed","message":"Method not allowed"}}
	// 404 {"error":{"status":404,"code":"not_found","message":"Not found"}}
}

// Errors work with the standard errors package: a Code matches every
// error that carries it, and As finds the API error inside any wrap chain.
func ExampleCode() {
	err := fmt.Errorf("authenticate: %w",
		apierrors.New(http.StatusUnauthorized, apierrors.CodeExpiredAPIKey, "Key expired on 2026-01-01"))

	fmt.Println(errors.Is(err, apierrors.CodeExpiredAPIKey), errors.Is(err, apierrors.CodeRevokedAPIKey))
	var apiErr *apierrors.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Code, apiErr.Message)
	}
	// Output:
	// true false
	// 401 expired_api_key Key expired on 2026-01-01
}

// Decode reads an error body back, as a client or a test does.
func ExampleDecode() {
	w := httptest.NewRecorder()
	apierrors.Write(w, httptest.NewRequest("GET", "/", nil), apierrors.NewInvalidParameter("limit", "limit must be at most 100"))

	e, err := apierrors.Decode(w.Body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Status, e.Code, e.Param, errors.Is(e, apierrors.CodeInvalidParameter))
	// Output:
	// 400 invalid_parameter limit true
}
