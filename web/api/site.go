package api

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/web"
)

// SitesModule is the admin face of sites: the REST API /api/v1/sites and
// the console page /admin/sites. Only admins reach it: /api/v1 needs an
// admin token, the console an admin session.
type SitesModule struct {
	Service *site.Service
	// Defaults are the server-wide settings (serve --ntp-server, …) that
	// apply where no site matches, shown on the console page.
	Defaults provisioning.Site
}

func (m SitesModule) Mount(r *web.Routes) {
	h := &sitesAPI{s: r.Server, svc: m.Service}
	a := r.Admin
	a.GET("/sites", h.list)
	a.POST("/sites", h.create)
	a.GET("/sites/:name", h.get)
	a.PATCH("/sites/:name", h.patch)
	a.DELETE("/sites/:name", h.remove)
}

type sitesAPI struct {
	s   *web.Server
	svc *site.Service
}

// SiteRemoved is the answer to a DELETE.
type SiteRemoved struct {
	Removed string `json:"removed"`
}

func (h *sitesAPI) list(c *gin.Context) {
	l, err := h.svc.List(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, l)
}

func (h *sitesAPI) get(c *gin.Context) {
	st, err := h.svc.Get(c.Request.Context(), c.Param("name"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (h *sitesAPI) create(c *gin.Context) {
	var in site.Input
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	st, err := h.svc.Create(c.Request.Context(), in)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/sites/"+url.PathEscape(st.Name))
	c.JSON(http.StatusCreated, st)
}

func (h *sitesAPI) patch(c *gin.Context) {
	var in site.Input
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	st, err := h.svc.Update(c.Request.Context(), c.Param("name"), in)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (h *sitesAPI) remove(c *gin.Context) {
	st, err := h.svc.Get(c.Request.Context(), c.Param("name"))
	if err == nil {
		err = h.svc.Delete(c.Request.Context(), st.Name)
	}
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, SiteRemoved{Removed: st.Name})
}
