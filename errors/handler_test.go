package errors_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
)

func TestHandlerFunc(t *testing.T) {
	tests := []struct {
		name       string
		h          apierrors.HandlerFunc
		wantStatus int
		wantBody   string
		wantLog    string
	}{
		{
			name:       "success",
			h:          func(w http.ResponseWriter, r *http.Request) error { io.WriteString(w, "ok"); return nil },
			wantStatus: 200, wantBody: "ok",
		},
		{
			name: "api error",
			h: func(http.ResponseWriter, *http.Request) error {
				return apierrors.New(409, apierrors.CodeConflict, "Name taken")
			},
			wantStatus: 409, wantBody: `{"error":{"status":409,"code":"conflict","message":"Name taken"}}` + "\n",
		},
		{
			name:       "plain error",
			h:          func(http.ResponseWriter, *http.Request) error { return errors.New("disk on fire") },
			wantStatus: 500, wantBody: `{"error":{"status":500,"code":"internal_error","message":"Internal server error"}}` + "\n",
			wantLog: "disk on fire",
		},
		{
			name: "error after writing",
			h: func(w http.ResponseWriter, r *http.Request) error {
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, `{"partial":true}`)
				return errors.New("failed halfway")
			},
			wantStatus: 202, wantBody: `{"partial":true}`, wantLog: "failed halfway",
		},
		{
			name: "error after flushing",
			h: func(w http.ResponseWriter, r *http.Request) error {
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("Flush through the adapter: %v", err)
				}
				return notFound()
			},
			wantStatus: 200, wantBody: "", wantLog: "not_found",
		},
		{
			name: "writes twice",
			h: func(w http.ResponseWriter, r *http.Request) error {
				quiet := &apierrors.Writer{Logger: bufLogger(new(bytes.Buffer))}
				quiet.Write(w, r, notFound())
				quiet.Write(w, r, apierrors.NewInternal(nil))
				return apierrors.NewTooManyRequests(time.Second)
			},
			wantStatus: 404, wantBody: `{"error":{"status":404,"code":"not_found","message":"Not found"}}` + "\n",
			wantLog: "rate_limit_exceeded",
		},
		{
			name: "early hints then error",
			h: func(w http.ResponseWriter, r *http.Request) error {
				w.WriteHeader(http.StatusEarlyHints)
				return notFound()
			},
			wantStatus: 404, wantBody: `{"error":{"status":404,"code":"not_found","message":"Not found"}}` + "\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			wr := &apierrors.Writer{Logger: bufLogger(&logs)}
			srv := httptest.NewServer(wr.Middleware(tc.h))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q: %s", tc.wantLog, logs.String())
			}
		})
	}
}

func TestHandlerFuncDefaultWriter(t *testing.T) {
	h := apierrors.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return apierrors.NewMethodNotAllowed("GET")
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("PUT", "/", nil))
	if w.Code != 405 || w.Header().Get("Allow") != "GET" {
		t.Errorf("got %d Allow=%q", w.Code, w.Header().Get("Allow"))
	}
}
