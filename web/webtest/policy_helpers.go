package webtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
)

// Shared by the tests of several faces (once in web/policy_test.go).

// PolicyTestServer starts a server with the policy module, one admin
// ("admin" / "admin-password") and one user, and returns its URL and an
// admin token.
func PolicyTestServer(t *testing.T, db *gorm.DB) (string, string) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.CreateUser(context.Background(), tenant.UserInput{UPN: "amosm@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return ts.URL, tok
}

// PolicyCall sends a request and returns the status and the body.
func PolicyCall(t *testing.T, base, token, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// PolicyWantEverySetting checks that the stored policy holds
// policytest.OtherValue for every setting.
func PolicyWantEverySetting(t *testing.T, db *gorm.DB, identity string) {
	t.Helper()
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	p, err := ps.Get(context.Background(), identity)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range policy.Fields() {
		if got, want := f.Text(p.Settings), policytest.OtherValue(t, f); got != want {
			t.Errorf("%s is %q in the store, want %q", f.Name, got, want)
		}
	}
}
