package web

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phonefiles"
)

// PhoneFiles is the admin side of phonefiles: the REST API and the console
// page. Admins only: the API needs an admin token, the console an admin
// session.
func PhoneFiles(svc *phonefiles.Service) Module { return phoneFilesModule{svc: svc} }

type phoneFilesModule struct{ svc *phonefiles.Service }

// MaxPhoneFileBody caps an upload's whole multipart body: the file and a
// few short fields.
func MaxPhoneFileBody(svc *phonefiles.Service) int64 { return svc.MaxFile + 64<<10 }

func (m phoneFilesModule) Mount(r *Routes) {
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
	s   *Server
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
	if err := BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	ca, err := h.svc.AddCACert(c.Request.Context(), in.Name, []byte(in.PEM), AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/cacerts/"+ca.Fingerprint)
	c.JSON(http.StatusCreated, ca)
}

func (h *phoneFilesAPI) removeCA(c *gin.Context) {
	if _, err := h.svc.RemoveCACert(c.Request.Context(), c.Param("id"), AdminOf(c)); err != nil {
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
	f, created, err := AddPhoneFile(c, h.svc)
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

// AddPhoneFile reads a multipart upload (the API's and the console's) and
// stores it. The body is capped before anything is parsed.
func AddPhoneFile(c *gin.Context, svc *phonefiles.Service) (phonefiles.File, bool, error) {
	if c.Request.ContentLength > MaxPhoneFileBody(svc) {
		return phonefiles.File{}, false, fault.New(fault.TooLarge, "the upload is over %d bytes: a shared file may have at most %d", MaxPhoneFileBody(svc), svc.MaxFile)
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxPhoneFileBody(svc))
	fh, err := c.FormFile("file")
	if err != nil {
		return phonefiles.File{}, false, uploadFault(phoneFileFormErr(err))
	}
	in := phonefiles.FileInput{Path: c.PostForm("path"), Vendor: c.PostForm("vendor"), Site: c.PostForm("site")}
	if strings.TrimSpace(in.Path) == "" {
		in.Path = fh.Filename
	}
	rd, err := fh.Open()
	if err != nil {
		return phonefiles.File{}, false, err
	}
	defer rd.Close()
	return svc.AddFile(c.Request.Context(), in, rd, AdminOf(c))
}

// phoneFileFormErr names what is missing when the form has no file part.
func phoneFileFormErr(err error) error {
	if err == http.ErrMissingFile {
		return fault.FieldInvalid("file", "send the file as multipart/form-data with a part named file (and fields path, vendor, site)")
	}
	if err == http.ErrNotMultipart {
		return fault.New(fault.UnsupportedType, "send the file as multipart/form-data with a part named file (and fields path, vendor, site)")
	}
	return err
}

func (h *phoneFilesAPI) removeFile(c *gin.Context) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		h.s.Fail(c, fault.NotFoundf("no shared file %q", ClipText(c.Param("id"), 40)))
		return
	}
	if _, err := h.svc.RemoveFile(c.Request.Context(), uint(id), AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ReadPEMPart reads the console's certificate upload (a file part) under
// phonefiles.MaxPEM.
func ReadPEMPart(c *gin.Context) ([]byte, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, fault.FieldInvalid("file", "choose the CA certificate's file (PEM or DER)")
	}
	if fh.Size > phonefiles.MaxPEM {
		return nil, fault.New(fault.TooLarge, "the certificate is over %d bytes: upload one CA certificate, not a bundle", phonefiles.MaxPEM)
	}
	rd, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(rd)
	return b.Bytes(), err
}
