package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
)

// The audit log: GET /api/v1/audit (and deskprov audit) and the console's
// Audit log page read the same filtered, paged listing (audit.List). Any
// admin may read it (roles.go).

// AuditFilter reads the listing's query: kind, object (kind/id or a
// prefix), actor, since and until (RFC 3339), before (the page cursor)
// and limit.
func AuditFilter(q url.Values, defaultLimit int) (audit.Filter, error) {
	f := audit.Filter{Kind: q.Get("kind"), Object: q.Get("object"), Actor: q.Get("actor"), Limit: defaultLimit}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(t.name)
		if v == "" {
			continue
		}
		at, err := parseAuditTime(v)
		if err != nil {
			return f, fault.FieldInvalid(t.name, "%s %q is not a time: give RFC 3339 (2026-05-01T09:00:00Z) or a date (2026-05-01)", t.name, v)
		}
		*t.to = at
	}
	for _, n := range []struct {
		name string
		to   *int
	}{{"limit", &f.Limit}} {
		if v := q.Get(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 || i > audit.MaxPage {
				return f, fault.FieldInvalid(n.name, "%s must be a whole number from 1 to %d, not %q", n.name, audit.MaxPage, v)
			}
			*n.to = i
		}
	}
	if v := q.Get("before"); v != "" {
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil || id == 0 {
			return f, fault.FieldInvalid("before", "before must be an entry id (the next page's cursor), not %q", v)
		}
		f.Before = uint(id)
	}
	return f, nil
}

func parseAuditTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

func mountAudit(r *Routes) {
	s := r.Server
	r.Admin.GET("/audit", func(c *gin.Context) {
		// A page is at most MaxPage entries, as the policy audit was.
		f, err := AuditFilter(c.Request.URL.Query(), audit.MaxPage)
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
