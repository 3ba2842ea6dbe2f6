// Package scanrules writes the rules with which secret scanners find
// gatekey API keys: gitleaks (TOML), TruffleHog (custom detector YAML)
// and secretlint (a rule module and its configuration).
//
// Every rule is generated from one source, apikey.Pattern or a Format's
// Pattern, so the rules cannot drift from the key format or from each
// other. The rules for every form of gatekey key (any service tag, with
// or without the live label) are shipped in the repository's scanners
// directory; a service with its own tag writes rules for its keys alone:
//
//	go run ./examples/keygen rules -service acme -out scanners/acme
//
// Scanners match the regular expression; the checksum (the last six
// characters of a key) tells a key from a string that only looks like one.
// The secretlint rule checks it in JavaScript, so it reports keys only. A
// TruffleHog custom detector cannot run code, but it can ask a webhook to
// verify each match: the "checksum" variant of its rules asks the one
// that keygen serves on loopback (keygen checksum-webhook), and with
// --results=verified TruffleHog reports only the matches with a valid
// checksum. gitleaks rules are regular expressions only: they also report
// a key-shaped string with a wrong checksum, which apikey.FindAll (or
// keygen check) tells apart.
package scanrules

//go:generate go run ../../examples/keygen rules -out ../../scanners
