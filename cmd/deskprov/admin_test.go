package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runCLIInput is runCLI with standard input.
func runCLIInput(t *testing.T, in string, args ...string) (string, error) {
	t.Helper()
	var reset func(c *cobra.Command)
	reset = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(resetFlag)
		}
		for _, sub := range c.Commands() {
			reset(sub)
		}
	}
	reset(rootCmd)
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetIn(strings.NewReader(in))
	rootCmd.SetArgs(args)
	err := execute()
	return out.String(), err
}

// TestAdminSessionsCLI: deskprov admin sessions, revoke-session and
// password do what the API and the console do.
func TestAdminSessionsCLI(t *testing.T) {
	serveEach(t, func(t *testing.T, base string) {
		other := cliAPILogin(t, base, "admin-password")
		out, err := runCLI(t, "admin", "sessions", "--output", "json")
		var ss []adminSessionView
		if err != nil || json.Unmarshal([]byte(out), &ss) != nil || len(ss) != 2 {
			t.Fatalf("admin sessions: %q %v", out, err)
		}
		var otherID string
		for _, s := range ss {
			if !s.Current {
				otherID = s.ID
			}
		}
		if out, err := runCLI(t, "admin", "sessions"); err != nil || !strings.Contains(out, "(this one)") || !strings.Contains(out, otherID) {
			t.Fatalf("the table: %q %v", out, err)
		}
		if out, err := runCLI(t, "admin", "revoke-session", otherID); err != nil || !strings.Contains(out, "revoked") {
			t.Fatalf("revoke-session: %q %v", out, err)
		}
		if code := cliAPIStatus(t, base, other); code != 401 {
			t.Fatalf("the revoked token: %d, want 401", code)
		}
		if _, err := runCLI(t, "admin", "revoke-session", otherID); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("revoking it again: %v", err)
		}

		third := cliAPILogin(t, base, "admin-password")
		if _, err := runCLIInput(t, "wrong-password\nthe new password\n", "admin", "password", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "current password is incorrect") {
			t.Fatalf("a wrong current password: %v", err)
		}
		if out, err := runCLIInput(t, "admin-password\nthe new password\n", "admin", "password", "--password-stdin"); err != nil || !strings.Contains(out, "1 other session(s) ended") {
			t.Fatalf("password: %q %v", out, err)
		}
		if code := cliAPIStatus(t, base, third); code != 401 {
			t.Fatalf("another session after the password change: %d, want 401", code)
		}
		if _, err := runCLI(t, "user", "list"); err != nil {
			t.Fatalf("the CLI's own session after its password change: %v", err)
		}
		cliAPILogin(t, base, "the new password")
	})
}

func cliAPILogin(t *testing.T, base, password string) string {
	t.Helper()
	return cliAPILoginAs(t, base, "admin", password)
}

// cliAPILoginAs signs username in on the API and returns the bearer token.
func cliAPILoginAs(t *testing.T, base, username, password string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"`+username+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

func cliAPIStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
