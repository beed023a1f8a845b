package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/web"
)

// The audit log: GET /api/v1/audit (and deskprov audit) and the console's
// Audit log page read the same filtered, paged listing (audit.List). Any
// admin may read it (roles.go).

func mountAudit(r *web.Routes) {
	s := r.Server
	r.Admin.GET("/audit", func(c *gin.Context) {
		// A page is at most MaxPage entries, as the policy audit was.
		f, err := audit.ParseFilter(c.Request.URL.Query(), audit.MaxPage)
		if err != nil {
			s.Fail(c, err)
			return
		}
		p, err := audit.List(c.Request.Context(), s.DB, f)
		if err != nil {
			s.Fail(c, err)
			return
		}
		if p.NextBefore != 0 {
			// The body stays the array it always was; the next page is
			// a link, as RFC 8288 has it.
			q := c.Request.URL.Query()
			q.Set("before", strconv.FormatUint(uint64(p.NextBefore), 10))
			c.Header("Link", `<`+s.URL("/api/v1/audit?"+q.Encode())+`>; rel="next"`)
		}
		c.JSON(http.StatusOK, p.Entries)
	})
}

// consoleAudit is the console's Audit log page: the listing, filtered by
// the same query as the API, 50 to a page.
