// Package browsertest drives the reference service's key-management page
// (examples/server -dashboard, package apikey/dashboard) in a real browser:
// Debian's headless chromium, through the DevTools protocol (chromedp).
// It is a nested module, so that chromedp never becomes a dependency of
// gatekey. The test is the whole story a customer goes through: create a
// read-only key, read it once, reload and see it gone, use it against the
// API, revoke it and see the API refuse it; and a form posted from another
// site is refused.
//
//	apt-get install -y chromium
//	cd examples/browsertest && go test -v .
//
// Without chromium the test skips, saying how to install it, unless CI is
// set. GATEKEY_SCREENSHOT=path writes the screenshot of the page the
// README shows to path (by default it goes to a temporary directory).
package browsertest
