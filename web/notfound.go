package web

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// browserPath answers the paths a person types into a browser with a page
// rather than the API's JSON (issue 15): "/" leads to the console, and an
// unknown /admin/… path is an HTML 404 page with a way back. It reports
// whether it answered; phones (/prov/, LPE) and API clients never get here
// with an HTML Accept header for those paths, and keep their plain answers.
func browserPath(c *gin.Context) bool {
	r := c.Request
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	if p == "/" {
		c.Redirect(http.StatusSeeOther, "/admin")
		return true
	}
	if p != "/admin" && !strings.HasPrefix(p, "/admin/") {
		return false
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return false
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusNotFound)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodGet {
		_ = notFoundPage.Execute(c.Writer, p)
	}
	return true
}

var notFoundPage = template.Must(template.New("notfound").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page not found · deskprov</title>
<link rel="stylesheet" href="/admin/console.css">
</head>
<body>
<main>
<h1>Page not found</h1>
<p>The console has no page at <code>{{.}}</code>.</p>
<p><a href="/admin">Go to the console</a></p>
</main>
</body>
</html>
`))
