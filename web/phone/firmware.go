package phone

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/provisioning/lpe"
	"github.com/deskprov/deskprov/web"
)

// Firmware delivers firmware images to phones: its ServeImage is the
// web.ImageHandler provisioning calls for /prov/ image names, and it mounts
// Lync Phone Edition's /RequestHandler/Files/... itself. The admin API of
// the same area is api.Firmware; both send images through one
// web.ImageDownloads (one cap on concurrent downloads).
type Firmware struct {
	svc *firmware.Service
	dl  *web.ImageDownloads
	s   *web.Server
}

// NewFirmware builds the module over svc, sending images through dl.
func NewFirmware(svc *firmware.Service, dl *web.ImageDownloads) *Firmware {
	return &Firmware{svc: svc, dl: dl}
}

// Mount adds the routes.
func (h *Firmware) Mount(r *web.Routes) {
	h.s = r.Server
	h.dl.Attach(r.Server)
	// Lync Phone Edition images, inside and outside (lpe: one place for
	// the exchange's paths), answered alike.
	for _, files := range []string{lpe.FilesPath, lpe.ExtFilesPath} {
		r.Root.GET(files+"*path", h.lpeFile)
		r.Root.HEAD(files+"*path", h.lpeFile)
	}
}

// lpeFile serves Lync Phone Edition images: /RequestHandler[Ext]/Files/<name>.cab
// or /RequestHandler[Ext]/Files/<sha256>/<name>.cab (the form deskprov hands out,
// unambiguous when two versions share a name).
func (h *Firmware) lpeFile(c *gin.Context) {
	p := strings.Trim(c.Param("path"), "/")
	dir, name := "", p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		dir, name = p[:i], p[i+1:]
	}
	if dir != "" {
		img, err := h.svc.Image(c.Request.Context(), dir)
		if err != nil || img.Vendor != firmware.LPE || !strings.EqualFold(img.FileName, name) {
			web.WriteError(c, http.StatusNotFound, "not_found", "no image "+p)
			return
		}
		// The file URL names no device: the image must be offered to one.
		if err := h.svc.OfferedImage(c.Request.Context(), img, firmware.Device{Vendor: firmware.LPE}); err != nil {
			h.notOffered(c, err)
			return
		}
		h.dl.Serve(c, h.svc, img, "")
		return
	}
	if !h.ServeImage(c, web.ImageRequest{Vendor: firmware.LPE, Name: name}) {
		web.WriteError(c, http.StatusNotFound, "not_found", "no image "+p)
	}
}

// ServeImage is the web.ImageHandler for provisioning's /prov/ image names:
// it serves an image only to a phone it is offered to (firmware.Offered).
func (h *Firmware) ServeImage(c *gin.Context, r web.ImageRequest) bool {
	img, ok, err := h.svc.Offered(c.Request.Context(), r.Vendor, r.Name,
		firmware.Device{Vendor: r.Vendor, Model: r.Model, Version: r.Version, MAC: r.MAC})
	if !ok && err == nil {
		return false
	}
	if err != nil {
		h.notOffered(c, err)
		return true
	}
	h.dl.Serve(c, h.svc, img, r.ReportAs)
	return true
}

// notOffered answers a phone an image it is not offered: a plain-text 404
// (phones read any other answer as a file) that tells an admin why.
func (h *Firmware) notOffered(c *gin.Context, err error) {
	if !fault.Is(err, fault.NotFound) {
		h.s.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte(err.Error()+"\n"))
}

var _ web.ImageHandler = (*Firmware)(nil).ServeImage
