package console

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

type consoleAdmins struct{ *console }

type consoleAdminsView struct {
	Admins   []tenant.Admin
	Roles    []tenant.Role
	CanEdit  bool
	New      tenant.AdminInput
	NewError string
	Created  string // the username of an account just added with a generated password
	Password string // that password, shown once
}

func mountConsoleAdmins(cn *console, a *gin.RouterGroup) {
	ca := &consoleAdmins{cn}
	a.GET("/admins", ca.list)
	a.POST("/admins", ca.add)
	a.POST("/admins/:username/role", ca.role)
	a.POST("/admins/:username/remove", ca.remove)
}

func (ca *consoleAdmins) show(c *gin.Context, status int, flash, problem string, v consoleAdminsView) {
	as, err := ca.s.Tenant.Admins(c.Request.Context())
	if err != nil {
		problem, status = ca.problemOf(err), http.StatusInternalServerError
	}
	v.Admins, v.Roles, v.CanEdit = as, tenant.Roles, web.RoleOf(c).Allows(tenant.RoleAdmin)
	if v.New.Role == "" {
		v.New.Role = string(tenant.RoleReader)
	}
	ca.render(c, status, "admins", consolePageData{Title: "Admins", Flash: flash, Error: problem, Body: v})
}

func (ca *consoleAdmins) list(c *gin.Context) {
	flash := ""
	switch {
	case c.Query("added") != "":
		flash = "Added the admin " + c.Query("added") + "."
	case c.Query("role") != "":
		flash = "Changed the role of " + c.Query("role") + "; it holds from their next request."
	case c.Query("removed") != "":
		flash = "Removed the admin " + c.Query("removed") + "; their sessions ended."
	}
	ca.show(c, http.StatusOK, flash, "", consoleAdminsView{})
}

func (ca *consoleAdmins) add(c *gin.Context) {
	in := tenant.AdminInput{Username: c.PostForm("username"), Password: c.PostForm("password"), Role: c.PostForm("role")}
	out, err := ca.s.Tenant.AddAdminAccount(c.Request.Context(), web.AdminOf(c), in)
	if err != nil {
		in.Password = ""
		ca.show(c, web.StatusOf(fault.KindOf(err)), "", "", consoleAdminsView{New: in, NewError: ca.problemOf(err)})
		return
	}
	if out.GeneratedPassword != "" {
		// Shown on this answer alone, never put in a URL.
		ca.show(c, http.StatusCreated, "Added the admin "+out.Username+".", "", consoleAdminsView{Created: out.Username, Password: out.GeneratedPassword})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/admins?added="+url.QueryEscape(out.Username))
}

func (ca *consoleAdmins) role(c *gin.Context) {
	name := c.Param("username")
	if _, err := ca.s.Tenant.ChangeAdminRole(c.Request.Context(), web.AdminOf(c), name, c.PostForm("role")); err != nil {
		ca.show(c, web.StatusOf(fault.KindOf(err)), "", ca.problemOf(err), consoleAdminsView{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/admins?role="+url.QueryEscape(name))
}

func (ca *consoleAdmins) remove(c *gin.Context) {
	name := c.Param("username")
	if err := ca.s.Tenant.RemoveAdmin(c.Request.Context(), web.AdminOf(c), name); err != nil {
		ca.show(c, web.StatusOf(fault.KindOf(err)), "", ca.problemOf(err), consoleAdminsView{})
		return
	}
	if name == web.AdminOf(c) {
		ca.setCookie(c, SessionCookie, "", -1)
		c.Redirect(http.StatusSeeOther, "/admin/login")
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/admins?removed="+url.QueryEscape(name))
}
