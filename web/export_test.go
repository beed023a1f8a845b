package web

import "context"

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

// DownloadSlots are d's download slots: a test fills them to reach the cap.
func DownloadSlots(d *ImageDownloads) chan struct{} { return d.slots }
