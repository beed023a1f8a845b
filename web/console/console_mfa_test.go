package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestConsoleMFA: the console's MFA page turns the enrolment-code switch on
// and off and issues codes, behind the session and CSRF like every form,
// and agrees with the REST API.
func TestConsoleMFA(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, tok := webtest.PolicyTestServer(t, db)
		b := webtest.NewConsoleTestBrowser(t, base)
		t.Run("a visitor without a session is sent to the sign-in page", func(t *testing.T) {
			if res, _ := b.Get("/admin/mfa"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Fatalf("%d %q", res.StatusCode, res.Header.Get("Location"))
			}
			if res, _ := b.Post("/admin/mfa/code", url.Values{"upn": {"amosm@contoso.com"}}); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusSeeOther {
				t.Fatalf("%d", res.StatusCode)
			}
		})
		_, page := b.Get("/admin/login")
		if res, _ := b.Post("/admin/login", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"admin-password"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", res.StatusCode)
		}
		_, page = b.Get("/admin/mfa")
		if !strings.Contains(page, `id="enrollment-code-required"`) || strings.Contains(page, "checked") {
			t.Fatalf("the page: %s", page)
		}
		t.Run("a form without the CSRF token is refused", func(t *testing.T) {
			if res, _ := b.Post("/admin/mfa", url.Values{"enrollmentCodeRequired": {"true"}}); res.StatusCode != http.StatusForbidden {
				t.Fatalf("%d", res.StatusCode)
			}
		})
		res, page := b.Post("/admin/mfa", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "enrollmentCodeRequired": {"true"}})
		var m tenant.MFASettings
		if res.StatusCode != 200 || !strings.Contains(page, "checked") || webtest.TenantCall(t, base, tok, "GET", "/api/v1/settings/mfa", "", &m) != 200 || !m.EnrollmentCodeRequired {
			t.Fatalf("switching on: %d %+v", res.StatusCode, m)
		}
		res, page = b.Post("/admin/mfa/code", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "upn": {"nobody@contoso.com"}})
		if res.StatusCode != http.StatusNotFound || !strings.Contains(page, `id="code-error"`) {
			t.Fatalf("an unknown user: %d %s", res.StatusCode, page)
		}
		res, page = b.Post("/admin/mfa/code", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}, "upn": {"amosm@contoso.com"}})
		code := regexp.MustCompile(`id="enrollment-code">([B-Z]{4}-[B-Z]{4})<`).FindStringSubmatch(page)
		if res.StatusCode != 200 || code == nil {
			t.Fatalf("issuing: %d %s", res.StatusCode, page)
		}
		var n int64
		db.Table("mfa_enrollment_codes").Count(&n)
		if n != 1 {
			t.Fatalf("%d codes stored", n)
		}
		res, page = b.Post("/admin/mfa", url.Values{"csrf_token": {webtest.ConsoleCSRF(t, page)}})
		if res.StatusCode != 200 || webtest.TenantCall(t, base, tok, "GET", "/api/v1/settings/mfa", "", &m) != 200 || m.EnrollmentCodeRequired {
			t.Fatalf("switching off: %d %+v", res.StatusCode, m)
		}
	})
}
