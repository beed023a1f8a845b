package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
)

// Admin sessions: any admin may list every live admin session (API tokens
// and console sign-ins), revoke one, and change their own password, which
// ends their other sessions. The REST API, the CLI (deskprov admin …) and
// the console's Admin sessions page do the same through the same methods.

// adminSessionView is one session as the API and the console show it.
type adminSessionView struct {
	tenant.AdminSession
	Current bool `json:"current"`
}

func adminSessionViews(ss []tenant.AdminSession, current string) []adminSessionView {
	out := make([]adminSessionView, len(ss))
	for i, s := range ss {
		out[i] = adminSessionView{AdminSession: s, Current: s.ID == current}
	}
	return out
}

// passwordChange is the body of PUT /api/v1/admin/password.
type passwordChange struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// changePassword checks the admin's current password (with the sign-in's
// own attempt limits) and sets the new one, ending the admin's sessions but
// the one asking.
func changePassword(c *gin.Context, s *Server, p passwordChange) (int, error) {
	ctx := c.Request.Context()
	if p.CurrentPassword == "" {
		return 0, fault.FieldInvalid("currentPassword", "currentPassword is required: the password you signed in with")
	}
	if p.NewPassword == "" {
		return 0, fault.FieldInvalid("newPassword", "newPassword is required")
	}
	if _, err := s.Tenant.AdminLogin(ctx, AdminOf(c), p.CurrentPassword, c.ClientIP()); err != nil {
		if fault.Is(err, fault.Unauthorized) {
			return 0, fault.New(fault.Unauthorized, "the current password is incorrect").WithCode("wrong_password")
		}
		return 0, err
	}
	n, err := s.Tenant.SetAdminPassword(ctx, AdminOf(c), p.NewPassword, c.GetString(AdminSessionKey))
	if err == nil {
	}
	return n, err
}

func mountAdminSessions(r *Routes) {
	s := r.Server
	r.Admin.GET("/admin/sessions", func(c *gin.Context) {
		ss, err := s.Tenant.AdminSessions(c.Request.Context())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, adminSessionViews(ss, c.GetString(AdminSessionKey)))
	})
	r.Admin.DELETE("/admin/sessions/:id", func(c *gin.Context) {
		if err := s.Tenant.RevokeAdminSession(c.Request.Context(), c.Param("id")); err != nil {
			s.Fail(c, err)
			return
		}
		s.Log.Info("admin revoked an admin session", "event", "admin.session.revoke", "actor", AdminOf(c), "session", c.Param("id"))
		c.Status(http.StatusNoContent)
	})
	r.Admin.PUT("/admin/password", func(c *gin.Context) {
		var p passwordChange
		if err := BindJSON(c, &p); err != nil {
			s.Fail(c, err)
			return
		}
		n, err := changePassword(c, s, p)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"endedSessions": n})
	})
}

// consoleSessions is the console's Admin sessions page.
type consoleSessions struct{ *console }

type consoleSessionsView struct {
	Sessions      []adminSessionView
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
	v.Sessions = adminSessionViews(ss, c.GetString(AdminSessionKey))
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
		cs.show(c, StatusOf(fault.KindOf(err)), "", cs.problemOf(err), consoleSessionsView{})
		return
	}
	cs.s.Log.Info("admin revoked an admin session", "event", "admin.session.revoke", "actor", AdminOf(c), "session", id)
	if id == c.GetString(AdminSessionKey) {
		// The admin revoked the session they are using: it is a sign-out.
		cs.setCookie(c, ConsoleSessionCookie, "", -1)
		c.Redirect(http.StatusSeeOther, "/admin/login")
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/sessions?revoked=1")
}

func (cs *consoleSessions) password(c *gin.Context) {
	_, err := changePassword(c, cs.s, passwordChange{CurrentPassword: c.PostForm("currentPassword"), NewPassword: c.PostForm("newPassword")})
	if err != nil {
		cs.show(c, StatusOf(fault.KindOf(err)), "", "", consoleSessionsView{PasswordError: cs.problemOf(err)})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/sessions?password=1")
}

// sessionTime is how the console shows a session's times.
func SessionTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
