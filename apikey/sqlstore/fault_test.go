//go:build unix

package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/sqlstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// TestPostgresFault stops the database under a Verifier that does not
// cache: verification must fail with ErrUnavailable (a 503 at the
// middleware), never ErrInvalidKey (a 401), and recover by itself once the
// database is back.
func TestPostgresFault(t *testing.T) {
	srv := testserver.StartPostgres(t)
	db := openPG(t, srv, "fault")
	store := newStore(t, db, sqlstore.Postgres)
	mgr, err := apikey.NewManager(store, apikey.ManagerConfig{Verifier: apikey.VerifierConfig{
		CacheTTL: -1, NegativeCacheTTL: -1, LookupTimeout: 5 * time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	tok, _, err := mgr.Create(t.Context(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	v := mgr.Verifier()
	if _, err := v.Verify(ctxWithTimeout(t, 10*time.Second), tok.Reveal()); err != nil {
		t.Fatalf("Verify before the fault = %v", err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Several calls: the first finds pooled connections that the server
	// closed, the next ones find the port refusing connections.
	for i := range 3 {
		_, err := v.Verify(ctxWithTimeout(t, 10*time.Second), tok.Reveal())
		if i == 0 {
			t.Logf("Verify with the database down: %v", err)
		}
		if !errors.Is(err, apikey.ErrUnavailable) || errors.Is(err, apikey.ErrInvalidKey) {
			t.Fatalf("Verify #%d with the database down = %v, want ErrUnavailable and not ErrInvalidKey", i, err)
		}
		if _, err := store.LookupKey(ctxWithTimeout(t, 10*time.Second), tok.ID()); !errors.Is(err, apikey.ErrUnavailable) || errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("LookupKey #%d with the database down = %v, want ErrUnavailable", i, err)
		}
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// database/sql drops the dead connections and dials new ones: no
	// intervention is needed. Retry with a deadline, in case the pool still
	// holds connections that have not yet noticed the restart: each failing
	// try drops one, so this ends in a few tries.
	deadline := time.Now().Add(15 * time.Second)
	failures := 0
	for {
		_, err := v.Verify(ctxWithTimeout(t, 10*time.Second), tok.Reveal())
		if err == nil {
			break
		}
		if !errors.Is(err, apikey.ErrUnavailable) {
			t.Fatalf("Verify after the restart = %v, want success or ErrUnavailable", err)
		}
		if failures++; time.Now().After(deadline) {
			t.Fatalf("Verify did not recover within 15s of the restart: %v", err)
		}
	}
	t.Logf("recovered after %d failed verification(s)", failures)
	if _, err := mgr.Revoke(t.Context(), tok.ID()); err != nil {
		t.Fatalf("Revoke after recovery = %v", err)
	}
	if _, err := v.Verify(ctxWithTimeout(t, 10*time.Second), tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("Verify of the revoked key = %v, want ErrRevoked", err)
	}
}
