package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/web"
)

// TestEveryAdminRouteHasARole: issue 15 item 8. The full server, every
// module mounted as serve mounts them: each /api/v1 and /admin route has
// an entry in the role table (web/roles.go), so a route added later
// without one fails here instead of being refused to everyone, and every
// entry names a route that exists.
func TestEveryAdminRouteHasARole(t *testing.T) {
	o := serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "warn", LogFormat: "text", PublicURL: "http://prov.test"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := buildApp(context.Background(), o, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	srv, err := web.New(web.Deps{DB: a.db, Tenant: a.tenant, Log: log, PublicURL: o.PublicURL, Phones: a.phones}, a.modules...)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	n := 0
	for _, r := range srv.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") && r.Path != "/admin" && !strings.HasPrefix(r.Path, "/admin/") {
			continue
		}
		n++
		route := r.Method + " " + r.Path
		seen[route] = true
		if _, ok := web.LeastRole(route); !ok {
			t.Errorf("%s has no role in web/roles.go: add the least role that may call it", route)
		}
	}
	if n < 100 {
		t.Fatalf("only %d admin routes: the server was not built with every module", n)
	}
	for _, route := range web.RoleTable() {
		if !seen[route] {
			t.Errorf("web/roles.go names %s, which no module serves", route)
		}
	}
}
