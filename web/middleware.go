package web

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deskprov/deskprov/store"
)

// recoverJSON turns a panic into a logged 500 with a JSON body, so a bug
// costs one request and not the process.
func (s *Server) recoverJSON() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Log.Error("panic serving request", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					WriteError(c, http.StatusInternalServerError, "internal", "the server hit an internal error; the details are in its log")
				}
			}
		}()
		c.Next()
	}
}

// observe logs each request and counts it for /metrics, labelled by route
// pattern (not raw path, which would carry MACs and UPNs).
func (s *Server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		s.requests.done(c.Request.Context(), c.Request.Method, route, c.Writer.Status(), start, func() (string, string) {
			return c.Request.URL.Path, c.ClientIP()
		})
	}
}

// requestLog counts requests for /metrics and logs them (the gin
// middleware reports through it).
type requestLog struct {
	log      *slog.Logger
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// The labelled children are looked up once per method, route and
	// status, not hashed again on every request.
	children sync.Map // requestKey → requestChild
}

type requestKey struct {
	method, route string
	status        int
}

type requestChild struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func newRequestLog(reg prometheus.Registerer, log *slog.Logger) *requestLog {
	l := &requestLog{log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deskprov_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "deskprov_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(l.requests, l.latency)
	return l
}

// done counts a finished request and logs it (at debug, or warn for a 5xx).
// where (the path and client address) is called only when the line is
// logged: working out the client address, or making the path a string,
// costs more than the rest of a cached phone poll.
func (l *requestLog) done(ctx context.Context, method, route string, status int, start time.Time, where func() (path, client string)) {
	labelMethod := method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		labelMethod = "OTHER" // a client's made-up method must not mint a series
	}
	k := requestKey{labelMethod, route, status}
	v, ok := l.children.Load(k)
	if !ok {
		v, _ = l.children.LoadOrStore(k, requestChild{
			count:   l.requests.WithLabelValues(k.method, route, strconv.Itoa(status)),
			latency: l.latency.WithLabelValues(k.method, route),
		})
	}
	ch := v.(requestChild)
	ch.count.Inc()
	ch.latency.Observe(time.Since(start).Seconds())
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	if l.log.Enabled(ctx, level) {
		path, client := where()
		l.log.Log(ctx, level, "request", "method", method, "path", path, "status", status, "dur", time.Since(start), "client", client)
	}
}

func (s *Server) mountCore() {
	s.engine.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	s.engine.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx, s.DB); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "message": "the store does not answer: " + err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "store": string(store.EngineOf(s.DB))})
	})
	metrics := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
	s.engine.GET("/metrics", gin.WrapH(metrics))
}
