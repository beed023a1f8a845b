// Package web is the core of deskprov's HTTP face: the gin router and its
// middleware (recovery, metrics and request log, guards, body limits, client
// address), errors and their per-face words, admin authentication and the
// roles table, phone authentication, the 404 page, and the hooks faces
// share. The faces live in packages of their own over it: web/phone (what
// phones call), web/pages (the sign-in and /my pages for people),
// web/console (the admin console), web/api (the admin REST API, /api/v1).
// Handlers parse, call one service method and write the
// answer; the rules live in the domain packages, which never import gin.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/tenant"
)

// Deps are what every part of the HTTP face may need.
type Deps struct {
	DB     *gorm.DB
	Tenant *tenant.Service
	Log    *slog.Logger
	// PublicURL is the base URL phones and browsers use, without a trailing slash.
	PublicURL string
	// Now is the clock; tests move it.
	Now func() time.Time
	// AdminTokenTTL is how long an admin token from POST /login lasts.
	AdminTokenTTL time.Duration
	// Registry collects Prometheus metrics; New makes one when nil.
	Registry *prometheus.Registry
	// TrustedProxies are the addresses (or CIDRs) of reverse proxies whose
	// X-Forwarded-For is believed. Empty trusts none, so a client cannot dodge
	// per-address rate limits by sending the header itself.
	TrustedProxies []string
	// Phones checks phones' provisioning credentials (PhoneAuthenticated,
	// RequirePhone); nil authenticates no phone.
	Phones *phoneid.Service
}

// Module is one area's routes. Each area (policy, provisioning, …) has a
// module in each face's package that cmd/deskprov hands to New.
type Module interface {
	Mount(r *Routes)
}

// Modules mounts several modules as one: an area whose routes span faces
// (its API in web/api, its console page in web/console) is one module per
// face, and a caller that wants the whole area mounts them together.
type Modules []Module

// Mount mounts each module in turn.
func (ms Modules) Mount(r *Routes) {
	for _, m := range ms {
		m.Mount(r)
	}
}

// ModuleFunc is a module that is one mount function.
type ModuleFunc func(r *Routes)

// Mount calls f.
func (f ModuleFunc) Mount(r *Routes) { f(r) }

// Routes is where a module mounts its handlers.
type Routes struct {
	// Root serves phone and browser paths (/prov/, /devicelogin, …).
	Root *gin.Engine
	// Admin is /api/v1 behind an admin bearer token.
	Admin *gin.RouterGroup
	// Server gives modules the shared helpers (public URL, clock, logger, metrics).
	Server *Server
}

// Server is the HTTP face.
type Server struct {
	Deps
	engine   *gin.Engine
	auth     *adminAuth
	requests *requestLog
	// ownLimit holds the routes exempt from MaxBody (bodylimit.go).
	ownLimit map[string]bool
	// outage keeps a store outage to a log line a minute (outage.go).
	outage outageLog
	// distrusted are what other modules undo when an admin revokes or
	// re-enrols a phone (enrolment.go).
	distrusted []func(ctx context.Context, mac string) error
	// openapi is the API's OpenAPI document, made on first request
	// (openapi.go).
	openapi openAPIDoc
	// fleetHome is the fleet dashboard, the console's home page (/admin),
	// when FleetModule is mounted (fleet.go).
	fleetHome gin.HandlerFunc
}

// New builds the router with the core routes and every module's.
func New(d Deps, modules ...Module) (*Server, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.AdminTokenTTL == 0 {
		d.AdminTokenTTL = 12 * time.Hour
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{Deps: d, engine: gin.New(), ownLimit: map[string]bool{}}
	if err := s.engine.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	auth, err := newAdminAuth(s)
	if err != nil {
		return nil, err
	}
	s.auth = auth
	s.engine.HandleMethodNotAllowed = true
	s.requests = newRequestLog(s.Registry, s.Log)
	s.engine.Use(s.recoverJSON(), s.observe(), s.guardRequest())
	s.engine.NoRoute(func(c *gin.Context) {
		if browserPath(c) {
			return
		}
		WriteError(c, http.StatusNotFound, "not_found", "no such path: "+c.Request.URL.Path)
	})
	s.engine.NoMethod(func(c *gin.Context) {
		WriteError(c, http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})
	s.mountCore()
	r := &Routes{Root: s.engine, Admin: s.engine.Group("/api/v1", s.auth.require), Server: s}
	// POST /api/v1/login is answered by the auth middleware before routing;
	// this route only gives it a name in metrics and method handling.
	r.Admin.POST("/login", func(c *gin.Context) {})
	r.Admin.POST("/logout", s.auth.logout)
	for _, m := range modules {
		m.Mount(r)
	}
	r.Admin.GET("/openapi.json", s.serveOpenAPI)
	return s, nil
}

// SetFleetHome makes h the console's home page (/admin): the fleet
// dashboard, when it is mounted.
func (s *Server) SetFleetHome(h gin.HandlerFunc) { s.fleetHome = h }

// FleetHome is the console's home page, nil when no dashboard is mounted.
func (s *Server) FleetHome() gin.HandlerFunc { return s.fleetHome }

// Distrust ends what the phone's credentials proved elsewhere (its BToE
// registration): a phone revoked or re-enrolled because it was lost, stolen
// or cloned must not keep acting as that phone with what it got before.
func (s *Server) Distrust(c *gin.Context, mac string) error {
	for _, fn := range s.distrusted {
		if err := fn(c.Request.Context(), mac); err != nil {
			return fmt.Errorf("phone %s's enrolment changed, but what it proved before could not be ended: %w", mac, err)
		}
	}
	return nil
}

// OnDistrust adds fn to what Distrust ends: a module whose state a phone's
// credentials proved (its BToE registration) registers how to undo it.
func (s *Server) OnDistrust(fn func(ctx context.Context, mac string) error) {
	s.distrusted = append(s.distrusted, fn)
}

// Handler is the root http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// URL joins the public URL and a path.
func (s *Server) URL(path string) string { return s.PublicURL + path }

// ImageHandler serves a firmware image that a phone asked for by its vendor's
// file name (Polycom "3111-44500-001.sip.ld", Yealink "T46-28.83.0.120.rom",
// AudioCodes "420HD.img", LPE ".cab"). mac is the requesting phone's MAC when
// known ("" otherwise). It answers the request and returns true, or returns
// false without writing anything when name is no image it knows, so that
// provisioning can answer a plain 404. Firmware's module provides it;
// provisioning's module calls it for /prov/ names that look like images.
type ImageHandler func(c *gin.Context, r ImageRequest) bool

// ImageRequest is a request for a firmware image by its vendor's file name.
type ImageRequest struct {
	Vendor, Name string
	// Model, Version and MAC are what the request tells of the phone (its
	// User-Agent, its path), "" where it tells nothing: the image is
	// served only to a phone it is offered to.
	Model, Version, MAC string
	// ReportAs is the MAC a download to the last byte is counted for: the
	// phone's when the request proved to be its own, "" otherwise.
	ReportAs string
}
