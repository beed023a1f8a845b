package pages_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// noFollow is a browser that shows each redirect instead of following it.
func noFollow(b *webtest.SigninBrowser) *http.Client {
	return &http.Client{Jar: b.C.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func rawDo(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// TestSignInPagesPostRedirectGet: every step's POST answers 303 to the GET of
// the step it leads to (so a reload or Back never resubmits a form), the GET
// shows a POST's message once, and a step's URL opened directly leads to the
// step the flow is at — never a JSON 405.
func TestSignInPagesPostRedirectGet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		steps := []string{"username", "code", "confirm", "account", "password", "otp", "enrollcode", "done", "refused"}

		// A step opened with no sign-in under way leads to its start.
		fresh := webtest.SigninTestBrowser(t, env)
		for _, step := range steps {
			resp, body := rawDo(t, noFollow(fresh), http.MethodGet, env.URL+"/devicelogin/"+step, nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devicelogin" || strings.Contains(body, `"error"`) {
				t.Fatalf("GET /devicelogin/%s with no flow: %d %q %s", step, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}

		b := webtest.SigninTestBrowser(t, env)
		nf := noFollow(b)
		da, err := env.Svc.StartDeviceAuthorization(context.Background(), "polycom", "0004f2000401", "")
		if err != nil {
			t.Fatal(err)
		}
		b.Get("/devicelogin?user_code=" + url.QueryEscape(da.UserCode))
		post := func(step string, form url.Values, wantNext string) {
			t.Helper()
			form.Set("csrf", b.CSRF)
			resp, body := rawDo(t, nf, http.MethodPost, env.URL+"/devicelogin/"+step, form)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devicelogin/"+wantNext {
				t.Fatalf("POST %s: %d %q, want 303 to /devicelogin/%s\n%s", step, resp.StatusCode, resp.Header.Get("Location"), wantNext, body)
			}
		}
		get := func(step string) (int, string) {
			t.Helper()
			st := b.Get("/devicelogin/" + step)
			return st, b.Page
		}

		post("username", url.Values{"username": {"amosm@contoso.com"}, "user_code": {da.UserCode}}, "code")
		if st, page := get("code"); st != 200 || !strings.Contains(page, `value="`+da.UserCode+`"`) {
			t.Fatalf("the code page after the username: %d %s", st, page)
		}
		// A later step opened directly leads to the step the flow is at.
		resp, _ := rawDo(t, nf, http.MethodGet, env.URL+"/devicelogin/password", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devicelogin/code" {
			t.Fatalf("GET password at the code step: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// A wrong code: shown once with its status; a reload shows the page without it.
		post("code", url.Values{"user_code": {"BCDF-GHJK"}}, "code")
		if st, page := get("code"); st != 400 || !strings.Contains(page, "That code is wrong") {
			t.Fatalf("the wrong code's page: %d %s", st, page)
		}
		if st, page := get("code"); st != 200 || strings.Contains(page, "That code is wrong") {
			t.Fatalf("the code page reloaded: %d %s", st, page)
		}
		// A form posted out of turn changes nothing.
		post("password", url.Values{"password": {"correct horse"}}, "code")
		if st, page := get("code"); st != http.StatusConflict || !strings.Contains(page, "Finish this step first") {
			t.Fatalf("a password posted at the code step: %d %s", st, page)
		}
		post("code", url.Values{"user_code": {da.UserCode}}, "confirm")
		if st, page := get("confirm"); st != 200 || !strings.Contains(page, `class="primary" id="continue"`) || !strings.Contains(page, `class="secondary" id="decline"`) {
			t.Fatalf("the confirm page (with a primary and a secondary button): %d %s", st, page)
		}
		// Back to the code page is allowed (to retype), and reading it changes nothing.
		if st, _ := get("code"); st != 200 {
			t.Fatalf("Back to the code page: %d", st)
		}
		post("confirm", url.Values{}, "account")
		post("account", url.Values{"account": {"this"}}, "password")
		post("password", url.Values{"password": {"wrong"}}, "password")
		if st, page := get("password"); st != 401 || !strings.Contains(page, `id="error"`) {
			t.Fatalf("a wrong password's page: %d %s", st, page)
		}
		post("password", url.Values{"password": {"correct horse"}}, "done")
		if st, tok := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"polycom"}, "device_code": {da.DeviceCode}}); st != 200 {
			t.Fatalf("the phone's poll after the last step: %d %v", st, tok)
		}
		if st, page := get("done"); st != 200 || !strings.Contains(page, "You can close this window") {
			t.Fatalf("the last page: %d %s", st, page)
		}
		// Back from the last page, or any step of the closed flow, shows the last page.
		for _, step := range []string{"password", "account", "confirm", "code"} {
			resp, _ := rawDo(t, nf, http.MethodGet, env.URL+"/devicelogin/"+step, nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devicelogin/done" {
				t.Fatalf("GET %s after the end: %d %q", step, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if upn, _ := env.Svc.UserOnDevice(context.Background(), "0004f2000401"); upn != "amosm@contoso.com" {
			t.Fatalf("the phone has %q signed in", upn)
		}
		// An unknown step is no JSON error either.
		resp, body := rawDo(t, nf, http.MethodGet, env.URL+"/devicelogin/frob", nil)
		if resp.StatusCode != http.StatusSeeOther || strings.Contains(body, `"error"`) {
			t.Fatalf("an unknown step: %d %s", resp.StatusCode, body)
		}
	})
}

// TestSignInLyncPhoneEditionIsRefusedBeforeThePassword: an online user
// typing a Lync Phone Edition code is told at the confirm step that LPE
// signs them in only through the PC — no password asked for — and the phone
// hears the same reason at its next poll.
func TestSignInLyncPhoneEditionIsRefusedBeforeThePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		b, da := webtest.SigninTestAtConfirm(t, env, "lpe", "00155d000402", "amosm@contoso.com")
		if strings.Contains(b.Page, `id="continue"`) || strings.Contains(b.Page, `name="password"`) || !strings.Contains(b.Page, "paired PC") {
			t.Fatalf("an LPE code for an online user reached the confirm question: %s", b.Page)
		}
		status, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"lpe"}, "device_code": {da.DeviceCode}})
		if status != 400 || body["error"] != "access_denied" || body["reason"] != "lpe_pc_only" {
			t.Fatalf("the phone was told %d %v", status, body)
		}
		// A Polycom code for the same person goes on to the confirm question.
		b2, _ := webtest.SigninTestAtConfirm(t, env, "polycom", "0004f2000402", "amosm@contoso.com")
		if !strings.Contains(b2.Page, `id="continue"`) {
			t.Fatalf("a Polycom code: %s", b2.Page)
		}
	})
}

// TestOrganizationNameOnEveryPersonPage: the organisation's name, set by an
// admin through the API, heads every sign-in page; only an admin changes it,
// any admin role reads it, and the change is in the audit log.
func TestOrganizationNameOnEveryPersonPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.MyTestServer(t, db).SigninTestEnv
		b := webtest.SigninTestBrowser(t, env)
		b.Get("/devicelogin")
		if !strings.Contains(b.Page, `id="organization">deskprov `) {
			t.Fatalf("an unnamed organisation's page: %s", b.Page)
		}
		call := func(tok, method, body string) int {
			t.Helper()
			req, _ := http.NewRequest(method, env.URL+"/api/v1/settings/organization", strings.NewReader(body))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if st := call("", http.MethodPut, `{"name":"Mallory"}`); st != 401 {
			t.Fatalf("PUT with no token: %d", st)
		}
		if st := call(env.Admin, http.MethodPut, `{"name":"A\nB"}`); st != 400 {
			t.Fatalf("a name with a line break: %d", st)
		}
		if st := call(env.Admin, http.MethodPut, `{"name":"`+strings.Repeat("x", 65)+`"}`); st != 400 {
			t.Fatalf("a 65-character name: %d", st)
		}
		if st := call(env.Admin, http.MethodPut, `{}`); st != 400 {
			t.Fatalf("no name: %d", st)
		}
		if st := call(env.Admin, http.MethodPut, `{"name":"  Contoso <Pharma> "}`); st != 200 {
			t.Fatalf("PUT: %d", st)
		}
		for _, path := range []string{"/devicelogin", "/my/signin"} {
			b.Get(path)
			if !strings.Contains(b.Page, `id="organization">Contoso &lt;Pharma&gt;`) {
				t.Fatalf("%s does not name the organisation (escaped): %s", path, b.Page)
			}
		}
		pg, err := audit.List(context.Background(), db, audit.Filter{Kind: audit.KindOrganization})
		if err != nil || len(pg.Entries) != 1 || !strings.Contains(pg.Entries[0].AfterJSON, `Contoso \u003cPharma\u003e`) || pg.Entries[0].Actor != "admin" {
			t.Fatalf("audit: %v %+v", err, pg)
		}
	})
}
