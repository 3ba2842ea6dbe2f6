package service

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
)

// monitor is the example resource: an uptime check of a URL. It belongs
// to the account and the environment of the key that created it: no other
// account, and no key of the other environment, sees it.
type monitor struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	URL       string  `json:"url"`
	CreatedAt rfc3339 `json:"created_at"`
	account   string
	env       apikey.Environment
	created   time.Time
}

// visibleTo reports whether k may see m.
func (m *monitor) visibleTo(k *apikey.Key) bool {
	return m.account == k.Account() && m.env == k.Environment
}

// monitorStore keeps monitors in memory.
type monitorStore struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*monitor
}

func newMonitorStore(now func() time.Time) *monitorStore {
	return &monitorStore{now: now, m: make(map[string]*monitor)}
}

var errMonitorNotFound = apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "No such monitor")

func (s *Service) listMonitors(w http.ResponseWriter, r *http.Request) error {
	caller, err := callerKey(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	ms := s.monitors
	ms.mu.Lock()
	data := make([]*monitor, 0)
	for _, m := range ms.m {
		if m.visibleTo(caller) {
			data = append(data, m)
		}
	}
	ms.mu.Unlock()
	slices.SortFunc(data, func(a, b *monitor) int { // newest first
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	pg, err := paginate(data, func(m *monitor) string { return m.ID }, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pg)
}

type createMonitorRequest struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

func (s *Service) createMonitor(w http.ResponseWriter, r *http.Request) error {
	caller, err := callerKey(r)
	if err != nil {
		return err
	}
	var req createMonitorRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if err := validName("name", req.Name); err != nil {
		return err
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(req.URL) > 2048 {
		return apierrors.NewInvalidParameter("url", "url must be an absolute http or https URL of at most 2048 characters")
	}
	if holdsKey(req.URL) {
		return errHoldsKey("url")
	}
	now := s.monitors.now().UTC()
	m := &monitor{ID: "mon_" + rand.Text()[:16], Name: req.Name, URL: req.URL,
		CreatedAt: rfc3339(now), account: caller.Account(), env: caller.Environment, created: now}
	s.monitors.mu.Lock()
	n := 0
	for _, o := range s.monitors.m {
		if o.account == m.account {
			n++
		}
	}
	if n >= maxMonitors {
		s.monitors.mu.Unlock()
		return apierrors.New(http.StatusConflict, apierrors.CodeConflict,
			fmt.Sprintf("This account has %d monitors, as many as it may have; delete one first", maxMonitors))
	}
	s.monitors.m[m.ID] = m
	s.monitors.mu.Unlock()
	return writeJSON(w, http.StatusCreated, m)
}

// findMonitor returns the monitor named by {id} of the caller's account
// and environment.
func (s *Service) findMonitor(r *http.Request) (*monitor, error) {
	caller, err := callerKey(r)
	if err != nil {
		return nil, err
	}
	s.monitors.mu.Lock()
	m, ok := s.monitors.m[r.PathValue("id")]
	s.monitors.mu.Unlock()
	if !ok || !m.visibleTo(caller) {
		return nil, errMonitorNotFound
	}
	return m, nil
}

func (s *Service) getMonitor(w http.ResponseWriter, r *http.Request) error {
	m, err := s.findMonitor(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Service) deleteMonitor(w http.ResponseWriter, r *http.Request) error {
	m, err := s.findMonitor(r)
	if err != nil {
		return err
	}
	s.monitors.mu.Lock()
	delete(s.monitors.m, m.ID)
	s.monitors.mu.Unlock()
	return writeJSON(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{m.ID, true})
}

// check is a check request: queued for the monitor's next run.
type check struct {
	ID        string  `json:"id"`
	MonitorID string  `json:"monitor_id"`
	Status    string  `json:"status"`
	CreatedAt rfc3339 `json:"created_at"`
}

// createCheck answers POST /v1/monitors/{id}/checks, a paid route: the
// pro plan only, 5 credits a request (both enforced by the Gate). A check
// of a monitor the account does not have is given back its credits, as a
// path without a route costs nothing.
func (s *Service) createCheck(w http.ResponseWriter, r *http.Request) error {
	m, err := s.findMonitor(r)
	if err != nil {
		s.refund(r, costCheck)
		return err
	}
	c := check{ID: "chk_" + rand.Text()[:16], MonitorID: m.ID, Status: "queued", CreatedAt: rfc3339(s.monitors.now().UTC())}
	return writeJSON(w, http.StatusCreated, c)
}

// refund gives back the cost the Gate spent for r's key.
func (s *Service) refund(r *http.Request, cost int64) {
	k, err := callerKey(r)
	if err != nil {
		return
	}
	if a, metered := s.allowanceFor(k); metered {
		if _, err := s.credits.Store.Grant(r.Context(), k.Account(), a, cost); err != nil {
			s.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "server: credits refund failed",
				slog.String("key_id", k.ID), slog.String("error", err.Error()))
		}
	}
}
