package leakreport

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

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

	// MaxFindings bounds the findings of one report, each a store look-up
	// (and, with a slow Hasher, a slow hash). A report with more is
	// refused (413). 0 means 1000.
	MaxFindings int

	// OnLeak, if set, is called for each key a report revoked (or found
	// revoked before), with where it was found, so that the service can
	// tell the key's owner where to look. The key's owner also hears of
	// the revocation through the Manager's OnEvent.
	OnLeak func(ctx context.Context, k *apikey.Key, l Leak)

	// Logger receives one line per report (how many findings, which key
	// ids were revoked and where they were found; never a token) and, at
	// most once a minute, that requests were refused, and why (an
	// unknown key identifier means PublicKeys needs a refresh). Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of GitHub.MaxBodyBytes and GitHub.MaxFindings.
const (
	defaultMaxBody     = 1 << 20
	defaultMaxFindings = 1000
)

// Handler returns the http.Handler that receives reports, to mount on the
// URL registered with GitHub (POST only). It panics if Revoker is nil,
// PublicKeys is empty or holds an invalid key, or MaxBodyBytes or
// MaxFindings is negative.
func (g *GitHub) Handler() http.Handler {
	h := &githubHandler{revoker: g.Revoker, keys: make(map[string]*ecdsa.PublicKey), maxBody: g.MaxBodyBytes,
		maxFindings: cmp.Or(g.MaxFindings, defaultMaxFindings), onLeak: g.OnLeak, log: g.Logger}
	switch {
	case g.Revoker == nil:
		panic("leakreport: GitHub.Revoker is nil")
	case len(g.PublicKeys) == 0:
		panic("leakreport: GitHub.PublicKeys is empty: no report could be verified")
	case g.MaxBodyBytes < 0:
		panic("leakreport: GitHub.MaxBodyBytes is negative")
	case g.MaxFindings < 0:
		panic("leakreport: GitHub.MaxFindings is negative")
	}
	if v := reflect.ValueOf(g.Revoker); v.Kind() == reflect.Pointer && v.IsNil() {
		panic("leakreport: GitHub.Revoker is a nil pointer")
	}
	for i, k := range g.PublicKeys {
		if k.ID == "" || h.keys[k.ID] != nil {
			panic(fmt.Sprintf("leakreport: GitHub.PublicKeys[%d] has no ID, or the ID of another", i))
		}
		if err := validKey(k.Key); err != nil {
			panic(fmt.Sprintf("leakreport: GitHub.PublicKeys[%d] (%q): %v", i, k.ID, err))
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
	revoker     Revoker
	keys        map[string]*ecdsa.PublicKey
	maxBody     int64
	maxFindings int
	onLeak      func(context.Context, *apikey.Key, Leak)
	log         *slog.Logger

	// Refused requests are logged at most once a minute (anyone can send
	// them), with how many were refused since the last line.
	refused       atomic.Int64
	refusedLogged atomic.Int64 // UnixNano of the last line
}

// refuse logs a refused request, rarely, and answers it with e.
func (h *githubHandler) refuse(w http.ResponseWriter, r *http.Request, e *apierrors.Error, reason string) {
	n := h.refused.Add(1)
	now, last := time.Now().UnixNano(), h.refusedLogged.Load()
	if (last == 0 || now-last >= int64(time.Minute)) && h.refusedLogged.CompareAndSwap(last, now) {
		h.refused.Add(-n)
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "leakreport: refused a GitHub report",
			slog.String("reason", reason), slog.Int("status", e.Status), slog.Int64("refused_since_last_line", n))
	}
	apierrors.Write(w, r, e)
}

func (h *githubHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := h.verified(w, r)
	if err != nil {
		h.refuse(w, r, err, err.Message)
		return
	}
	findings, perr := parseReport(body)
	if perr != nil {
		h.refuse(w, r, apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest,
			"Not a report of the secret-scanning protocol: "+strings.TrimPrefix(perr.Error(), "leakreport: ")), perr.Error())
		return
	}
	if len(findings) > h.maxFindings {
		h.refuse(w, r, apierrors.New(http.StatusRequestEntityTooLarge, apierrors.CodeRequestTooLarge,
			fmt.Sprintf("A report may hold at most %d findings", h.maxFindings)), "too many findings")
		return
	}
	answers, revoked, err2 := h.process(r.Context(), findings)
	if err2 != nil {
		// The Revoker's error may quote what it was given: scrub it, and
		// do not hand it to the error writer, which logs causes elsewhere.
		h.log.LogAttrs(r.Context(), slog.LevelError, "leakreport: could not check a GitHub report; GitHub will send it again",
			slog.Int("findings", len(findings)), slog.String("err", scrub(err2.Error(), findings)))
		apierrors.Write(w, r, apierrors.NewServiceUnavailable(0))
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
				l := Leak{Type: scrub(f.Type, findings), URL: scrub(f.URL, findings), Source: scrub(f.Source, findings)}
				h.log.LogAttrs(ctx, slog.LevelWarn, "leakreport: revoked a key found leaked",
					slog.Any("key", k), slog.String("url", l.URL), slog.String("source", l.Source))
				if h.onLeak != nil {
					c := k.Clone()
					c.Hash = ""
					h.onLeak(ctx, c, l)
				}
			}
			verdict[f.Token] = k
		}
		answers[i] = answer{Token: f.Token, Type: f.Type, Genuine: k != nil}
	}
	return answers, revoked, nil
}

// scrub returns s, a field of a report or an error about it, safe to log
// and to pass on: every token of the report in it, and anything else
// shaped like a key (apikey.RedactAll's rule), replaced.
func scrub(s string, findings []finding) string {
	for _, f := range findings {
		if strings.Contains(s, f.Token) {
			s = strings.ReplaceAll(s, f.Token, apikey.Redact(f.Token))
		}
	}
	return apikey.RedactAll(s)
}

// validKey reports, as nil, whether k is an ECDSA public key on P-256
// whose point is on the curve.
func validKey(k *ecdsa.PublicKey) error {
	if k == nil || k.Curve != elliptic.P256() {
		return errors.New("not an ECDSA P-256 public key")
	}
	if _, err := k.ECDH(); err != nil {
		return errors.New("not a valid P-256 point")
	}
	return nil
}
