package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/web"
)

// PhoneFiles is the admin side of phonefiles: the REST API and the console
// page. Admins only: the API needs an admin token, the console an admin
// session.
func PhoneFiles(svc *phonefiles.Service) web.Module { return phoneFilesModule{svc: svc} }

type phoneFilesModule struct{ svc *phonefiles.Service }

func (m phoneFilesModule) Mount(r *web.Routes) {
	h := &phoneFilesAPI{s: r.Server, svc: m.svc}
	a := r.Admin
	a.GET("/cacerts", h.listCA)
	a.POST("/cacerts", h.addCA)
	a.DELETE("/cacerts/:id", h.removeCA)
	a.GET("/phonefiles", h.listFiles)
	a.POST("/phonefiles", h.addFile)
	// Shared files may be larger than MaxBody: this route caps its body
	// itself at the service's per-file cap (plus the form's fields).
	r.Server.OwnBodyLimit(http.MethodPost, "/api/v1/phonefiles")
	a.DELETE("/phonefiles/:id", h.removeFile)
}

type phoneFilesAPI struct {
	s   *web.Server
	svc *phonefiles.Service
}

// CACertInput is the body of POST /api/v1/cacerts.
type CACertInput struct {
	Name string `json:"name"`
	PEM  string `json:"pem"`
}

func (h *phoneFilesAPI) listCA(c *gin.Context) {
	list, err := h.svc.CACertList(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list)
}

func (h *phoneFilesAPI) addCA(c *gin.Context) {
	var in CACertInput
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	ca, err := h.svc.AddCACert(c.Request.Context(), in.Name, []byte(in.PEM), web.AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/cacerts/"+ca.Fingerprint)
	c.JSON(http.StatusCreated, ca)
}

func (h *phoneFilesAPI) removeCA(c *gin.Context) {
	if _, err := h.svc.RemoveCACert(c.Request.Context(), c.Param("id"), web.AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *phoneFilesAPI) listFiles(c *gin.Context) {
	list, err := h.svc.Files(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list)
}

// addFile takes multipart/form-data: fields path, vendor, site and a part
// named file.
func (h *phoneFilesAPI) addFile(c *gin.Context) {
	f, created, err := web.AddPhoneFile(c, h.svc)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.Header("Location", "/api/v1/phonefiles/"+strconv.FormatUint(uint64(f.ID), 10))
	c.JSON(status, f)
}

func (h *phoneFilesAPI) removeFile(c *gin.Context) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		h.s.Fail(c, fault.NotFoundf("no shared file %q", web.ClipText(c.Param("id"), 40)))
		return
	}
	if _, err := h.svc.RemoveFile(c.Request.Context(), uint(id), web.AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
