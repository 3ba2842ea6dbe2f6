package errors

import "strings"

// maxAcceptElements bounds the work done on a hostile Accept header.
const maxAcceptElements = 64

// prefersProblem reports whether the Accept header values ask for
// application/problem+json at least as much as for application/json.
//
// Problem details are chosen only when the client names
// application/problem+json explicitly with a non-zero q; wildcards such as
// */* keep the default JSON object. Among the ranges that match
// application/json, the most specific one decides its q (RFC 9110, 12.5.1).
// Malformed elements are ignored; the function never fails.
func prefersProblem(accept []string) bool {
	qProblem := -1
	qJSON, specJSON := 0, -1 // specificity: 0 */*, 1 application/*, 2 application/json
	n := 0
	for _, v := range accept {
		for v != "" && n < maxAcceptElements {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			n++
			mediaRange, params, _ := strings.Cut(elem, ";")
			mediaRange = strings.TrimSpace(mediaRange)
			q, ok := parseQ(params)
			if !ok {
				continue
			}
			switch {
			case strings.EqualFold(mediaRange, "application/problem+json"):
				qProblem = max(qProblem, q)
			case strings.EqualFold(mediaRange, "application/json"):
				if specJSON < 2 || q > qJSON {
					qJSON, specJSON = q, 2
				}
			case strings.EqualFold(mediaRange, "application/*"):
				if specJSON < 1 {
					qJSON, specJSON = q, 1
				} else if specJSON == 1 {
					qJSON = max(qJSON, q)
				}
			case mediaRange == "*/*":
				if specJSON < 0 {
					qJSON, specJSON = q, 0
				} else if specJSON == 0 {
					qJSON = max(qJSON, q)
				}
			}
		}
	}
	return qProblem > 0 && qProblem >= qJSON
}

// parseQ returns the weight (0–1000) from a media range's parameters, 1000
// when absent, and false when the q parameter is malformed.
func parseQ(params string) (int, bool) {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		return parseQValue(strings.TrimSpace(value))
	}
	return 1000, true
}

// parseQValue parses qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
func parseQValue(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}
