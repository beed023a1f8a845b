package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// mountOrganization serves the organisation's profile (its name, shown on
// every sign-in page and on /my): any admin role reads it, only an admin
// changes it (web/roles.go).
func mountOrganization(a *gin.RouterGroup, s *web.Server, tn *tenant.Service) {
	a.GET("/settings/organization", func(c *gin.Context) {
		o, err := tn.Organization(c.Request.Context())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, o)
	})
	a.PUT("/settings/organization", func(c *gin.Context) {
		var req struct {
			Name *string `json:"name"`
		}
		if err := web.BindJSON(c, &req); err != nil {
			s.Fail(c, err)
			return
		}
		if req.Name == nil {
			s.Fail(c, web.FaultMissing("name", `{"name": "Contoso"}`))
			return
		}
		o, err := tn.SetOrganization(c.Request.Context(), tenant.Organization{Name: *req.Name})
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, o)
	})
}
