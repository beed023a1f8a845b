package console

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/web"
)

type consoleAudit struct{ *console }

type consoleAuditView struct {
	Kind, Object, Actor, Since, Until string
	Entries                           []audit.Entry
	Next                              string
}

func mountConsoleAudit(cn *console, a *gin.RouterGroup) {
	ca := &consoleAudit{cn}
	a.GET("/audit", ca.list)
}

func (ca *consoleAudit) list(c *gin.Context) {
	q := c.Request.URL.Query()
	v := consoleAuditView{Kind: q.Get("kind"), Object: q.Get("object"), Actor: q.Get("actor"), Since: q.Get("since"), Until: q.Get("until")}
	f, err := audit.ParseFilter(q, 50)
	if err == nil {
		var p audit.Page
		p, err = audit.List(c.Request.Context(), ca.s.DB, f)
		v.Entries = p.Entries
		if p.NextBefore != 0 {
			q.Set("before", strconv.FormatUint(uint64(p.NextBefore), 10))
			v.Next = "/admin/audit?" + q.Encode()
		}
	}
	if err != nil {
		ca.render(c, web.StatusOf(fault.KindOf(err)), "audit", consolePageData{Title: "Audit log", Error: ca.problemOf(err), Body: v})
		return
	}
	ca.render(c, http.StatusOK, "audit", consolePageData{Title: "Audit log", Body: v})
}
