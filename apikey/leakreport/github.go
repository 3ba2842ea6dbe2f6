package leakreport

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
)

// The headers of a signed report.
const (
	headerKeyID     = "Github-Public-Key-Identifier"
	headerSignature = "Github-Public-Key-Signature"
)

// A Revoker revokes the keys found leaked. *apikey.Manager is one.
//
// RevokeLeaked returns the record of the key it revoked (or found revoked
// before), an error matching apikey.ErrInvalidKey when presented is not a
// genuine key, or another error when it could not tell (the store failed).
type Revoker interface {
	RevokeLeaked(ctx context.Context, presented string) (*apikey.Key, error)
}

var _ Revoker = (*apikey.Manager)(nil)

// A Leak is where a genuine key was found, as a report tells it.
type Leak struct {
	Type   string // the secret type GitHub knows the key format by
	URL    string // where it was found
	Source string // what was scanned: "content", "commit", "gist_content", "npm", …
}

// GitHub receives the reports of GitHub's secret-scanning partner program.
// Set Revoker and PublicKeys, then call Handler. A GitHub must not be
// changed once Handler has been called.
type GitHub struct {
	// Revoker revokes the genuine keys reported. Required.
	Revoker Revoker

	// PublicKeys are the keys reports may be signed with: those of
	// ParseGitHubKeys (from GitHubKeysURL, fetched ahead of time: never at
	// request time, when an attacker could make the handler wait on it).
	// A report naming another key is refused, so refresh the list and
	// build a new handler when GitHub announces a new key. Required.
	PublicKeys []PublicKey

	// MaxBodyBytes bounds the size of a report. 0 means 1 MiB.
	MaxBodyBytes int64

	// OnLeak, if set, is called for each key a report revoked (or found
	// revoked before), with where it was found, so that the service can
	// tell the key's owner where to look. The key's owner also hears of
	// the revocation through the Manager's OnEvent.
	OnLeak func(ctx context.Context, k *apikey.Key, l Leak)

	// Logger receives one line per report (how many findings, which key
	// ids were revoked and where they were found; never a token) and
	// refused requests. Nil means slog.Default().
	Logger *slog.Logger
}

// defaultMaxBody is GitHub.MaxBodyBytes's default.
const defaultMaxBody = 1 << 20

// Handler returns the http.Handler that receives reports, to mount on the
// URL registered with GitHub (POST only). It panics if Revoker is nil,
// PublicKeys is empty or holds an invalid key, or MaxBodyBytes is
// negative.
func (g *GitHub) Handler() http.Handler {
	h := &githubHandler{revoker: g.Revoker, keys: make(map[string]*ecdsa.PublicKey), maxBody: g.MaxBodyBytes, onLeak: g.OnLeak, log: g.Logger}
	switch {
	case g.Revoker == nil:
		panic("leakreport: GitHub.Revoker is nil")
	case len(g.PublicKeys) == 0:
		panic("leakreport: GitHub.PublicKeys is empty: no report could be verified")
	case g.MaxBodyBytes < 0:
		panic("leakreport: GitHub.MaxBodyBytes is negative")
	}
	for i, k := range g.PublicKeys {
		if k.ID == "" || k.Key == nil || h.keys[k.ID] != nil {
			panic(fmt.Sprintf("leakreport: GitHub.PublicKeys[%d] has no ID, no Key, or the ID of another", i))
		}
		h.keys[k.ID] = k.Key
	}
	if h.maxBody == 0 {
		h.maxBody = defaultMaxBody
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h
}

type githubHandler struct {
	revoker Revoker
	keys    map[string]*ecdsa.PublicKey
	maxBody int64
	onLeak  func(context.Context, *apikey.Key, Leak)
	log     *slog.Logger
}

func (h *githubHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := h.verified(w, r)
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "leakreport: refused a GitHub report", slog.String("reason", err.Message))
		apierrors.Write(w, r, err)
		return
	}
	findings, perr := parseReport(body)
	if perr != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "leakreport: refused a GitHub report", slog.String("reason", perr.Error()))
		apierrors.Write(w, r, apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest,
			"Not a report of the secret-scanning protocol: "+strings.TrimPrefix(perr.Error(), "leakreport: ")))
		return
	}
	answers, revoked, err2 := h.process(r.Context(), findings)
	if err2 != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "leakreport: could not check a GitHub report; GitHub will send it again",
			slog.Int("findings", len(findings)), slog.Any("err", err2))
		apierrors.Write(w, r, apierrors.NewServiceUnavailable(0).WithCause(err2))
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "leakreport: GitHub report",
		slog.Int("findings", len(findings)), slog.Int("genuine", len(revoked)), slog.Any("revoked", revoked))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(encodeAnswers(answers))
}

// verified reads the body of r and checks its signature, or returns the
// error to answer.
func (h *githubHandler) verified(w http.ResponseWriter, r *http.Request) ([]byte, *apierrors.Error) {
	if r.Method != http.MethodPost {
		return nil, apierrors.NewMethodNotAllowed(http.MethodPost)
	}
	id, sig := r.Header.Values(headerKeyID), r.Header.Values(headerSignature)
	if len(id) != 1 || len(sig) != 1 || id[0] == "" || sig[0] == "" {
		return nil, apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest,
			"A report needs one "+headerKeyID+" and one "+headerSignature+" header")
	}
	pub := h.keys[id[0]]
	if pub == nil {
		return nil, apierrors.New(http.StatusForbidden, apierrors.CodeInvalidSignature, "The report is signed with an unknown key")
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig[0]))
	if err != nil {
		return nil, apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest, "The "+headerSignature+" header is not base64")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, apierrors.New(http.StatusRequestEntityTooLarge, apierrors.CodeRequestTooLarge,
			fmt.Sprintf("A report may be at most %d bytes", h.maxBody))
	case err != nil:
		return nil, apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest, "The report could not be read")
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, digest[:], der) {
		return nil, apierrors.New(http.StatusForbidden, apierrors.CodeInvalidSignature, "The report's signature does not verify")
	}
	return body, nil
}

// process revokes the genuine keys among findings and returns the answer
// for each, with the ids of the keys revoked. It stops at the first
// failure of the Revoker: GitHub sends a report it could not deliver
// again, and revoking a key twice changes nothing.
func (h *githubHandler) process(ctx context.Context, findings []finding) ([]answer, []string, error) {
	answers := make([]answer, len(findings))
	var revoked []string
	verdict := make(map[string]*apikey.Key) // a token reported twice is checked once
	for i, f := range findings {
		k, seen := verdict[f.Token]
		if !seen {
			var err error
			k, err = h.revoker.RevokeLeaked(ctx, f.Token)
			switch {
			case errors.Is(err, apikey.ErrInvalidKey):
				k = nil
			case err != nil:
				return nil, nil, err
			default:
				revoked = append(revoked, k.ID)
				l := Leak{Type: scrub(f.Type, f.Token), URL: scrub(f.URL, f.Token), Source: scrub(f.Source, f.Token)}
				h.log.LogAttrs(ctx, slog.LevelWarn, "leakreport: revoked a key found leaked",
					slog.Any("key", k), slog.String("url", l.URL), slog.String("source", l.Source))
				if h.onLeak != nil {
					h.onLeak(ctx, k, l)
				}
			}
			verdict[f.Token] = k
		}
		answers[i] = answer{Token: f.Token, Type: f.Type, Genuine: k != nil}
	}
	return answers, revoked, nil
}

// scrub returns s with every occurrence of token redacted, so that a
// report's URL (which could name the token, in a query string) is safe
// to log.
func scrub(s, token string) string {
	return strings.ReplaceAll(s, token, apikey.Redact(token))
}
