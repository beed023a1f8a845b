package webtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
)

// Shared by the tests of several faces (once in web/fleet_test.go).

// FleetEnv is a server wired as deskprov serve wires the dashboard's
// sources: policy, firmware, provisioning and sign-in, with a clock the
// test moves.
type FleetEnv struct {
	URL, Tok string
	SI       *signin.Service
	Clock    *FleetClock
}

type FleetClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *FleetClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *FleetClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func FleetTestServer(t *testing.T, db *gorm.DB) FleetEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, firmware.Migrate, signin.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn, box := Org(t, db, tenant.UserInput{UPN: "amosm@contoso.com", Password: "S3cret!pass"})
	Admin(t, tn)
	for _, a := range []struct {
		name string
		role tenant.Role
	}{{"desk", tenant.RoleHelpdesk}, {"viewer", tenant.RoleReader}} {
		if err := tn.AddAdmin(context.Background(), "admin", a.name, a.name+"-password", a.role); err != nil {
			t.Fatal(err)
		}
	}
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	fs, err := firmware.New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := &FleetClock{now: time.Now().UTC()}
	fw := NewFirmware(fs, 4, 7)
	prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	prov.Now = clock.Now
	prov.Policy = ps
	prov.PhoneCredentials = []string{}
	prov.Firmware = ProvTestFirmware{fs}
	si := SignIn(db, tn, box, "http://prov.test")
	s, err := New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test", Now: clock.Now}, api.PolicyModule(ps), console.Home(ps), fw, console.Firmware(fw.Service()),
		phone.Provisioning{Service: prov, Images: fw.ServeImage}, api.Devices{Service: prov}, api.Fleet{Devices: prov, Firmware: fs, SignIn: si}, console.Fleet{Devices: prov, Firmware: fs, SignIn: si})
	if err != nil {
		t.Fatal(err)
	}
	prov.Server = provisioning.Server{PublicURL: s.PublicURL}
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return FleetEnv{URL: ProvTestListen(t, s), Tok: tok, SI: si, Clock: clock}
}

// FleetPoll is one Yealink T46G poll reporting version.
func FleetPoll(t *testing.T, base string, n int, version string) {
	t.Helper()
	ua := fmt.Sprintf("Yealink SIP-T46G %s 00:15:65:00:00:%02x", version, n)
	if r := ProvTestDo(t, "GET", fmt.Sprintf("%s/prov/0015650000%02x.cfg", base, n), ua, nil, nil); r.Status != 200 {
		t.Fatalf("poll of phone %d: %d %s", n, r.Status, r.Body)
	}
}
