package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/console"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/logtest"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/api"
)

// captureLog makes the default logger (which a server built without a Log
// takes, and the domain packages log to) write at info, the default level,
// into the buffer returned, until the test ends.
func captureLog(t *testing.T) *logtest.Buffer { return logtest.Capture(t) }

// logLine returns the first info line of the log holding every one of
// want ("event=signin.pin", "reason=invalid_credentials"), failing the test
// when there is none.
func logLine(t *testing.T, log string, want ...string) string {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		ok := strings.Contains(line, "level=INFO")
		for _, w := range want {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			return line
		}
	}
	t.Errorf("no info line in the log holds %q:\n%s", want, log)
	return ""
}

// oplogTestServer is webtest.SigninTestServer's sign-in module with the console
// beside it (the policy pages bring its sign-in page).
func oplogTestServer(t *testing.T, db *gorm.DB) webtest.SigninTestEnv {
	t.Helper()
	for _, m := range []func(*gorm.DB) error{tenant.Migrate, signin.Migrate, policy.Migrate} {
		if err := m(db); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	tn, box := webtest.Org(t, db)
	webtest.Admin(t, tn)
	svc := webtest.SignIn(db, tn, box, ts.URL)
	ps := policy.New(db)
	ps.Secrets = policytest.Box(t)
	ps.Users = tn
	s, err := webtest.New(web.Deps{DB: db, Tenant: tn, PublicURL: ts.URL}, phone.SignIn(svc), api.SignIn(svc), pages.DeviceLogin(svc), api.PolicyModule(ps), console.Home(ps))
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	tok, err := s.IssueAdminToken("admin")
	if err != nil {
		t.Fatal(err)
	}
	return webtest.SigninTestEnv{URL: ts.URL, Admin: tok, Svc: svc, Tn: tn}
}

// TestOperatorLogSaysSignInsAndNeverSecrets: at the default level the log
// says each sign-in, its refusals with their reason, a lockout, console
// and API sign-ins and an admin's change with its actor — and nowhere in
// the whole log of these flows is a password, PIN, user code or token.
func TestOperatorLogSaysSignInsAndNeverSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		log := captureLog(t)
		env := oplogTestServer(t, db)
		ctx := context.Background()
		const (
			upn, password, wrongPassword = "log@contoso.com", "Zq8-log-secret-password", "Zq8-log-wrong-password"
			ext, pin, wrongPIN           = "5150", "86420975", "75319864"
			mac                          = "0004f2a0b0c0"
		)
		if _, err := env.Tn.CreateUser(ctx, tenant.UserInput{UPN: upn, Password: password, Extension: ext, PIN: pin, SkypeLocation: "OnPremises"}); err != nil {
			t.Fatal(err)
		}
		for _, sku := range []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic} {
			if err := env.Tn.Assign(ctx, upn, string(sku)); err != nil {
				t.Fatal(err)
			}
		}
		secrets := []string{password, wrongPassword, pin, wrongPIN, "admin-password", "wrong-admin-password"}
		token := func(form url.Values) map[string]any {
			t.Helper()
			form.Set("client_id", "polycom")
			form.Set("device_id", mac)
			_, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", form)
			for _, k := range []string{"access_token", "refresh_token", "id_token"} {
				if s, ok := body[k].(string); ok && s != "" {
					secrets = append(secrets, s)
				}
			}
			return body
		}

		t.Run("a web sign-in, its wrong code and wrong password", func(t *testing.T) {
			b := webtest.SigninTestBrowser(t, env)
			da, err := env.Svc.StartDeviceAuthorization(ctx, "polycom", mac, "")
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, da.UserCode, strings.ReplaceAll(da.UserCode, "-", ""), da.DeviceCode)
			b.Get("/devicelogin")
			b.Post("/devicelogin/username", url.Values{"username": {upn}})
			b.Post("/devicelogin/code", url.Values{"user_code": {"BCDF-GHJK"}})
			logLine(t, log.String(), "event=signin.web", "upn="+upn, "step=code", "result=refused", "reason=wrong_code")
			b.Post("/devicelogin/code", url.Values{"user_code": {da.UserCode}})
			b.Post("/devicelogin/confirm", url.Values{})
			b.Post("/devicelogin/account", url.Values{"account": {"this"}})
			b.Post("/devicelogin/password", url.Values{"password": {wrongPassword}})
			logLine(t, log.String(), "event=signin.web", "upn="+upn, "step=password", "result=refused", "reason=invalid_credentials")
			if st := b.Post("/devicelogin/password", url.Values{"password": {password}}); st != http.StatusOK || !strings.Contains(b.Page, "signed in") {
				t.Fatalf("the right password: %d %s", st, b.Page)
			}
			logLine(t, log.String(), "event=signin.web", "upn="+upn, "result=ok")
			if body := token(url.Values{"grant_type": {phone.GrantDeviceCode}, "device_code": {da.DeviceCode}}); body["access_token"] == nil {
				t.Fatalf("the phone got no token: %v", body)
			}
			logLine(t, log.String(), "event=signin.devicecode", "result=ok")
		})
		t.Run("password and PIN sign-ins, refused and let in", func(t *testing.T) {
			token(url.Values{"grant_type": {phone.GrantPassword}, "username": {upn}, "password": {wrongPassword}})
			logLine(t, log.String(), "event=signin.password", "upn="+upn, "mac="+mac, "result=refused", "reason=invalid_credentials")
			token(url.Values{"grant_type": {phone.GrantPassword}, "username": {upn}, "password": {password}})
			logLine(t, log.String(), "event=signin.password", "upn="+upn, "result=ok")
			token(url.Values{"grant_type": {phone.GrantPIN}, "extension": {ext}, "pin": {wrongPIN}})
			logLine(t, log.String(), "event=signin.pin", "extension="+ext, "result=refused", "reason=invalid_credentials")
			token(url.Values{"grant_type": {phone.GrantPIN}, "extension": {ext}, "pin": {pin}})
			logLine(t, log.String(), "event=signin.pin", "extension="+ext, "result=ok")
		})
		t.Run("a lockout", func(t *testing.T) {
			for i := 0; i < 8 && !strings.Contains(log.String(), "event=signin.lockout"); i++ {
				token(url.Values{"grant_type": {phone.GrantPassword}, "username": {upn}, "password": {wrongPassword}})
			}
			logLine(t, log.String(), "event=signin.lockout", "of=signin.password", "upn="+upn, "reason=")
		})
		t.Run("console and API sign-ins of admins", func(t *testing.T) {
			b := webtest.NewConsoleTestBrowser(t, env.URL)
			_, page := b.Get("/admin/login")
			b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"wrong-admin-password"}})
			logLine(t, log.String(), "event=console.signin", "username=admin", "result=refused", "reason=")
			_, page = b.Get("/admin/login")
			b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"admin-password"}})
			logLine(t, log.String(), "event=console.signin", "username=admin", "result=ok")
			res, err := http.Post(env.URL+"/api/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"wrong-admin-password"}`))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			logLine(t, log.String(), "event=api.signin", "username=admin", "result=refused", "reason=")
		})
		t.Run("an admin's change, with its actor", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/v1/signin/keys/rotate", nil)
			req.Header.Set("Authorization", "Bearer "+env.Admin)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			logLine(t, log.String(), "event=change", "actor=admin", "kind=signingkey", "action=rotate")
		})
		t.Run("request lines stay below info", func(t *testing.T) {
			if strings.Contains(log.String(), "msg=request ") {
				t.Errorf("request lines at info:\n%s", log.String())
			}
		})
		secrets = append(secrets, env.Admin)
		t.Run("no secret is anywhere in the log", func(t *testing.T) {
			all := log.String()
			for _, s := range secrets {
				if s != "" && strings.Contains(all, s) {
					t.Errorf("the log holds the secret %q:\n%s", s, all)
				}
			}
		})
	})
}
