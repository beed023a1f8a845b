package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// NumbersModule serves phone numbers (quota, pool, reservations, assignment),
// port orders, number requests, emergency addresses and the services that
// service numbers go to, under /api/v1. The rules live in package tenant.
type NumbersModule struct{}

type numbersAPI struct {
	s  *web.Server
	tn *tenant.Service
}

// Mount implements Module.
func (NumbersModule) Mount(r *web.Routes) {
	h := &numbersAPI{s: r.Server, tn: r.Server.Tenant}
	a := r.Admin
	a.GET("/numbers/quota", h.quota)
	a.POST("/numbers/inventory", h.loadInventory)
	a.GET("/numbers/search", h.search)
	a.POST("/numbers/reservations", h.reserve)
	a.GET("/numbers/reservations/:id", h.reservation)
	a.DELETE("/numbers/reservations/:id", h.cancelReservation)
	a.POST("/numbers/reservations/:id/acquire", h.acquire)
	a.GET("/numbers", h.list)
	a.GET("/numbers/:number", h.number)
	a.POST("/numbers/:number/assign", h.assign)
	a.POST("/numbers/:number/release", h.release)

	a.POST("/portorders", h.submitPortOrder)
	a.GET("/portorders", h.portOrders)
	a.GET("/portorders/:id", h.portOrder)
	a.POST("/portorders/:id/:action", h.movePortOrder)
	a.POST("/numberrequests", h.submitNumberRequest)
	a.GET("/numberrequests", h.numberRequests)
	a.POST("/numberrequests/:id/:action", h.moveNumberRequest)

	a.POST("/emergencyaddresses", h.createAddress)
	a.GET("/emergencyaddresses", h.addresses)
	a.GET("/emergencyaddresses/:id", h.address)
	a.DELETE("/emergencyaddresses/:id", h.deleteAddress)
	a.POST("/emergencyaddresses/:id/locations", h.addLocation)

	a.POST("/voiceservices", h.createService)
	a.GET("/voiceservices", h.services)
	a.DELETE("/voiceservices/:id", h.deleteService)
	h.mountAvailability(a)
	mountNumberMoves(a, h)
}

// answer writes v with status, or the error.
// id reads the :id of a numbers route; a bad one is answered (400) here.
func (h *numbersAPI) id(c *gin.Context) (uint, bool) {
	id, err := web.NumbersID(c)
	if err != nil {
		h.s.Fail(c, err)
		return 0, false
	}
	return id, true
}

func (h *numbersAPI) answer(c *gin.Context, status int, v any, err error) {
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	if v == nil {
		c.Status(status)
		return
	}
	c.JSON(status, v)
}

func numbersFilter(c *gin.Context) (tenant.NumberFilter, error) {
	f := tenant.NumberFilter{Type: c.Query("type"), Country: c.Query("country"), State: c.Query("state"),
		City: c.Query("city"), Status: c.Query("status")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return f, fault.FieldInvalid("limit", "limit must be a positive whole number, not %q", l)
		}
		f.Limit = n
	}
	return f, nil
}

func (h *numbersAPI) quota(c *gin.Context) {
	q, err := h.tn.NumberQuota(c.Request.Context())
	h.answer(c, http.StatusOK, q, err)
}

func (h *numbersAPI) loadInventory(c *gin.Context) {
	var in struct {
		Numbers []tenant.InventoryNumber `json:"numbers"`
	}
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	n, err := h.tn.LoadInventory(c.Request.Context(), in.Numbers)
	h.answer(c, http.StatusCreated, gin.H{"added": n}, err)
}

func (h *numbersAPI) search(c *gin.Context) {
	f, err := numbersFilter(c)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	res, err := h.tn.SearchNumbers(c.Request.Context(), f)
	h.answer(c, http.StatusOK, res, err)
}

func (h *numbersAPI) reserve(c *gin.Context) {
	var in tenant.ReserveInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	r, err := h.tn.Reserve(c.Request.Context(), in, web.AdminOf(c))
	h.answer(c, http.StatusCreated, r, err)
}

func (h *numbersAPI) reservation(c *gin.Context) {
	r, err := h.tn.Reservation(c.Request.Context(), c.Param("id"))
	h.answer(c, http.StatusOK, r, err)
}

func (h *numbersAPI) cancelReservation(c *gin.Context) {
	h.answer(c, http.StatusNoContent, nil, h.tn.CancelReservation(c.Request.Context(), c.Param("id")))
}

func (h *numbersAPI) acquire(c *gin.Context) {
	var in struct {
		Numbers []string `json:"numbers"`
	}
	if err := web.BindOptionalJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	res, err := h.tn.Acquire(c.Request.Context(), c.Param("id"), in.Numbers)
	h.answer(c, http.StatusOK, res, err)
}

func (h *numbersAPI) list(c *gin.Context) {
	f, err := numbersFilter(c)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	ns, err := h.tn.Numbers(c.Request.Context(), f)
	h.answer(c, http.StatusOK, ns, err)
}

func (h *numbersAPI) number(c *gin.Context) {
	n, err := h.tn.Number(c.Request.Context(), c.Param("number"))
	h.answer(c, http.StatusOK, n, err)
}

func (h *numbersAPI) assign(c *gin.Context) {
	var in tenant.AssignInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	n, err := h.tn.AssignNumber(c.Request.Context(), c.Param("number"), in)
	h.answer(c, http.StatusOK, n, err)
}

func (h *numbersAPI) release(c *gin.Context) {
	var in struct {
		ReturnToPool bool `json:"returnToPool"`
	}
	if err := web.BindOptionalJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	n, err := h.tn.ReleaseNumber(c.Request.Context(), c.Param("number"), in.ReturnToPool)
	h.answer(c, http.StatusOK, n, err)
}

func (h *numbersAPI) submitPortOrder(c *gin.Context) {
	var in tenant.PortOrderInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	o, err := h.tn.SubmitPortOrder(c.Request.Context(), in)
	h.answer(c, http.StatusCreated, o, err)
}

func (h *numbersAPI) portOrders(c *gin.Context) {
	orders, err := h.tn.PortOrders(c.Request.Context())
	h.answer(c, http.StatusOK, orders, err)
}

func (h *numbersAPI) portOrder(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	o, err := h.tn.PortOrder(c.Request.Context(), id)
	h.answer(c, http.StatusOK, o, err)
}

func (h *numbersAPI) movePortOrder(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	var body struct {
		FirmOrderDate *string `json:"firmOrderDate"`
		Reason        string  `json:"reason"`
	}
	if err := web.BindOptionalJSON(c, &body); err != nil {
		h.s.Fail(c, err)
		return
	}
	in := tenant.PortTransition{Reason: body.Reason}
	if body.FirmOrderDate != nil {
		d, err := tenant.ParseFirmOrderDate(*body.FirmOrderDate)
		if err != nil {
			h.s.Fail(c, err)
			return
		}
		in.FirmOrderDate = &d
	}
	o, err := h.tn.MovePortOrder(c.Request.Context(), id, c.Param("action"), in)
	h.answer(c, http.StatusOK, o, err)
}

func (h *numbersAPI) submitNumberRequest(c *gin.Context) {
	var in tenant.NumberRequestInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	r, err := h.tn.SubmitNumberRequest(c.Request.Context(), in)
	h.answer(c, http.StatusCreated, r, err)
}

func (h *numbersAPI) numberRequests(c *gin.Context) {
	rs, err := h.tn.NumberRequests(c.Request.Context())
	h.answer(c, http.StatusOK, rs, err)
}

func (h *numbersAPI) moveNumberRequest(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	var in struct {
		Reason  string   `json:"reason"`
		Numbers []string `json:"numbers"`
	}
	if err := web.BindOptionalJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	r, err := h.tn.MoveNumberRequest(c.Request.Context(), id, c.Param("action"), in.Reason, in.Numbers)
	h.answer(c, http.StatusOK, r, err)
}

func (h *numbersAPI) createAddress(c *gin.Context) {
	var in tenant.AddressInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	a, err := h.tn.CreateAddress(c.Request.Context(), in)
	h.answer(c, http.StatusCreated, a, err)
}

func (h *numbersAPI) addresses(c *gin.Context) {
	as, err := h.tn.AddressesWhere(c.Request.Context(), tenant.AddressFilter{City: c.Query("city"),
		Country: c.Query("country"), Description: c.Query("description")})
	h.answer(c, http.StatusOK, as, err)
}

func (h *numbersAPI) address(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	a, err := h.tn.Address(c.Request.Context(), id)
	h.answer(c, http.StatusOK, a, err)
}

func (h *numbersAPI) deleteAddress(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	h.answer(c, http.StatusNoContent, nil, h.tn.DeleteAddress(c.Request.Context(), id))
}

func (h *numbersAPI) addLocation(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	l, err := h.tn.AddLocation(c.Request.Context(), id, in.Name)
	h.answer(c, http.StatusCreated, l, err)
}

func (h *numbersAPI) createService(c *gin.Context) {
	var in tenant.ServiceInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	v, err := h.tn.CreateService(c.Request.Context(), in)
	h.answer(c, http.StatusCreated, v, err)
}

func (h *numbersAPI) services(c *gin.Context) {
	vs, err := h.tn.Services(c.Request.Context())
	h.answer(c, http.StatusOK, vs, err)
}

func (h *numbersAPI) deleteService(c *gin.Context) {
	id, ok := h.id(c)
	if !ok {
		return
	}
	h.answer(c, http.StatusNoContent, nil, h.tn.DeleteService(c.Request.Context(), id))
}
