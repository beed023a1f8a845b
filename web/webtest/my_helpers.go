package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
	"github.com/deskprov/deskprov/web/api"
)

// Shared by the tests of several faces (once in web/my_test.go).

type MyEnv struct {
	SigninTestEnv
	Srv *web.Server
	bt  *btoe.Service
}

const (
	MyAmosMAC = "0004f2a0b001"
	MyEveMAC  = "0004f2a0e001"
	MyMFAKey  = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

// MyTestServer serves sign-in, numbers, BToE and /my. Amos has the policy
// "PairByCode" (BToE pairing mode Manual) and the number +14255550100; Eve
// is another person; mfa@ has an authenticator app.
func MyTestServer(t *testing.T, db *gorm.DB) MyEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate, throttle.Migrate, btoe.Migrate, policy.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	ctx := context.Background()
	tn, box := Org(t, db,
		tenant.UserInput{UPN: "amosm@contoso.com", Password: "correct horse"},
		tenant.UserInput{UPN: "eve@contoso.com", Password: "eve password"},
		tenant.UserInput{UPN: "mfa@contoso.com", Password: "mfa password", MFA: true},
		tenant.UserInput{UPN: "guess@contoso.com", Password: "guess password"},
	)
	Admin(t, tn)
	if err := tn.SetTOTPSecret(ctx, "mfa@contoso.com", MyMFAKey); err != nil {
		t.Fatal(err)
	}
	pol := policy.New(db)
	pol.Users, pol.Secrets = tn, box
	if _, err := pol.Create(ctx, "admin", "PairByCode", policy.Patch{"BetterTogetherOverEthernetPairingMode": json.RawMessage(`"Manual"`)}); err != nil {
		t.Fatal(err)
	}
	name := "PairByCode"
	if _, err := pol.Grant(ctx, "admin", "amosm@contoso.com", &name); err != nil {
		t.Fatal(err)
	}
	si := SignIn(db, tn, box, ts.URL)
	bt := btoe.New(db, pol, si, si.PCPasswords())
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL}, phone.SignIn(si), api.SignIn(si), pages.DeviceLogin(si), api.NumbersModule{}, phone.BToE(bt, si), api.BToE(bt), console.BToE(bt), pages.My(si, pol, bt))
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	env := MyEnv{SigninTestEnv: SigninTestEnv{URL: ts.URL, Admin: tok, Svc: si, Tn: tn}, Srv: s, bt: bt}
	v := VoiceCaller{t, env.URL, env.Admin}
	VoiceSetup(v, "+14255550100:user")
	var addr tenant.EmergencyAddress
	v.Must(201, "POST", "/api/v1/emergencyaddresses", `{"houseNumber":"1","street":"Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"}`, &addr)
	v.Must(200, "POST", "/api/v1/numbers/+14255550100/assign", fmt.Sprintf(`{"user":"amosm@contoso.com","emergencyAddressId":%d}`, addr.ID), nil)
	return env
}

// MyPhoneSessions lists the phone sessions through the admin API.
func MyPhoneSessions(t *testing.T, env MyEnv) []signin.Session {
	t.Helper()
	var ss []signin.Session
	if code := TenantCall(t, env.URL, env.Admin, "GET", "/api/v1/phonesessions", "", &ss); code != 200 {
		t.Fatalf("GET /api/v1/phonesessions: %d", code)
	}
	return ss
}

func MyOnPhone(ss []signin.Session, mac string) string {
	for _, s := range ss {
		if s.MAC == mac {
			return s.UPN
		}
	}
	return ""
}
