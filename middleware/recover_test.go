package middleware_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
		wantLog    []string
	}{
		{
			name:       "no panic",
			handler:    func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") },
			wantStatus: 200, wantBody: "ok",
		},
		{
			name:       "panic string",
			handler:    func(http.ResponseWriter, *http.Request) { panic("db password is hunter2") },
			wantStatus: 500,
			wantBody:   `{"error":{"status":500,"code":"internal_error","message":"Internal server error","request_id":"req_test"}}` + "\n",
			wantLog:    []string{"hunter2", "recover_test.go", "req_test"},
		},
		{
			name: "panic error after partial response",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, "partial")
				panic(io.ErrUnexpectedEOF)
			},
			wantStatus: 202, wantBody: "partial",
			wantLog: []string{"unexpected EOF"},
		},
		{
			name: "panic nil pointer",
			handler: func(http.ResponseWriter, *http.Request) {
				var m map[string]*int
				_ = *m["x"]
			},
			wantStatus: 500,
			wantBody:   `{"error":{"status":500,"code":"internal_error","message":"Internal server error","request_id":"req_test"}}` + "\n",
			wantLog:    []string{"nil pointer dereference"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			rc := &middleware.Recoverer{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			h := quietWriter(middleware.RequestID(rc.Handler(tc.handler)))
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("X-Request-Id", "req_test")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "goroutine") {
				t.Errorf("internals leaked: %q", body)
			}
			for _, s := range tc.wantLog {
				if !strings.Contains(logs.String(), s) {
					t.Errorf("log lacks %q:\n%s", s, logs.String())
				}
			}
		})
	}
}

func TestRecoverRepanicsAbortHandler(t *testing.T) {
	h := (&middleware.Recoverer{}).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	t.Error("ErrAbortHandler was swallowed")
}

func TestRecoverAbortHandlerThroughServer(t *testing.T) {
	// net/http closes the connection: the client sees an error, not a 500.
	srv := httptest.NewUnstartedServer((&middleware.Recoverer{}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})))
	srv.Config.ErrorLog = nil
	srv.Start()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got response %d, want aborted connection", resp.StatusCode)
	}
}

// TestRecoverRequestIDEitherOrder: the panic's 500 carries the request id
// in its body and header whether RequestID runs outside the Recoverer or
// inside it.
func TestRecoverRequestIDEitherOrder(t *testing.T) {
	panics := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") })
	rc := &middleware.Recoverer{Logger: slog.New(slog.DiscardHandler)}
	for name, h := range map[string]http.Handler{
		"RequestID outside": middleware.RequestID(rc.Handler(panics)),
		"RequestID inside":  rc.Handler(middleware.RequestID(panics)),
	} {
		w := httptest.NewRecorder()
		quietWriter(h).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		id := w.Header().Get("X-Request-Id")
		e := decodeError(t, w)
		if w.Code != 500 || id == "" || e.RequestID != id {
			t.Errorf("%s: %d, header id %q, body id %q", name, w.Code, id, e.RequestID)
		}
	}
}

// TestRecoverUsesInstalledWriter: the 500 is written by the Writer that
// apierrors.Writer.Middleware installed.
func TestRecoverUsesInstalledWriter(t *testing.T) {
	simple := &apierrors.Writer{Encoding: apierrors.EncodingSimple, Logger: slog.New(slog.DiscardHandler)}
	h := simple.Middleware((&middleware.Recoverer{Logger: slog.New(slog.DiscardHandler)}).Handler(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") })))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || w.Body.String() != `{"error":"Internal server error"}`+"\n" {
		t.Errorf("got %d %q", w.Code, w.Body)
	}
}
