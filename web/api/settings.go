package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/web"
)

// ServiceSettings mounts the service-wide settings under the admin API:
// GET /api/v1/settings/service lists them, PUT …/:name records a new value.
// Admins only (the /api/v1 bearer token); the change applies as each server
// restarts.
func ServiceSettings(svc *settings.Service) web.Module { return settingsModule{svc} }

type settingsModule struct{ svc *settings.Service }

func (m settingsModule) Mount(r *web.Routes) {
	s := r.Server
	r.Admin.GET("/settings/service", func(c *gin.Context) {
		ss, err := m.svc.List(c.Request.Context())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ss)
	})
	r.Admin.PUT("/settings/service/:name", func(c *gin.Context) {
		var req struct {
			Value *string `json:"value"`
		}
		if err := web.BindJSON(c, &req); err != nil {
			s.Fail(c, err)
			return
		}
		if req.Value == nil {
			s.Fail(c, web.FaultMissing("value", `"https://deskprov.example.com"`))
			return
		}
		st, err := m.svc.Set(c.Request.Context(), c.Param("name"), *req.Value, "admin "+c.GetString(web.AdminKey))
		if err != nil {
			s.Fail(c, err)
			return
		}
		s.Log.Info("service-wide setting changed; restart each server to apply it", "event", "settings.change", "actor", st.SetBy, "setting", st.Name, "value", st.Value)
		c.JSON(http.StatusOK, st)
	})
}
