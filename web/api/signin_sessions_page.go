package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/signin"
)

// Phone sessions page by page, read in the store (signin.SessionsPage): the
// console's Sign-in page always, GET /api/v1/phonesessions when it is given
// limit, after or q (without them it answers every session, as it always
// has, for the CLI and scripts written against that).

// pagedSessions answers GET /api/v1/phonesessions with paging: a page, and
// a Link header (RFC 8288) to the next one when there may be more.
func (h *signinAdmin) pagedSessions(c *gin.Context) bool {
	q := c.Request.URL.Query()
	if q.Get("limit") == "" && q.Get("after") == "" && q.Get("q") == "" {
		return false
	}
	f, err := signin.ParseSessionFilter(q, signin.MaxSessionPage)
	if err == nil {
		var ss []signin.Session
		var next signin.SessionMark
		if ss, next, err = h.svc.SessionsPage(c.Request.Context(), f); err == nil {
			if next.MAC != "" {
				c.Header("Link", "<"+c.Request.URL.Path+"?"+signin.NextSessionsQuery(q, next).Encode()+">; rel=\"next\"")
			}
			c.JSON(http.StatusOK, ss)
			return true
		}
	}
	h.s.Fail(c, err)
	return true
}
