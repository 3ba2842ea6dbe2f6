package browsertest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// a11yScript checks the page shown, in the browser, and returns its
// findings: a form control without a label, a positive tabindex (which
// would take the focus out of reading order), a page without one h1 or a
// main landmark, and text whose contrast with its background is below
// WCAG AA's 4.5:1, computed from the styles the browser applied.
const a11yScript = `(() => {
  const problems = [];
  const label = el => el.labels && el.labels.length > 0 || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!label(el)) problems.push("no label: " + (el.id || el.name));
  }
  for (const el of document.querySelectorAll("[tabindex]")) {
    if (el.tabIndex > 0) problems.push("positive tabindex: " + el.outerHTML.slice(0, 60));
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!el.hidden && el.textContent.trim() === "" && !el.getAttribute("aria-label")) problems.push("no name: " + el.outerHTML.slice(0, 60));
  }
  if (document.querySelectorAll("h1").length !== 1) problems.push("want one h1");
  if (!document.querySelector("main")) problems.push("no main landmark");
  if (!document.documentElement.lang) problems.push("no lang");

  const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
    if (!own || el.offsetParent === null && getComputedStyle(el).position !== "fixed") continue;
    if (el.closest(".visually-hidden")) continue;
    const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) problems.push("contrast " + ratio.toFixed(2) + ": " + el.tagName + " " + el.textContent.trim().slice(0, 30));
  }
  return problems;
})()`

// checkAccessibility fails the test with what a11yScript finds on the
// page shown.
func checkAccessibility(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](a11yScript))
	if err != nil {
		t.Fatalf("%s: the accessibility check: %v", page, err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", page, p)
	}
}
