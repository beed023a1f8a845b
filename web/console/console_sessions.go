package console

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

type consoleSessions struct{ *console }

type consoleSessionsView struct {
	Sessions      []tenant.AdminSessionView
	PasswordError string
}

func mountConsoleSessions(cn *console, a *gin.RouterGroup) {
	cs := &consoleSessions{cn}
	a.GET("/sessions", cs.list)
	a.POST("/sessions/:id/revoke", cs.revoke)
	a.POST("/password", cs.password)
}

func (cs *consoleSessions) show(c *gin.Context, status int, flash, problem string, v consoleSessionsView) {
	ss, err := cs.s.Tenant.AdminSessions(c.Request.Context())
	if err != nil {
		problem, status = cs.problemOf(err), http.StatusInternalServerError
	}
	v.Sessions = tenant.AdminSessionViews(ss, c.GetString(web.AdminSessionKey))
	cs.render(c, status, "sessions", consolePageData{Title: "Admin sessions", Flash: flash, Error: problem, Body: v})
}

func (cs *consoleSessions) list(c *gin.Context) {
	flash := ""
	switch {
	case c.Query("revoked") != "":
		flash = "The session was revoked: its token no longer works."
	case c.Query("password") != "":
		flash = "Your password was changed; your other sessions were ended."
	}
	cs.show(c, http.StatusOK, flash, "", consoleSessionsView{})
}

func (cs *consoleSessions) revoke(c *gin.Context) {
	id := c.Param("id")
	if err := cs.s.Tenant.RevokeAdminSession(c.Request.Context(), id); err != nil {
		cs.show(c, web.StatusOf(fault.KindOf(err)), "", cs.problemOf(err), consoleSessionsView{})
		return
	}
	cs.s.Log.Info("admin revoked an admin session", "event", "admin.session.revoke", "actor", web.AdminOf(c), "session", id)
	if id == c.GetString(web.AdminSessionKey) {
		// The admin revoked the session they are using: it is a sign-out.
		cs.setCookie(c, SessionCookie, "", -1)
		c.Redirect(http.StatusSeeOther, "/admin/login")
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/sessions?revoked=1")
}

func (cs *consoleSessions) password(c *gin.Context) {
	_, err := cs.s.Tenant.ChangeAdminPassword(c.Request.Context(), web.AdminOf(c), c.ClientIP(), c.GetString(web.AdminSessionKey), tenant.PasswordChange{CurrentPassword: c.PostForm("currentPassword"), NewPassword: c.PostForm("newPassword")})
	if err != nil {
		cs.show(c, web.StatusOf(fault.KindOf(err)), "", "", consoleSessionsView{PasswordError: cs.problemOf(err)})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/sessions?password=1")
}
