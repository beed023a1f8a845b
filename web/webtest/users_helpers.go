package webtest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
)

// Shared by the tests of several faces (once in web/users_test.go).

// UsersTestServer serves the API and the console with the users module:
// two Phone System licenses bought (so a third assignment is refused), ten
// Domestic Calling Plans, the users given, a policy Sales, and the admins
// admin (admin), desk (helpdesk) and viewer (reader), whose API tokens it
// returns by role.
func UsersTestServer(t *testing.T, db *gorm.DB, upns ...string) (string, map[string]string) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, signin.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	Admin(t, tn)
	for _, a := range []struct {
		name string
		role tenant.Role
	}{{"desk", tenant.RoleHelpdesk}, {"viewer", tenant.RoleReader}} {
		if err := tn.AddAdmin(ctx, "system", a.name, a.name+"-password", a.role); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []struct {
		sku string
		n   int
	}{{"PhoneSystem", 2}, {"CallingPlanDomestic", 10}} {
		if _, err := tn.SetPurchased(ctx, l.sku, l.n); err != nil {
			t.Fatal(err)
		}
	}
	for _, upn := range upns {
		if _, err := tn.CreateUser(ctx, tenant.UserInput{UPN: upn}); err != nil {
			t.Fatal(err)
		}
	}
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	if _, err := ps.Create(ctx, "admin", "Sales", nil); err != nil {
		t.Fatal(err)
	}
	si := signin.New(db, tn, nil, "http://prov.test")
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps), api.BulkLicenses(ps), console.Users(ps, si))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	ts := srv.URL
	tokens := map[string]string{}
	for role, name := range map[string]string{"admin": "admin", "helpdesk": "desk", "reader": "viewer"} {
		if tokens[role], err = s.IssueAdminToken(name); err != nil {
			t.Fatal(err)
		}
	}
	return ts, tokens
}

type UserAnswer struct {
	UPN      string   `json:"upn"`
	Licenses []string `json:"licenses"`
}
