package webtest

import (
	"context"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
)

// Shared by the tests of several faces (once in web/numbers_test.go).

// NumbersTestServer starts the server with the numbers module and returns
// its URL and an admin token.
func NumbersTestServer(t *testing.T, db *gorm.DB) (string, string) {
	t.Helper()
	if err := tenant.Migrate(db); err != nil {
		t.Fatal(err)
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.NumbersModule{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if code := TenantCall(t, ts.URL, "", "POST", "/api/v1/login", `{"username":"admin","password":"admin-password"}`, &out); code != 200 {
		t.Fatalf("login: %d", code)
	}
	return ts.URL, out.AccessToken
}
