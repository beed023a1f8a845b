package console

import (
	"html/template"
	"net/url"
	"strings"

	"github.com/deskprov/deskprov/signin"
	"github.com/gin-gonic/gin"
)

// SessionPage is how many sessions one page of the console shows.
const SessionPage = 50

// consoleSessions fills v with the page of sessions the query asks for.
func (dc *consoleDevices) consoleSessions(c *gin.Context, v *consoleSignInView) error {
	q := c.Request.URL.Query()
	v.Search, v.Paged = strings.TrimSpace(q.Get("q")), q.Get("after") != ""
	f, err := signin.ParseSessionFilter(q, SessionPage)
	if err != nil {
		return err
	}
	f.Limit = SessionPage
	ss, next, err := dc.m.SignIn.SessionsPage(c.Request.Context(), f)
	if err != nil {
		return err
	}
	for _, s := range ss {
		v.Sessions = append(v.Sessions, consoleSessionRowOf(s))
	}
	keep := url.Values{}
	for _, k := range []string{"upn", "q"} {
		if s := strings.TrimSpace(q.Get(k)); s != "" {
			keep.Set(k, s)
		}
	}
	// template.URLs: html/template would otherwise escape the query's own
	// & and =.
	v.First = template.URL("/admin/signin?" + keep.Encode())
	if next.MAC != "" {
		v.Next = template.URL("/admin/signin?" + signin.NextSessionsQuery(keep, next).Encode())
	}
	return nil
}
