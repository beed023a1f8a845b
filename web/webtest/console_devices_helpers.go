package webtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
)

// Shared by the tests of several faces (once in web/console_devices_test.go).

// DevConsoleEnv is a server with the console's Devices and Sign-in pages:
// Amos is signed in (by password) on the Polycom phone devAmosMAC, which
// has fetched its configuration, uploaded a log and reported two firmware
// versions; devOtherMAC is a Yealink phone nobody is signed in on. Besides
// the bootstrap admin there are "desk" (helpdesk) and "viewer" (reader).
type DevConsoleEnv struct {
	URL    string
	Admin  string
	SI     *signin.Service
	prov   *provisioning.Service
	Phones *phoneid.Service
}

const (
	DevAmosMAC  = "0004f2d00001"
	DevOtherMAC = "805ec0d00002"
)

func DevConsoleServer(t *testing.T, db *gorm.DB) DevConsoleEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate, policy.Migrate, provisioning.Migrate, phoneid.Migrate, firmware.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	tn, box := Org(t, db, tenant.UserInput{UPN: "amosm@contoso.com", Password: "correct horse"})
	Admin(t, tn)
	for _, a := range []struct {
		name string
		role tenant.Role
	}{{"desk", tenant.RoleHelpdesk}, {"viewer", tenant.RoleReader}} {
		if err := tn.AddAdmin(ctx, "admin", a.name, a.name+"-password", a.role); err != nil {
			t.Fatal(err)
		}
	}
	pol := policy.New(db)
	pol.Users, pol.Secrets = tn, box
	si := SignIn(db, tn, box, ts.URL)
	fw, err := firmware.New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	phones := phoneid.New(db)
	phones.Secrets = box
	prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	prov.Policy, prov.SignIn = pol, si
	up := TestUploads(t, db, 1<<20)
	prov.Uploads = up
	fwm := NewFirmware(fw, 4, 30)
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL, Phones: phones}, phone.SignIn(si), api.SignIn(si), pages.DeviceLogin(si), api.PolicyModule(pol), console.Home(pol), phone.Provisioning{Service: prov}, api.Devices{Service: prov},
		api.Enrolment(phones), console.Enrolment(phones), fwm, console.Firmware(fwm.Service()), console.Devices{Prov: prov, SignIn: si, Phones: phones, Firmware: fw})
	if err != nil {
		t.Fatal(err)
	}
	prov.Server = provisioning.Server{PublicURL: s.PublicURL}
	h = s.Handler()
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}

	// The phones as they would be: polls, a sign-in with a lock PIN, an
	// upload, two firmware versions.
	for _, p := range []struct{ mac, ua string }{
		{DevAmosMAC, "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1 Type/Application"},
		{DevOtherMAC, "Yealink SIP-T58A 58.86.0.15 80:5e:c0:d0:00:02"},
	} {
		if _, err := prov.Fetch(ctx, provisioning.Request{Method: "GET", Name: p.mac + ".cfg", UserAgent: p.ua, IP: "10.0.0.7"}); err != nil {
			t.Fatalf("phone %s polls: %v", p.mac, err)
		}
	}
	if _, err := si.PasswordGrant(ctx, "polycom", DevAmosMAC, "amosm@contoso.com", "correct horse", "10.0.0.7"); err != nil {
		t.Fatal(err)
	}
	// The phone's next poll records who is signed in on it.
	if _, err := prov.Fetch(ctx, provisioning.Request{Method: "GET", Name: DevAmosMAC + ".cfg", UserAgent: "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1 Type/Application", IP: "10.0.0.7"}); err != nil {
		t.Fatal(err)
	}
	sess, ok, err := si.PhoneSession(ctx, DevAmosMAC)
	if err != nil || !ok {
		t.Fatalf("Amos's session: %v %v", ok, err)
	}
	if err := si.SetLockPIN(ctx, sess.ID, "246813"); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Put(ctx, DevAmosMAC, DevAmosMAC+"-app.log", strings.NewReader("0101 boot\n")); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"6.3.0.1", "6.4.0.1"} {
		if err := fw.Poll(ctx, firmware.Device{Vendor: "polycom", Model: "VVX 500", MAC: DevAmosMAC, Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	return DevConsoleEnv{URL: ts.URL, Admin: tok, SI: si, prov: prov, Phones: phones}
}

// API calls the REST API as the bootstrap admin and decodes its answer.
func (e DevConsoleEnv) API(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.Admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return res.StatusCode
}

// AuditHas reports whether the one audit log has an entry of kind, object
// and action by actor, read through GET /api/v1/audit.
func (e DevConsoleEnv) AuditHas(t *testing.T, kind, object, action, actor string) bool {
	t.Helper()
	var es []audit.Entry
	if code := e.API(t, "GET", "/api/v1/audit?kind="+kind, &es); code != 200 {
		t.Fatalf("GET /api/v1/audit: %d", code)
	}
	for _, en := range es {
		if en.ObjectID == object && en.Action == action && en.Actor == actor {
			return true
		}
	}
	return false
}
