package main

import (
	"strings"
	"testing"
)

// TestLogoutEndsTheSessionOnTheServer: deskprov logout ends the admin
// session on the server (issue 13 item 13), so a copy of the token (here
// passed with --token, as a script that kept it would) is refused after it.
func TestLogoutEndsTheSessionOnTheServer(t *testing.T) {
	serveEach(t, func(t *testing.T, base string) {
		cfg, err := loadConfig()
		if err != nil || cfg.Token == "" {
			t.Fatalf("no token after login: %v", err)
		}
		if out, err := runCLI(t, "user", "list", "--token", cfg.Token); err != nil {
			t.Fatalf("before logout: %s %v", out, err)
		}
		out, err := runCLI(t, "logout")
		if err != nil || !strings.Contains(out, "Signed out") {
			t.Fatalf("logout: %q %v", out, err)
		}
		if _, err := runCLI(t, "user", "list", "--token", cfg.Token); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "sign in again") {
			t.Fatalf("the token after logout: %v", err)
		}
		if _, err := runCLI(t, "user", "list"); err == nil || !strings.Contains(err.Error(), "deskprov login") {
			t.Fatalf("after logout the CLI still has a token: %v", err)
		}
		if out, err := runCLI(t, "logout", "--token", cfg.Token, "--server", base); err != nil || !strings.Contains(out, "already ended") {
			t.Fatalf("logging out an ended session: %q %v", out, err)
		}
	})
}
