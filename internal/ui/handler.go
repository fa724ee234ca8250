package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

//go:embed assets/index.html assets/app.js assets/app.css
var assets embed.FS

// Options configure a Dashboard.
type Options struct {
	// Refresh is how often the page polls the server (default 2 s).
	Refresh time.Duration
	// Resolution is the history's step (default 10 s) over Span.
	Resolution time.Duration
	// Span is how far back the history reaches (default one hour).
	Span time.Duration
}

// Dashboard is the page and its history, served under /ui.
type Dashboard struct {
	hist  *History
	index []byte
	js    []byte
	css   []byte
}

// New returns a dashboard whose history is empty until Run or Sample.
func New(opts Options) (*Dashboard, error) {
	if opts.Refresh <= 0 {
		opts.Refresh = 2 * time.Second
	}
	if opts.Resolution <= 0 {
		opts.Resolution = 10 * time.Second
	}
	if opts.Span <= 0 {
		opts.Span = time.Hour
	}
	h, err := NewHistory(opts.Span, opts.Resolution)
	if err != nil {
		return nil, err
	}
	d := &Dashboard{hist: h}
	index, _ := assets.ReadFile("assets/index.html")
	d.index = bytes.Replace(index, []byte("{{REFRESH_MS}}"), []byte(strconv.FormatInt(opts.Refresh.Milliseconds(), 10)), 1)
	d.js, _ = assets.ReadFile("assets/app.js")
	d.css, _ = assets.ReadFile("assets/app.css")
	return d, nil
}

// History is the dashboard's history, for the server to sample into.
func (d *Dashboard) History() *History { return d.hist }

// contentSecurity lets the page load only its own script and style and
// talk only to the server that served it: a page that tried to reach
// anything else would be stopped by the browser and report it.
const contentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Admin access, as the page is told it: what the admin API asks of the
// client that loads the page.
const (
	// AdminToken: the admin API needs the admin token.
	AdminToken = "token"
	// AdminOpen: the admin API answers this client without a token
	// (no admin_token configured, a loopback client).
	AdminOpen = "open"
	// AdminClosed: the admin API does not answer this client at all.
	AdminClosed = "closed"
)

// Handler serves the dashboard; admin tells the page what the admin API
// asks of the request's client (AdminToken, AdminOpen or AdminClosed), so
// the page asks for the token, or hides the actions, instead of
// collecting refusals. A nil admin means AdminToken.
func (d *Dashboard) Handler(admin func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode := AdminToken
		if admin != nil {
			mode = admin(r)
		}
		d.serve(w, r, mode)
	})
}

// serve answers GET /ui (the page), /ui/app.js, /ui/app.css and
// /ui/history (the history as JSON); anything else under /ui is 404.
func (d *Dashboard) serve(w http.ResponseWriter, r *http.Request, admin string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	switch r.URL.Path {
	case "/ui", "/ui/":
		h.Set("Content-Security-Policy", contentSecurity)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(bytes.Replace(d.index, []byte("{{ADMIN}}"), []byte(admin), 1))
	case "/ui/app.js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(d.js)
	case "/ui/app.css":
		h.Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(d.css)
	case "/ui/history":
		// ?model=<id> (repeatable) keeps only those versions' series: the
		// page asks for the one or two it draws.
		var keep func(string) bool
		if ids := r.URL.Query()["model"]; len(ids) > 0 {
			keep = func(id string) bool { return slices.Contains(ids, id) }
		}
		b, err := json.Marshal(d.hist.SnapshotOf(keep))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	default:
		http.NotFound(w, r)
	}
}
