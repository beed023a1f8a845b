package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// siteFamily is a phone family for these tests alone: its files say what
// Inputs.Site holds, so the tests do not depend on any vendor's parameter
// names. "site-<mac>.cfg" is a phone's own file, "site-shared.cfg" a file
// every phone of the family gets.
type siteFamily struct{}

const siteAgent = "SiteTest/1.0"

func (siteFamily) Vendor() string { return "sitetest" }
func (siteFamily) Identify(ua string) (provisioning.Device, bool) {
	return provisioning.Device{Vendor: "sitetest", Model: "S1", Version: "1.0"}, strings.HasPrefix(ua, "SiteTest/")
}
func (siteFamily) Claims(string) bool { return false }
func (siteFamily) Resolve(method, name string, dev *provisioning.Device) (provisioning.Entry, error) {
	if name == "site-shared.cfg" {
		return provisioning.Entry{Kind: provisioning.Rendered, Name: name, Template: "shared", ContentType: "text/plain"}, nil
	}
	mac, ok := strings.CutPrefix(strings.TrimSuffix(name, ".cfg"), "site-")
	if !ok || !strings.HasSuffix(name, ".cfg") {
		return provisioning.Entry{}, provisioning.NotFound(name)
	}
	m, err := provisioning.ParseMAC(mac)
	if err != nil {
		return provisioning.Entry{}, err
	}
	dev.MAC = m
	return provisioning.Entry{Kind: provisioning.Rendered, Name: "site-" + m + ".cfg", Template: "phone", ContentType: "text/plain", Main: true, PerDevice: true}, nil
}
func (siteFamily) Render(e provisioning.Entry, in provisioning.Inputs) ([]byte, error) {
	s := in.Site
	return fmt.Appendf(nil, "site=%s\nntp=%s\ntz=%s\nlanguage=%s\nadminpw=%s\n", s.Name, strings.Join(s.NTPServers, ","), s.TimeZone, s.Language, s.AdminPassword), nil
}
func (siteFamily) BootSequence(provisioning.Device) []provisioning.Step { return nil }
func (siteFamily) Files(dev provisioning.Device) []string {
	return []string{"site-shared.cfg", "site-" + dev.MAC + ".cfg"}
}
func (siteFamily) Reference() provisioning.Reference { return provisioning.Reference{} }

type sitesEnv struct {
	url, token string
	svc        *site.Service
	phones     *phoneid.Service
}

// sitesTestServer serves the sites module, provisioning with siteFamily and
// the server-wide defaults given, behind a trusted proxy on loopback so a
// test places a phone anywhere with X-Forwarded-For.
func sitesTestServer(t *testing.T, db *gorm.DB, defaults provisioning.Site) sitesEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, phoneid.Migrate, provisioning.Migrate, site.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	box, err := sealbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	phones := phoneid.New(db)
	phones.Secrets = box
	sites := site.New(db)
	sites.Secrets = box
	p := provisioning.New(db, siteFamily{})
	p.Server = provisioning.Server{PublicURL: "http://prov.test", Site: defaults}
	p.Sites = sites
	ps := policy.New(db)
	ps.Users = tn
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: "http://prov.test", TrustedProxies: []string{"127.0.0.1"}, Phones: phones},
		api.PolicyModule(ps), console.Home(ps), phone.Provisioning{Service: p}, api.Devices{Service: p}, api.SitesModule{Service: sites, Defaults: p.Server.DefaultSite()}, console.Sites(sites, p.Server.DefaultSite()))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return sitesEnv{url: ts.URL, token: tok, svc: sites, phones: phones}
}

// poll is a phone at ip fetching name.
func (e sitesEnv) poll(t *testing.T, ip, name string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.url+"/prov/"+name, nil)
	req.Header.Set("User-Agent", siteAgent)
	req.Header.Set("X-Forwarded-For", ip)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s from %s: %d %s", name, ip, res.StatusCode, b)
	}
	return string(b)
}

func (e sitesEnv) call(t *testing.T, method, path, body string, status int, contains ...string) string {
	t.Helper()
	code, got := webtest.EnrolmentCall(t, e.url, "Bearer "+e.token, method, path, body)
	if code != status {
		t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, code, got, status)
	}
	for _, w := range contains {
		if !strings.Contains(got, w) {
			t.Fatalf("%s %s: %s lacks %s", method, path, got, w)
		}
	}
	return got
}

// TestPhonesGetTheirOwnSitesSettings is the end-to-end path: two phones in
// two sites' subnets get their site's NTP servers, time zone and language,
// a phone outside every site the serve defaults; the same request from
// phones in different sites is never answered from the other's cache; a
// change through the API reaches the next poll; a shared file never carries
// the admin password.
func TestPhonesGetTheirOwnSitesSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := sitesTestServer(t, db, provisioning.Site{NTPServers: []string{"ntp.default.example"}, TimeZone: "Europe/London", Language: "en-GB"})
		e.call(t, "POST", "/api/v1/sites", `{"name":"HQ","subnets":["10.1.0.0/16"],"ntpServers":["ntp.hq.example"],"timeZone":"Europe/Stockholm","language":"sv-SE","adminPassword":"hq-Admin-1"}`, 201)
		e.call(t, "POST", "/api/v1/sites", `{"name":"Plant","subnets":["10.2.0.0/16","2001:db8:2::/48"],"ntpServers":["10.2.0.1","10.2.0.2"],"timeZone":"America/Chicago"}`, 201)

		for _, c := range []struct{ ip, mac, want string }{
			{"10.1.0.21", "0004f2000001", "site=HQ\nntp=ntp.hq.example\ntz=Europe/Stockholm\nlanguage=sv-SE\nadminpw=hq-Admin-1\n"},
			{"10.2.3.4", "0004f2000002", "site=Plant\nntp=10.2.0.1,10.2.0.2\ntz=America/Chicago\nlanguage=en-GB\nadminpw=\n"},
			{"2001:db8:2::9", "0004f2000003", "site=Plant\nntp=10.2.0.1,10.2.0.2\ntz=America/Chicago\nlanguage=en-GB\nadminpw=\n"},
			{"192.0.2.50", "0004f2000004", "site=\nntp=ntp.default.example\ntz=Europe/London\nlanguage=en-GB\nadminpw=\n"},
		} {
			if got := e.poll(t, c.ip, "site-"+c.mac+".cfg"); got != c.want {
				t.Errorf("phone at %s got\n%s\nwant\n%s", c.ip, got, c.want)
			}
		}
		// One file name, one User-Agent, three sites, in turn and again:
		// each answer is its own site's, whatever was cached before.
		for range 2 {
			for ip, want := range map[string]string{"10.1.9.9": "tz=Europe/Stockholm", "10.2.9.9": "tz=America/Chicago", "198.51.100.1": "tz=Europe/London"} {
				got := e.poll(t, ip, "site-shared.cfg")
				if !strings.Contains(got, want) {
					t.Errorf("shared file from %s: %q, want %s", ip, got, want)
				}
				if strings.Contains(got, "hq-Admin-1") {
					t.Errorf("a shared file carries the admin password: %q", got)
				}
			}
			if got := e.poll(t, "10.2.0.77", "site-0004f2000001.cfg"); !strings.Contains(got, "site=Plant") {
				t.Errorf("the HQ phone's file asked for from the Plant: %q", got)
			}
			if got := e.poll(t, "10.1.0.21", "site-0004f2000001.cfg"); !strings.Contains(got, "site=HQ") {
				t.Errorf("the HQ phone's file back at HQ: %q", got)
			}
		}
		e.call(t, "PATCH", "/api/v1/sites/hq", `{"timeZone":"Asia/Tokyo","ntpServers":[]}`, 200, `"timeZone":"Asia/Tokyo"`)
		if got := e.poll(t, "10.1.0.21", "site-0004f2000001.cfg"); !strings.Contains(got, "tz=Asia/Tokyo\n") || !strings.Contains(got, "ntp=ntp.default.example\n") {
			t.Errorf("after the change: %q", got)
		}
		e.call(t, "DELETE", "/api/v1/sites/Plant", "", 200, `"removed":"Plant"`)
		if got := e.poll(t, "10.2.3.4", "site-0004f2000002.cfg"); !strings.Contains(got, "site=\n") || !strings.Contains(got, "tz=Europe/London\n") {
			t.Errorf("after the site was removed: %q", got)
		}
		// The admin's preview, for a site by name and for none.
		got := e.call(t, "GET", "/api/v1/devices/0004f2000009/files/site-0004f2000009.cfg?vendor=sitetest&site=HQ", "", 200)
		if !strings.Contains(got, `tz=Asia/Tokyo`) || !strings.Contains(got, `adminpw=********`) || strings.Contains(got, "hq-Admin-1") {
			t.Errorf("preview for HQ (the admin password masked): %s", got)
		}
		// The masked preview is never what a phone gets.
		if got := e.poll(t, "10.1.0.30", "site-0004f2000009.cfg"); !strings.Contains(got, "adminpw=hq-Admin-1\n") {
			t.Errorf("the phone after the preview: %q", got)
		}
		got = e.call(t, "GET", "/api/v1/devices/0004f2000009/files/site-0004f2000009.cfg?vendor=sitetest", "", 200)
		if !strings.Contains(got, `tz=Europe/London`) {
			t.Errorf("preview for no site: %s", got)
		}
		e.call(t, "GET", "/api/v1/devices/0004f2000009/files/site-0004f2000009.cfg?vendor=sitetest&site=Nowhere", "", 404, "Nowhere")
	})
}

func TestSitesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := sitesTestServer(t, db, provisioning.Site{})
		e.call(t, "GET", "/api/v1/sites", "", 200, "[]")
		got := e.call(t, "POST", "/api/v1/sites", `{"name":"Building 2","subnets":["10.2.0.0/16"],"adminPassword":"pw-1234"}`, 201,
			`"name":"Building 2"`, `"adminPassword":{"set":true}`, `"ntpServers":[]`)
		if strings.Contains(got, "pw-1234") {
			t.Fatalf("the password is shown: %s", got)
		}
		for _, c := range []struct {
			method, path, body string
			status             int
			field              string
		}{
			{"POST", "/api/v1/sites", `{"name":"B3","subnets":["10.3.1.0/16"]}`, 400, "subnets"},
			{"POST", "/api/v1/sites", `{"name":"B3","subnets":["10.3.0.0/16"],"ntpServers":["bad name"]}`, 400, "ntpServers"},
			{"POST", "/api/v1/sites", `{"name":"B3","subnets":["10.3.0.0/16"],"timeZone":"Nowhere/Else"}`, 400, "timeZone"},
			{"POST", "/api/v1/sites", `{"name":"B3","subnets":["10.3.0.0/16"],"language":"12345678901"}`, 400, "language"},
			{"POST", "/api/v1/sites", `{"name":"B\u00003","subnets":["10.3.0.0/16"]}`, 400, "name"},
			{"POST", "/api/v1/sites", `{"name":"B3","subnets":"10.3.0.0/16"}`, 400, "subnets"},
			{"POST", "/api/v1/sites", `{"name":"B3","subnets":["10.3.0.0/16"],"colour":"red"}`, 400, ""},
			{"POST", "/api/v1/sites", `{"name":"B3","subnets":["10.2.0.0/16"]}`, 409, ""},
			{"POST", "/api/v1/sites", `{"name":"building 2","subnets":["10.3.0.0/16"]}`, 409, ""},
			{"PATCH", "/api/v1/sites/Building%202", `{"adminPassword":"a","removeAdminPassword":true}`, 400, "adminPassword"},
			{"PATCH", "/api/v1/sites/Nope", `{"timeZone":"UTC"}`, 404, ""},
			{"PATCH", "/api/v1/sites/B%00x", `{"timeZone":"UTC"}`, 400, "path"},
			{"GET", "/api/v1/sites/Nope", "", 404, ""},
			{"DELETE", "/api/v1/sites/Nope", "", 404, ""},
		} {
			code, body := webtest.EnrolmentCall(t, e.url, "Bearer "+e.token, c.method, c.path, c.body)
			var eb web.ErrorBody
			json.Unmarshal([]byte(body), &eb)
			if code != c.status || (c.field != "" && eb.Field != c.field) {
				t.Errorf("%s %s %s: %d %s, want %d on %q", c.method, c.path, c.body, code, body, c.status, c.field)
			}
		}
		e.call(t, "PATCH", "/api/v1/sites/building%202", `{"name":"B2","subnets":["10.2.0.0/16","10.22.0.0/16"],"language":"de-de","removeAdminPassword":true}`, 200,
			`"name":"B2"`, `"language":"de-DE"`, `"adminPassword":{"set":false}`, `"10.22.0.0/16"`)
		e.call(t, "GET", "/api/v1/sites/B2", "", 200, `"subnets":["10.2.0.0/16","10.22.0.0/16"]`)
		e.call(t, "GET", "/api/v1/sites", "", 200, `"name":"B2"`)
		e.call(t, "DELETE", "/api/v1/sites/b2", "", 200, `"removed":"B2"`)
		e.call(t, "GET", "/api/v1/sites", "", 200, "[]")
	})
}

// TestSitesAPIRefusesEveryoneButAnAdmin: nobody, a made-up token and a
// phone presenting its own provisioning credentials are refused every call
// (401), and nothing changes.
func TestSitesAPIRefusesEveryoneButAnAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := sitesTestServer(t, db, provisioning.Site{})
		e.call(t, "POST", "/api/v1/sites", `{"name":"HQ","subnets":["10.1.0.0/16"],"adminPassword":"pw-1234"}`, 201)
		a, err := e.phones.Admit(context.Background(), phoneid.Request{MAC: webtest.EnrolMAC, Need: phoneid.Issuing, UserAgent: "FileTransport PolycomVVX-VVX_500-UA/6.4.0.1 Type/Application",
			HTTP: phoneid.HTTPRequest{Method: "GET", URI: "/prov/deskprov-" + webtest.EnrolMAC + ".cfg", IP: "10.1.2.3"}})
		if err != nil || a.Issue == nil {
			t.Fatalf("the phone was not issued credentials: %v", err)
		}
		callers := map[string]string{
			"nobody":            "",
			"a made-up token":   "Bearer not-a-token",
			"the phone (Basic)": phoneid.BasicAnswer(a.Issue.User, a.Issue.Password),
		}
		calls := []struct{ method, path, body string }{
			{"GET", "/api/v1/sites", ""},
			{"GET", "/api/v1/sites/HQ", ""},
			{"POST", "/api/v1/sites", `{"name":"X","subnets":["10.9.0.0/16"]}`},
			{"PATCH", "/api/v1/sites/HQ", `{"timeZone":"Asia/Tokyo"}`},
			{"DELETE", "/api/v1/sites/HQ", ""},
		}
		for who, authz := range callers {
			for _, c := range calls {
				if code, body := webtest.EnrolmentCall(t, e.url, authz, c.method, c.path, c.body); code != 401 {
					t.Errorf("%s: %s %s answered %d %s", who, c.method, c.path, code, body)
				}
			}
		}
		l, err := e.svc.List(context.Background())
		if err != nil || len(l) != 1 || l[0].TimeZone != "" {
			t.Fatalf("refused calls changed the sites: %+v %v", l, err)
		}
	})
}

func TestSitesConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		e := sitesTestServer(t, db, provisioning.Site{})
		ctx := context.Background()
		b := webtest.NewConsoleTestBrowser(t, e.url)
		t.Run("a visitor without a session is sent to the sign-in page and changes nothing", func(t *testing.T) {
			res, _ := b.Get("/admin/sites")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page := b.Get("/admin/login")
			res, _ = b.Post("/admin/sites", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"HQ"}, "subnets": {"10.1.0.0/16"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			if l, _ := e.svc.List(ctx); len(l) != 0 {
				t.Fatalf("a visitor made %+v", l)
			}
		})
		webtest.ConsoleSignIn(t, b)
		t.Run("the navigation links the page, which shows the server-wide settings", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			if !strings.Contains(page, `<a href="/admin/sites">Sites</a>`) {
				t.Fatal("no link to the sites page")
			}
			res, page := b.Get("/admin/sites")
			if res.StatusCode != 200 || !strings.Contains(page, "NTP pool.ntp.org, time zone UTC") || !strings.Contains(page, "No site yet") {
				t.Fatalf("%d\n%s", res.StatusCode, page)
			}
		})
		t.Run("a form without the CSRF token is refused", func(t *testing.T) {
			res, _ := b.Post("/admin/sites", url.Values{"name": {"HQ"}, "subnets": {"10.1.0.0/16"}})
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
			if l, _ := e.svc.List(ctx); len(l) != 0 {
				t.Fatalf("made %+v", l)
			}
		})
		t.Run("bad input is shown with the form kept", func(t *testing.T) {
			_, page := b.Get("/admin/sites")
			res, page := b.Post("/admin/sites", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"HQ"}, "subnets": {"10.1.0.0/16"}, "timeZone": {"Mars/Base"}})
			if res.StatusCode != 400 || !strings.Contains(page, "is not a time zone") || !strings.Contains(page, "Mars/Base") {
				t.Fatalf("%d\n%s", res.StatusCode, page)
			}
		})
		t.Run("creating, editing and removing a site", func(t *testing.T) {
			_, page := b.Get("/admin/sites")
			res, _ := b.Post("/admin/sites", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"HQ"}, "subnets": {"10.1.0.0/16\r\n2001:db8:1::/48"},
				"ntpServers": {"ntp1.hq.example, 10.1.0.1"}, "timeZone": {"Europe/Stockholm"}, "language": {"sv-SE"}, "adminPassword": {"hq-Admin-1"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/sites?done=created&site=HQ" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			_, page = b.Get("/admin/sites?done=created&site=HQ")
			for _, w := range []string{"Site HQ is created", `href="/admin/sites/HQ"`, "2001:db8:1::/48", "ntp1.hq.example, 10.1.0.1", "Europe/Stockholm", ">set<"} {
				if !strings.Contains(page, w) {
					t.Errorf("the list lacks %s", w)
				}
			}
			if strings.Contains(page, "hq-Admin-1") {
				t.Fatal("the page shows the password")
			}
			_, page = b.Get("/admin/sites/HQ")
			if !strings.Contains(page, `id="site-remove-password"`) || strings.Contains(page, "hq-Admin-1") {
				t.Fatalf("the site's page:\n%s", page)
			}
			// Saving without typing a password keeps it.
			res, _ = b.Post("/admin/sites/HQ", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"HQ"}, "subnets": {"10.1.0.0/16"}, "ntpServers": {""}, "timeZone": {"Asia/Tokyo"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d", res.StatusCode)
			}
			st, err := e.svc.Get(ctx, "HQ")
			if err != nil || st.TimeZone != "Asia/Tokyo" || len(st.NTPServers) != 0 || len(st.Subnets) != 1 || !st.AdminPassword.Set || st.Language != "" {
				t.Fatalf("after save: %+v %v", st, err)
			}
			res, _ = b.Post("/admin/sites/HQ", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "name": {"HQ"}, "subnets": {"10.1.0.0/16"}, "removeAdminPassword": {"true"}})
			if st, _ = e.svc.Get(ctx, "HQ"); res.StatusCode != http.StatusSeeOther || st.AdminPassword.Set {
				t.Fatalf("remove the password: %d %+v", res.StatusCode, st)
			}
			res, _ = b.Post("/admin/sites/HQ/delete", url.Values{"name": {"HQ"}})
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("delete without a token: %d", res.StatusCode)
			}
			res, _ = b.Post("/admin/sites/HQ/delete", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/sites?done=removed&site=HQ" {
				t.Fatalf("delete: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if l, _ := e.svc.List(ctx); len(l) != 0 {
				t.Fatalf("left %+v", l)
			}
			if res, _ := b.Get("/admin/sites/HQ"); res.StatusCode != 404 {
				t.Fatalf("a removed site's page: %d", res.StatusCode)
			}
		})
	})
}
