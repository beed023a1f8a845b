package webtest

import (
	"net/http"
	"net/url"
	"testing"
)

// Shared by the tests of several faces (once in web/console_enrolment_test.go).

// ConsoleSignIn signs b in as the bootstrap admin.
func ConsoleSignIn(t *testing.T, b *ConsoleTestBrowser) {
	t.Helper()
	_, page := b.Get("/admin/login")
	res, _ := b.Post("/admin/login", url.Values{"csrf_token": {ConsoleCSRF(t, page)}, "username": {"admin"}, "password": {"admin-password"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
}
