package ui

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	d, err := New(Options{Refresh: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler(func(*http.Request) string { return AdminOpen })
	cases := []struct {
		method, path string
		code         int
		ctype, has   string
	}{
		{"GET", "/ui", 200, "text/html; charset=utf-8", `<meta name="mlserve-refresh-ms" content="1500">`},
		{"GET", "/ui/", 200, "text/html; charset=utf-8", `<meta name="mlserve-admin" content="open">`},
		{"GET", "/ui/app.js", 200, "text/javascript; charset=utf-8", "function lineChart"},
		{"GET", "/ui/app.css", 200, "text/css; charset=utf-8", "prefers-color-scheme: dark"},
		{"GET", "/ui/history", 200, "application/json", `"resolution_s":10`},
		{"HEAD", "/ui/app.js", 200, "text/javascript; charset=utf-8", ""},
		{"GET", "/ui/missing.js", 404, "", ""},
		{"POST", "/ui", 405, "", ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
			if w.Code != c.code {
				t.Fatalf("status %d, want %d", w.Code, c.code)
			}
			if c.ctype != "" && w.Header().Get("Content-Type") != c.ctype {
				t.Errorf("Content-Type %q, want %q", w.Header().Get("Content-Type"), c.ctype)
			}
			if c.has != "" && !strings.Contains(w.Body.String(), c.has) {
				t.Errorf("body lacks %q", c.has)
			}
			if c.path == "/ui" && c.code == 200 {
				csp := w.Header().Get("Content-Security-Policy")
				for _, want := range []string{"default-src 'none'", "connect-src 'self'", "script-src 'self'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %q", csp, want)
					}
				}
			}
		})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/history", nil))
	var snap Snapshot
	if err := json.Unmarshal(w.Body.Bytes(), &snap); err != nil {
		t.Fatalf("history JSON: %v", err)
	}
}

// TestAssetsStayLocal: the embedded page names no address of its own
// beyond the server that serves it (the SVG namespace is a name, not a
// request); the browser tests check the requests themselves.
func TestAssetsStayLocal(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(assets, "assets", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" {
				t.Errorf("%s names %s", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHistoryFilter: ?model= keeps only the versions asked for.
func TestHistoryFilter(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.History().Sample(t0, busyStats(4, 2, 1, 1))
	h := d.Handler(nil)
	for _, c := range []struct {
		query string
		want  int
	}{{"", 4}, {"?model=model00-v1", 1}, {"?model=model00-v1&model=model01-v2", 2}, {"?model=", 0}, {"?model=nope-v1", 0}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/history"+c.query, nil))
		var snap Snapshot
		if err := json.Unmarshal(w.Body.Bytes(), &snap); err != nil {
			t.Fatal(err)
		}
		if len(snap.Models) != c.want || len(snap.Series) == 0 {
			t.Errorf("%q: %d versions, %d server series; want %d versions", c.query, len(snap.Models), len(snap.Series), c.want)
		}
	}
}
