package pages_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestMFAEnrollmentCodeIsRequiredWhenTheAdminSaysSo: without the switch,
// the first MFA enrolment needs only the password, so whoever learns it
// first binds their own authenticator app. With "require an enrolment
// code" on, the web sign-in asks for the one-time code an admin issued for
// that user before it shows any authenticator secret, and a form posted
// straight to the TOTP step is refused.
func TestMFAEnrollmentCodeIsRequiredWhenTheAdminSaysSo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := webtest.SigninTestServer(t, db)
		api := func(token, method, path, body string, out any) int {
			t.Helper()
			return webtest.TenantCall(t, env.URL, token, method, path, body, out)
		}
		t.Run("only admins may read or change the switch or issue codes", func(t *testing.T) {
			for _, c := range []struct{ method, path, body string }{
				{"GET", "/api/v1/settings/mfa", ""},
				{"PUT", "/api/v1/settings/mfa", `{"enrollmentCodeRequired":false}`},
				{"POST", "/api/v1/users/mfa@contoso.com/mfaenrollmentcode", ""},
			} {
				for _, tok := range []string{"", "not-a-token"} {
					if code := api(tok, c.method, c.path, c.body, nil); code != 401 {
						t.Errorf("%s %s with %q: %d", c.method, c.path, tok, code)
					}
				}
			}
		})
		var m tenant.MFASettings
		if code := api(env.Admin, "GET", "/api/v1/settings/mfa", "", &m); code != 200 || m.EnrollmentCodeRequired {
			t.Fatalf("default: %d %+v", code, m)
		}
		var e webtest.TenantErr
		if code := api(env.Admin, "PUT", "/api/v1/settings/mfa", `{}`, &e); code != 400 || e.Field != "enrollmentCodeRequired" {
			t.Fatalf("empty PUT: %d %+v", code, e)
		}
		if code := api(env.Admin, "PUT", "/api/v1/settings/mfa", `{"enrollmentCodeRequired":true}`, &m); code != 200 || !m.EnrollmentCodeRequired {
			t.Fatalf("switch on: %d %+v", code, m)
		}

		// Someone who knows the user's password but has no code.
		b, da := webtest.SigninTestAtConfirm(t, env, "polycom", "0004f2000301", "mfa@contoso.com")
		b.Post("/devicelogin/confirm", url.Values{})
		b.Post("/devicelogin/account", url.Values{"account": {"this"}})
		if st := b.Post("/devicelogin/password", url.Values{"password": {"correct horse"}}); st != 200 || !strings.Contains(b.Page, `name="enrollment_code"`) {
			t.Fatalf("the password step does not ask for the enrolment code: %d %s", st, b.Page)
		}
		if strings.Contains(b.Page, `id="secret"`) || strings.Contains(b.Page, "data:image/png") {
			t.Fatalf("an authenticator secret is shown before the enrolment code: %s", b.Page)
		}
		t.Run("the TOTP step cannot be reached around the code", func(t *testing.T) {
			if st := b.Post("/devicelogin/otp", url.Values{"otp": {"123456"}}); st == 200 || strings.Contains(b.Page, "You can close this window") {
				t.Fatalf("%d %s", st, b.Page)
			}
			if u, _ := env.Tn.User(context.Background(), "mfa@contoso.com"); u.TOTPSecret != "" {
				t.Fatal("an authenticator was enrolled without the code")
			}
		})
		t.Run("a made-up code is refused", func(t *testing.T) {
			if st := b.Post("/devicelogin/enrollcode", url.Values{"enrollment_code": {"BCDF-GHJK"}}); st != 400 || !strings.Contains(b.Page, "not right") {
				t.Fatalf("%d %s", st, b.Page)
			}
		})
		t.Run("an unknown user gets no code", func(t *testing.T) {
			if code := api(env.Admin, "POST", "/api/v1/users/nobody@contoso.com/mfaenrollmentcode", "", nil); code != 404 {
				t.Fatalf("%d", code)
			}
		})
		var issued tenant.IssuedEnrollmentCode
		if code := api(env.Admin, "POST", "/api/v1/users/mfa@contoso.com/mfaenrollmentcode", "", &issued); code != 201 || !regexp.MustCompile(`^[B-Z]{4}-[B-Z]{4}$`).MatchString(issued.Code) || !issued.ExpiresAt.After(time.Now()) {
			t.Fatalf("issue: %d %+v", code, issued)
		}
		t.Run("the code is stored only as a hash", func(t *testing.T) {
			var hashes []string
			db.Table("mfa_enrollment_codes").Pluck("code_hash", &hashes)
			for _, h := range hashes {
				if strings.Contains(strings.ToUpper(h), strings.ReplaceAll(issued.Code, "-", "")) {
					t.Fatalf("stored: %s", h)
				}
			}
			if len(hashes) != 1 {
				t.Fatalf("%d codes stored", len(hashes))
			}
		})
		// The user, with the code from the admin (typed without dash, lower case).
		typed := strings.ToLower(strings.ReplaceAll(issued.Code, "-", ""))
		if st := b.Post("/devicelogin/enrollcode", url.Values{"enrollment_code": {typed}}); st != 200 {
			t.Fatalf("the right code: %d %s", st, b.Page)
		}
		secret := regexp.MustCompile(`id="secret">([A-Z2-7]+)<`).FindStringSubmatch(b.Page)
		if secret == nil {
			t.Fatalf("no enrolment QR code after the right code: %s", b.Page)
		}
		otp, _ := totp.GenerateCode(secret[1], time.Now())
		if st := b.Post("/devicelogin/otp", url.Values{"otp": {otp}}); st != 200 || !strings.Contains(b.Page, "You can close this window") {
			t.Fatalf("TOTP: %d %s", st, b.Page)
		}
		status, body := webtest.SigninPostForm(t, env.URL+"/oauth2/token", url.Values{"grant_type": {phone.GrantDeviceCode}, "client_id": {"polycom"}, "device_code": {da.DeviceCode}})
		if status != 200 || body["scope"] != "skype exchange" {
			t.Fatalf("the phone got %d %v", status, body)
		}
		t.Run("the code was spent", func(t *testing.T) {
			var n int64
			db.Table("mfa_enrollment_codes").Count(&n)
			if n != 0 {
				t.Fatalf("%d codes left", n)
			}
			if err := env.Tn.RedeemMFAEnrollmentCode(context.Background(), "mfa@contoso.com", issued.Code); err == nil {
				t.Fatal("the code was accepted twice")
			}
		})
		t.Run("an enrolled user gets no code", func(t *testing.T) {
			var e webtest.TenantErr
			if code := api(env.Admin, "POST", "/api/v1/users/mfa@contoso.com/mfaenrollmentcode", "", &e); code != 409 {
				t.Fatalf("%d %+v", code, e)
			}
		})
		t.Run("five wrong codes void the issued one", func(t *testing.T) {
			ctx := context.Background()
			if _, err := env.Tn.CreateUser(ctx, tenant.UserInput{UPN: "new@contoso.com", Password: "correct horse", MFA: true}); err != nil {
				t.Fatal(err)
			}
			var c tenant.IssuedEnrollmentCode
			if code := api(env.Admin, "POST", "/api/v1/users/new@contoso.com/mfaenrollmentcode", "", &c); code != 201 {
				t.Fatalf("%d", code)
			}
			for i := 0; i < tenant.MFAEnrollmentCodeMaxFailures; i++ {
				if err := env.Tn.RedeemMFAEnrollmentCode(ctx, "new@contoso.com", "BCDFGHJK"); err == nil {
					t.Fatal("a wrong code passed")
				}
			}
			if err := env.Tn.RedeemMFAEnrollmentCode(ctx, "new@contoso.com", c.Code); err == nil {
				t.Fatal("the code still works after five wrong ones")
			}
		})
	})
}
