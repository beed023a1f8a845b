package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"

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
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
)

// devConsoleEnv is a server with the console's Devices and Sign-in pages:
// Amos is signed in (by password) on the Polycom phone devAmosMAC, which
// has fetched its configuration, uploaded a log and reported two firmware
// versions; devOtherMAC is a Yealink phone nobody is signed in on. Besides
// the bootstrap admin there are "desk" (helpdesk) and "viewer" (reader).
type devConsoleEnv struct {
	url    string
	admin  string
	si     *signin.Service
	prov   *provisioning.Service
	phones *phoneid.Service
}

const (
	devAmosMAC  = "0004f2d00001"
	devOtherMAC = "805ec0d00002"
)

func devConsoleServer(t *testing.T, db *gorm.DB) devConsoleEnv {
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
	tn, box := webtest.Org(t, db, tenant.UserInput{UPN: "amosm@contoso.com", Password: "correct horse"})
	webtest.Admin(t, tn)
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
	si := webtest.SignIn(db, tn, box, ts.URL)
	fw, err := firmware.New(db, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	phones := phoneid.New(db)
	phones.Secrets = box
	prov := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	prov.Policy, prov.SignIn = pol, si
	up := testUploads(t, db, 1<<20)
	prov.Uploads = up
	fwm := webtest.NewFirmware(fw, 4, 30)
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL, Phones: phones}, phone.SignIn(si), api.SignIn(si), pages.DeviceLogin(si), api.PolicyModule(pol), console.Home(pol), phone.Provisioning{Service: prov}, api.Devices{Service: prov},
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
		{devAmosMAC, "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1 Type/Application"},
		{devOtherMAC, "Yealink SIP-T58A 58.86.0.15 80:5e:c0:d0:00:02"},
	} {
		if _, err := prov.Fetch(ctx, provisioning.Request{Method: "GET", Name: p.mac + ".cfg", UserAgent: p.ua, IP: "10.0.0.7"}); err != nil {
			t.Fatalf("phone %s polls: %v", p.mac, err)
		}
	}
	if _, err := si.PasswordGrant(ctx, "polycom", devAmosMAC, "amosm@contoso.com", "correct horse", "10.0.0.7"); err != nil {
		t.Fatal(err)
	}
	// The phone's next poll records who is signed in on it.
	if _, err := prov.Fetch(ctx, provisioning.Request{Method: "GET", Name: devAmosMAC + ".cfg", UserAgent: "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1 Type/Application", IP: "10.0.0.7"}); err != nil {
		t.Fatal(err)
	}
	sess, ok, err := si.PhoneSession(ctx, devAmosMAC)
	if err != nil || !ok {
		t.Fatalf("Amos's session: %v %v", ok, err)
	}
	if err := si.SetLockPIN(ctx, sess.ID, "246813"); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Put(ctx, devAmosMAC, devAmosMAC+"-app.log", strings.NewReader("0101 boot\n")); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"6.3.0.1", "6.4.0.1"} {
		if err := fw.Poll(ctx, firmware.Device{Vendor: "polycom", Model: "VVX 500", MAC: devAmosMAC, Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	return devConsoleEnv{url: ts.URL, admin: tok, si: si, prov: prov, phones: phones}
}

// api calls the REST API as the bootstrap admin and decodes its answer.
func (e devConsoleEnv) api(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
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

// auditHas reports whether the one audit log has an entry of kind, object
// and action by actor, read through GET /api/v1/audit.
func (e devConsoleEnv) auditHas(t *testing.T, kind, object, action, actor string) bool {
	t.Helper()
	var es []audit.Entry
	if code := e.api(t, "GET", "/api/v1/audit?kind="+kind, &es); code != 200 {
		t.Fatalf("GET /api/v1/audit: %d", code)
	}
	for _, en := range es {
		if en.ObjectID == object && en.Action == action && en.Actor == actor {
			return true
		}
	}
	return false
}

func TestConsoleDevicesListAndPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := devConsoleServer(t, db)
		b := consoleSignInAs(t, e.url, "viewer", "viewer-password")

		t.Run("the nav links both pages, and the list shows both phones", func(t *testing.T) {
			res, page := b.get("/admin/devices")
			if res.StatusCode != 200 || !strings.Contains(page, `<a href="/admin/devices">Devices</a>`) || !strings.Contains(page, `<a href="/admin/signin">Sign-in</a>`) {
				t.Fatalf("%d\n%s", res.StatusCode, page)
			}
			for _, mac := range []string{devAmosMAC, devOtherMAC} {
				if !strings.Contains(page, `id="device-`+mac+`"`) {
					t.Errorf("the list lacks %s", mac)
				}
			}
		})
		for _, tc := range []struct{ name, query, want, not string }{
			{"a search by user finds Amos's phone", "q=AMOSM", devAmosMAC, devOtherMAC},
			{"a search by MAC in colon spelling", "q=80:5e:c0:d0", devOtherMAC, devAmosMAC},
			{"the vendor filter", "vendor=yealink", devOtherMAC, devAmosMAC},
			{"the model filter", "model=VVX500", devAmosMAC, devOtherMAC},
			{"the firmware filter", "firmware=58.86.0.15", devOtherMAC, devAmosMAC},
			{"the seen-since filter keeps phones seen in the last hour", "seen=1h&vendor=polycom", devAmosMAC, devOtherMAC},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, page := b.get("/admin/devices?" + tc.query)
				if res.StatusCode != 200 || !strings.Contains(page, `id="device-`+tc.want+`"`) || strings.Contains(page, `id="device-`+tc.not+`"`) {
					t.Fatalf("%d\n%s", res.StatusCode, page)
				}
			})
		}
		t.Run("the enrolment filter, after the phone is approved", func(t *testing.T) {
			if _, err := e.phones.Approve(context.Background(), devOtherMAC, "admin"); err != nil {
				t.Fatal(err)
			}
			_, page := b.get("/admin/devices?enrolment=approved")
			if !strings.Contains(page, `id="device-`+devOtherMAC+`"`) || strings.Contains(page, `id="device-`+devAmosMAC+`"`) {
				t.Fatal(page)
			}
		})
		t.Run("50 phones a page, and the next page continues after the last", func(t *testing.T) {
			at := time.Now().Add(-2 * time.Hour).UTC()
			for i := range 55 {
				r := provisioning.DeviceRecord{MAC: fmt.Sprintf("805ec0e%05x", i), Vendor: "yealink", Model: "T46G", FirstSeen: at, LastSeen: at.Add(time.Duration(i%7) * time.Second)}
				if err := db.Create(&r).Error; err != nil {
					t.Fatal(err)
				}
			}
			seen := map[string]bool{}
			next := "/admin/devices?vendor=yealink"
			for pages := 0; next != ""; pages++ {
				if pages == 3 {
					t.Fatal("more than two pages for 56 phones")
				}
				res, page := b.get(next)
				if res.StatusCode != 200 {
					t.Fatalf("%s: %d", next, res.StatusCode)
				}
				for _, m := range consoleDeviceLinks.FindAllStringSubmatch(page, -1) {
					if seen[m[1]] {
						t.Fatalf("%s is on two pages", m[1])
					}
					seen[m[1]] = true
				}
				next = ""
				if m := consoleNextPage.FindStringSubmatch(page); m != nil {
					next = html.UnescapeString(m[1])
				}
			}
			if len(seen) != 56 {
				t.Fatalf("the pages showed %d phones, want 56", len(seen))
			}
		})
		t.Run("a bad filter is a 400 page that says what to do, not a 500", func(t *testing.T) {
			for _, q := range []string{"enrolment=lost", "seen=forever", "after=yesterday"} {
				res, page := b.get("/admin/devices?" + q)
				if res.StatusCode != 400 || !strings.Contains(page, `id="problem"`) {
					t.Errorf("%s: %d", q, res.StatusCode)
				}
			}
		})
		t.Run("the phone's page shows its facts, user, enrolment, files, upload and firmware", func(t *testing.T) {
			res, page := b.get("/admin/devices/00-04-F2-D0-00-01")
			for _, want := range []string{`id="fact-model">VVX500`, `id="session-upn">amosm@contoso.com`, "PIN set", `id="enrolment-state">deskprov holds no enrolment`,
				`href="/admin/devices/` + devAmosMAC + `?file=` + devAmosMAC + `.cfg#preview"`, devAmosMAC + `-app.log`, "6.3.0.1", "Reported version"} {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			if res.StatusCode != 200 {
				t.Fatalf("%d\n%s", res.StatusCode, page)
			}
			// A reader sees no buttons it could not use.
			for _, not := range []string{`id="signout"`, `id="approve"`, `id="revoke"`} {
				if strings.Contains(page, not) {
					t.Errorf("a reader is shown %s", not)
				}
			}
		})
		t.Run("the preview is what the API's preview renders", func(t *testing.T) {
			_, page := b.get("/admin/devices/" + devAmosMAC + "?file=" + devAmosMAC + ".cfg")
			var f api.DeviceFileView
			if code := e.api(t, "GET", "/api/v1/devices/"+devAmosMAC+"/files/"+devAmosMAC+".cfg", &f); code != 200 || f.Body == "" {
				t.Fatalf("API preview: %d", code)
			}
			if !strings.Contains(page, `id="preview-body"`) || !strings.Contains(page, templateEscape(f.Body)) {
				t.Fatalf("the console's preview differs from the API's:\n%s", page)
			}
		})
		t.Run("the API and the page show the same firmware history", func(t *testing.T) {
			var h firmware.DeviceHistory
			if code := e.api(t, "GET", "/api/v1/devices/00:04:f2:d0:00:01/firmware", &h); code != 200 || h.Version != "6.4.0.1" ||
				len(h.Changes) != 1 || h.Changes[0].From != "6.3.0.1" || h.Changes[0].To != "6.4.0.1" {
				t.Fatalf("%d %+v", code, h)
			}
			if code := e.api(t, "GET", "/api/v1/devices/"+devOtherMAC+"/firmware", nil); code != 404 {
				t.Fatalf("a phone that never asked for firmware: %d", code)
			}
		})
		t.Run("the API's device list takes the same search and enrolment filter", func(t *testing.T) {
			var ds []provisioning.DeviceRecord
			if code := e.api(t, "GET", "/api/v1/devices?q=amosm&enrolment=none", &ds); code != 200 || len(ds) != 1 || ds[0].MAC != devAmosMAC {
				t.Fatalf("%d %+v", code, ds)
			}
			if code := e.api(t, "GET", "/api/v1/devices?enrolment=lost", nil); code != 400 {
				t.Fatalf("an unknown state: %d", code)
			}
		})
		t.Run("the upload downloads", func(t *testing.T) {
			res, body := b.get("/admin/devices/" + devAmosMAC + "/uploads/" + devAmosMAC + "-app.log")
			if res.StatusCode != 200 || body != "0101 boot\n" || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("%d %q", res.StatusCode, body)
			}
		})
		t.Run("a phone never seen is a 404 page, a bad MAC a 400 page", func(t *testing.T) {
			if res, page := b.get("/admin/devices/0004f2ffffff"); res.StatusCode != 404 || !strings.Contains(page, "no device with MAC") {
				t.Errorf("%d\n%s", res.StatusCode, page)
			}
			if res, _ := b.get("/admin/devices/not-a-mac"); res.StatusCode != 400 {
				t.Errorf("%d", res.StatusCode)
			}
		})
	})
}

var (
	consoleDeviceLinks = regexp.MustCompile(`id="device-([0-9a-f]{12})"`)
	consoleNextPage    = regexp.MustCompile(`href="([^"]+)" id="next-page"`)
)

// templateEscape is s as html/template writes it in text.
func templateEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestConsoleDeviceAndSignInRoles: each change on the pages is refused to
// the roles the API refuses it to, with the console's HTML refusal, and
// changes nothing; the roles that may make it do, and the audit log names
// who did.
func TestConsoleDeviceAndSignInRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := devConsoleServer(t, db)
		ctx := context.Background()
		viewer := consoleSignInAs(t, e.url, "viewer", "viewer-password")
		desk := consoleSignInAs(t, e.url, "desk", "desk-password")
		boss := consoleSignInAs(t, e.url, "admin", "admin-password")
		csrf := func(b *consoleTestBrowser) string {
			_, page := b.get("/admin/signin")
			return consoleCSRF(t, page)
		}
		signedIn := func() bool {
			_, ok, err := e.si.PhoneSession(ctx, devAmosMAC)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		jwks := func() signin.JWKS {
			var ks signin.JWKS
			if code := e.api(t, "GET", "/oauth2/jwks", &ks); code != 200 {
				t.Fatalf("jwks: %d", code)
			}
			return ks
		}
		refused := func(b *consoleTestBrowser, path string, form url.Values, needs string) {
			t.Helper()
			res, page := b.post(path, form)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "needs the "+needs+" role") {
				t.Fatalf("POST %s: %d\n%s", path, res.StatusCode, page)
			}
		}

		t.Run("a reader can POST nothing", func(t *testing.T) {
			c := csrf(viewer)
			for _, a := range []string{"signout", "resetpin", "unlockcode"} {
				refused(viewer, "/admin/signin/phones/"+devAmosMAC+"/"+a, url.Values{"csrf_token": {c}}, "helpdesk")
			}
			refused(viewer, "/admin/signin/rotate", url.Values{"csrf_token": {c}}, "admin")
			refused(viewer, "/admin/devices/"+devAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {"approve"}}, "admin")
			if !signedIn() {
				t.Fatal("a reader's refused POST signed the phone out")
			}
			_, page := viewer.get("/admin/signin")
			if strings.Contains(page, `id="signout-`+devAmosMAC+`"`) || strings.Contains(page, `id="rotate"`) {
				t.Fatal("a reader is shown buttons it may not use")
			}
		})
		t.Run("the help desk cannot rotate the key or change enrolment", func(t *testing.T) {
			before := jwks()
			c := csrf(desk)
			refused(desk, "/admin/signin/rotate", url.Values{"csrf_token": {c}}, "admin")
			refused(desk, "/admin/devices/"+devAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {"revoke"}}, "admin")
			if k := newKid(before, jwks()); k != "" {
				t.Fatalf("a new key %s is published", k)
			}
			if _, err := e.phones.Get(ctx, devAmosMAC); fault404(err) == false {
				t.Fatalf("the enrolment changed: %v", err)
			}
			_, page := desk.get("/admin/signin")
			if strings.Contains(page, `id="rotate"`) || !strings.Contains(page, `id="resetpin-`+devAmosMAC+`"`) {
				t.Fatal("the help desk's page shows the wrong buttons")
			}
		})
		t.Run("a form without its CSRF token is refused", func(t *testing.T) {
			if res, _ := desk.post("/admin/signin/phones/"+devAmosMAC+"/signout", url.Values{}); res.StatusCode != 403 || !signedIn() {
				t.Fatalf("%d", res.StatusCode)
			}
		})
		t.Run("the help desk resets the PIN, issues an unlock code and signs the phone out", func(t *testing.T) {
			c := csrf(desk)
			res, _ := desk.post("/admin/signin/phones/"+devAmosMAC+"/resetpin", url.Values{"csrf_token": {c}})
			if res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/admin/signin?") {
				t.Fatalf("reset PIN: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := desk.get(res.Header.Get("Location"))
			if !strings.Contains(page, "lock PIN of phone "+devAmosMAC+" is reset") || strings.Contains(page, "PIN set") {
				t.Fatalf("after the reset:\n%s", page)
			}
			res, _ = desk.post("/admin/signin/phones/"+devAmosMAC+"/unlockcode", url.Values{"csrf_token": {c}})
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/signin" {
				t.Fatalf("unlock code: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page = desk.get("/admin/signin")
			if !strings.Contains(page, "Unlock code for phone "+devAmosMAC+": ") {
				t.Fatalf("the code is not shown after the redirect:\n%s", page)
			}
			if _, page = desk.get("/admin/signin"); strings.Contains(page, "Unlock code for phone") {
				t.Fatal("the code is shown again on a reload")
			}
			res, _ = desk.post("/admin/signin/phones/"+devAmosMAC+"/unlockcode", url.Values{"csrf_token": {c}, "from": {"device"}})
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/devices/"+devAmosMAC {
				t.Fatalf("unlock code from the phone's page: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if _, page = desk.get("/admin/devices/" + devAmosMAC); !strings.Contains(page, "Unlock code for phone "+devAmosMAC+": ") {
				t.Fatal("the phone's page does not show the code it was sent back with")
			}
			res, _ = desk.post("/admin/signin/phones/"+devAmosMAC+"/signout", url.Values{"csrf_token": {c}, "from": {"device"}})
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/devices/"+devAmosMAC+"?done=signout" || signedIn() {
				t.Fatalf("sign out: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			var ss []signin.Session
			if code := e.api(t, "GET", "/api/v1/phonesessions", &ss); code != 200 || len(ss) != 0 {
				t.Fatalf("the API still lists %v", ss)
			}
			for _, a := range []string{"resetpin", "unlockcode", "signout"} {
				if !e.auditHas(t, audit.KindPhone, devAmosMAC, a, "desk") {
					t.Errorf("no %s by desk in the audit log", a)
				}
			}
			res, page = desk.post("/admin/signin/phones/"+devAmosMAC+"/signout", url.Values{"csrf_token": {c}})
			if res.StatusCode != 404 || !strings.Contains(page, `id="problem"`) {
				t.Fatalf("signing out a phone nobody is on: %d", res.StatusCode)
			}
		})
		t.Run("an admin rotates the key and approves, then revokes, the phone", func(t *testing.T) {
			before := jwks()
			c := csrf(boss)
			res, _ := boss.post("/admin/signin/rotate", url.Values{"csrf_token": {c}})
			k := newKid(before, jwks())
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/signin?done=rotate" || k == "" {
				t.Fatalf("rotate: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if !e.auditHas(t, audit.KindSigningKey, k, "rotate", "admin") {
				t.Error("no rotation in the audit log")
			}
			for _, a := range []string{"approve", "revoke"} {
				res, _ = boss.post("/admin/devices/"+devAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {a}})
				if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/devices/"+devAmosMAC+"?done="+a {
					t.Fatalf("%s: %d %q", a, res.StatusCode, res.Header.Get("Location"))
				}
				var p phoneid.Phone
				e.api(t, "GET", "/api/v1/enrolments/"+devAmosMAC, &p)
				if want := map[string]phoneid.State{"approve": phoneid.Approved, "revoke": phoneid.Revoked}[a]; p.State != want {
					t.Fatalf("after %s the API says %s", a, p.State)
				}
				if !e.auditHas(t, audit.KindEnrolment, devAmosMAC, a, "admin") {
					t.Errorf("no %s in the one audit log", a)
				}
			}
			res, page := boss.post("/admin/devices/"+devAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {"revoke"}})
			if res.StatusCode != 409 || !strings.Contains(page, "already revoked") {
				t.Fatalf("revoking twice: %d", res.StatusCode)
			}
		})
	})
}

func fault404(err error) bool { return err != nil && strings.Contains(fmt.Sprint(err), "no enrolment") }
