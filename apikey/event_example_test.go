package apikey_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// A service tells its customers what happens to their keys by webhook.
// The hook runs on the goroutine that made the change (or, for
// expiring_soon, that verified the key), so it only queues the event; a
// sender posts it. The payload names the key by id and owner, never with
// its secret.
func ExampleManagerConfig_onEvent() {
	var mu sync.Mutex
	var received []string
	customer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Type, KeyID, Owner, Reason string }
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		received = append(received, strings.TrimSpace(p.Type+" "+p.Owner+" "+p.Reason))
		mu.Unlock()
	}))
	defer customer.Close()

	type webhook struct {
		Type   string    `json:"type"`
		KeyID  string    `json:"keyid"`
		Owner  string    `json:"owner"`
		Reason string    `json:"reason,omitempty"`
		At     time.Time `json:"at"`
	}
	queue := make(chan webhook, 1024)
	sent := make(chan struct{})
	go func() { // the sender: one at a time, off the request path
		defer close(sent)
		for p := range queue {
			body, _ := json.Marshal(p)
			resp, err := http.Post(customer.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				continue // a real sender retries with backoff
			}
			resp.Body.Close()
		}
	}()

	m, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{
		OnEvent: func(_ context.Context, e apikey.Event) {
			p := webhook{Type: "key." + e.Kind.String(), KeyID: e.Key.ID, Owner: e.Key.Owner, At: e.Time}
			if e.Reason != 0 {
				p.Reason = e.Reason.String()
			}
			select {
			case queue <- p:
			default: // full: drop rather than hold up the caller
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_, k, _ := m.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Owner: "acct_42"})
	_, next, _ := m.Roll(ctx, k.ID, apikey.RollParams{Grace: 24 * time.Hour})
	m.Revoke(ctx, next.ID)
	m.Close()

	close(queue)
	<-sent
	for _, r := range received {
		fmt.Println(r)
	}
	// Output:
	// key.created acct_42
	// key.rolled acct_42
	// key.revoked acct_42 user
}
