package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/deskprov/deskprov/web"
)

// fullServer builds the server with every module mounted as serve mounts
// them.
func fullServer(t *testing.T) (*app, *web.Server) {
	t.Helper()
	o := serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "warn", LogFormat: "text", PublicURL: "http://prov.test"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := buildApp(context.Background(), o, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	srv, err := web.New(web.Deps{DB: a.db, Tenant: a.tenant, Log: log, PublicURL: o.PublicURL, Phones: a.phones}, a.modules...)
	if err != nil {
		t.Fatal(err)
	}
	return a, srv
}

// TestAPIDocMatchesTheRoutes: issue 18 item 2. docs/api.md lists every
// route the full server serves, names none it does not, and gives each
// admin route the role web/roles.go gives it, so the reference cannot
// drift from the router.
func TestAPIDocMatchesTheRoutes(t *testing.T) {
	_, srv := fullServer(t)
	rows, err := web.APIDoc()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]web.DocRoute{}
	for _, r := range rows {
		key := r.Method + " " + r.Path
		if prev, dup := documented[key]; dup {
			t.Errorf("docs/api.md lines %d and %d both list %s", prev.Line, r.Line, key)
		}
		documented[key] = r
	}
	served := map[string]bool{}
	for _, r := range srv.Routes() {
		key := r.Method + " " + r.Path
		served[key] = true
		row, ok := documented[key]
		if !ok {
			t.Errorf("%s is missing from docs/api.md: add a row for it", key)
			continue
		}
		if row.Summary == "" {
			t.Errorf("docs/api.md line %d: %s says nothing of what it does", row.Line, key)
		}
		if least, ok := web.LeastRole(key); ok {
			want := string(least)
			if want == "public" {
				want = "anyone"
			}
			if row.Who != want {
				t.Errorf("docs/api.md line %d: %s is for %q, web/roles.go says %q", row.Line, key, row.Who, want)
			}
		}
	}
	if len(served) < 200 {
		t.Fatalf("only %d routes: the server was not built with every module", len(served))
	}
	var ghosts []string
	for key, row := range documented {
		if !served[key] {
			ghosts = append(ghosts, key+" (line "+itoa(row.Line)+")")
		}
	}
	sort.Strings(ghosts)
	for _, g := range ghosts {
		t.Errorf("docs/api.md names %s, which the server does not serve", g)
	}
}

// TestOpenAPIDocument: issue 18 item 2. GET /api/v1/openapi.json is a valid
// OpenAPI 3 document (read back by kin-openapi, a real parser) with one
// operation per /api/v1 route, the route's least role and docs/api.md's
// summary. Every signed-in admin role may read it; no token, or a console
// cookie's token, is refused.
func TestOpenAPIDocument(t *testing.T) {
	a, srv := fullServer(t)
	ctx := context.Background()
	if _, err := a.tenant.EnsureBootstrapAdmin(ctx, "root-password-1"); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	call := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	login := func(user, pw string) string {
		t.Helper()
		code, b := call("POST", "/api/v1/login", "", `{"username":"`+user+`","password":"`+pw+`"}`)
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(b, &out); code != 200 || out.AccessToken == "" {
			t.Fatalf("login %s: %d %s", user, code, b)
		}
		return out.AccessToken
	}
	root := login("admin", "root-password-1")
	for _, body := range []string{`{"username":"desk","password":"desk-password-1","role":"helpdesk"}`, `{"username":"viewer","password":"viewer-password-1","role":"reader"}`} {
		if code, b := call("POST", "/api/v1/admins", root, body); code != 201 {
			t.Fatalf("create admin: %d %s", code, b)
		}
	}
	var spec []byte
	for role, token := range map[string]string{"admin": root, "helpdesk": login("desk", "desk-password-1"), "reader": login("viewer", "viewer-password-1")} {
		code, b := call("GET", "/api/v1/openapi.json", token, "")
		if code != 200 {
			t.Fatalf("as %s: %d %s", role, code, b)
		}
		spec = b
	}
	for name, token := range map[string]string{"no token": "", "a forged token": "not-a-token"} {
		if code, b := call("GET", "/api/v1/openapi.json", token, ""); code != 401 || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s: %d %s, want 401", name, code, b)
		}
	}

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		t.Fatalf("kin-openapi cannot read the document: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("not a valid OpenAPI 3 document: %v", err)
	}
	inDoc := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			inDoc[method+" "+path] = op
		}
	}
	rows, err := web.APIDoc()
	if err != nil {
		t.Fatal(err)
	}
	summary := map[string]string{}
	for _, r := range rows {
		summary[r.Method+" "+r.Path] = r.Summary
	}
	n := 0
	for _, r := range srv.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		n++
		key := r.Method + " " + r.Path
		path := r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		op, ok := inDoc[r.Method+" "+path]
		if !ok {
			t.Errorf("%s is not in the OpenAPI document", key)
			continue
		}
		delete(inDoc, r.Method+" "+path)
		least, _ := web.LeastRole(key)
		if string(least) == "public" {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s: needs no sign-in, the document says %+v", key, op.Security)
			}
		} else if !strings.Contains(op.Description, "Least role: "+string(least)+".") || op.Security == nil || len(*op.Security) != 1 {
			t.Errorf("%s: description %q security %+v, want least role %s and the bearer token", key, op.Description, op.Security, least)
		}
		if op.Summary != summary[key] || op.Summary == "" {
			t.Errorf("%s: summary %q, docs/api.md says %q", key, op.Summary, summary[key])
		}
	}
	if n < 100 {
		t.Fatalf("only %d /api/v1 routes", n)
	}
	for extra := range inDoc {
		t.Errorf("the OpenAPI document has %s, which the server does not serve", extra)
	}
}
