package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/store/storetest"
)

// serveWithStore starts serve on a fresh SQLite data directory, or on a
// fresh PostgreSQL schema, logs the CLI in as admin, and hands fn the URL
// and the flags that reach the same store from this host.
func serveWithStore(t *testing.T, fn func(t *testing.T, base string, storeFlags []string)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		base := startServeWith(t, func(o *serveOptions) { o.DataDir = dir })
		cliLogin(t, base, "admin", "admin-password")
		fn(t, base, []string{"--data-dir", dir})
	})
	if dsn := os.Getenv(storetest.EnvPostgres); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			schema := postgresSchemaDSN(t, dsn)
			base := startServeWith(t, func(o *serveOptions) {
				o.DB = schema
				o.SecretKeyFile = filepath.Join(t.TempDir(), "deskprov.key")
				key := make([]byte, 32)
				rand.Read(key)
				if err := os.WriteFile(o.SecretKeyFile, key, 0o600); err != nil {
					t.Fatal(err)
				}
			})
			cliLogin(t, base, "admin", "admin-password")
			fn(t, base, []string{"--db", schema})
		})
	}
}

func cliLogin(t *testing.T, base, username, password string) {
	t.Helper()
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	if out, err := runCLI(t, "login", "--server", base, "--username", username, "--password", password); err != nil {
		t.Fatalf("login %s: %s %v", username, out, err)
	}
}

// TestAdminAccountsCLI: issue 15 item 8 on the CLI. deskprov admin
// add|list|set-role|remove over the API, held to the same roles (a reader
// is refused), and reset-password on the server host's store recovering a
// lost password with the server running.
func TestAdminAccountsCLI(t *testing.T) {
	serveWithStore(t, func(t *testing.T, base string, storeFlags []string) {
		if out, err := runCLIInput(t, "viewer-password\n", "admin", "add", "viewer", "--role", "reader", "--password-stdin"); err != nil || !strings.Contains(out, "added admin viewer (reader)") {
			t.Fatalf("add viewer: %q %v", out, err)
		}
		out, err := runCLI(t, "admin", "add", "desk", "--role", "helpdesk")
		m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("add desk with a generated password: %q %v", out, err)
		}
		cliLogin(t, base, "desk", m[1])
		runSteps(t, []cliStep{
			{"the help desk signs a phone out", []string{"signin", "signout-phone", "00908f000001"}, "no", true},
			{"the help desk may not rotate the signing key", []string{"signin", "rotate-key"}, "needs the admin role", true},
		})
		cliLogin(t, base, "admin", "admin-password")
		runSteps(t, []cliStep{
			{"list", []string{"admin", "list"}, "viewer", false},
			{"set-role", []string{"admin", "set-role", "viewer", "helpdesk"}, "viewer is now helpdesk", false},
			{"set-role back", []string{"admin", "set-role", "viewer", "reader"}, "viewer is now reader", false},
			{"the last full admin keeps their role", []string{"admin", "set-role", "admin", "reader"}, "last full admin", true},
			{"an unknown role", []string{"admin", "set-role", "viewer", "owner"}, "not one of admin, helpdesk, reader", true},
			{"remove desk", []string{"admin", "remove", "desk"}, "removed admin desk", false},
		})
		if out, _ := runCLI(t, "admin", "list"); strings.Contains(out, "desk") || !strings.Contains(out, "reader") {
			t.Fatalf("list after the changes: %q", out)
		}

		cliLogin(t, base, "viewer", "viewer-password")
		runSteps(t, []cliStep{
			{"a reader may list", []string{"admin", "list"}, "viewer", false},
			{"a reader may not add", []string{"admin", "add", "x", "--role", "reader"}, "needs the admin role", true},
			{"a reader may not sign phones out", []string{"signin", "signout-phone", "00908f000001"}, "needs the helpdesk role", true},
			{"a reader reads the audit log", []string{"audit", "--kind", "admin"}, "set-role", false},
		})
		if out, err := runCLIInput(t, "viewer-password\nviewer-password-2\n", "admin", "passwd", "--password-stdin"); err != nil || !strings.Contains(out, "password changed") {
			t.Fatalf("a reader's passwd: %q %v", out, err)
		}

		// The admin's password is lost: the operator resets it on the host.
		args := append([]string{"admin", "reset-password", "admin", "--password-stdin"}, storeFlags...)
		if out, err := runCLIInput(t, "recovered-password\n", args...); err != nil || !strings.Contains(out, "reset the password of admin admin") {
			t.Fatalf("reset-password: %q %v", out, err)
		}
		cliLogin(t, base, "admin", "recovered-password")
		args = append([]string{"admin", "reset-password", "viewer"}, storeFlags...)
		out, err = runCLI(t, args...)
		m = regexp.MustCompile(`new password: (\S+)`).FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("reset-password with a generated one: %q %v", out, err)
		}
		cliLogin(t, base, "viewer", m[1])
		args = append([]string{"admin", "reset-password", "nobody"}, storeFlags...)
		if out, err := runCLI(t, args...); err == nil || !strings.Contains(err.Error(), `no admin "nobody"`) {
			t.Fatalf("reset an unknown admin: %q %v", out, err)
		}
		if out, err := runCLI(t, "audit", "--kind", "admin", "--actor", "reset-password on "+hostname(t)); err != nil || !strings.Contains(out, "admin/admin ") || !strings.Contains(out, "admin/viewer ") {
			t.Fatalf("the resets in the audit log: %q %v", out, err)
		}
	})
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestServeSaysWhenTheAdminPasswordIsIgnored: issue 15 item 8. The second
// start of a store that has an admin says DESKPROV_ADMIN_PASSWORD is
// ignored and how to recover instead.
func TestServeSaysWhenTheAdminPasswordIsIgnored(t *testing.T) {
	dir := t.TempDir()
	first := startServeCtl(t, func(o *serveOptions) { o.DataDir = dir })
	if err, _ := first.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(first.log(), "is ignored") {
		t.Fatalf("the first start says the password is ignored:\n%s", first.log())
	}
	second := startServeCtl(t, func(o *serveOptions) { o.DataDir = dir })
	second.stop()
	if !strings.Contains(second.log(), "DESKPROV_ADMIN_PASSWORD is ignored") || !strings.Contains(second.log(), "deskprov admin reset-password") {
		t.Fatalf("the second start's log:\n%s", second.log())
	}
}
