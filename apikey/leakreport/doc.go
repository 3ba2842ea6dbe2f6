// Package leakreport receives reports of leaked API keys and revokes the
// genuine ones.
//
// GitHub scans public repositories, gists, issues, pull requests and npm
// packages for the secrets of the providers in its secret-scanning partner
// program, and sends each provider what it finds. [GitHub] is the
// provider's side of that protocol as an http.Handler: GitHub POSTs a JSON
// array of findings,
//
//	[{"token": "sk_live_…", "type": "acme_api_key", "url": "https://github.com/…", "source": "content"}]
//
// signed with ECDSA (P-256, SHA-256) over the raw body: the header
// Github-Public-Key-Identifier names the signing key and
// Github-Public-Key-Signature holds the base64 ASN.1 signature. The handler
// checks the signature against the keys GitHub publishes (see
// [ParseGitHubKeys]) before it looks at the findings, revokes each genuine
// key through its [Revoker] (an *apikey.Manager, whose RevokeLeaked checks
// the secret against the stored hash and sends the key's owner an
// EventRevoked with the reason RevokedLeaked), and answers which findings
// were real:
//
//	[{"token_raw": "sk_live_…", "token_type": "acme_api_key", "label": "true_positive"}]
//
// A request it cannot trust changes nothing: a missing or malformed
// signature header (400), an unknown key identifier or a signature that
// does not verify (403), a body over the limit (413) or one that is not
// the protocol's JSON (400). Findings are never logged, only the ids of
// the keys revoked and the URLs where they were found.
//
// To take part, a provider registers its key format with GitHub: a name
// for the type, a regular expression (apikey.Format.Pattern), the URL of
// this handler and a test account.
package leakreport
