package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/tenant"
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

// TestEveryAdminRouteRefusesStrangersAndLesserRoles: every /api/v1 and
// /admin route the full server serves, called by a stranger (no token, no
// session) is refused — 401 on the API, the sign-in page or a refusal on the
// console, never an answer — and every API route above reader, called with
// a reader's token, is 403. A route added later is covered as it comes.
func TestEveryAdminRouteRefusesStrangersAndLesserRoles(t *testing.T) {
	base := serveLoggedIn(t, "")
	if out, err := runCLIInput(t, "viewer-password\n", "admin", "create", "viewer", "--role", "reader", "--password-stdin"); err != nil {
		t.Fatalf("add a reader: %s %v", out, err)
	}
	reader := cliAPILoginAs(t, base, "viewer", "viewer-password")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	param := regexp.MustCompile(`:[A-Za-z]+`)
	call := func(method, path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	n := 0
	for _, route := range web.RoleTable() {
		least, _ := web.LeastRole(route)
		if least == "public" {
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		path = param.ReplaceAllString(path, "x")
		n++
		res := call(method, path, "")
		switch {
		case strings.HasPrefix(path, "/api/v1/"):
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s by a stranger: %d, want 401", route, res.StatusCode)
			}
			if least != tenant.RoleReader {
				if res := call(method, path, reader); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s (least role %s) by a reader: %d, want 403", route, least, res.StatusCode)
				}
			}
		default:
			refused := res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden ||
				(res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/admin/login"))
			if !refused {
				t.Errorf("%s by a stranger: %d (Location %q), want a refusal or the sign-in page", route, res.StatusCode, res.Header.Get("Location"))
			}
		}
	}
	if n < 150 {
		t.Fatalf("only %d routes checked", n)
	}
}
