package webtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// Shared by the tests of several faces (once in web/tenant_test.go).

// TenantTestServer starts the server with only the core routes and returns
// its URL and an admin token.
func TenantTestServer(t *testing.T, db *gorm.DB) (string, string, *web.Server) {
	t.Helper()
	if err := tenant.Migrate(db); err != nil {
		t.Fatal(err)
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	code := TenantCall(t, ts.URL, "", "POST", "/api/v1/login", `{"username":"admin","password":"admin-password"}`, &out)
	if code != 200 || out.AccessToken == "" || out.TokenType != "Bearer" || out.ExpiresIn <= 0 {
		t.Fatalf("login: %d %+v", code, out)
	}
	return ts.URL, out.AccessToken, s
}

// TenantCall sends body and decodes the answer into out (when not nil),
// returning the status.
func TenantCall(t *testing.T, base, token, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type TenantErr struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field"`
}
