package phone

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/web"
)

// This file is the HTTP face of the files an admin uploads for phones
// (package phonefiles): served to phones under /prov/, managed by admins
// through /api/v1/cacerts, /api/v1/phonefiles and the console.

// adminFile answers a request for a CA certificate, or for a path below
// /prov/ (a shared file: no family's own file has a '/'), and reports
// whether it did. Neither needs credentials: CA certificates are public by
// nature, and shared files are the same for every phone of a family and
// site, never one phone's secret.
func (h *provHandler) adminFile(c *gin.Context, name string) bool {
	isCA := strings.HasPrefix(name, provisioning.CAFilePrefix)
	sub := strings.Contains(name, "/")
	if !isCA && !sub {
		return false
	}
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		c.Header("Allow", "GET, HEAD")
		c.Data(http.StatusMethodNotAllowed, "text/plain; charset=utf-8", []byte("phones only read this file\n"))
		return true
	}
	if err := provisioning.CheckPath(name); err != nil {
		h.phoneFail(c, fault.Invalidf("%q is not a provisioning file name", web.ClipText(name, 40)))
		return true
	}
	if sub {
		if !h.sharedFile(c, name) {
			plainNotFound(c)
		}
		return true
	}
	if h.shared == nil {
		plainNotFound(c)
		return true
	}
	ca, ok, err := h.shared.CACertFile(c.Request.Context(), name)
	if err != nil {
		h.phoneFail(c, err)
		return true
	}
	if !ok {
		plainNotFound(c)
		return true
	}
	hdr := c.Writer.Header()
	hdr.Set("Content-Type", "application/x-pem-file")
	hdr.Set("ETag", `"`+ca.Fingerprint[:32]+`"`)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(c.Writer, c.Request, "", ca.CreatedAt, strings.NewReader(ca.PEM))
	return true
}

// sharedFile serves the admin's shared file at p for the asking phone's
// family and site, and reports whether there was one.
func (h *provHandler) sharedFile(c *gin.Context, p string) bool {
	if h.shared == nil || (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) {
		return false
	}
	ctx := c.Request.Context()
	vendor, site, err := h.svc.SharedRequest(ctx, provisioning.Request{Name: p, UserAgent: c.Request.UserAgent(), IP: c.ClientIP()})
	if err != nil {
		h.phoneFail(c, err)
		return true
	}
	f, ok, err := h.shared.Find(ctx, vendor, site, p)
	if err != nil {
		h.phoneFail(c, err)
		return true
	}
	if !ok {
		return false
	}
	rd, err := h.shared.Open(ctx, f)
	if err != nil {
		h.phoneFail(c, err)
		return true
	}
	defer rd.Close()
	hdr := c.Writer.Header()
	hdr.Set("Content-Type", f.ContentType)
	hdr.Set("ETag", f.ETag())
	hdr.Set("Cache-Control", "no-cache")
	// Which file answers depends on the family the User-Agent names.
	hdr.Set("Vary", "User-Agent")
	hdr.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(c.Writer, c.Request, "", f.UpdatedAt, rd)
	return true
}
