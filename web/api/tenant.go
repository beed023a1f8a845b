package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// tenantAPI serves users and licenses.
type tenantAPI struct {
	s  *web.Server
	tn *tenant.Service
}

// TenantAPI is the API's users, licenses, MFA and organisation settings,
// admins, admin sessions and the audit log, over the server's tenant
// service (Deps.Tenant). The core only answers sign-in (POST
// /api/v1/login, /logout); everything else about the tenant is this module.
type TenantAPI struct{}

// Mount serves the routes above under /api/v1.
func (TenantAPI) Mount(r *web.Routes) {
	tn := r.Server.Tenant
	h := &tenantAPI{s: r.Server, tn: tn}
	a := r.Admin
	a.POST("/users", h.createUser)
	a.GET("/users", h.listUsers)
	a.GET("/users/:upn", h.getUser)
	a.PATCH("/users/:upn", h.patchUser)
	a.DELETE("/users/:upn", h.deleteUser)
	a.PUT("/users/:upn/licenses/:sku", h.assign)
	a.DELETE("/users/:upn/licenses/:sku", h.unassign)
	a.GET("/licenses", h.listLicenses)
	a.PUT("/licenses/:sku", h.setLicense)
	mountMFA(a, r.Server, tn)
	mountOrganization(a, r.Server, tn)
	mountAdminSessions(r)
	mountAdmins(r)
	mountAudit(r)
}

func (h *tenantAPI) createUser(c *gin.Context) {
	var in tenant.UserInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	u, err := h.tn.CreateUser(c.Request.Context(), in)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/users/"+u.UPN)
	c.JSON(http.StatusCreated, u)
}

// listUsers answers every user, or with search, limit and offset one page
// of the users whose UPN or display name contains search; X-Total-Count
// says how many match in all, so a client can page without a new shape.
func (h *tenantAPI) listUsers(c *gin.Context) {
	q := tenant.UserQuery{Search: c.Query("search")}
	for name, dst := range map[string]*int{"limit": &q.Limit, "offset": &q.Offset} {
		if v, ok := c.GetQuery(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				h.s.Fail(c, fault.FieldInvalid(name, "%s must be a whole number, not %.20q", name, v))
				return
			}
			*dst = n
		}
	}
	us, total, err := h.tn.UserPage(c.Request.Context(), q)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("X-Total-Count", strconv.FormatInt(total, 10))
	c.JSON(http.StatusOK, us)
}

func (h *tenantAPI) getUser(c *gin.Context) {
	u, err := h.tn.User(c.Request.Context(), c.Param("upn"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (h *tenantAPI) patchUser(c *gin.Context) {
	var p tenant.UserPatch
	if err := web.BindJSON(c, &p); err != nil {
		h.s.Fail(c, err)
		return
	}
	u, err := h.tn.UpdateUser(c.Request.Context(), c.Param("upn"), p)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (h *tenantAPI) deleteUser(c *gin.Context) {
	if err := h.tn.DeleteUser(c.Request.Context(), c.Param("upn")); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *tenantAPI) assign(c *gin.Context) {
	if err := h.tn.Assign(c.Request.Context(), c.Param("upn"), c.Param("sku")); err != nil {
		h.s.Fail(c, err)
		return
	}
	h.getUser(c)
}

func (h *tenantAPI) unassign(c *gin.Context) {
	if err := h.tn.Unassign(c.Request.Context(), c.Param("upn"), c.Param("sku")); err != nil {
		h.s.Fail(c, err)
		return
	}
	h.getUser(c)
}

func (h *tenantAPI) listLicenses(c *gin.Context) {
	ls, err := h.tn.Licenses(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ls)
}

type setLicenseRequest struct {
	Purchased *int `json:"purchased"`
}

func (h *tenantAPI) setLicense(c *gin.Context) {
	var req setLicenseRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	if req.Purchased == nil {
		h.s.Fail(c, web.FaultMissing("purchased", `{"purchased": 10}`))
		return
	}
	lc, err := h.tn.SetPurchased(c.Request.Context(), c.Param("sku"), *req.Purchased)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, lc)
}
