package middleware

import (
	"net/http"

	"github.com/gatekey/gatekey/idempotency"
)

// answerRecorder passes a response through while it keeps a copy of it,
// up to max body bytes, for the idempotency step.
type answerRecorder struct {
	http.ResponseWriter
	max     int64
	status  int
	header  http.Header // the kept headers, as sent
	body    []byte
	tooBig  bool
	written bool
	state   idemState // the step's state, in the request's context
}

func (w *answerRecorder) WriteHeader(code int) {
	if !w.written && code >= 200 {
		w.written = true
		w.status = code
		w.header = idempotency.KeepHeaders(w.ResponseWriter.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *answerRecorder) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if !w.tooBig {
		if int64(len(w.body)+len(p)) > w.max {
			w.tooBig = true
			w.body = nil
		} else {
			w.body = append(w.body, p...)
		}
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer
// (Flush, deadlines).
func (w *answerRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// answer returns the recorded answer, and false if it is too big to keep.
func (w *answerRecorder) answer() (*idempotency.Answer, bool) {
	if w.tooBig {
		return nil, false
	}
	status := w.status
	if !w.written {
		status = http.StatusOK // the handler wrote nothing: net/http sends 200
		w.header = idempotency.KeepHeaders(w.ResponseWriter.Header())
	}
	return &idempotency.Answer{Status: status, Header: w.header, Body: w.body}, true
}
