// Package dashboard serves the page on which a service's customers manage
// their own API keys, as one http.Handler the service mounts behind its own
// sign-in: the list of an account's keys, a form to create one, the new key
// shown once, revocation with a confirmation step, rolling with a grace
// period, and the account's credits when it is metered.
//
//	page := &dashboard.Page{
//		Manager: keys,
//		Account: func(r *http.Request) (string, error) { return session(r).Account, nil },
//	}
//	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", page.Handler()))
//
// The pages are server-rendered from templates embedded in the package,
// with a stylesheet and one small script (the copy button) served by the
// handler itself: no framework, nothing from another origin, and every
// page works without JavaScript.
//
// # Safe by construction
//
//   - State changes only by POST, and every POST passes Go's
//     http.CrossOriginProtection: a form posted from another origin is
//     refused with 403 before anything changes.
//   - Every response carries a Content-Security-Policy that allows no
//     inline script and no framing (frame-ancestors 'none'),
//     Referrer-Policy: no-referrer, Cache-Control: no-store,
//     X-Content-Type-Options: nosniff and X-Frame-Options: DENY.
//   - A new key is written into the body of the answer to the form that
//     made it, and nowhere else: never into a URL, a cookie, a redirect or
//     a log line. The handler sets no cookie at all. Sending the same form
//     again (a reload, or going back) is refused, so a key is shown once.
//     The id of a form that makes a key is signed (Page.FormKey): it is
//     good for the account and the purpose it was shown for, once, and
//     for an hour.
//   - Every input is checked with the rules of package apikey, and a
//     mistake is answered with the page again, a message and the error
//     code the API would give (invalid_parameter and the like), never a
//     500. Keys of other accounts are answered 404, as unknown ones are.
//
// The handler knows whose keys to show only through Page.Account: the
// host's own session login, which the host must protect as it protects
// any page of its own. Page.CheckCreate and Page.CheckChange let the host
// add its own rules, such as a cap on an account's keys or keys that its
// own systems use.
package dashboard
