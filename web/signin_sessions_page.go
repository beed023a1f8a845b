package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/signin"
)

// Phone sessions page by page, read in the store (signin.SessionsPage): the
// console's Sign-in page always, GET /api/v1/phonesessions when it is given
// limit, after or q (without them it answers every session, as it always
// has, for the CLI and scripts written against that).

// consoleSessionPage is how many sessions one page of the console shows.
const consoleSessionPage = 50

// sessionFilter reads upn, q, limit and after (UPN,MAC: the next page's
// mark, split at its last comma since a MAC has none).
func sessionFilter(q url.Values, defaultLimit int) (signin.SessionFilter, error) {
	f := signin.SessionFilter{UPN: q.Get("upn"), Search: q.Get("q"), Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > signin.MaxSessionPage {
			return f, fault.FieldInvalid("limit", "limit must be a whole number from 1 to %d, not %q", signin.MaxSessionPage, clipText(v, 40))
		}
		f.Limit = n
	}
	if v := q.Get("after"); v != "" {
		i := strings.LastIndex(v, ",")
		if i < 0 {
			return f, fault.FieldInvalid("after", "after %q is not a page mark: pass on the after= of the Link header's next page", clipText(v, 80))
		}
		f.After = signin.SessionMark{UPN: v[:i], MAC: v[i+1:]}
	}
	return f, nil
}

// nextSessions is the query of the page after one that ended at next.
func nextSessions(q url.Values, next signin.SessionMark) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("after", next.UPN+","+next.MAC)
	return out
}

// pagedSessions answers GET /api/v1/phonesessions with paging: a page, and
// a Link header (RFC 8288) to the next one when there may be more.
func (h *signinAPI) pagedSessions(c *gin.Context) bool {
	q := c.Request.URL.Query()
	if q.Get("limit") == "" && q.Get("after") == "" && q.Get("q") == "" {
		return false
	}
	f, err := sessionFilter(q, signin.MaxSessionPage)
	if err == nil {
		var ss []signin.Session
		var next signin.SessionMark
		if ss, next, err = h.svc.SessionsPage(c.Request.Context(), f); err == nil {
			if next.MAC != "" {
				c.Header("Link", "<"+c.Request.URL.Path+"?"+nextSessions(q, next).Encode()+">; rel=\"next\"")
			}
			c.JSON(http.StatusOK, ss)
			return true
		}
	}
	h.s.Fail(c, err)
	return true
}

// consoleSessions fills v with the page of sessions the query asks for.
func (dc *consoleDevices) consoleSessions(c *gin.Context, v *consoleSignInView) error {
	q := c.Request.URL.Query()
	v.Search, v.Paged = strings.TrimSpace(q.Get("q")), q.Get("after") != ""
	f, err := sessionFilter(q, consoleSessionPage)
	if err != nil {
		return err
	}
	f.Limit = consoleSessionPage
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
		v.Next = template.URL("/admin/signin?" + nextSessions(keep, next).Encode())
	}
	return nil
}
