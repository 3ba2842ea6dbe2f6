package errors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decode reads an error body written by Write, in any of its encodings,
// and returns the error it describes:
//
//   - the default object, {"error":{"status":…,"code":…,"message":…}}:
//     Status, Code, Message, Param, RequestID, DocURL and Details;
//   - RFC 9457 problem details: the same fields, Message from "detail" and
//     DocURL from a "type" other than "about:blank";
//   - the simple {"error":"message"}: Message only (the status is the
//     response's, and there is no code).
//
// Numbers in Details decode as float64, as encoding/json decodes them into
// an any. Header and Err are never set: headers travel outside the body and
// the cause is never sent. Clients and tests compare the result by code:
//
//	e, err := apierrors.Decode(resp.Body)
//	if err == nil && errors.Is(e, apierrors.CodeRateLimitExceeded) { … }
//
// Decode returns an error if the body is not JSON, is not one of these
// shapes, or is followed by more than white space.
func Decode(body io.Reader) (*Error, error) {
	var w struct {
		// default and simple encodings
		Error json.RawMessage `json:"error"`
		// problem details
		Type      string         `json:"type"`
		Title     string         `json:"title"`
		Status    int            `json:"status"`
		Detail    string         `json:"detail"`
		Code      Code           `json:"code"`
		Param     string         `json:"param"`
		RequestID string         `json:"request_id"`
		Details   map[string]any `json:"details"`
	}
	dec := json.NewDecoder(body)
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("apierrors: decoding error body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("apierrors: decoding error body: data after the JSON object")
	}
	switch raw := bytes.TrimSpace(w.Error); {
	case len(raw) > 0 && raw[0] == '{':
		var o struct {
			Status    int            `json:"status"`
			Code      Code           `json:"code"`
			Message   string         `json:"message"`
			Param     string         `json:"param"`
			RequestID string         `json:"request_id"`
			DocURL    string         `json:"doc_url"`
			Details   map[string]any `json:"details"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("apierrors: decoding error body: %w", err)
		}
		if o.Status == 0 || o.Code == "" {
			return nil, errors.New("apierrors: error body lacks a status or code")
		}
		return &Error{Status: o.Status, Code: o.Code, Message: o.Message, Param: o.Param,
			RequestID: o.RequestID, DocURL: o.DocURL, Details: o.Details}, nil
	case len(raw) > 0 && raw[0] == '"':
		e := new(Error)
		if err := json.Unmarshal(raw, &e.Message); err != nil {
			return nil, fmt.Errorf("apierrors: decoding error body: %w", err)
		}
		return e, nil
	case len(raw) == 0 && w.Status != 0 && w.Type != "":
		e := &Error{Status: w.Status, Code: w.Code, Message: w.Detail, Param: w.Param,
			RequestID: w.RequestID, Details: w.Details}
		if w.Type != "about:blank" {
			e.DocURL = w.Type
		}
		return e, nil
	}
	return nil, errors.New("apierrors: not an error body")
}
