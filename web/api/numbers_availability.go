package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// mountAvailability adds the availability table, the admin's word on
// addresses deskprov has no rules for, and the operator's confirmation of a
// ported service number's capacity. Like every route under r.Admin, only a
// signed-in admin may call them.
func (h *numbersAPI) mountAvailability(a *gin.RouterGroup) {
	a.GET("/numbers/availability", h.availability)
	a.POST("/numbers/:number/confirmcapacity", h.confirmCapacity)
	a.POST("/emergencyaddresses/:id/validate", h.markValidated)
}

// availability needs no voice license: it is what an admin reads before
// buying any (the seeds' step 1).
func (h *numbersAPI) availability(c *gin.Context) {
	t := tenant.Availability()
	if code := c.Query("country"); code != "" {
		row, ok := tenant.CountryAvailabilityOf(strings.ToUpper(strings.TrimSpace(code)))
		if !ok {
			h.s.Fail(c, fault.NotFoundf("the availability table has no row for %q: no numbers are offered there", code))
			return
		}
		t.Countries = []tenant.CountryAvailability{row}
	}
	c.JSON(http.StatusOK, t)
}

func (h *numbersAPI) confirmCapacity(c *gin.Context) {
	n, err := h.tn.ConfirmCapacity(c.Request.Context(), c.Param("number"))
	h.answer(c, http.StatusOK, n, err)
}

func (h *numbersAPI) markValidated(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	a, err := h.tn.MarkAddressValidated(c.Request.Context(), id, web.AdminOf(c))
	h.answer(c, http.StatusOK, a, err)
}
