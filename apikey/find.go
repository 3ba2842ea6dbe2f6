package apikey

import "strings"

// Pattern is a regular expression matching every key any Format can
// produce: an optional service tag, the type label, an optional environment
// label and the 50-character body, standing alone as a word (the characters
// either side of it, if any, are not letters, digits or '_'). It is valid in
// Go (RE2), JavaScript and PCRE syntax, for secret scanners. A match is not
// necessarily a key: FindAll and Format.Parse also check the checksum.
const Pattern = `\b(?:[a-z][a-z0-9]{0,19}_)?[sp]k_(?:(?:live|test)_)?[0-9A-Za-z]{50}\b`

// Pattern returns a regular expression, in the syntax of [Pattern],
// matching every key f can produce and parse (both types, both
// environments), and no other key: with f's service tag, and with the live
// label required, or forbidden if f.OmitLiveLabel is set. For an invalid
// f.Service, which no key can have, it returns a pattern that matches
// nothing.
func (f Format) Pattern() string {
	if f.Validate() != nil {
		return noMatch
	}
	var b strings.Builder
	b.WriteString(`\b`)
	if f.Service != "" {
		b.WriteString(f.Service + "_")
	}
	b.WriteString(`[sp]k_`)
	if f.OmitLiveLabel {
		b.WriteString(`(?:test_)?`)
	} else {
		b.WriteString(`(?:live|test)_`)
	}
	b.WriteString(`[0-9A-Za-z]{50}\b`)
	return b.String()
}

// noMatch is a regular expression (in Go, JavaScript and PCRE) that
// matches nothing: no position is both a word boundary and not one.
const noMatch = `\b\B`

// FindAll returns every key of any Format in s, in order: each a whole word
// of s (as [Pattern] puts it) that has a key's shape and a valid checksum,
// so that strings which merely look like keys (a Stripe key, a key with one
// character changed) are not reported. The Tokens refer to s. FindAll does
// not allocate when s holds no key.
func FindAll(s string) []Token { return findAll(s, nil) }

// FindAll is the package-level FindAll restricted to the keys f parses:
// those with its service tag and its use of the live label.
func (f Format) FindAll(s string) []Token { return findAll(s, &f) }

func findAll(s string, f *Format) []Token {
	var found []Token
	for i := 0; i < len(s); {
		if !isWordByte(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		if w := s[i:j]; j-i >= 3+BodyLen && j-i <= maxKeyLen {
			var p parsed
			var err error
			if f != nil {
				err = f.parseShape(w, &p)
			} else {
				err = parseShapeTo(w, &p)
			}
			if err == nil && checksumOK(w) {
				found = append(found, p.token())
			}
		}
		i = j
	}
	return found
}

// isWordByte reports whether c is a word character in the sense of \b:
// an ASCII letter, digit or '_'.
func isWordByte(c byte) bool {
	return digits[c] >= 0 || c == '_'
}
