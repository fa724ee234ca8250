// Package browser holds the dashboard's tests in a real browser: headless
// Chromium (Debian's chromium, installed by scripts/setup-browser.sh)
// driven with chromedp against the whole server (app.Run) on a
// kernel-chosen loopback port. Every page loads with no console error and
// no request leaving 127.0.0.1; after known traffic the page's numbers equal
// GET /stats; the admin actions work with the token and are refused without
// it; Try it shows the model's labels; keyboard, phone width and the dark
// theme work. With MLSERVE_REQUIRE_BROWSER=1 (make test-go) a missing
// Chromium fails the tests instead of skipping them.
//
// MLSERVE_SCREENSHOTS=<dir> (make screenshots) also writes a 1280×800 PNG of
// each page into dir.
package browser
