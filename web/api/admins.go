package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// Admin accounts: list, add, change the role of, remove. Who may call
// which is in roles.go (reading: any admin; changing: full admins). The
// REST API, the CLI (deskprov admin list|add|set-role|remove) and the
// console's Admins page make the same tenant calls.

func mountAdmins(r *web.Routes) {
	s := r.Server
	a := r.Admin
	a.GET("/admins", func(c *gin.Context) {
		as, err := s.Tenant.Admins(c.Request.Context())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, as)
	})
	a.GET("/admins/:username", func(c *gin.Context) {
		ad, err := s.Tenant.Admin(c.Request.Context(), c.Param("username"))
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ad)
	})
	a.POST("/admins", func(c *gin.Context) {
		var in tenant.AdminInput
		if err := web.BindJSON(c, &in); err != nil {
			s.Fail(c, err)
			return
		}
		out, err := s.Tenant.AddAdminAccount(c.Request.Context(), web.AdminOf(c), in)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, out)
	})
	a.PATCH("/admins/:username", func(c *gin.Context) {
		var in tenant.AdminInput
		if err := web.BindJSON(c, &in); err != nil {
			s.Fail(c, err)
			return
		}
		if in.Password != "" || (in.Username != "" && in.Username != c.Param("username")) {
			s.Fail(c, fault.Hintf(fault.Invalid, "only the role can be changed here: an admin changes their own password with {fix}, and a lost one is reset with {fix2}").WithFix("admin.password").WithFix("admin.reset_password", "username", c.Param("username")))
			return
		}
		ad, err := s.Tenant.ChangeAdminRole(c.Request.Context(), web.AdminOf(c), c.Param("username"), in.Role)
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ad)
	})
	a.DELETE("/admins/:username", func(c *gin.Context) {
		if err := s.Tenant.RemoveAdmin(c.Request.Context(), web.AdminOf(c), c.Param("username")); err != nil {
			s.Fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}

// consoleAdmins is the console's Admins page.
