package server

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// Swagger UI (Apache-2.0, LICENSE beside it), fetched by
// scripts/fetch-docs-assets.sh, so /docs works with no internet access.
//
//go:embed docs/swagger-ui-bundle.js docs/swagger-ui.css docs/LICENSE
var docsFS embed.FS

const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mlserve API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", validatorUrl: null, deepLinking: true});
</script>
</body>
</html>
`

// docsHandler serves the interactive API docs page and its embedded assets.
func docsHandler() http.Handler {
	sub, _ := fs.Sub(docsFS, "docs")
	files := http.StripPrefix("/docs/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/docs" || r.URL.Path == "/docs/" || strings.HasSuffix(r.URL.Path, "/index.html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write([]byte(docsPage))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
