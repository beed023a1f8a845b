package main

import (
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/store"
)

// TestServeKeepsTheDataDirectoryPrivate: the SQLite store (with its WAL
// and shared-memory files) and secret.key are readable by the server's
// account alone, in a data directory no one else may enter; a directory
// left wider by an earlier version is narrowed at start. The provisioning
// server password set through the CLI is not in the store file in clear.
func TestServeKeepsTheDataDirectoryPrivate(t *testing.T) {
	cases := map[string]func(t *testing.T, dir string){
		"a new data directory": func(t *testing.T, dir string) {},
		"a data directory an earlier version left readable": func(t *testing.T, dir string) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o755)
			key := make([]byte, 32)
			rand.Read(key)
			for name, data := range map[string][]byte{"secret.key": key, "deskprov.db": nil} {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Chmod(filepath.Join(dir, name), 0o644)
			}
		},
	}
	for name, prepare := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			prepare(t, dir)
			base := startServeWith(t, func(o *serveOptions) { o.DataDir = dir })
			t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
			t.Setenv("DESKPROV_SERVER", "")
			t.Setenv("DESKPROV_TOKEN", "")
			if out, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "admin-password"); err != nil {
				t.Fatalf("login: %s %v", out, err)
			}
			const pw = "s3cret-prov-password"
			out, err := runCLI(t, "policy", "set", "Global", "--LocalProvisioningServerPassword", pw)
			if err != nil || strings.Contains(out, pw) {
				t.Fatalf("policy set: %v\n%s", err, out)
			}
			want := map[string]fs.FileMode{dir: 0o700}
			for _, f := range []string{"deskprov.db", "deskprov.db-wal", "deskprov.db-shm", "secret.key"} {
				want[filepath.Join(dir, f)] = 0o600
			}
			for path, mode := range want {
				fi, err := os.Stat(path)
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				if got := fi.Mode().Perm(); got != mode {
					t.Errorf("%s has mode %s, want %s", path, got, mode)
				}
			}
			db, err := store.OpenSQLiteFile(filepath.Join(dir, "deskprov.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if sqlDB, err := db.DB(); err == nil {
					sqlDB.Close()
				}
			}()
			var settings string
			if err := db.Table("ipphone_policies").Select("settings").Where("identity_key = ?", "global").Row().Scan(&settings); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(settings, pw) {
				t.Fatalf("the policy row holds the password in clear: %s", settings)
			}
		})
	}
}
