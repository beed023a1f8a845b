package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/webtest"
)

// consoleEditForm returns the edit form of a policy as the page fills it.
func consoleEditForm(t *testing.T, b *webtest.ConsoleTestBrowser, identity string) url.Values {
	t.Helper()
	_, page := b.Get("/admin/policies/" + identity)
	form := url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}}
	if m := regexp.MustCompile(`name="Version" value="(\d+)"`).FindStringSubmatch(page); m != nil {
		form.Set("Version", m[1])
	}
	p := policy.Defaults()
	for _, f := range policy.Fields() {
		switch f.Kind {
		case policy.Bool:
			if regexp.MustCompile(`name="` + f.Name + `" type="checkbox" value="true" checked`).MatchString(page) {
				form.Set(f.Name, "true")
			}
		case policy.Secret:
		case policy.Enum:
			m := regexp.MustCompile(`(?s)name="` + f.Name + `".*?<option value="([^"]*)" selected>`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no selected option for %s", f.Name)
			}
			form.Set(f.Name, m[1])
		default:
			m := regexp.MustCompile(`name="` + f.Name + `" type="text" value="([^"]*)"`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no input for %s (default %s)", f.Name, f.Text(p))
			}
			form.Set(f.Name, m[1])
		}
	}
	return form
}

func TestConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.PolicyTestServer(t, db)
		b := webtest.NewConsoleTestBrowser(t, base)

		t.Run("a visitor without a session is sent to the sign-in page", func(t *testing.T) {
			res, _ := b.Get("/admin/policies")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
		})
		t.Run("a sign-in without the CSRF token is refused", func(t *testing.T) {
			res, _ := b.Post("/admin/login", url.Values{"username": {"admin"}, "password": {"admin-password"}})
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("a wrong password shows a message on the form", func(t *testing.T) {
			_, page := b.Get("/admin/login")
			res, page := b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"wrong-password"}})
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "incorrect") || !strings.Contains(page, `value="admin"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
		})
		t.Run("signing in sets a strict HttpOnly session cookie", func(t *testing.T) {
			_, page := b.Get("/admin/login")
			if !strings.Contains(page, `<label for="username">`) || !strings.Contains(page, `<label for="password">`) {
				t.Fatal("the sign-in inputs have no labels")
			}
			res, _ := b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"admin-password"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			var session *http.Cookie
			for _, ck := range res.Cookies() {
				if ck.Name == console.SessionCookie {
					session = ck
				}
			}
			if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Value == "" {
				t.Fatalf("session cookie %+v", session)
			}
		})
		t.Run("the sign-in page sends a signed-in admin on", func(t *testing.T) {
			res, _ := b.Get("/admin/login")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
		})
		t.Run("the list shows Global and the forms", func(t *testing.T) {
			res, page := b.Get("/admin/policies")
			if res.StatusCode != 200 || !strings.Contains(page, `href="/admin/policies/Global"`) || !strings.Contains(page, `action="/admin/grants"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
			if !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatal("no CSP")
			}
		})
		t.Run("a form sent from another origin is refused", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			req, _ := http.NewRequest("POST", base+"/admin/policies", strings.NewReader(url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "Identity": {"Evil"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "http://evil.example")
			res, err := b.C.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("a policy is created from the list", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			res, _ := b.Post("/admin/policies", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "Identity": {"Sales"}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/policies/Sales?created=1" {
				t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
		})
		t.Run("a bad name shows its message beside the field", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			res, page := b.Post("/admin/policies", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "Identity": {"a/b"}})
			if res.StatusCode != 400 || !strings.Contains(page, `id="new-identity-error"`) {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
		})
		t.Run("the edit form has a labelled input for every setting", func(t *testing.T) {
			_, page := b.Get("/admin/policies/Sales")
			for _, f := range policy.Fields() {
				if !strings.Contains(page, `<label for="f-`+f.Name+`">`) || !strings.Contains(page, `id="f-`+f.Name+`"`) {
					t.Errorf("no labelled input for %s", f.Name)
				}
			}
		})
		t.Run("bad values show every message beside its field and save nothing", func(t *testing.T) {
			form := consoleEditForm(t, b, "Sales")
			form.Set("PhoneLockTimeout", "01:30:00")
			form.Set("MinPhonePinLength", "four")
			form.Set("EnableDeviceUpdate", "")
			res, page := b.Post("/admin/policies/Sales", form)
			if res.StatusCode != 400 {
				t.Fatalf("got %d", res.StatusCode)
			}
			for _, want := range []string{`id="e-PhoneLockTimeout"`, `under 01:00:00`, `id="e-MinPhonePinLength"`, `value="01:30:00"`} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			_, body := webtest.PolicyCall(t, base, tok, "GET", "/api/v1/ipphonepolicies/Sales", "")
			if !strings.Contains(body, `"PhoneLockTimeout":"00:10:00"`) || !strings.Contains(body, `"EnableDeviceUpdate":true`) {
				t.Fatalf("a refused form changed the policy: %s", body)
			}
		})
		t.Run("good values save and read back through the API", func(t *testing.T) {
			form := consoleEditForm(t, b, "Sales")
			form.Set("PhoneLockTimeout", "00:05:00")
			form.Del("EnableDeviceUpdate") // unticked
			form.Set("SignInMode", "CommonAreaPhoneSignIn")
			res, _ := b.Post("/admin/policies/Sales", form)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d", res.StatusCode)
			}
			_, page := b.Get(res.Header.Get("Location"))
			if !strings.Contains(page, "Saved.") {
				t.Fatalf("no confirmation:\n%s", page)
			}
			_, body := webtest.PolicyCall(t, base, tok, "GET", "/api/v1/ipphonepolicies/Sales", "")
			for _, want := range []string{`"PhoneLockTimeout":"00:05:00"`, `"EnableDeviceUpdate":false`, `"SignInMode":"CommonAreaPhoneSignIn"`, `"EnablePhoneLock":true`} {
				if !strings.Contains(body, want) {
					t.Errorf("API lacks %s: %s", want, body)
				}
			}
		})
		t.Run("a form from before someone else's change is refused", func(t *testing.T) {
			form := consoleEditForm(t, b, "Sales")
			if code, body := webtest.PolicyCall(t, base, tok, "PATCH", "/api/v1/ipphonepolicies/Sales", `{"DateTimeFormat":"12"}`); code != 200 {
				t.Fatalf("patch: %d %s", code, body)
			}
			res, page := b.Post("/admin/policies/Sales", form)
			if res.StatusCode != http.StatusConflict || !strings.Contains(page, "changed since you read it") {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("a policy is granted to a user from the list", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			res, page := b.Post("/admin/grants", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "upn": {"amosm@contoso.com"}, "PolicyName": {"Sales"}})
			if res.StatusCode != 200 || !strings.Contains(page, "amosm@contoso.com now has the policy Sales") {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
			_, body := webtest.PolicyCall(t, base, tok, "GET", "/api/v1/users/amosm@contoso.com/ipphonepolicy/effective", "")
			if !strings.Contains(body, `"Identity":"Sales"`) {
				t.Fatalf("effective: %s", body)
			}
			_, page = b.Get("/admin/policies")
			res, page = b.Post("/admin/grants", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "upn": {"nobody@contoso.com"}, "PolicyName": {"Sales"}})
			if res.StatusCode != 404 || !strings.Contains(page, `id="grant-error"`) {
				t.Fatalf("unknown user: %d", res.StatusCode)
			}
		})
		t.Run("removing a held policy explains and force moves the users", func(t *testing.T) {
			_, page := b.Get("/admin/policies/Sales")
			csrf := webtest.ConsoleCSRF(t, page)
			res, page := b.Post("/admin/policies/Sales/delete", url.Values{"csrf_token": {csrf}})
			if res.StatusCode != http.StatusConflict || !strings.Contains(page, "1 user(s)") {
				t.Fatalf("got %d", res.StatusCode)
			}
			res, _ = b.Post("/admin/policies/Sales/delete", url.Values{"csrf_token": {csrf}, "force": {"true"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("Global has no remove button and resets", func(t *testing.T) {
			_, page := b.Get("/admin/policies/Global")
			if strings.Contains(page, "/delete") {
				t.Fatal("Global offers removal")
			}
			res, _ := b.Post("/admin/policies/Global/reset", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
		t.Run("every setting saves from the form and reads back through the API", func(t *testing.T) {
			if code, body := webtest.PolicyCall(t, base, tok, "POST", "/api/v1/ipphonepolicies", `{"Identity":"Every"}`); code != 201 {
				t.Fatalf("create: %d %s", code, body)
			}
			form := consoleEditForm(t, b, "Every")
			for _, f := range policy.Fields() {
				v := policytest.OtherValue(t, f)
				if f.Kind == policy.Bool && v == "false" {
					form.Del(f.Name) // an unticked box is not sent
					continue
				}
				form.Set(f.Name, v)
			}
			res, page := b.Post("/admin/policies/Every", form)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d:\n%s", res.StatusCode, page)
			}
			webtest.PolicyWantEverySetting(t, db, "Every")
			_, page = b.Get("/admin/policies/Every")
			if strings.Contains(page, "s3cret") {
				t.Fatal("the form shows the provisioning server password")
			}
			again := consoleEditForm(t, b, "Every")
			for _, f := range policy.Fields() {
				if f.Kind == policy.Secret {
					continue
				}
				want := policytest.OtherValue(t, f)
				if f.Kind == policy.Bool && want == "false" {
					want = ""
				}
				if got := again.Get(f.Name); got != want {
					t.Errorf("the form shows %s = %q, want %q", f.Name, got, want)
				}
			}
		})
		t.Run("signing out ends the session", func(t *testing.T) {
			_, page := b.Get("/admin/policies")
			b.Post("/admin/logout", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
			res, _ := b.Get("/admin/policies")
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("still signed in: %d", res.StatusCode)
			}
		})
	})
}
