package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
	"github.com/deskprov/deskprov/web/webtest"
)

// TestConsoleAdminsAndRoles: issue 15 item 8 in the console. A full admin
// adds, re-roles and removes admins on the Admins page with plain forms; a
// reader sees every page but is refused every change, the Admins page's
// forms included, with an HTML page that says which role it needs.
func TestConsoleAdminsAndRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, _ := webtest.PolicyTestServer(t, db)
		boss := webtest.ConsoleSignInAs(t, base, "admin", "admin-password")

		_, page := boss.Get("/admin/admins")
		if !strings.Contains(page, `href="/admin/admins"`) || !strings.Contains(page, "Add an admin") {
			t.Fatalf("the Admins page has no nav link or no add form:\n%s", page)
		}
		csrf := webtest.ConsoleCSRF(t, page)
		res, _ := boss.Post("/admin/admins", url.Values{"csrf_token": {csrf}, "username": {"viewer"}, "password": {"viewer-password"}, "role": {"reader"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/admins?added=viewer" {
			t.Fatalf("add viewer: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		res, page = boss.Post("/admin/admins", url.Values{"csrf_token": {csrf}, "username": {"desk"}, "role": {"helpdesk"}})
		if res.StatusCode != http.StatusCreated || !strings.Contains(page, `id="generated-password"`) {
			t.Fatalf("add desk with a generated password: %d\n%s", res.StatusCode, page)
		}
		res, page = boss.Post("/admin/admins", url.Values{"username": {"nocsrf"}, "role": {"admin"}})
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("an add without the CSRF token: %d", res.StatusCode)
		}
		res, page = boss.Post("/admin/admins/admin/role", url.Values{"csrf_token": {csrf}, "role": {"reader"}})
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, "last full admin") {
			t.Fatalf("demote the last full admin: %d\n%s", res.StatusCode, page)
		}

		viewer := webtest.ConsoleSignInAs(t, base, "viewer", "viewer-password")
		for _, p := range []string{"/admin/policies", "/admin/policies/Global", "/admin/admins", "/admin/audit", "/admin/sessions"} {
			if res, _ := viewer.Get(p); res.StatusCode != http.StatusOK {
				t.Errorf("a reader reading %s: %d", p, res.StatusCode)
			}
		}
		_, page = viewer.Get("/admin/admins")
		if strings.Contains(page, "Add an admin") || strings.Contains(page, "/remove") {
			t.Errorf("a reader is offered the Admins page's forms:\n%s", page)
		}
		vcsrf := webtest.ConsoleCSRF(t, page)
		for _, p := range []string{"/admin/policies", "/admin/admins", "/admin/admins/desk/remove", "/admin/policies/Global/reset"} {
			res, page := viewer.Post(p, url.Values{"csrf_token": {vcsrf}, "Identity": {"Sales"}, "username": {"x"}, "role": {"admin"}})
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "needs the admin role") || !strings.Contains(page, "<html") {
				t.Errorf("a reader posting %s: %d\n%s", p, res.StatusCode, page)
			}
		}
		res, _ = viewer.Post("/admin/password", url.Values{"csrf_token": {vcsrf}, "currentPassword": {"viewer-password"}, "newPassword": {"viewer-password-2"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Errorf("a reader changing their own password: %d", res.StatusCode)
		}

		res, _ = boss.Post("/admin/admins/viewer/role", url.Values{"csrf_token": {csrf}, "role": {"admin"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("promote viewer: %d", res.StatusCode)
		}
		if res, _ := viewer.Post("/admin/admins/desk/remove", url.Values{"csrf_token": {vcsrf}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("the promoted viewer removing desk: %d", res.StatusCode)
		}
		_, page = boss.Get("/admin/admins")
		if strings.Contains(page, ">desk<") || !strings.Contains(page, ">viewer<") {
			t.Fatalf("the list after the changes:\n%s", page)
		}
		_, page = boss.Get("/admin/audit?kind=admin")
		for _, want := range []string{"admin/desk", "delete", "set-role", "viewer"} {
			if !strings.Contains(page, want) {
				t.Errorf("the audit page lacks %q:\n%s", want, page)
			}
		}
	})
}
