package server

import (
	"net"
	"net/http"

	"github.com/mlserve/mlserve/internal/ui"
)

// mountUI serves the dashboard (Options.UI) at GET /ui and under /ui/ on
// the API listener. The page reads the public JSON APIs and sends the admin
// calls with the token typed into it, so the admin check stays where it is;
// the page is only told what that check asks of its client.
func (s *Server) mountUI() {
	if s.opts.UI == nil {
		return
	}
	h := s.opts.UI.Handler(s.adminAccess)
	s.mux.Handle("GET /ui", h)
	s.mux.Handle("GET /ui/", h)
}

// adminAccess says what authorize asks of r's client: the token, nothing
// (no token configured, loopback client) or nothing it can give.
func (s *Server) adminAccess(r *http.Request) string {
	if s.opts.AdminToken != "" {
		return ui.AdminToken
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ui.AdminOpen
	}
	return ui.AdminClosed
}
