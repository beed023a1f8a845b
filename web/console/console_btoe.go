package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// consoleBToE is the console's Better Together page: the phones paired
// with a PC and, for an admin, "forget" — the same btoe calls as
// GET /api/v1/btoe/pairings and DELETE /api/v1/btoe/phones/{mac}.
type consoleBToE struct {
	*console
	svc *btoe.Service
}

type consoleBToERow struct {
	MAC, PC, OS, Mode, User, Since string
}

type consoleBToEView struct {
	Rows    []consoleBToERow
	CanEdit bool
}

func mountConsoleBToE(r *web.Routes, svc *btoe.Service) {
	cn, err := newConsole(r.Server)
	if err == nil {
		err = addConsolePagesOf(cn, "btoe")
	}
	if err != nil {
		// As in mountConsole: embedded templates and a store just reached.
		panic("admin console: " + err.Error())
	}
	bc := &consoleBToE{console: cn, svc: svc}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/btoe", bc.list)
	g.POST("/btoe/phones/:mac/forget", bc.forget)
}

func (bc *consoleBToE) list(c *gin.Context) {
	f := bc.takeFlash(c)
	v := consoleBToEView{CanEdit: web.RoleOf(c).Allows(tenant.RoleAdmin)}
	ps, err := bc.svc.Pairings(c.Request.Context())
	if err != nil {
		bc.render(c, web.StatusOf(fault.KindOf(err)), "btoe", consolePageData{Title: "Better Together", Error: bc.problemOf(err), Body: v})
		return
	}
	for _, p := range ps {
		v.Rows = append(v.Rows, consoleBToERow{MAC: p.PhoneMAC, PC: p.ClientID, OS: p.OS, Mode: p.Mode, User: p.SignedInUPN,
			Since: p.CreatedAt.UTC().Format(time.DateTime + " UTC")})
	}
	bc.render(c, http.StatusOK, "btoe", consolePageData{Title: "Better Together", Flash: f.Msg, Error: f.Err, Body: v})
}

func (bc *consoleBToE) forget(c *gin.Context) {
	mac := c.Param("mac")
	if err := bc.svc.ForgetPhone(c.Request.Context(), mac); err != nil {
		bc.flash(c, "/admin/btoe", consoleFlash{Err: bc.problemOf(err)})
		return
	}
	bc.flash(c, "/admin/btoe?"+url.Values{"forgot": {mac}}.Encode(), consoleFlash{Msg: "Phone " + mac + " is forgotten: its pairing ended and the PC app was told. It pairs again from the start."})
}

// BToE is the console's Better Together page (/admin/btoe).
func BToE(svc *btoe.Service) web.Module {
	return web.ModuleFunc(func(r *web.Routes) { mountConsoleBToE(r, svc) })
}
