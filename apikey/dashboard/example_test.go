package dashboard_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
)

// A service mounts the page behind its own sign-in. Here the sign-in is a
// stand-in that reads the account from a header; a real service reads its
// session cookie.
func ExamplePage() {
	manager, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer manager.Close()

	page := &dashboard.Page{
		Manager: manager,
		Account: func(r *http.Request) (string, error) {
			return r.Header.Get("X-Signed-In-As"), nil // the host's session login
		},
	}
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", page.Handler()))

	for _, who := range []string{"acct_42", ""} {
		r := httptest.NewRequest("GET", "/dashboard/", nil)
		if who != "" {
			r.Header.Set("X-Signed-In-As", who)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("Cache-Control"), strings.Contains(w.Body.String(), "Create a key"))
	}
	// Output:
	// 200 no-store true
	// 401 no-store false
}
