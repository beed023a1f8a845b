package webtest

import (
	"net/http"
	"net/url"
	"testing"
)

// Shared by the tests of several faces (once in web/console_admins_test.go).

// ConsoleSignInAs signs a console browser in as username.
func ConsoleSignInAs(t *testing.T, base, username, password string) *ConsoleTestBrowser {
	t.Helper()
	b := NewConsoleTestBrowser(t, base)
	_, page := b.Get("/admin/login")
	res, _ := b.Post("/admin/login", url.Values{"csrf_token": {ConsoleCSRF(t, page)}, "username": {username}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
		t.Fatalf("sign in %s: %d to %q", username, res.StatusCode, res.Header.Get("Location"))
	}
	return b
}
