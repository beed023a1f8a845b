package web

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/provisioning/lpe"
)

// Firmware is the firmware area's HTTP part: the admin API for the catalog,
// rules, test devices, rollouts and the loop guard, and image delivery (its
// ServeImage is the web.ImageHandler provisioning calls for /prov/ image
// names; Lync Phone Edition's /RequestHandler/Files/... it mounts itself).
type Firmware struct {
	svc *firmware.Service
	// slots caps concurrent image downloads server-wide (per process).
	slots      chan struct{}
	retryAfter int
	// Stall drops a download whose client has taken nothing for this long,
	// which frees its slot (default 30 s). A client that keeps reading is
	// never cut, however long the image takes.
	Stall    time.Duration
	s        *Server
	active   prometheus.Gauge
	rejected prometheus.Counter
	stalled  prometheus.Counter
}

// NewFirmware builds the module. maxDownloads caps concurrent image
// downloads (beyond it phones get 503 with Retry-After: retryAfter seconds).
func NewFirmware(svc *firmware.Service, maxDownloads, retryAfter int) *Firmware {
	if maxDownloads <= 0 {
		maxDownloads = 256
	}
	if retryAfter <= 0 {
		retryAfter = 30
	}
	return &Firmware{svc: svc, slots: make(chan struct{}, maxDownloads), retryAfter: retryAfter, Stall: DefaultDownloadStall}
}

// DefaultDownloadStall is Firmware.Stall's default.
const DefaultDownloadStall = 30 * time.Second

// Service is the firmware service h serves.
func (h *Firmware) Service() *firmware.Service { return h.svc }

// Active is how many image downloads are in progress.
func (h *Firmware) Active() int { return len(h.slots) }

// Mount adds the routes.
func (h *Firmware) Mount(r *Routes) {
	h.s = r.Server
	h.active = prometheus.NewGauge(prometheus.GaugeOpts{Name: "deskprov_firmware_downloads_active", Help: "Firmware image downloads in progress."})
	h.rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "deskprov_firmware_downloads_rejected_total", Help: "Firmware downloads turned away with 503 by the concurrency cap."})
	h.stalled = prometheus.NewCounter(prometheus.CounterOpts{Name: "deskprov_firmware_downloads_stalled_total", Help: "Firmware downloads dropped because the client read nothing for the stall timeout."})
	r.Server.Registry.MustRegister(h.active, h.rejected, h.stalled)
	a := r.Admin
	a.POST("/firmware", h.upload)
	r.Server.OwnBodyLimit(http.MethodPost, "/api/v1/firmware") // images are streamed to disk under MaxUpload
	a.GET("/firmware", h.list)
	a.GET("/firmware/:id", h.get)
	a.GET("/firmware/:id/file", h.download)
	a.HEAD("/firmware/:id/file", h.download)
	a.DELETE("/firmware/:id", h.remove)
	a.GET("/deviceupdaterules", h.rules)
	a.GET("/deviceupdaterules/:id", h.rule)
	a.PATCH("/deviceupdaterules/:id", h.patchRule)
	a.POST("/deviceupdaterules/:id/:action", h.act)
	a.GET("/testdevices", h.testDevices)
	a.POST("/testdevices", h.addTestDevice)
	a.DELETE("/testdevices/:id", h.removeTestDevice)
	a.GET("/rollouts", h.rollouts)
	a.GET("/rollouts/:id", h.rollout)
	a.POST("/rollouts/:id/:action", h.rolloutAction)
	a.GET("/updateloops", h.loops)
	a.GET("/devices/:mac/firmware", h.history)
	a.DELETE("/updateloops/:mac", h.clearLoop)
	a.GET("/firmwareaudit", h.audit)
	// Lync Phone Edition images, inside and outside (lpe: one place for
	// the exchange's paths), answered alike.
	for _, files := range []string{lpe.FilesPath, lpe.ExtFilesPath} {
		r.Root.GET(files+"*path", h.lpeFile)
		r.Root.HEAD(files+"*path", h.lpeFile)
	}
}

func (h *Firmware) upload(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, h.svc.MaxUpload+1<<20)
	img, created, _, err := ReceiveFirmware(c, h.svc, nil)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.Header("Location", "/api/v1/firmware/"+img.ID)
	c.JSON(status, img)
}

func (h *Firmware) list(c *gin.Context) {
	imgs, err := h.svc.Images(c.Request.Context(), c.Query("vendor"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, imgs)
}

func (h *Firmware) get(c *gin.Context) {
	img, err := h.svc.Image(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, img)
}

// download serves an image to an admin, whatever it is offered to: for
// checking what was imported. It shares the download cap with phones and
// is never counted as a phone's download.
func (h *Firmware) download(c *gin.Context) {
	img, err := h.svc.Image(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(img.FileName, `"`, "")+`"`)
	h.serve(c, img, "")
}

func (h *Firmware) remove(c *gin.Context) {
	if _, err := h.svc.Remove(c.Request.Context(), c.Param("id"), AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Firmware) rules(c *gin.Context) {
	rs, err := h.svc.Rules(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rs)
}

func firmwareID(c *gin.Context, what string) (uint, error) {
	n, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || n == 0 {
		return 0, fault.NotFoundf("no %s %q", what, c.Param("id"))
	}
	return uint(n), nil
}

func (h *Firmware) rule(c *gin.Context) {
	id, err := firmwareID(c, "device update rule")
	if err == nil {
		var r firmware.RuleView
		if r, err = h.svc.RuleByID(c.Request.Context(), id); err == nil {
			c.JSON(http.StatusOK, r)
			return
		}
	}
	h.s.Fail(c, err)
}

// patchRule changes a rule's settings: today autoApprove.
func (h *Firmware) patchRule(c *gin.Context) {
	id, err := firmwareID(c, "device update rule")
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	var in struct {
		AutoApprove *bool `json:"autoApprove"`
	}
	if err := BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	if in.AutoApprove == nil {
		h.s.Fail(c, fault.FieldInvalid("autoApprove", "give autoApprove: true (approve each newer version as it is imported) or false (wait for an admin)"))
		return
	}
	r, err := h.svc.SetAutoApprove(c.Request.Context(), id, *in.AutoApprove, AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

// actInput is the optional body of approve: a rollout plan.
type actInput struct {
	Rollout *firmware.Plan `json:"rollout"`
}

func (h *Firmware) act(c *gin.Context) {
	id, err := firmwareID(c, "device update rule")
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	action := c.Param("action")
	if action != firmware.ActionApprove && action != firmware.ActionRestore && action != firmware.ActionReset {
		h.s.Fail(c, fault.NotFoundf("no action %q on a rule: use approve, restore or reset", action))
		return
	}
	var in actInput
	if c.Request.ContentLength != 0 {
		if err := BindJSON(c, &in); err != nil {
			h.s.Fail(c, err)
			return
		}
	}
	r, err := h.svc.Act(c.Request.Context(), id, action, in.Rollout, AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (h *Firmware) testDevices(c *gin.Context) {
	ts, err := h.svc.TestDevices(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ts)
}

func (h *Firmware) addTestDevice(c *gin.Context) {
	var in struct {
		IdentifierType string `json:"identifierType"`
		Identifier     string `json:"identifier"`
	}
	if err := BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	td, err := h.svc.AddTestDevice(c.Request.Context(), in.IdentifierType, in.Identifier, AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, td)
}

func (h *Firmware) removeTestDevice(c *gin.Context) {
	id, err := firmwareID(c, "test device")
	if err == nil {
		err = h.svc.RemoveTestDevice(c.Request.Context(), id, AdminOf(c))
	}
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Firmware) rollouts(c *gin.Context) {
	rs, err := h.svc.Rollouts(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rs)
}

func (h *Firmware) rollout(c *gin.Context) {
	id, err := firmwareID(c, "rollout")
	if err == nil {
		var r firmware.RolloutStatus
		if r, err = h.svc.RolloutByID(c.Request.Context(), id); err == nil {
			c.JSON(http.StatusOK, r)
			return
		}
	}
	h.s.Fail(c, err)
}

func (h *Firmware) rolloutAction(c *gin.Context) {
	id, err := firmwareID(c, "rollout")
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	switch c.Param("action") {
	case "pause", "resume", "abort":
	default:
		h.s.Fail(c, fault.NotFoundf("no action %q on a rollout: use pause, resume or abort", c.Param("action")))
		return
	}
	r, err := h.svc.SetRolloutState(c.Request.Context(), id, c.Param("action"), AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (h *Firmware) loops(c *gin.Context) {
	ls, err := h.svc.Loops(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ls)
}

// history is a phone's firmware history (the console's device page shows
// the same).
func (h *Firmware) history(c *gin.Context) {
	d, err := h.svc.History(c.Request.Context(), c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (h *Firmware) clearLoop(c *gin.Context) {
	if err := h.svc.ClearLoop(c.Request.Context(), c.Param("mac"), AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Firmware) audit(c *gin.Context) {
	limit, _ := strconv.Atoi(c.Query("limit"))
	es, err := h.svc.Audit(c.Request.Context(), limit)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, es)
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
			WriteError(c, http.StatusNotFound, "not_found", "no image "+p)
			return
		}
		// The file URL names no device: the image must be offered to one.
		if err := h.svc.OfferedImage(c.Request.Context(), img, firmware.Device{Vendor: firmware.LPE}); err != nil {
			h.notOffered(c, err)
			return
		}
		h.serve(c, img, "")
		return
	}
	if !h.ServeImage(c, ImageRequest{Vendor: firmware.LPE, Name: name}) {
		WriteError(c, http.StatusNotFound, "not_found", "no image "+p)
	}
}

// ServeImage is the web.ImageHandler for provisioning's /prov/ image names:
// it serves an image only to a phone it is offered to (firmware.Offered).
func (h *Firmware) ServeImage(c *gin.Context, r ImageRequest) bool {
	img, ok, err := h.svc.Offered(c.Request.Context(), r.Vendor, r.Name,
		firmware.Device{Vendor: r.Vendor, Model: r.Model, Version: r.Version, MAC: r.MAC})
	if !ok && err == nil {
		return false
	}
	if err != nil {
		h.notOffered(c, err)
		return true
	}
	h.serve(c, img, r.ReportAs)
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

var _ ImageHandler = (*Firmware)(nil).ServeImage

// serve sends an image with http.ServeContent (HEAD, Range, If-None-Match,
// If-Range) from its file, by sendfile where the connection allows.
func (h *Firmware) serve(c *gin.Context, img firmware.Image, mac string) {
	select {
	case h.slots <- struct{}{}:
		h.active.Inc()
		defer func() { <-h.slots; h.active.Dec() }()
	default:
		h.rejected.Inc()
		h.s.Fail(c, &fault.Error{Kind: fault.Unavailable, RetryAfter: h.retryAfter,
			Message: "too many firmware downloads at once; try again in " + strconv.Itoa(h.retryAfter) + " seconds"})
		return
	}
	f, err := h.svc.Open(c.Request.Context(), img)
	if err != nil {
		// A missing file may be on its way (being copied back, or an
		// upload retried): the phone backs off as it does at the cap.
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Kind == fault.Unavailable && fe.RetryAfter == 0 {
			fe.RetryAfter = h.retryAfter
		}
		h.s.Fail(c, err)
		return
	}
	defer f.Close()
	hd := c.Writer.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("ETag", `"`+img.ID+`"`)
	hd.Set("X-Checksum-SHA256", img.ID)
	hd.Set("Cache-Control", "no-cache")
	// Deadlines and the hijack go to net/http's writer itself: gin's
	// refuses to hijack once a body has gone through it.
	var inner http.ResponseWriter = c.Writer
	if u, ok := c.Writer.(interface{ Unwrap() http.ResponseWriter }); ok {
		inner = u.Unwrap()
	}
	w := &downloadWriter{ResponseWriter: c.Writer, rc: http.NewResponseController(inner), stall: h.Stall, plain: c.Request.TLS == nil}
	http.ServeContent(w, c.Request, img.FileName, img.CreatedAt, f)
	if w.stalled {
		h.stalled.Inc()
		h.s.Log.Info("dropped a firmware download: the client read nothing for the stall timeout", "image", img.ID, "file", img.FileName,
			"mac", mac, "client", c.ClientIP(), "sent", w.sent, "stall", h.Stall)
		// Reset the connection: closed politely, the kernel would keep
		// what is queued for a client that does not read, and keep
		// probing it.
		if conn, _, err := w.rc.Hijack(); err == nil {
			if l, ok := conn.(interface{ SetLinger(int) error }); ok {
				l.SetLinger(0)
			}
			conn.Close()
		}
		return
	}
	// The connection may serve more requests: no deadline of this one stays.
	w.rc.SetWriteDeadline(time.Time{})
	if c.Request.Method == http.MethodGet && reachesEnd(c.Writer.Status(), c.Request.Header.Get("Range"), img.Size) {
		if err := h.svc.RecordDownload(c.Request.Context(), mac, img); err != nil {
			h.s.Log.Warn("record firmware download", "mac", mac, "image", img.ID, "err", err)
		}
	}
}

// reachesEnd tells whether an answer carried the image's last byte: a full
// 200, or a single range running to the end (AudioCodes reads the header
// with a short range first; that is not a download).
func reachesEnd(status int, rng string, size int64) bool {
	if status == http.StatusOK {
		return true
	}
	if status != http.StatusPartialContent || strings.Contains(rng, ",") {
		return false
	}
	_, spec, ok := strings.Cut(rng, "=")
	if !ok {
		return false
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return false
	}
	if a == "" || b == "" {
		return true // suffix range or open end: runs to the last byte
	}
	end, err := strconv.ParseInt(b, 10, 64)
	return err == nil && end >= size-1
}

// downloadWriter sends an image through gin's writer. It reaches the
// connection's ReadFrom (sendfile), which gin's writer does not expose, and
// gives every chunk it hands the connection stall to go out: a client that
// reads nothing fills the socket buffers, the write stops, and the deadline
// ends the download. The deadline moves with each chunk (and, over plain
// HTTP, with any progress within one), so a client that keeps reading is
// never cut however big the image; a total WriteTimeout would cut a slow
// phone fetching a large one.
type downloadWriter struct {
	gin.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
	// plain is set for a request over plain HTTP (no TLS).
	plain   bool
	sent    int64
	stalled bool
}

// Chunks start small, so a client that stops at once is noticed after one
// stall, and grow (at most doubling) to what the client took in a quarter of
// stall, up to maxStallChunk: a fast reader costs few deadline changes and
// sendfile calls, and one that slows fourfold still finishes a chunk in time.
const (
	minStallChunk = 64 << 10
	maxStallChunk = 4 << 20
)

func (w *downloadWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		end := min(len(p), done+minStallChunk)
		w.rc.SetWriteDeadline(time.Now().Add(w.stall))
		n, err := w.ResponseWriter.Write(p[done:end])
		done += n
		w.sent += int64(n)
		if err != nil {
			w.noteStall(err)
			return done, err
		}
	}
	return done, nil
}

func (w *downloadWriter) ReadFrom(r io.Reader) (int64, error) {
	w.ResponseWriter.WriteHeaderNow()
	var rf io.ReaderFrom
	if u, ok := w.ResponseWriter.(interface{ Unwrap() http.ResponseWriter }); ok {
		rf, _ = u.Unwrap().(io.ReaderFrom)
	}
	// sendfile sees through one *io.LimitedReader around the file: the
	// chunks are cut from the limit ServeContent set, not wrapped around it.
	src, remain := r, int64(-1)
	lr, limited := r.(*io.LimitedReader)
	if limited {
		src, remain = lr.R, lr.N
	}
	// Over plain HTTP a file goes out by sendfile, which can go on after a
	// deadline; anything else (TLS, a multipart range's pipe) loses what it
	// read but did not write, so a timeout ends it.
	_, isFile := src.(*os.File)
	resumable := rf != nil && w.plain && isFile
	var total int64
	chunk := int64(minStallChunk)
	for remain != 0 {
		n := chunk
		if remain > 0 {
			n = min(n, remain)
		}
		part := &io.LimitedReader{R: src, N: n}
		w.rc.SetWriteDeadline(time.Now().Add(w.stall))
		start := time.Now()
		var m int64
		var err error
		if rf != nil {
			m, err = rf.ReadFrom(part)
		} else {
			m, err = io.Copy(writerOnly{w.ResponseWriter}, part)
		}
		total += m
		w.sent += m
		if remain > 0 {
			remain -= m
		}
		if limited {
			lr.N -= m
		}
		if err != nil {
			if m > 0 && resumable && errors.Is(err, os.ErrDeadlineExceeded) {
				// The client took part of the chunk within stall: it is
				// reading, only slowly. sendfile sent exactly m bytes
				// and moved the file on by as many, so the rest goes on
				// under a fresh deadline, in smaller chunks.
				chunk = max(chunk/2, minStallChunk)
				continue
			}
			w.noteStall(err)
			return total, err
		}
		if m < n {
			break // the source ran out
		}
		// At most double: a chunk that went into empty socket buffers says
		// nothing of how fast the client reads.
		next := 2 * m
		if el := time.Since(start); el > 0 {
			next = min(next, int64(float64(m)*float64(w.stall/4)/float64(el)))
		}
		chunk = min(max(next, minStallChunk), maxStallChunk)
	}
	return total, nil
}

func (w *downloadWriter) noteStall(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.stalled = true
	}
}

// writerOnly hides ReadFrom so io.Copy does not loop back into it.
type writerOnly struct{ io.Writer }
