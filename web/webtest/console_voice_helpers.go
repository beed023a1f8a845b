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
	"github.com/deskprov/deskprov/tenant"
)

// Shared by the tests of several faces (once in web/console_voice_test.go).

// VoiceTestServer serves the numbers API and the Voice pages, with voice
// licenses bought, the voice user amos@contoso.com, two user numbers
// acquired through the API, and the admins admin, desk (helpdesk) and
// viewer (reader), whose API tokens it returns by role.
func VoiceTestServer(t *testing.T, db *gorm.DB) (string, map[string]string) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate} {
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
	for _, sku := range []string{"PhoneSystem", "CallingPlanDomestic"} {
		if _, err := tn.SetPurchased(ctx, sku, 5); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tn.CreateUser(ctx, tenant.UserInput{UPN: "amos@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	for _, sku := range []string{"PhoneSystem", "CallingPlanDomestic"} {
		if err := tn.Assign(ctx, "amos@contoso.com", sku); err != nil {
			t.Fatal(err)
		}
	}
	// The policy module serves the console's sign-in page.
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps), api.NumbersModule{}, console.Voice{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	tokens := map[string]string{}
	for role, name := range map[string]string{"admin": "admin", "helpdesk": "desk", "reader": "viewer"} {
		if tokens[role], err = s.IssueAdminToken(name); err != nil {
			t.Fatal(err)
		}
	}
	call := func(method, path, body string, out any) {
		t.Helper()
		if code := TenantCall(t, srv.URL, tokens["admin"], method, path, body, out); code/100 != 2 {
			t.Fatalf("%s %s: %d", method, path, code)
		}
	}
	call("POST", "/api/v1/numbers/inventory", `{"numbers":[{"number":"+14255550100","type":"user","country":"US","state":"WA","city":"Redmond"},
		{"number":"+14255550101","type":"user","country":"US","state":"WA","city":"Redmond"}]}`, nil)
	var r tenant.NumberReservation
	call("POST", "/api/v1/numbers/reservations", `{"type":"user","country":"US","quantity":2}`, &r)
	call("POST", "/api/v1/numbers/reservations/"+r.ID+"/acquire", "", nil)
	return srv.URL, tokens
}
