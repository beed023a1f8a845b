package web

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
)

// ImageDownloads sends firmware images, to phones (web/phone) and to admins
// checking an import (web/api) alike: one cap on concurrent downloads
// server-wide (per process) that both share, so serve builds it once and
// hands it to both modules.
type ImageDownloads struct {
	// slots caps concurrent image downloads.
	slots      chan struct{}
	retryAfter int
	// Stall drops a download whose client has taken nothing for this long,
	// which frees its slot (default 30 s). A client that keeps reading is
	// never cut, however long the image takes.
	Stall    time.Duration
	once     sync.Once
	s        *Server
	active   prometheus.Gauge
	rejected prometheus.Counter
	stalled  prometheus.Counter
}

// NewImageDownloads builds the cap. maxDownloads caps concurrent image
// downloads (beyond it phones get 503 with Retry-After: retryAfter seconds).
func NewImageDownloads(maxDownloads, retryAfter int) *ImageDownloads {
	if maxDownloads <= 0 {
		maxDownloads = 256
	}
	if retryAfter <= 0 {
		retryAfter = 30
	}
	return &ImageDownloads{slots: make(chan struct{}, maxDownloads), retryAfter: retryAfter, Stall: DefaultDownloadStall}
}

// DefaultDownloadStall is ImageDownloads.Stall's default.
const DefaultDownloadStall = 30 * time.Second

// Active is how many image downloads are in progress.
func (d *ImageDownloads) Active() int { return len(d.slots) }

// Attach ties d to the server the modules that share it are mounted on:
// its metrics are registered once, whichever module mounts first.
func (d *ImageDownloads) Attach(s *Server) {
	d.once.Do(func() {
		d.s = s
		d.active = prometheus.NewGauge(prometheus.GaugeOpts{Name: "deskprov_firmware_downloads_active", Help: "Firmware image downloads in progress."})
		d.rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "deskprov_firmware_downloads_rejected_total", Help: "Firmware downloads turned away with 503 by the concurrency cap."})
		d.stalled = prometheus.NewCounter(prometheus.CounterOpts{Name: "deskprov_firmware_downloads_stalled_total", Help: "Firmware downloads dropped because the client read nothing for the stall timeout."})
		s.Registry.MustRegister(d.active, d.rejected, d.stalled)
	})
}

// Serve sends an image with http.ServeContent (HEAD, Range, If-None-Match,
// If-Range) from its file, by sendfile where the connection allows, within
// the cap; a download to the last byte is counted for mac ("" counts none).
func (d *ImageDownloads) Serve(c *gin.Context, svc *firmware.Service, img firmware.Image, mac string) {
	select {
	case d.slots <- struct{}{}:
		d.active.Inc()
		defer func() { <-d.slots; d.active.Dec() }()
	default:
		d.rejected.Inc()
		d.s.Fail(c, &fault.Error{Kind: fault.Unavailable, RetryAfter: d.retryAfter,
			Message: "too many firmware downloads at once; try again in " + strconv.Itoa(d.retryAfter) + " seconds"})
		return
	}
	f, err := svc.Open(c.Request.Context(), img)
	if err != nil {
		// A missing file may be on its way (being copied back, or an
		// upload retried): the phone backs off as it does at the cap.
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Kind == fault.Unavailable && fe.RetryAfter == 0 {
			fe.RetryAfter = d.retryAfter
		}
		d.s.Fail(c, err)
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
	w := &downloadWriter{ResponseWriter: c.Writer, rc: http.NewResponseController(inner), stall: d.Stall, plain: c.Request.TLS == nil}
	http.ServeContent(w, c.Request, img.FileName, img.CreatedAt, f)
	if w.stalled {
		d.stalled.Inc()
		d.s.Log.Info("dropped a firmware download: the client read nothing for the stall timeout", "image", img.ID, "file", img.FileName,
			"mac", mac, "client", c.ClientIP(), "sent", w.sent, "stall", d.Stall)
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
		if err := svc.RecordDownload(c.Request.Context(), mac, img); err != nil {
			d.s.Log.Warn("record firmware download", "mac", mac, "image", img.ID, "err", err)
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
