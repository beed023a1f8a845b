package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/web"
)

// PolicyModule is the IP phone policy's HTTP face: the REST API under
// /api/v1 and the admin console under /admin.
func PolicyModule(ps *policy.Service) web.Module { return policyModule{ps: ps} }

type policyModule struct{ ps *policy.Service }

func (m policyModule) Mount(r *web.Routes) {
	h := &policyAPI{s: r.Server, ps: m.ps}
	a := r.Admin
	a.GET("/ipphonepolicies", h.list)
	a.POST("/ipphonepolicies", h.create)
	a.GET("/ipphonepolicies/:identity", h.get)
	a.PATCH("/ipphonepolicies/:identity", h.patch)
	a.DELETE("/ipphonepolicies/:identity", h.remove)
	a.POST("/ipphonepolicies/:identity/reset", h.reset)
	a.GET("/users/:upn/ipphonepolicy", h.grantOf)
	a.PUT("/users/:upn/ipphonepolicy", h.grant)
	a.GET("/users/:upn/ipphonepolicy/effective", h.effective)
}

type policyAPI struct {
	s  *web.Server
	ps *policy.Service
}

func (h *policyAPI) list(c *gin.Context) {
	l, err := h.ps.List(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, l)
}

func (h *policyAPI) get(c *gin.Context) {
	p, err := h.ps.Get(c.Request.Context(), c.Param("identity"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// bindPolicyBody reads a policy object: settings by parameter name, plus
// Identity and Version, which it returns apart.
func bindPolicyBody(c *gin.Context) (identity *string, version int64, patch policy.Patch, err error) {
	patch = policy.Patch{}
	if err := web.BindJSON(c, &patch); err != nil {
		return nil, 0, nil, err
	}
	if raw, ok := patch["Identity"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, 0, nil, fault.FieldInvalid("Identity", "Identity must be a string such as \"Sales\"")
		}
		identity = &s
		delete(patch, "Identity")
	}
	if raw, ok := patch["Version"]; ok {
		if json.Unmarshal(raw, &version) != nil || version < 0 {
			return nil, 0, nil, fault.FieldInvalid("Version", "Version must be the number from a GET of the policy")
		}
		delete(patch, "Version")
	}
	return identity, version, patch, nil
}

func (h *policyAPI) create(c *gin.Context) {
	identity, _, patch, err := bindPolicyBody(c)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	if identity == nil {
		h.s.Fail(c, web.FaultMissing("Identity", `{"Identity": "Sales"}`))
		return
	}
	p, err := h.ps.Create(c.Request.Context(), web.AdminOf(c), *identity, patch)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/ipphonepolicies/"+p.Identity)
	c.JSON(http.StatusCreated, p)
}

// patch changes the settings the body names. A Version in the body (as a GET
// returned it) makes the change conditional on nobody having edited the
// policy since; Identity, when present, must name the same policy.
func (h *policyAPI) patch(c *gin.Context) {
	identity, version, patch, err := bindPolicyBody(c)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	if identity != nil {
		want, err1 := policy.NormalizeIdentity(c.Param("identity"))
		got, err2 := policy.NormalizeIdentity(*identity)
		if err1 != nil || err2 != nil || want != got {
			h.s.Fail(c, fault.FieldInvalid("Identity", "Identity cannot be changed: create a new policy and grant it instead"))
			return
		}
	}
	p, err := h.ps.Update(c.Request.Context(), web.AdminOf(c), c.Param("identity"), patch, version)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (h *policyAPI) reset(c *gin.Context) {
	p, err := h.ps.Reset(c.Request.Context(), web.AdminOf(c), c.Param("identity"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

type policyRemoved struct {
	Removed       string `json:"removed"`
	MovedToGlobal int64  `json:"movedToGlobal"`
}

func (h *policyAPI) remove(c *gin.Context) {
	force := false
	if v := c.Query("force"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			h.s.Fail(c, fault.FieldInvalid("force", "force must be true or false, not %q", v))
			return
		}
		force = b
	}
	id, err := policy.NormalizeIdentity(c.Param("identity"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	n, err := h.ps.Delete(c.Request.Context(), web.AdminOf(c), id, force)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, policyRemoved{Removed: id, MovedToGlobal: n})
}

type grantRequest struct {
	// PolicyName is a json.RawMessage to tell null (Global) from absent.
	PolicyName json.RawMessage `json:"PolicyName"`
}

func (h *policyAPI) grant(c *gin.Context) {
	var req grantRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	if req.PolicyName == nil {
		h.s.Fail(c, web.FaultMissing("PolicyName", `{"PolicyName": "Sales"} or {"PolicyName": null} for Global`))
		return
	}
	var name *string
	if err := json.Unmarshal(req.PolicyName, &name); err != nil {
		h.s.Fail(c, fault.FieldInvalid("PolicyName", "PolicyName must be a policy name such as \"Sales\", or null for Global"))
		return
	}
	a, err := h.ps.Grant(c.Request.Context(), web.AdminOf(c), c.Param("upn"), name)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func (h *policyAPI) grantOf(c *gin.Context) {
	a, err := h.ps.GrantOf(c.Request.Context(), c.Param("upn"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func (h *policyAPI) effective(c *gin.Context) {
	e, err := h.ps.UserEffective(c.Request.Context(), c.Param("upn"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e.Masked())
}
