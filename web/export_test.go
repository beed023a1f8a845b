package web

import (
	"context"

	"github.com/deskprov/deskprov/firmware"
)

// This file lends the tests of package web_test (which drive the faces
// together through HTTP) the few internals they check directly.

const AdminAudience = adminAudience

var (
	InvalidUTF8Field = invalidUTF8Field
	ReachesEnd       = reachesEnd
)

// AdminIssuer issues admin tokens.
type AdminIssuer interface {
	Issue(ctx context.Context, username, kind, addr string) (string, error)
}

// AdminAuthOf is s's admin token issuer.
func AdminAuthOf(s *Server) AdminIssuer { return s.auth }

// AdminAuthFor is an issuer with s's signing key over other deps (another
// clock, another token lifetime).
func AdminAuthFor(s *Server, d Deps) AdminIssuer {
	return &adminAuth{s: &Server{Deps: d}, key: s.auth.key}
}

// AdminSigningKey is the key s signs admin tokens with.
func AdminSigningKey(s *Server) []byte { return s.auth.key }

// FirmwareServer is the server h is mounted on.
func FirmwareServer(h *Firmware) *Server { return h.s }

// FirmwareSlots are h's download slots.
func FirmwareSlots(h *Firmware) chan struct{} { return h.slots }

// FirmwareService is h's firmware service.
func FirmwareService(h *Firmware) *firmware.Service { return h.svc }
