package phone

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/lpe"
	"github.com/deskprov/deskprov/web"
)

// Provisioning is the provisioning module: phone files under /prov/, the Lync
// Phone Edition update handler, and the device inventory admin API.
type Provisioning struct {
	Service *provisioning.Service
	// Images serves firmware images by vendor file name; nil answers 404.
	Images web.ImageHandler
	// Files are the admin's CA certificates and shared files, served under
	// /prov/ (phonefiles.go); nil serves none.
	Files *phonefiles.Service
}

// Mount adds the module's routes.
func (m Provisioning) Mount(r *web.Routes) {
	h := &provHandler{s: r.Server, svc: m.Service, images: m.Images, shared: m.Files}
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut} {
		r.Root.Handle(method, "/prov/*name", h.file)
	}
	r.Server.OwnBodyLimit(http.MethodPut, "/prov/*name") // phone uploads: up to Uploads.Max
	r.Root.POST(lpe.UpdatePath, func(c *gin.Context) { h.upx(c, false) })
	r.Root.POST(lpe.ExtUpdatePath, func(c *gin.Context) { h.upx(c, true) })
}

type provHandler struct {
	s      *web.Server
	svc    *provisioning.Service
	images web.ImageHandler
	shared *phonefiles.Service
}

// phoneFail answers a phone in plain text: phones parse what they get, so no
// JSON error page.
func (h *provHandler) phoneFail(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	msg := "internal error\n"
	if fe, ok := h.s.AsFault(err); ok {
		// The person reading a phone's refusal is whoever set the
		// phone up, so actions are said as the console offers them.
		status, msg = web.StatusOf(fe.Kind), fe.In(web.ConsoleWords{})+"\n"
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
			h.s.ChallengePhone(c, phoneid.IsStale(err))
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
		req := web.ImageRequest{Vendor: ans.Device.Vendor, Name: ans.Entry.Name, Model: ans.Device.Model, Version: ans.Device.Version,
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
