package middleware

import (
	"bytes"
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
	body    bytes.Buffer
	tooBig  bool
	written bool
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
		if int64(w.body.Len()+len(p)) > w.max {
			w.tooBig = true
			w.body = bytes.Buffer{}
		} else {
			w.body.Write(p)
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
	a := &idempotency.Answer{Status: status, Header: w.header}
	if w.body.Len() > 0 {
		a.Body = bytes.Clone(w.body.Bytes())
	}
	return a, true
}
