package apikey

import "strings"

// RedactAll returns s with everything shaped like a key replaced, so that
// s is safe to log or to send back: a key of any Format becomes its
// redacted form ("sk_live_<id>…"), and anything else that holds "sk_" or
// "pk_" (an optional "live_" or "test_" after it) followed by 44 or more
// letters and digits, such as a key with a wrong checksum, glued to other
// characters or cut short, becomes "[redacted]", together with the rest
// of the word (letters, digits and '_') it is part of. Text without such
// a thing is returned as it is, without allocating.
func RedactAll(s string) string {
	var b strings.Builder
	done := 0 // s[:done] is written to b (or needs no change)
	for i := 0; i < len(s); {
		start, end, ok := nextKeyShape(s, i)
		if !ok {
			break
		}
		b.WriteString(s[done:start])
		b.WriteString(Redact(s[start:end]))
		done, i = end, end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// minRedactRun is the run of letters and digits after a type label that
// makes a string key-shaped: a key's id and secret.
const minRedactRun = IDLen + SecretLen

// nextKeyShape finds the first key-shaped span of s at or after from: the
// whole word around a type label followed by at least minRedactRun
// letters and digits.
func nextKeyShape(s string, from int) (start, end int, ok bool) {
	for i := from; ; {
		j := strings.Index(s[i:], "k_")
		if j < 0 {
			return 0, 0, false
		}
		j += i
		i = j + 2
		if j == 0 || (s[j-1] != 's' && s[j-1] != 'p') {
			continue
		}
		k := j + 2
		if strings.HasPrefix(s[k:], "live_") || strings.HasPrefix(s[k:], "test_") {
			k += 5
		}
		run := 0
		for k+run < len(s) && digits[s[k+run]] >= 0 {
			run++
		}
		if run < minRedactRun {
			continue
		}
		start, end = j-1, k+run
		for start > 0 && isWordByte(s[start-1]) {
			start--
		}
		for end < len(s) && isWordByte(s[end]) {
			end++
		}
		return start, end, true
	}
}
