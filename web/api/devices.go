package api

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/web"
)

// Devices is the device inventory's admin API: the phones seen, their
// rendered files (a preview) and their uploads.
type Devices struct {
	Service *provisioning.Service
}

// Mount adds the module's routes.
func (m Devices) Mount(r *web.Routes) {
	h := &devicesAPI{s: r.Server, svc: m.Service}
	a := r.Admin
	a.GET("/devices", h.list)
	a.GET("/devices/:mac", h.show)
	a.GET("/devices/:mac/files", h.files)
	a.GET("/devices/:mac/files/:name", h.preview)
	a.GET("/devices/:mac/uploads", h.uploads)
	a.GET("/devices/:mac/uploads/:name", h.download)
}

type devicesAPI struct {
	s   *web.Server
	svc *provisioning.Service
}

func (h *devicesAPI) list(c *gin.Context) {
	f := provisioning.DeviceFilter{Vendor: c.Query("vendor"), Model: c.Query("model"), Firmware: c.Query("firmware"), Search: c.Query("q"), Enrolment: c.Query("enrolment")}
	if s := c.Query("seenSince"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			h.s.Fail(c, fault.FieldInvalid("seenSince", "seenSince %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", s))
			return
		}
		f.SeenSince = t
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > provisioning.MaxDevicePage {
			h.s.Fail(c, fault.FieldInvalid("limit", "limit must be a whole number from 1 to %d, not %q", provisioning.MaxDevicePage, web.ClipText(v, 40)))
			return
		}
		f.Limit = n
	}
	if v := c.Query("after"); v != "" {
		at, mac, _ := strings.Cut(v, ",")
		t, err := time.Parse(time.RFC3339Nano, at)
		m, merr := provisioning.ParseMAC(mac)
		if err != nil || merr != nil {
			h.s.Fail(c, fault.FieldInvalid("after", "after %q is not a page mark: pass on the after= of the Link header's next page", web.ClipText(v, 80)))
			return
		}
		f.After = provisioning.DeviceRecord{LastSeen: t, MAC: m}
	}
	ds, err := h.svc.Devices(c.Request.Context(), f)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	// A full page may have more after it: the next one continues in the
	// store after its last record (RFC 8288 Link).
	if limit := cmp.Or(f.Limit, provisioning.MaxDevicePage); len(ds) == limit {
		last := ds[len(ds)-1]
		q := c.Request.URL.Query()
		q.Set("after", last.LastSeen.UTC().Format(time.RFC3339Nano)+","+last.MAC)
		c.Header("Link", "<"+c.Request.URL.Path+"?"+q.Encode()+">; rel=\"next\"")
	}
	c.JSON(http.StatusOK, ds)
}

func (h *devicesAPI) show(c *gin.Context) {
	d, err := h.svc.Device(c.Request.Context(), c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// previewDevice is the device an admin previews: the inventory's facts,
// overridden (or, for a phone never seen, given) by the query's vendor,
// model and firmware.
func (h *devicesAPI) previewDevice(c *gin.Context) (provisioning.Device, error) {
	mac, err := provisioning.ParseMAC(c.Param("mac"))
	if err != nil {
		return provisioning.Device{}, err
	}
	dev := provisioning.Device{MAC: mac}
	rec, err := h.svc.Device(c.Request.Context(), mac)
	switch {
	case err == nil:
		dev = rec.DeviceOf()
	case fault.KindOf(err) != fault.NotFound:
		return dev, err
	}
	if v := c.Query("vendor"); v != "" {
		dev.Vendor = strings.ToLower(v)
	}
	if v := c.Query("model"); v != "" {
		dev.Model = v
	}
	if v := c.Query("firmware"); v != "" {
		dev.Version = v
	}
	if dev.Vendor == "" {
		return dev, fault.Hintf(fault.Invalid, "deskprov has not seen %s: say which phone it is with {field} (polycom, yealink or audiocodes), {field:model} and {field:firmware}", mac).On("vendor")
	}
	return dev, nil
}

// DeviceFileView is a previewed file.
type DeviceFileView struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	ETag        string `json:"etag"`
	Body        string `json:"body"`
}

func (h *devicesAPI) files(c *gin.Context) {
	dev, err := h.previewDevice(c)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	fam := h.svc.Family(dev.Vendor)
	if fam == nil {
		h.s.Fail(c, fault.FieldInvalid("vendor", "deskprov renders no files for vendor %q", dev.Vendor))
		return
	}
	c.JSON(http.StatusOK, gin.H{"device": dev, "files": fam.Files(dev)})
}

func (h *devicesAPI) preview(c *gin.Context) {
	dev, err := h.previewDevice(c)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	f, err := h.svc.PreviewAt(c.Request.Context(), dev, c.Param("name"), c.Query("site"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, DeviceFileView{Name: f.Name, ContentType: f.ContentType, ETag: f.ETag, Body: string(f.Body)})
}

func (h *devicesAPI) uploads(c *gin.Context) {
	mac, err := provisioning.ParseMAC(c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	if h.svc.Uploads == nil {
		c.JSON(http.StatusOK, []provisioning.UploadInfo{})
		return
	}
	list, err := h.svc.Uploads.List(c.Request.Context(), mac)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list)
}

func (h *devicesAPI) download(c *gin.Context) {
	mac, err := provisioning.ParseMAC(c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	if h.svc.Uploads == nil {
		h.s.Fail(c, fault.NotFoundf("this server keeps no uploads"))
		return
	}
	f, info, err := h.svc.Uploads.Open(c.Request.Context(), mac, c.Param("name"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	defer f.Close()
	c.Header("Content-Type", "application/octet-stream")
	c.Header("Content-Disposition", `attachment; filename="`+info.Name+`"`)
	http.ServeContent(c.Writer, c.Request, info.Name, info.ModifiedAt, f)
}
