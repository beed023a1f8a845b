package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/web"
)

// Enrolment is the admin face of phone enrolment (phoneid): the REST API
// under /api/v1 and the console page /admin/enrolments, from which an admin
// approves, revokes and re-enrols phones and decides whether new phones wait
// for approval. Only admins reach it: /api/v1 needs an admin token, the
// console an admin session.
func Enrolment(svc *phoneid.Service) web.Module { return enrolmentModule{svc: svc} }

type enrolmentModule struct{ svc *phoneid.Service }

func (m enrolmentModule) Mount(r *web.Routes) {
	h := &enrolmentAPI{s: r.Server, svc: m.svc}
	a := r.Admin
	a.GET("/enrolments", h.list)
	a.GET("/enrolments/:mac", h.get)
	a.GET("/enrolments/:mac/audit", h.audit)
	a.POST("/enrolments/:mac/:action", h.act)
	a.GET("/enrolmentsettings", h.settings)
	a.PUT("/enrolmentsettings", h.putSettings)
}

type enrolmentAPI struct {
	s   *web.Server
	svc *phoneid.Service
}

// EnrolmentSettings is the server-wide enrolment settings object of
// /api/v1/enrolmentsettings.
type EnrolmentSettings struct {
	// RequireApproval makes new phones wait for an admin's approval before
	// they are issued provisioning credentials.
	RequireApproval bool `json:"requireApproval"`
}

// enrolmentSettingsPut is the PUT body: the field is required, so an empty
// object cannot turn approval off by omission.
type enrolmentSettingsPut struct {
	RequireApproval *bool `json:"requireApproval"`
}

func (h *enrolmentAPI) list(c *gin.Context) {
	l, err := h.svc.List(c.Request.Context(), phoneid.State(c.Query("state")))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, l)
}

func (h *enrolmentAPI) get(c *gin.Context) {
	p, err := h.svc.Get(c.Request.Context(), c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (h *enrolmentAPI) act(c *gin.Context) {
	out, err := web.EnrolmentAct(c, h.s, h.svc, c.Param("mac"), c.Param("action"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (h *enrolmentAPI) audit(c *gin.Context) {
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			h.s.Fail(c, fault.FieldInvalid("limit", "limit must be a whole number from 1 to 1000, not %q", web.ClipText(v, 40)))
			return
		}
		limit = n
	}
	mac, err := phoneid.CanonicalMAC(c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	es, err := h.svc.Audit(c.Request.Context(), mac, limit)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, es)
}

func (h *enrolmentAPI) settings(c *gin.Context) {
	on, err := h.svc.RequireApproval(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, EnrolmentSettings{RequireApproval: on})
}

func (h *enrolmentAPI) putSettings(c *gin.Context) {
	var req enrolmentSettingsPut
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	if req.RequireApproval == nil {
		h.s.Fail(c, web.FaultMissing("requireApproval", `{"requireApproval": true}`))
		return
	}
	if err := h.svc.SetRequireApproval(c.Request.Context(), *req.RequireApproval, web.AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, EnrolmentSettings{RequireApproval: *req.RequireApproval})
}
