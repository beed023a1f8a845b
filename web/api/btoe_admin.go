package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/web"
)

// BToE is Better Together's admin API: the pairings, and forgetting a
// phone's. What the phone and the PC app call is phone.BToE.
func BToE(svc *btoe.Service) web.Module { return &btoeAdmin{svc: svc} }

type btoeAdmin struct {
	s   *web.Server
	svc *btoe.Service
}

// Mount adds the routes.
func (h *btoeAdmin) Mount(r *web.Routes) {
	h.s = r.Server
	r.Admin.GET("/btoe/pairings", h.listPairings)
	r.Admin.DELETE("/btoe/phones/:mac", h.forgetPhone)
}

func (h *btoeAdmin) listPairings(c *gin.Context) {
	ps, err := h.svc.Pairings(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ps)
}

func (h *btoeAdmin) forgetPhone(c *gin.Context) {
	if err := h.svc.ForgetPhone(c.Request.Context(), c.Param("mac")); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
