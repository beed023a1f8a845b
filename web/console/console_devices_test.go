package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/api"
)

func TestConsoleDevicesListAndPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := webtest.DevConsoleServer(t, db)
		b := webtest.ConsoleSignInAs(t, e.URL, "viewer", "viewer-password")

		t.Run("the nav links both pages, and the list shows both phones", func(t *testing.T) {
			res, page := b.Get("/admin/devices")
			if res.StatusCode != 200 || !strings.Contains(page, `<a href="/admin/devices">Devices</a>`) || !strings.Contains(page, `<a href="/admin/signin">Sign-in</a>`) {
				t.Fatalf("%d\n%s", res.StatusCode, page)
			}
			for _, mac := range []string{webtest.DevAmosMAC, webtest.DevOtherMAC} {
				if !strings.Contains(page, `id="device-`+mac+`"`) {
					t.Errorf("the list lacks %s", mac)
				}
			}
		})
		for _, tc := range []struct{ name, query, want, not string }{
			{"a search by user finds Amos's phone", "q=AMOSM", webtest.DevAmosMAC, webtest.DevOtherMAC},
			{"a search by MAC in colon spelling", "q=80:5e:c0:d0", webtest.DevOtherMAC, webtest.DevAmosMAC},
			{"the vendor filter", "vendor=yealink", webtest.DevOtherMAC, webtest.DevAmosMAC},
			{"the model filter", "model=VVX500", webtest.DevAmosMAC, webtest.DevOtherMAC},
			{"the firmware filter", "firmware=58.86.0.15", webtest.DevOtherMAC, webtest.DevAmosMAC},
			{"the seen-since filter keeps phones seen in the last hour", "seen=1h&vendor=polycom", webtest.DevAmosMAC, webtest.DevOtherMAC},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, page := b.Get("/admin/devices?" + tc.query)
				if res.StatusCode != 200 || !strings.Contains(page, `id="device-`+tc.want+`"`) || strings.Contains(page, `id="device-`+tc.not+`"`) {
					t.Fatalf("%d\n%s", res.StatusCode, page)
				}
			})
		}
		t.Run("the enrolment filter, after the phone is approved", func(t *testing.T) {
			if _, err := e.Phones.Approve(context.Background(), webtest.DevOtherMAC, "admin"); err != nil {
				t.Fatal(err)
			}
			_, page := b.Get("/admin/devices?enrolment=approved")
			if !strings.Contains(page, `id="device-`+webtest.DevOtherMAC+`"`) || strings.Contains(page, `id="device-`+webtest.DevAmosMAC+`"`) {
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
				res, page := b.Get(next)
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
				res, page := b.Get("/admin/devices?" + q)
				if res.StatusCode != 400 || !strings.Contains(page, `id="problem"`) {
					t.Errorf("%s: %d", q, res.StatusCode)
				}
			}
		})
		t.Run("the phone's page shows its facts, user, enrolment, files, upload and firmware", func(t *testing.T) {
			res, page := b.Get("/admin/devices/00-04-F2-D0-00-01")
			for _, want := range []string{`id="fact-model">VVX500`, `id="session-upn">amosm@contoso.com`, "PIN set", `id="enrolment-state">deskprov holds no enrolment`,
				`href="/admin/devices/` + webtest.DevAmosMAC + `?file=` + webtest.DevAmosMAC + `.cfg#preview"`, webtest.DevAmosMAC + `-app.log`, "6.3.0.1", "Reported version"} {
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
			_, page := b.Get("/admin/devices/" + webtest.DevAmosMAC + "?file=" + webtest.DevAmosMAC + ".cfg")
			var f api.DeviceFileView
			if code := e.API(t, "GET", "/api/v1/devices/"+webtest.DevAmosMAC+"/files/"+webtest.DevAmosMAC+".cfg", &f); code != 200 || f.Body == "" {
				t.Fatalf("API preview: %d", code)
			}
			if !strings.Contains(page, `id="preview-body"`) || !strings.Contains(page, templateEscape(f.Body)) {
				t.Fatalf("the console's preview differs from the API's:\n%s", page)
			}
		})
		t.Run("the API and the page show the same firmware history", func(t *testing.T) {
			var h firmware.DeviceHistory
			if code := e.API(t, "GET", "/api/v1/devices/00:04:f2:d0:00:01/firmware", &h); code != 200 || h.Version != "6.4.0.1" ||
				len(h.Changes) != 1 || h.Changes[0].From != "6.3.0.1" || h.Changes[0].To != "6.4.0.1" {
				t.Fatalf("%d %+v", code, h)
			}
			if code := e.API(t, "GET", "/api/v1/devices/"+webtest.DevOtherMAC+"/firmware", nil); code != 404 {
				t.Fatalf("a phone that never asked for firmware: %d", code)
			}
		})
		t.Run("the API's device list takes the same search and enrolment filter", func(t *testing.T) {
			var ds []provisioning.DeviceRecord
			if code := e.API(t, "GET", "/api/v1/devices?q=amosm&enrolment=none", &ds); code != 200 || len(ds) != 1 || ds[0].MAC != webtest.DevAmosMAC {
				t.Fatalf("%d %+v", code, ds)
			}
			if code := e.API(t, "GET", "/api/v1/devices?enrolment=lost", nil); code != 400 {
				t.Fatalf("an unknown state: %d", code)
			}
		})
		t.Run("the upload downloads", func(t *testing.T) {
			res, body := b.Get("/admin/devices/" + webtest.DevAmosMAC + "/uploads/" + webtest.DevAmosMAC + "-app.log")
			if res.StatusCode != 200 || body != "0101 boot\n" || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("%d %q", res.StatusCode, body)
			}
		})
		t.Run("a phone never seen is a 404 page, a bad MAC a 400 page", func(t *testing.T) {
			if res, page := b.Get("/admin/devices/0004f2ffffff"); res.StatusCode != 404 || !strings.Contains(page, "no device with MAC") {
				t.Errorf("%d\n%s", res.StatusCode, page)
			}
			if res, _ := b.Get("/admin/devices/not-a-mac"); res.StatusCode != 400 {
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
		e := webtest.DevConsoleServer(t, db)
		ctx := context.Background()
		viewer := webtest.ConsoleSignInAs(t, e.URL, "viewer", "viewer-password")
		desk := webtest.ConsoleSignInAs(t, e.URL, "desk", "desk-password")
		boss := webtest.ConsoleSignInAs(t, e.URL, "admin", "admin-password")
		csrf := func(b *webtest.ConsoleTestBrowser) string {
			_, page := b.Get("/admin/signin")
			return webtest.ConsoleCSRF(t, page)
		}
		signedIn := func() bool {
			_, ok, err := e.SI.PhoneSession(ctx, webtest.DevAmosMAC)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		jwks := func() signin.JWKS {
			var ks signin.JWKS
			if code := e.API(t, "GET", "/oauth2/jwks", &ks); code != 200 {
				t.Fatalf("jwks: %d", code)
			}
			return ks
		}
		refused := func(b *webtest.ConsoleTestBrowser, path string, form url.Values, needs string) {
			t.Helper()
			res, page := b.Post(path, form)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "needs the "+needs+" role") {
				t.Fatalf("POST %s: %d\n%s", path, res.StatusCode, page)
			}
		}

		t.Run("a reader can POST nothing", func(t *testing.T) {
			c := csrf(viewer)
			for _, a := range []string{"signout", "resetpin", "unlockcode"} {
				refused(viewer, "/admin/signin/phones/"+webtest.DevAmosMAC+"/"+a, url.Values{"csrf_token": {c}}, "helpdesk")
			}
			refused(viewer, "/admin/signin/rotate", url.Values{"csrf_token": {c}}, "admin")
			refused(viewer, "/admin/devices/"+webtest.DevAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {"approve"}}, "admin")
			if !signedIn() {
				t.Fatal("a reader's refused POST signed the phone out")
			}
			_, page := viewer.Get("/admin/signin")
			if strings.Contains(page, `id="signout-`+webtest.DevAmosMAC+`"`) || strings.Contains(page, `id="rotate"`) {
				t.Fatal("a reader is shown buttons it may not use")
			}
		})
		t.Run("the help desk cannot rotate the key or change enrolment", func(t *testing.T) {
			before := jwks()
			c := csrf(desk)
			refused(desk, "/admin/signin/rotate", url.Values{"csrf_token": {c}}, "admin")
			refused(desk, "/admin/devices/"+webtest.DevAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {"revoke"}}, "admin")
			if k := webtest.NewKid(before, jwks()); k != "" {
				t.Fatalf("a new key %s is published", k)
			}
			if _, err := e.Phones.Get(ctx, webtest.DevAmosMAC); fault404(err) == false {
				t.Fatalf("the enrolment changed: %v", err)
			}
			_, page := desk.Get("/admin/signin")
			if strings.Contains(page, `id="rotate"`) || !strings.Contains(page, `id="resetpin-`+webtest.DevAmosMAC+`"`) {
				t.Fatal("the help desk's page shows the wrong buttons")
			}
		})
		t.Run("a form without its CSRF token is refused", func(t *testing.T) {
			if res, _ := desk.Post("/admin/signin/phones/"+webtest.DevAmosMAC+"/signout", url.Values{}); res.StatusCode != 403 || !signedIn() {
				t.Fatalf("%d", res.StatusCode)
			}
		})
		t.Run("the help desk resets the PIN, issues an unlock code and signs the phone out", func(t *testing.T) {
			c := csrf(desk)
			res, _ := desk.Post("/admin/signin/phones/"+webtest.DevAmosMAC+"/resetpin", url.Values{"csrf_token": {c}})
			if res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/admin/signin?") {
				t.Fatalf("reset PIN: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := desk.Get(res.Header.Get("Location"))
			if !strings.Contains(page, "lock PIN of phone "+webtest.DevAmosMAC+" is reset") || strings.Contains(page, "PIN set") {
				t.Fatalf("after the reset:\n%s", page)
			}
			res, _ = desk.Post("/admin/signin/phones/"+webtest.DevAmosMAC+"/unlockcode", url.Values{"csrf_token": {c}})
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/signin" {
				t.Fatalf("unlock code: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page = desk.Get("/admin/signin")
			if !strings.Contains(page, "Unlock code for phone "+webtest.DevAmosMAC+": ") {
				t.Fatalf("the code is not shown after the redirect:\n%s", page)
			}
			if _, page = desk.Get("/admin/signin"); strings.Contains(page, "Unlock code for phone") {
				t.Fatal("the code is shown again on a reload")
			}
			res, _ = desk.Post("/admin/signin/phones/"+webtest.DevAmosMAC+"/unlockcode", url.Values{"csrf_token": {c}, "from": {"device"}})
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/devices/"+webtest.DevAmosMAC {
				t.Fatalf("unlock code from the phone's page: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if _, page = desk.Get("/admin/devices/" + webtest.DevAmosMAC); !strings.Contains(page, "Unlock code for phone "+webtest.DevAmosMAC+": ") {
				t.Fatal("the phone's page does not show the code it was sent back with")
			}
			res, _ = desk.Post("/admin/signin/phones/"+webtest.DevAmosMAC+"/signout", url.Values{"csrf_token": {c}, "from": {"device"}})
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/devices/"+webtest.DevAmosMAC+"?done=signout" || signedIn() {
				t.Fatalf("sign out: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			var ss []signin.Session
			if code := e.API(t, "GET", "/api/v1/phonesessions", &ss); code != 200 || len(ss) != 0 {
				t.Fatalf("the API still lists %v", ss)
			}
			for _, a := range []string{"resetpin", "unlockcode", "signout"} {
				if !e.AuditHas(t, audit.KindPhone, webtest.DevAmosMAC, a, "desk") {
					t.Errorf("no %s by desk in the audit log", a)
				}
			}
			res, page = desk.Post("/admin/signin/phones/"+webtest.DevAmosMAC+"/signout", url.Values{"csrf_token": {c}})
			if res.StatusCode != 404 || !strings.Contains(page, `id="problem"`) {
				t.Fatalf("signing out a phone nobody is on: %d", res.StatusCode)
			}
		})
		t.Run("an admin rotates the key and approves, then revokes, the phone", func(t *testing.T) {
			before := jwks()
			c := csrf(boss)
			res, _ := boss.Post("/admin/signin/rotate", url.Values{"csrf_token": {c}})
			k := webtest.NewKid(before, jwks())
			if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/signin?done=rotate" || k == "" {
				t.Fatalf("rotate: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if !e.AuditHas(t, audit.KindSigningKey, k, "rotate", "admin") {
				t.Error("no rotation in the audit log")
			}
			for _, a := range []string{"approve", "revoke"} {
				res, _ = boss.Post("/admin/devices/"+webtest.DevAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {a}})
				if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/devices/"+webtest.DevAmosMAC+"?done="+a {
					t.Fatalf("%s: %d %q", a, res.StatusCode, res.Header.Get("Location"))
				}
				var p phoneid.Phone
				e.API(t, "GET", "/api/v1/enrolments/"+webtest.DevAmosMAC, &p)
				if want := map[string]phoneid.State{"approve": phoneid.Approved, "revoke": phoneid.Revoked}[a]; p.State != want {
					t.Fatalf("after %s the API says %s", a, p.State)
				}
				if !e.AuditHas(t, audit.KindEnrolment, webtest.DevAmosMAC, a, "admin") {
					t.Errorf("no %s in the one audit log", a)
				}
			}
			res, page := boss.Post("/admin/devices/"+webtest.DevAmosMAC+"/enrolment", url.Values{"csrf_token": {c}, "action": {"revoke"}})
			if res.StatusCode != 409 || !strings.Contains(page, "already revoked") {
				t.Fatalf("revoking twice: %d", res.StatusCode)
			}
		})
	})
}

func fault404(err error) bool { return err != nil && strings.Contains(fmt.Sprint(err), "no enrolment") }
