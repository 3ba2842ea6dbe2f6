package browsertest

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestDashboardInABrowser is the whole story of a customer's key, in
// headless chromium: create a read-only key, read it once, reload and see
// it gone, use it against the API, revoke it and see the API refuse it. A
// form posted from another site is refused on the way.
func TestDashboardInABrowser(t *testing.T) {
	chromium := chromiumPath(t)
	base, out := serviceURL(t)
	dashboard := base + "/dashboard/"

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts the browser, with no timeout
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()

	// The browser signs in as a user would with HTTP Basic: the header goes
	// with every request, forged ones included, as a browser's saved
	// credentials would.
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+password))
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": auth},
	}); err != nil {
		t.Fatal(err)
	}

	// The list, with the create form.
	if err := chromedp.Do(ctx, chromedp.Navigate(dashboard), chromedp.WaitVisible(chromedp.CSS("#name"))); err != nil {
		t.Fatalf("opening the dashboard: %v", err)
	}
	checkAccessibility(t, ctx, "the list")

	// Create a read-only test key.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#name"), "read-only from the browser"),
		chromedp.Click(chromedp.CSS("#perm-ro")),
		chromedp.Click(chromedp.CSS("#env-test")),
	); err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form.create button[type="submit"]`)))
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create: %v, status %v, want 201", err, status(resp))
	}
	key, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#new-key")))
	if err != nil || !holdsKey(key) || !strings.HasPrefix(key, "sk_test_") {
		t.Fatalf("the new key's field: %v (a key: %v)", err, holdsKey(key))
	}
	warning, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".warning")))
	if err != nil || !strings.Contains(warning, "shown only once") {
		t.Errorf("the warning: %q, %v", warning, err)
	}
	checkAccessibility(t, ctx, "the new key")
	// The copy button is shown by the script, which the page's CSP lets
	// run only from the page's own origin.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("button[data-copy]")),
		chromedp.Click(chromedp.CSS("button[data-copy]"))); err != nil {
		t.Fatalf("the copy button: %v", err)
	}
	copied, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById("copy-status").textContent`))
	if err != nil || copied == "" {
		t.Errorf("the copy button said %q (%v), want a word on the copy", copied, err)
	}

	// Reloading sends the form again: refused, and the key is not shown.
	resp, err = chromedp.RunResponse(ctx, chromedp.Reload())
	if err != nil || resp.Status != http.StatusConflict {
		t.Errorf("reload: %v, status %v, want 409", err, status(resp))
	}
	if page := pageHTML(t, ctx); holdsKey(page) || !strings.Contains(page, "already sent") {
		t.Errorf("the reloaded page shows a key, or does not say why it shows none")
	}
	// Nor does going back, nor the list.
	if err := chromedp.Do(ctx, chromedp.Navigate(dashboard)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.NavigateBack()); err != nil {
		t.Logf("going back: %v", err)
	}
	if page := pageHTML(t, ctx); strings.Contains(page, key) {
		t.Error("going back shows the key")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(dashboard), chromedp.WaitVisible(chromedp.CSS("table"))); err != nil {
		t.Fatal(err)
	}
	list := pageHTML(t, ctx)
	id := key[len("sk_test_") : len("sk_test_")+12]
	if strings.Contains(list, key) || !strings.Contains(list, "sk_test_"+id+"…") {
		t.Error("the list shows the key in full, or not redacted")
	}
	screenshot(t, ctx)

	// The key works against the API.
	if st, code := callAPI(t, base, key); st != http.StatusOK {
		t.Fatalf("GET /v1/me with the new key: %d %s", st, code)
	}

	// A form posted from another site (localhost is another site than
	// 127.0.0.1) is refused, with the user's credentials and all.
	evil := forgery(t, dashboard+"revoke", id)
	if err := chromedp.Do(ctx, chromedp.Navigate(evil)); err != nil {
		t.Fatal(err)
	}
	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#prize")))
	if err != nil || resp.Status != http.StatusForbidden {
		t.Errorf("the forged revocation: %v, status %v, want 403", err, status(resp))
	}
	if st, code := callAPI(t, base, key); st != http.StatusOK {
		t.Fatalf("after the forged revocation the key gets %d %s, want 200", st, code)
	}

	// Revoke, with its confirmation step.
	if err := chromedp.Do(ctx, chromedp.Navigate(dashboard),
		chromedp.Click(chromedp.CSS(`a[href="revoke?id=`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("button.danger"))); err != nil {
		t.Fatalf("asking to revoke: %v", err)
	}
	confirm, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".warning")))
	if err != nil || !strings.Contains(confirm, "immediate and irreversible") {
		t.Errorf("the confirmation: %q, %v", confirm, err)
	}
	checkAccessibility(t, ctx, "the confirmation")
	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("button.danger")))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("revoke: %v, status %v", err, status(resp))
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".notice")))
	if err != nil || !strings.Contains(notice, "was revoked") {
		t.Errorf("the notice: %q, %v", notice, err)
	}

	// The API refuses the key.
	if st, code := callAPI(t, base, key); st != http.StatusUnauthorized || code != "revoked_api_key" {
		t.Errorf("GET /v1/me with the revoked key: %d %s, want 401 revoked_api_key", st, code)
	}
	if holdsKey(out.String()[strings.Index(out.String(), "listening on"):]) {
		t.Error("the service logged a key")
	}
}

// pageHTML returns the document of the page shown.
func pageHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	return html
}

// screenshot saves the page shown, as PNG, to $GATEKEY_SCREENSHOT, or to
// the test's temporary directory.
func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := os.Getenv("GATEKEY_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "dashboard.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// forgery serves, on another site, a page whose button posts a revocation
// of the key id to action, and returns its URL.
func forgery(t *testing.T, action, id string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>You won</title>
<form method="post" action="%s"><input type="hidden" name="id" value="%s">
<button id="prize" type="submit">Claim your prize</button></form>`, action, id)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + port + "/"
}

// status is resp's status, for messages.
func status(resp *network.Response) any {
	if resp == nil {
		return "none"
	}
	return resp.Status
}
