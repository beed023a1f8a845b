package phone_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// fwPhonesServer serves policy, firmware and provisioning together, as
// deskprov serve wires them, with no family taking credentials (so every
// phone's reports count): firmware as phones meet it through /prov/.
func fwPhonesServer(t *testing.T, db *gorm.DB) (string, string, *provisioning.Service) {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, firmware.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	fs, err := firmware.New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fw := webtest.NewFirmware(fs, 4, 7)
	prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	prov.Policy = ps
	prov.PhoneCredentials = []string{}
	prov.Firmware = webtest.ProvTestFirmware{S: fs}
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps), fw, console.Firmware(fw.Service()), phone.Provisioning{Service: prov, Images: fw.ServeImage}, api.Devices{Service: prov})
	if err != nil {
		t.Fatal(err)
	}
	prov.Server = provisioning.Server{PublicURL: s.PublicURL}
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return webtest.ProvTestListen(t, s), tok, prov
}

// fwPhonesImport uploads an image and approves its rules through the API.
func fwPhonesImport(t *testing.T, base, tok, name, body string, fields map[string]string) firmware.ImageView {
	t.Helper()
	var img firmware.ImageView
	if code := webtest.FirmwareTestUpload(t, base, tok, name, []byte(body), fields, &img); code != 201 {
		t.Fatalf("upload %s: %d", name, code)
	}
	var rules []firmware.RuleView
	webtest.TenantCall(t, base, tok, "GET", "/api/v1/deviceupdaterules", "", &rules)
	for _, r := range rules {
		if r.Pending != nil && r.Pending.SHA256 == img.SHA256 {
			if code := webtest.TenantCall(t, base, tok, "POST", fmt.Sprintf("/api/v1/deviceupdaterules/%d/approve", r.ID), "", nil); code != 200 {
				t.Fatalf("approve rule %d: %d", r.ID, code)
			}
		}
	}
	return img
}

// TestPolycomUpdaterIsNotTheRunningFirmware: a VVX boots through the
// Updater (its own version) and then the Application; four reboots neither
// flag it as looping nor record the Updater's version, and the Updater of
// a phone whose Application is current is offered nothing (issue 14,
// items 3 and 14).
func TestPolycomUpdaterIsNotTheRunningFirmware(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, prov := fwPhonesServer(t, db)
		fwPhonesImport(t, base, tok, "3111-44500-001.sip.ld", "5.9.7", map[string]string{"version": "5.9.7.4477"})
		updater := "FileTransport PolycomVVX-VVX_500-UA/5.8.0.17085 Type/Updater"
		app := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		url := base + "/prov/0004f2a1b2c3.cfg"
		// Known as running the approved version (the Updater's very first
		// request, of a phone never seen, is offered the image: nothing
		// tells what its Application runs).
		if a := webtest.ProvTestDo(t, "GET", url, app, nil, nil); a.Status != 200 {
			t.Fatalf("the Application: %d", a.Status)
		}
		for boot := 0; boot < 4; boot++ {
			u := webtest.ProvTestDo(t, "GET", url, updater, nil, nil)
			if u.Status != 200 || bytes.Contains(u.Body, []byte("3111-44500-001")) {
				t.Fatalf("boot %d, the Updater: %d\n%s", boot, u.Status, u.Body)
			}
			if a := webtest.ProvTestDo(t, "GET", url, app, nil, nil); a.Status != 200 {
				t.Fatalf("boot %d, the Application: %d", boot, a.Status)
			}
		}
		var loops []firmware.FlaggedDevice
		webtest.TenantCall(t, base, tok, "GET", "/api/v1/updateloops", "", &loops)
		if len(loops) != 0 {
			t.Fatalf("four reboots flagged the phone as looping: %+v", loops)
		}
		if err := prov.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		var dev provisioning.DeviceRecord
		webtest.TenantCall(t, base, tok, "GET", "/api/v1/devices/0004f2a1b2c3", "", &dev)
		if dev.Firmware != "5.9.7.4477" {
			t.Fatalf("the inventory holds %q, not the Application's version", dev.Firmware)
		}
		// A phone on an older Application: its Updater is offered the image.
		old := base + "/prov/0004f2a1b2c4.cfg"
		webtest.ProvTestDo(t, "GET", old, "FileTransport PolycomVVX-VVX_500-UA/5.8.0.17085 Type/Application", nil, nil)
		if u := webtest.ProvTestDo(t, "GET", old, updater, nil, nil); u.Status != 200 || !bytes.Contains(u.Body, []byte("3111-44500-001.sip.ld")) {
			t.Fatalf("the Updater of an older Application: %d\n%s", u.Status, u.Body)
		}
		// It installs the image and reboots: the next Updater request is
		// answered for the new Application, not from what was made before.
		webtest.ProvTestDo(t, "GET", old, app, nil, nil)
		if u := webtest.ProvTestDo(t, "GET", old, updater, nil, nil); u.Status != 200 || bytes.Contains(u.Body, []byte("3111-44500-001")) {
			t.Fatalf("the Updater after the upgrade: %d\n%s", u.Status, u.Body)
		}
	})
}

// TestYealinkGetsAnImageOnlyWhileItIsOffered: through /prov/, a T46G is
// served the ROM its configuration offers it, another on that version is
// not, and once the policy switches updates off the first is refused too
// (issue 14, item 13).
func TestYealinkGetsAnImageOnlyWhileItIsOffered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, _ := fwPhonesServer(t, db)
		fwPhonesImport(t, base, tok, "T46-28.83.0.120.rom", "rom 120", nil)
		behind := "Yealink SIP-T46G 28.83.0.100 00:15:65:00:00:01"
		current := "Yealink SIP-T46G 28.83.0.120 00:15:65:00:00:02"
		rom := base + "/prov/T46-28.83.0.120.rom"
		if c := webtest.ProvTestDo(t, "GET", base+"/prov/001565000001.cfg", behind, nil, nil); c.Status != 200 || !bytes.Contains(c.Body, []byte("T46-28.83.0.120.rom")) {
			t.Fatalf("the phone behind is not offered the ROM: %d\n%s", c.Status, c.Body)
		}
		if r := webtest.ProvTestDo(t, "GET", rom, behind, nil, nil); r.Status != 200 || string(r.Body) != "rom 120" {
			t.Fatalf("the phone it is offered to: %d %s", r.Status, r.Body)
		}
		webtest.ProvTestDo(t, "GET", base+"/prov/001565000002.cfg", current, nil, nil)
		if r := webtest.ProvTestDo(t, "GET", rom, current, nil, nil); r.Status != 404 || !strings.Contains(string(r.Body), "not offered") {
			t.Fatalf("a phone offered nothing: %d %s", r.Status, r.Body)
		}
		edit := webtest.ProvTestDo(t, "PATCH", base+"/api/v1/ipphonepolicies/Global", "", strings.NewReader(`{"EnableDeviceUpdate":false}`),
			map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
		if edit.Status != 200 {
			t.Fatalf("policy edit: %d %s", edit.Status, edit.Body)
		}
		if c := webtest.ProvTestDo(t, "GET", base+"/prov/001565000001.cfg", behind, nil, nil); c.Status != 200 || bytes.Contains(c.Body, []byte("T46-28.83.0.120.rom")) {
			t.Fatalf("updates off, the file still offers the ROM: %d\n%s", c.Status, c.Body)
		}
		if r := webtest.ProvTestDo(t, "GET", rom, behind, nil, nil); r.Status != 404 {
			t.Fatalf("updates off, the ROM was served: %d", r.Status)
		}
	})
}

// TestAutoApproveThroughTheAPI: an import with certified=true creates a rule
// that approves itself; PATCH turns autoApprove off and on; only admins may.
func TestAutoApproveThroughTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok, _, _ := webtest.FirmwareTestServer(t, db)
		var img firmware.ImageView
		if code := webtest.FirmwareTestUpload(t, base, tok, "420HD.img", []byte("v1"), map[string]string{"version": "3.4.6.600", "certified": "true"}, &img); code != 201 {
			t.Fatalf("upload %d", code)
		}
		var rules []firmware.RuleView
		webtest.TenantCall(t, base, tok, "GET", "/api/v1/deviceupdaterules", "", &rules)
		if len(rules) != 1 || !rules[0].AutoApprove || rules[0].Approved == nil || rules[0].Approved.SHA256 != img.SHA256 || rules[0].Edition != firmware.EditionSkype {
			t.Fatalf("%+v", rules)
		}
		path := fmt.Sprintf("/api/v1/deviceupdaterules/%d", rules[0].ID)
		var r firmware.RuleView
		if code := webtest.TenantCall(t, base, tok, "PATCH", path, `{"autoApprove":false}`, &r); code != 200 || r.AutoApprove {
			t.Fatalf("%d %+v", code, r)
		}
		for body, want := range map[string]int{`{}`: 400, `{"autoApprove":"yes"}`: 400, `{"autoApprove":true,"x":1}`: 400} {
			if code := webtest.TenantCall(t, base, tok, "PATCH", path, body, nil); code != want {
				t.Fatalf("%s: %d", body, code)
			}
		}
		if code := webtest.TenantCall(t, base, tok, "PATCH", "/api/v1/deviceupdaterules/999", `{"autoApprove":true}`, nil); code != 404 {
			t.Fatalf("unknown rule: %d", code)
		}
		for _, bad := range []string{"", "not-a-token"} {
			if code := webtest.TenantCall(t, base, bad, "PATCH", path, `{"autoApprove":true}`, nil); code != 401 {
				t.Fatalf("token %q: %d", bad, code)
			}
		}
		if code := webtest.FirmwareTestUpload(t, base, tok, "440HD.img", []byte("x"), map[string]string{"version": "3.4.6.600", "certified": "maybe"}, nil); code != 400 {
			t.Fatalf("certified=maybe: %d", code)
		}
		if code := webtest.TenantCall(t, base, tok, "PATCH", path, `{"autoApprove":true}`, &r); code != 200 || !r.AutoApprove {
			t.Fatalf("%d %+v", code, r)
		}
		var audit []firmware.AuditEntry
		webtest.TenantCall(t, base, tok, "GET", "/api/v1/firmwareaudit", "", &audit)
		if len(audit) == 0 || audit[0].Action != "autoapprove" || audit[0].Actor != "admin" {
			t.Fatalf("%+v", audit)
		}
	})
}
