package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fleet"
	"github.com/deskprov/deskprov/web"
)

// Fleet is the API's GET /api/v1/fleet: the same report as the console's
// dashboard (console.Fleet) and `deskprov fleet`, over the same sources.
type Fleet fleet.Sources

// Mount serves GET /api/v1/fleet.
func (m Fleet) Mount(r *web.Routes) {
	s := r.Server
	r.Admin.GET("/fleet", func(c *gin.Context) {
		rep, err := fleet.Sources(m).Report(c.Request.Context(), s.Now())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, rep)
	})
}
