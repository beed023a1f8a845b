package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// mountNumberMoves adds the in-place changes of issue 17 (items 3, 4, 5):
// moving a number without releasing it, a bridge's default numbers, editing
// addresses, listing and removing locations, and their audit. Like the rest
// of /api/v1 they are for signed-in admins only (the Admin group's bearer
// check); the audit records AdminOf as the actor.
func mountNumberMoves(a *gin.RouterGroup, h *numbersAPI) {
	a.POST("/numbers/:number/move", h.move)
	a.GET("/voiceservices/:id", h.service)
	a.PATCH("/voiceservices/:id", h.setServiceDefaults)
	a.PATCH("/emergencyaddresses/:id", h.updateAddress)
	a.GET("/emergencyaddresses/:id/locations", h.locations)
	a.DELETE("/emergencyaddresses/:id/locations/:location", h.deleteLocation)
	a.GET("/voiceaudit", h.voiceAudit)
}

func (h *numbersAPI) move(c *gin.Context) {
	var in tenant.MoveInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	n, err := h.tn.MoveNumber(c.Request.Context(), web.AdminOf(c), c.Param("number"), in)
	h.answer(c, http.StatusOK, n, err)
}

func (h *numbersAPI) service(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	v, err := h.tn.VoiceServiceByID(c.Request.Context(), id)
	h.answer(c, http.StatusOK, v, err)
}

func (h *numbersAPI) setServiceDefaults(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	var in tenant.ServiceDefaults
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	v, err := h.tn.SetServiceDefaults(c.Request.Context(), web.AdminOf(c), id, in)
	h.answer(c, http.StatusOK, v, err)
}

func (h *numbersAPI) updateAddress(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	var in tenant.AddressPatch
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	a, err := h.tn.UpdateAddress(c.Request.Context(), web.AdminOf(c), id, in)
	h.answer(c, http.StatusOK, a, err)
}

func (h *numbersAPI) locations(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	ls, err := h.tn.Locations(c.Request.Context(), id)
	h.answer(c, http.StatusOK, ls, err)
}

func (h *numbersAPI) deleteLocation(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	loc, err := strconv.ParseUint(c.Param("location"), 10, 32)
	if err != nil || loc == 0 {
		h.s.Fail(c, fault.Hintf(fault.Invalid, "%q is not a location id: {fix} lists them", c.Param("location")).On("location").WithFix("address.locations", "id", strconv.FormatUint(uint64(id), 10)))
		return
	}
	h.answer(c, http.StatusNoContent, nil, h.tn.DeleteLocation(c.Request.Context(), web.AdminOf(c), id, uint(loc)))
}

func (h *numbersAPI) voiceAudit(c *gin.Context) {
	limit := 0
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			h.s.Fail(c, fault.FieldInvalid("limit", "limit must be a positive whole number, not %q", l))
			return
		}
		limit = n
	}
	es, err := h.tn.VoiceAudit(c.Request.Context(), c.Query("object"), limit)
	h.answer(c, http.StatusOK, es, err)
}
