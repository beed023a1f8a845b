package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// firmwareConsoleServer starts a server with the firmware module and the
// console's sign-in (the policy module mounts it), with the admins
// "admin", "viewer" (reader) and "desk" (helpdesk); it returns its URL, an
// API token of "admin" and the firmware service.
func firmwareConsoleServer(t *testing.T, db *gorm.DB) (string, string, *firmware.Service) {
	t.Helper()
	ctx := context.Background()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, firmware.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(ctx, "admin-password"); err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]tenant.Role{"viewer": tenant.RoleReader, "desk": tenant.RoleHelpdesk} {
		if err := tn.AddAdmin(ctx, "admin", name, name+"-password", role); err != nil {
			t.Fatal(err)
		}
	}
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	svc, err := firmware.New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fw := webtest.NewFirmware(svc, 2, 7)
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test"}, api.PolicyModule(ps), console.Home(ps), fw, console.Firmware(fw.Service()), webtest.FirmwareTestProv{Images: fw.ServeImage})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return ts.URL, tok, svc
}

// TestFirmwareConsole: issue 15 item 4 over HTTP, as a browser without
// JavaScript sends the forms. An admin imports an image (multipart, CSRF
// token first), approves its rule in a staged rollout, pauses, resumes and
// aborts it, adds and removes a test device, clears an update loop and
// removes an image; each POST answers with a redirect to a page that shows
// the change, and the API reads the same state. Bad input comes back on
// the page beside its field; a form without its token is refused.
func TestFirmwareConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		base, tok, svc := firmwareConsoleServer(t, db)
		b := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")

		_, page := b.Get("/admin/firmware")
		if !strings.Contains(page, `<a href="/admin/firmware">Firmware</a>`) || !strings.Contains(page, `enctype="multipart/form-data"`) {
			t.Fatalf("the catalog page has no nav link or no import form:\n%s", page)
		}
		csrf := webtest.ConsoleCSRF(t, page)

		t.Run("an import without its CSRF token is refused before the image is kept", func(t *testing.T) {
			res, _ := b.PostMultipart("/admin/firmware", map[string]string{"csrf_token": "forged"}, "T46-28.83.0.100.rom", []byte("old"))
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
			if imgs, _ := svc.Images(ctx, ""); len(imgs) != 0 {
				t.Fatalf("the image was kept: %+v", imgs)
			}
		})
		t.Run("a field the import needs is asked for beside it, the form kept", func(t *testing.T) {
			res, page := b.PostMultipart("/admin/firmware", map[string]string{"csrf_token": csrf, "models": "420HD"}, "420HD.img", []byte("audiocodes"))
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="e-version"`) || !strings.Contains(page, `value="420HD"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
		})
		var rule firmware.RuleView
		t.Run("import, then approve the rule for every phone", func(t *testing.T) {
			// As a browser sends the form: every field, the empty ones too.
			res, _ := b.PostMultipart("/admin/firmware", map[string]string{"csrf_token": csrf, "vendor": "", "models": "", "version": "", "revision": "", "locale": ""},
				"T46-28.83.0.100.rom", []byte("old yealink"))
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/firmware?done=imported") {
				t.Fatalf("import: %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := b.Get(res.Header.Get("Location"))
			if !strings.Contains(page, "28.83.0.100") || !strings.Contains(page, `id="flash"`) {
				t.Fatalf("the catalog after the import:\n%s", page)
			}
			var rules []firmware.RuleView
			webtest.TenantCall(t, base, tok, "GET", "/api/v1/deviceupdaterules", "", &rules)
			if len(rules) != 1 || rules[0].Pending == nil {
				t.Fatalf("rules %+v", rules)
			}
			rule = rules[0]
			res, _ = b.Post("/admin/firmware/rules/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(rule.ID)}, "action": {"approve"}, "waves": {""}})
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/firmware/rules?done=approve") {
				t.Fatalf("approve: %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			webtest.TenantCall(t, base, tok, "GET", fmt.Sprint("/api/v1/deviceupdaterules/", rule.ID), "", &rule)
			if rule.Approved == nil || rule.Approved.Version != "28.83.0.100" || rule.Rollout != nil {
				t.Fatalf("the API shows %+v", rule)
			}
		})
		t.Run("a bad rollout plan is shown beside the waves of its rule", func(t *testing.T) {
			b.PostMultipart("/admin/firmware", map[string]string{"csrf_token": csrf}, "T46-28.83.0.120.rom", []byte("new yealink"))
			res, page := b.Post("/admin/firmware/rules/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(rule.ID)}, "action": {"approve"}, "waves": {"10, 5"}})
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, fmt.Sprintf(`id="e-waves-%d"`, rule.ID)) || !strings.Contains(page, `value="10, 5"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
		})
		var roID uint
		t.Run("approve in waves, then pause, resume and abort the rollout", func(t *testing.T) {
			if err := svc.Poll(ctx, firmware.Device{Vendor: "yealink", Model: "SIP-T46G", MAC: "001565000001", Version: "28.83.0.100"}); err != nil {
				t.Fatal(err)
			}
			res, _ := b.Post("/admin/firmware/rules/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(rule.ID)}, "action": {"approve"},
				"waves": {"50, 100"}, "advanceAt": {"1"}, "window": {""}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("approve in waves: %d", res.StatusCode)
			}
			webtest.TenantCall(t, base, tok, "GET", fmt.Sprint("/api/v1/deviceupdaterules/", rule.ID), "", &rule)
			if rule.Rollout == nil || rule.Approved.Version != "28.83.0.120" {
				t.Fatalf("the API shows %+v", rule)
			}
			roID = *rule.Rollout
			_, page := b.Get("/admin/firmware/rollouts")
			for _, want := range []string{fmt.Sprintf(`id="rollout-%d"`, roID), "28.83.0.100 → 28.83.0.120", `<svg class="bar"`, fmt.Sprintf(`id="pause-%d"`, roID), "<td>1</td>"} {
				if !strings.Contains(page, want) {
					t.Errorf("the rollouts page lacks %s", want)
				}
			}
			for _, step := range []struct{ action, state string }{{"pause", firmware.StatePaused}, {"resume", firmware.StateRunning}, {"abort", firmware.StateAborted}} {
				res, _ := b.Post("/admin/firmware/rollouts/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(roID)}, "action": {step.action}})
				if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/firmware/rollouts?done="+step.action) {
					t.Fatalf("%s: %d to %q", step.action, res.StatusCode, res.Header.Get("Location"))
				}
				var st firmware.RolloutStatus
				webtest.TenantCall(t, base, tok, "GET", fmt.Sprint("/api/v1/rollouts/", roID), "", &st)
				if st.State != step.state {
					t.Fatalf("after %s the API shows %s", step.action, st.State)
				}
			}
			res, page = b.Post("/admin/firmware/rollouts/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(roID)}, "action": {"pause"}})
			if res.StatusCode != http.StatusConflict || !strings.Contains(page, `id="problem"`) {
				t.Fatalf("pausing an aborted rollout: %d", res.StatusCode)
			}
		})
		t.Run("restore and reset go through the page", func(t *testing.T) {
			// The abort put 28.83.0.120 back as pending: approve it at once,
			// so that 28.83.0.100 is the version to restore.
			res, _ := b.Post("/admin/firmware/rules/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(rule.ID)}, "action": {"approve"}, "waves": {""}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("approve at once: %d", res.StatusCode)
			}
			res, _ = b.Post("/admin/firmware/rules/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(rule.ID)}, "action": {"restore"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("restore: %d", res.StatusCode)
			}
			webtest.TenantCall(t, base, tok, "GET", fmt.Sprint("/api/v1/deviceupdaterules/", rule.ID), "", &rule)
			if rule.Approved == nil || rule.Approved.Version != "28.83.0.100" {
				t.Fatalf("after restore the API shows %+v", rule)
			}
			res, page := b.Post("/admin/firmware/rules/action", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(rule.ID)}, "action": {"reset"}})
			if res.StatusCode != http.StatusConflict || !strings.Contains(page, "no pending version") {
				t.Fatalf("reset with nothing pending: %d", res.StatusCode)
			}
			res, _ = b.Post("/admin/firmware/rules/autoapprove", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(rule.ID)}, "on": {"true"}})
			webtest.TenantCall(t, base, tok, "GET", fmt.Sprint("/api/v1/deviceupdaterules/", rule.ID), "", &rule)
			if res.StatusCode != http.StatusSeeOther || !rule.AutoApprove {
				t.Fatalf("auto-approve: %d, the API shows %+v", res.StatusCode, rule)
			}
		})
		t.Run("test devices: a bad MAC beside its field, then add and remove", func(t *testing.T) {
			res, page := b.Post("/admin/firmware/testdevices", url.Values{"csrf_token": {csrf}, "identifierType": {"MACAddress"}, "identifier": {"not-a-mac"}})
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="e-td-ident"`) || !strings.Contains(page, `value="not-a-mac"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
			res, _ = b.Post("/admin/firmware/testdevices", url.Values{"csrf_token": {csrf}, "identifierType": {"MACAddress"}, "identifier": {"00:15:65:4C:4C:27"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("add: %d", res.StatusCode)
			}
			var tds []firmware.TestDevice
			webtest.TenantCall(t, base, tok, "GET", "/api/v1/testdevices", "", &tds)
			if len(tds) != 1 {
				t.Fatalf("the API shows %+v", tds)
			}
			_, page = b.Get("/admin/firmware/rules")
			if !strings.Contains(page, fmt.Sprintf(`id="remove-testdevice-%d"`, tds[0].ID)) {
				t.Fatalf("the rules page does not list the test device:\n%s", page)
			}
			res, _ = b.Post("/admin/firmware/testdevices/remove", url.Values{"csrf_token": {csrf}, "id": {fmt.Sprint(tds[0].ID)}})
			webtest.TenantCall(t, base, tok, "GET", "/api/v1/testdevices", "", &tds)
			if res.StatusCode != http.StatusSeeOther || len(tds) != 0 {
				t.Fatalf("remove: %d, the API shows %+v", res.StatusCode, tds)
			}
		})
		t.Run("an update loop is listed and cleared", func(t *testing.T) {
			if err := db.Exec("UPDATE firmware_devices SET flagged = ?, flagged_at = ? WHERE mac = ?", true, svc.Now().UTC(), "001565000001").Error; err != nil {
				t.Fatal(err)
			}
			_, page := b.Get("/admin/firmware/rollouts")
			if !strings.Contains(page, `id="clear-001565000001"`) {
				t.Fatalf("the flagged phone is not listed:\n%s", page)
			}
			res, _ := b.Post("/admin/firmware/loops/clear", url.Values{"csrf_token": {csrf}, "mac": {"001565000001"}})
			var loops []firmware.FlaggedDevice
			webtest.TenantCall(t, base, tok, "GET", "/api/v1/updateloops", "", &loops)
			if res.StatusCode != http.StatusSeeOther || len(loops) != 0 {
				t.Fatalf("clear: %d, the API shows %+v", res.StatusCode, loops)
			}
		})
		t.Run("an image in use is not removed; one unused is", func(t *testing.T) {
			imgs, _ := svc.Images(ctx, "")
			var inUse, unused string
			for _, i := range imgs {
				if i.Version == "28.83.0.100" {
					inUse = i.ID
				} else {
					unused = i.ID
				}
			}
			res, page := b.Post("/admin/firmware/remove", url.Values{"csrf_token": {csrf}, "id": {inUse}})
			if res.StatusCode != http.StatusConflict || !strings.Contains(page, `id="problem"`) {
				t.Fatalf("removing the approved image: %d", res.StatusCode)
			}
			res, _ = b.Post("/admin/firmware/remove", url.Values{"csrf_token": {csrf}, "id": {unused}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("remove: %d", res.StatusCode)
			}
			if code := webtest.TenantCall(t, base, tok, "GET", "/api/v1/firmware/"+unused, "", nil); code != http.StatusNotFound {
				t.Fatalf("the API still has the image: %d", code)
			}
		})
		t.Run("each change is in the one audit log with its actor", func(t *testing.T) {
			p, err := audit.List(ctx, db, audit.Filter{Kind: audit.KindFirmware, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, e := range p.Entries {
				if e.Actor == "admin" {
					seen[e.Action] = true
				}
			}
			for _, a := range []string{"import", "approve", "rollout.pause", "rollout.resume", "rollout.abort", "restore", "autoapprove", "testdevice.add", "testdevice.remove", "loop.clear", "remove"} {
				if !seen[a] {
					t.Errorf("no %q entry by admin in the audit log (seen %v)", a, seen)
				}
			}
		})
	})
}

// TestFirmwareConsoleRoles: a reader and a help desk admin see every
// firmware page but are refused every firmware form with the console's 403
// page, and nothing changes.
func TestFirmwareConsoleRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		base, tok, svc := firmwareConsoleServer(t, db)
		var img firmware.ImageView
		if code := webtest.FirmwareTestUpload(t, base, tok, "T46-28.83.0.100.rom", []byte("old yealink"), nil, &img); code != http.StatusCreated {
			t.Fatalf("upload %d", code)
		}
		rules, _ := svc.Rules(ctx)
		for _, who := range []string{"viewer", "desk"} {
			t.Run(who, func(t *testing.T) {
				b := webtest.ConsoleSignInAs(t, base, who, who+"-password")
				var csrf string
				for _, p := range []string{"/admin/firmware", "/admin/firmware/rules", "/admin/firmware/rollouts"} {
					res, page := b.Get(p)
					if res.StatusCode != http.StatusOK {
						t.Fatalf("%s: %d", p, res.StatusCode)
					}
					csrf = webtest.ConsoleCSRF(t, page)
				}
				id := fmt.Sprint(rules[0].ID)
				for path, form := range map[string]url.Values{
					"/admin/firmware/remove":             {"id": {img.ID}},
					"/admin/firmware/rules/action":       {"id": {id}, "action": {"approve"}},
					"/admin/firmware/rules/autoapprove":  {"id": {id}, "on": {"true"}},
					"/admin/firmware/testdevices":        {"identifierType": {"MACAddress"}, "identifier": {"001565000009"}},
					"/admin/firmware/testdevices/remove": {"id": {"1"}},
					"/admin/firmware/rollouts/action":    {"id": {"1"}, "action": {"abort"}},
					"/admin/firmware/loops/clear":        {"mac": {"001565000001"}},
				} {
					form.Set("csrf_token", csrf)
					res, page := b.Post(path, form)
					if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "needs the admin role") {
						t.Errorf("POST %s as %s: %d\n%s", path, who, res.StatusCode, page)
					}
				}
				res, page := b.PostMultipart("/admin/firmware", map[string]string{"csrf_token": csrf}, "T46-28.83.0.120.rom", []byte("new yealink"))
				if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "needs the admin role") {
					t.Errorf("import as %s: %d", who, res.StatusCode)
				}
			})
		}
		imgs, _ := svc.Images(ctx, "")
		after, _ := svc.Rules(ctx)
		tds, _ := svc.TestDevices(ctx)
		if len(imgs) != 1 || after[0].Approved != nil || after[0].AutoApprove || len(tds) != 0 {
			t.Fatalf("a refused form changed something: images %d, rule %+v, test devices %d", len(imgs), after[0], len(tds))
		}
	})
}

// TestFirmwareConsoleInChromium walks the firmware pages in real headless
// Chromium as an admin would: import an image with the file form, approve
// it, import a newer one, approve it in waves, pause and resume the staged
// rollout from its page, and read each step back through the API.
func TestFirmwareConsoleInChromium(t *testing.T) {
	bin := webtest.ChromiumPath(t, "the firmware console browser test")
	base, tok, svc := firmwareConsoleServer(t, storetest.SQLite(t))
	dir := t.TempDir()
	for _, name := range []string{"T46-28.83.0.100.rom", "T46-28.83.0.120.rom"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("image "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := webtest.StartChromium(t, bin)
	importImage := func(name string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/admin/firmware"),
			chromedp.WaitVisible(chromedp.ID("fw-file")),
			chromedp.SetUploadFiles(chromedp.ID("fw-file"), []string{filepath.Join(dir, name)}),
			chromedp.Click(chromedp.ID("import")),
			chromedp.WaitVisible(chromedp.ID("flash")),
		); err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
		flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
		if err != nil || !strings.Contains(flash, name) || !strings.Contains(flash, "is in the catalog") {
			t.Fatalf("the catalog says %q (%v)", flash, err)
		}
	}
	rule := func() firmware.RuleView {
		t.Helper()
		var rs []firmware.RuleView
		if code := webtest.TenantCall(t, base, tok, "GET", "/api/v1/deviceupdaterules", "", &rs); code != 200 || len(rs) != 1 {
			t.Fatalf("rules: %d %+v", code, rs)
		}
		return rs[0]
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), "admin-password"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitNotPresent(chromedp.ID("password")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	importImage("T46-28.83.0.100.rom")
	r := rule()
	approve := fmt.Sprintf("approve-%d", r.ID)
	waves := fmt.Sprintf("waves-%d", r.ID)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/firmware/rules"),
		chromedp.WaitVisible(chromedp.ID(approve)),
		chromedp.Clear(chromedp.ID(waves)),
		chromedp.Click(chromedp.ID(approve)),
		chromedp.WaitVisible(chromedp.ID("flash")),
	); err != nil {
		t.Fatalf("approve at once: %v", err)
	}
	if r = rule(); r.Approved == nil || r.Approved.Version != "28.83.0.100" || r.Rollout != nil {
		t.Fatalf("after approving, the API shows %+v", r)
	}
	// A phone of the model, so that the first wave has one to count.
	if err := svc.Poll(context.Background(), firmware.Device{Vendor: "yealink", Model: "SIP-T46G", MAC: "001565000001", Version: "28.83.0.100"}); err != nil {
		t.Fatal(err)
	}
	importImage("T46-28.83.0.120.rom")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/firmware/rules"),
		chromedp.WaitVisible(chromedp.ID(approve)),
		chromedp.SetValue(chromedp.ID(waves), "100"),
		chromedp.Click(chromedp.ID(approve)),
		chromedp.WaitVisible(chromedp.ID("flash")),
	); err != nil {
		t.Fatalf("approve in waves: %v", err)
	}
	r = rule()
	if r.Approved == nil || r.Approved.Version != "28.83.0.120" || r.Rollout == nil {
		t.Fatalf("after approving in waves, the API shows %+v", r)
	}
	ro := *r.Rollout
	state := func() string {
		t.Helper()
		var st firmware.RolloutStatus
		if code := webtest.TenantCall(t, base, tok, "GET", fmt.Sprint("/api/v1/rollouts/", ro), "", &st); code != 200 {
			t.Fatalf("rollout: %d", code)
		}
		return st.State
	}
	for _, step := range []struct{ button, state string }{{"pause", firmware.StatePaused}, {"resume", firmware.StateRunning}} {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/admin/firmware/rollouts"),
			chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("%s-%d", step.button, ro))),
			chromedp.Click(chromedp.ID(fmt.Sprintf("%s-%d", step.button, ro))),
			chromedp.WaitVisible(chromedp.ID("flash")),
		); err != nil {
			t.Fatalf("%s: %v", step.button, err)
		}
		if got := state(); got != step.state {
			t.Fatalf("after %s the API shows %s", step.button, got)
		}
	}
	phones, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(fmt.Sprintf("#rollout-%d table.waves tbody td:nth-of-type(2)", ro))))
	if err != nil || strings.TrimSpace(phones) != "1" {
		t.Fatalf("the wave's phone count beside its bar is %q (%v)", phones, err)
	}
}
