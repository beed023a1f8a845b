package web

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/lpe"
)

// Provisioning is the provisioning module: phone files under /prov/, the Lync
// Phone Edition update handler, and the device inventory admin API.
type Provisioning struct {
	Service *provisioning.Service
	// Images serves firmware images by vendor file name; nil answers 404.
	Images ImageHandler
	// Files are the admin's CA certificates and shared files, served under
	// /prov/ (phonefiles.go); nil serves none.
	Files *phonefiles.Service
}

// Mount adds the module's routes.
func (m Provisioning) Mount(r *Routes) {
	h := &provHandler{s: r.Server, svc: m.Service, images: m.Images, shared: m.Files}
	r.Server.prov = h
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut} {
		r.Root.Handle(method, "/prov/*name", h.file)
	}
	r.Server.OwnBodyLimit(http.MethodPut, "/prov/*name") // phone uploads: up to Uploads.Max
	r.Root.POST(lpe.UpdatePath, func(c *gin.Context) { h.upx(c, false) })
	r.Root.POST(lpe.ExtUpdatePath, func(c *gin.Context) { h.upx(c, true) })
	a := r.Admin
	a.GET("/devices", h.list)
	a.GET("/devices/:mac", h.show)
	a.GET("/devices/:mac/files", h.files)
	a.GET("/devices/:mac/files/:name", h.preview)
	a.GET("/devices/:mac/uploads", h.uploads)
	a.GET("/devices/:mac/uploads/:name", h.download)
}

type provHandler struct {
	s      *Server
	svc    *provisioning.Service
	images ImageHandler
	shared *phonefiles.Service
}

// phoneFail answers a phone in plain text: phones parse what they get, so no
// JSON error page.
func (h *provHandler) phoneFail(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	msg := "internal error\n"
	if fe, ok := h.s.asFault(err); ok {
		// The person reading a phone's refusal is whoever set the
		// phone up, so actions are said as the console offers them.
		status, msg = StatusOf(fe.Kind), fe.In(consoleWords{})+"\n"
		if fe.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(fe.RetryAfter))
		}
	} else {
		h.s.Log.Error("provisioning failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/plain; charset=utf-8", []byte(msg))
	c.Abort()
}

var noCacheHeader = []string{"no-cache"}

// varyUserAgent marks files whose body depends on the User-Agent (issue 14
// item 12), on 200 and 304 alike.
var varyUserAgent = []string{"User-Agent"}

func plainNotFound(c *gin.Context) {
	c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("not found\n"))
}

func (h *provHandler) file(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("name"), "/")
	if h.adminFile(c, name) {
		return
	}
	ctx := c.Request.Context()
	ans, err := h.svc.Fetch(ctx, provisioning.Request{Method: c.Request.Method, Name: name, UserAgent: c.Request.UserAgent(), IP: c.ClientIP(),
		URI: c.Request.RequestURI, Authorization: c.Request.Header.Get("Authorization")})
	if err != nil {
		switch fault.KindOf(err) {
		case fault.NotFound:
			if !h.sharedFile(c, name) {
				plainNotFound(c)
			}
			return
		case fault.Unauthorized:
			// A phone that holds credentials must present them: offer
			// Digest (plain HTTP) and Basic (HTTPS).
			h.s.challengePhone(c, phoneid.IsStale(err))
		}
		h.phoneFail(c, err)
		return
	}
	put := c.Request.Method == http.MethodPut
	switch ans.Entry.Kind {
	case provisioning.Optional:
		if !h.sharedFile(c, name) {
			plainNotFound(c)
		}
	case provisioning.Image:
		if put {
			h.phoneFail(c, fault.New(fault.Forbidden, "firmware images are uploaded through the admin API"))
			return
		}
		// The image is served only to a phone it is offered to (the MAC a
		// request names, proven or not, can only narrow what it gets), and
		// what its download reports counts only for the phone that proved
		// itself (or one whose family takes no credentials).
		reportAs := ""
		if ans.Counts {
			reportAs = ans.Device.MAC
		}
		req := ImageRequest{Vendor: ans.Device.Vendor, Name: ans.Entry.Name, Model: ans.Device.Model, Version: ans.Device.Version,
			MAC: ans.Device.MAC, ReportAs: reportAs}
		if h.images == nil || !h.images(c, req) {
			plainNotFound(c)
		}
	case provisioning.Upload:
		h.upload(c, ans)
	case provisioning.Rendered:
		if put {
			c.Header("Allow", "GET, HEAD")
			c.Data(http.StatusMethodNotAllowed, "text/plain; charset=utf-8", []byte("deskprov renders this file; it cannot be uploaded\n"))
			return
		}
		// The hot path of every poll: header values are shared, prebuilt
		// slices (net/http copies them when it writes the header).
		f := ans.File
		hdr := c.Writer.Header()
		hdr["Etag"] = f.ETagHeader
		hdr["Cache-Control"] = noCacheHeader
		if ans.Entry.VaryUserAgent {
			hdr["Vary"] = varyUserAgent
		}
		if etagMatch(c.Request.Header.Get("If-None-Match"), f.ETag) {
			c.Status(http.StatusNotModified)
			return
		}
		hdr["Content-Type"] = f.ContentTypeHeader
		if c.Request.Method == http.MethodHead {
			c.Header("Content-Length", strconv.Itoa(len(f.Body)))
			c.Status(http.StatusOK)
			return
		}
		c.Status(http.StatusOK)
		c.Writer.Write(f.Body)
	}
}

func (h *provHandler) upload(c *gin.Context, ans provisioning.Answer) {
	up := h.svc.Uploads
	if up == nil {
		h.phoneFail(c, fault.New(fault.Unavailable, "this server keeps no uploads"))
		return
	}
	mac, name := ans.Device.MAC, ans.Entry.Name
	if c.Request.Method != http.MethodPut {
		f, info, err := up.Open(c.Request.Context(), mac, name)
		if err != nil {
			if fault.KindOf(err) == fault.NotFound {
				plainNotFound(c)
				return
			}
			h.phoneFail(c, err)
			return
		}
		defer f.Close()
		c.Header("Content-Type", ans.Entry.ContentType)
		http.ServeContent(c.Writer, c.Request, name, info.ModifiedAt, f)
		return
	}
	if c.Request.ContentLength > up.Max {
		h.phoneFail(c, fault.New(fault.TooLarge, "%s is over the %d-byte upload limit", name, up.Max))
		return
	}
	// Put stops reading at up.Max+1; the cap also makes net/http close the
	// connection rather than drain what the phone sends beyond it.
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, up.Max+1)
	existed := false
	if f, _, err := up.Open(c.Request.Context(), mac, name); err == nil {
		f.Close()
		existed = true
	}
	if _, err := up.Put(c.Request.Context(), mac, name, c.Request.Body); err != nil {
		h.phoneFail(c, err)
		return
	}
	if existed {
		c.Status(http.StatusNoContent)
		return
	}
	c.Status(http.StatusCreated)
}

func (h *provHandler) upx(c *gin.Context, external bool) {
	dev, err := lpe.Parse(c.Request.Body)
	if err != nil {
		h.phoneFail(c, err)
		return
	}
	d, err := h.svc.UpdateCheck(c.Request.Context(), dev, c.ClientIP(), external)
	if err != nil {
		h.phoneFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/xml; charset=utf-8", lpe.RenderAt(d, h.s.PublicURL, external))
}

// etagMatch implements If-None-Match for strong and weak tags and "*".
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for header != "" {
		var t string
		t, header, _ = strings.Cut(header, ",")
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func (h *provHandler) list(c *gin.Context) {
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
			h.s.Fail(c, fault.FieldInvalid("limit", "limit must be a whole number from 1 to %d, not %q", provisioning.MaxDevicePage, clipText(v, 40)))
			return
		}
		f.Limit = n
	}
	if v := c.Query("after"); v != "" {
		at, mac, _ := strings.Cut(v, ",")
		t, err := time.Parse(time.RFC3339Nano, at)
		m, merr := provisioning.ParseMAC(mac)
		if err != nil || merr != nil {
			h.s.Fail(c, fault.FieldInvalid("after", "after %q is not a page mark: pass on the after= of the Link header's next page", clipText(v, 80)))
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

func (h *provHandler) show(c *gin.Context) {
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
func (h *provHandler) previewDevice(c *gin.Context) (provisioning.Device, error) {
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

// provFileView is a previewed file.
type provFileView struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	ETag        string `json:"etag"`
	Body        string `json:"body"`
}

func (h *provHandler) files(c *gin.Context) {
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

func (h *provHandler) preview(c *gin.Context) {
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
	c.JSON(http.StatusOK, provFileView{Name: f.Name, ContentType: f.ContentType, ETag: f.ETag, Body: string(f.Body)})
}

func (h *provHandler) uploads(c *gin.Context) {
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

func (h *provHandler) download(c *gin.Context) {
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
