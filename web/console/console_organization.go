package console

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// consoleOrganization is the console's page for the profile.
type consoleOrganization struct {
	*console
	tn *tenant.Service
}

type consoleOrganizationView struct {
	Name      string
	NameError string
}

func mountConsoleOrganization(a *gin.RouterGroup, cn *console) {
	oc := &consoleOrganization{console: cn, tn: cn.s.Tenant}
	a.GET("/organization", func(c *gin.Context) {
		flash := ""
		if c.Query("saved") != "" {
			flash = "Saved: the sign-in pages and the people's page show the new name from now on."
		}
		o, err := oc.tn.Organization(c.Request.Context())
		if err != nil {
			oc.render(c, web.StatusOf(fault.KindOf(err)), "organization", consolePageData{Title: "Organisation", Error: oc.problemOf(err), Body: consoleOrganizationView{}})
			return
		}
		oc.render(c, http.StatusOK, "organization", consolePageData{Title: "Organisation", Flash: flash, Body: consoleOrganizationView{Name: o.Name}})
	})
	a.POST("/organization", func(c *gin.Context) {
		name := c.PostForm("name")
		if _, err := oc.tn.SetOrganization(c.Request.Context(), tenant.Organization{Name: name}); err != nil {
			oc.render(c, web.StatusOf(fault.KindOf(err)), "organization", consolePageData{Title: "Organisation", Body: consoleOrganizationView{Name: name, NameError: oc.problemOf(err)}})
			return
		}
		c.Redirect(http.StatusSeeOther, "/admin/organization?"+url.Values{"saved": {"1"}}.Encode())
	})
}
