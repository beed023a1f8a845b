package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// Admin sessions: any admin may list every live admin session (API tokens
// and console sign-ins), revoke one, and change their own password, which
// ends their other sessions. The REST API, the CLI (deskprov admin …) and
// the console's Admin sessions page do the same through the same methods.

func mountAdminSessions(r *web.Routes) {
	s := r.Server
	r.Admin.GET("/admin/sessions", func(c *gin.Context) {
		ss, err := s.Tenant.AdminSessions(c.Request.Context())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, tenant.AdminSessionViews(ss, c.GetString(web.AdminSessionKey)))
	})
	r.Admin.DELETE("/admin/sessions/:id", func(c *gin.Context) {
		if err := s.Tenant.RevokeAdminSession(c.Request.Context(), c.Param("id")); err != nil {
			s.Fail(c, err)
			return
		}
		s.Log.Info("admin revoked an admin session", "event", "admin.session.revoke", "actor", web.AdminOf(c), "session", c.Param("id"))
		c.Status(http.StatusNoContent)
	})
	r.Admin.PUT("/admin/password", func(c *gin.Context) {
		var p tenant.PasswordChange
		if err := web.BindJSON(c, &p); err != nil {
			s.Fail(c, err)
			return
		}
		n, err := s.Tenant.ChangeAdminPassword(c.Request.Context(), web.AdminOf(c), c.ClientIP(), c.GetString(web.AdminSessionKey), p)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"endedSessions": n})
	})
}

// consoleSessions is the console's Admin sessions page.
