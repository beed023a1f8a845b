package web

import (
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

// SessionFilter reads upn, q, limit and after (UPN,MAC: the next page's
// mark, split at its last comma since a MAC has none).
func SessionFilter(q url.Values, defaultLimit int) (signin.SessionFilter, error) {
	f := signin.SessionFilter{UPN: q.Get("upn"), Search: q.Get("q"), Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > signin.MaxSessionPage {
			return f, fault.FieldInvalid("limit", "limit must be a whole number from 1 to %d, not %q", signin.MaxSessionPage, ClipText(v, 40))
		}
		f.Limit = n
	}
	if v := q.Get("after"); v != "" {
		i := strings.LastIndex(v, ",")
		if i < 0 {
			return f, fault.FieldInvalid("after", "after %q is not a page mark: pass on the after= of the Link header's next page", ClipText(v, 80))
		}
		f.After = signin.SessionMark{UPN: v[:i], MAC: v[i+1:]}
	}
	return f, nil
}

// NextSessions is the query of the page after one that ended at next.
func NextSessions(q url.Values, next signin.SessionMark) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("after", next.UPN+","+next.MAC)
	return out
}

// pagedSessions answers GET /api/v1/phonesessions with paging: a page, and
// a Link header (RFC 8288) to the next one when there may be more.
func (h *signinAdmin) pagedSessions(c *gin.Context) bool {
	q := c.Request.URL.Query()
	if q.Get("limit") == "" && q.Get("after") == "" && q.Get("q") == "" {
		return false
	}
	f, err := SessionFilter(q, signin.MaxSessionPage)
	if err == nil {
		var ss []signin.Session
		var next signin.SessionMark
		if ss, next, err = h.svc.SessionsPage(c.Request.Context(), f); err == nil {
			if next.MAC != "" {
				c.Header("Link", "<"+c.Request.URL.Path+"?"+NextSessions(q, next).Encode()+">; rel=\"next\"")
			}
			c.JSON(http.StatusOK, ss)
			return true
		}
	}
	h.s.Fail(c, err)
	return true
}
