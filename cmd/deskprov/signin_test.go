package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/store/storetest"
)

func TestSignInCLI(t *testing.T) {
	base := startServe(t)
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	for _, args := range [][]string{
		{"login", "--server", base, "--username", "admin", "--password", "admin-password"},
		{"user", "add", "amosm@contoso.com", "--password", "correct horse"},
		{"license", "set", "PhoneSystem", "5"},
		{"license", "set", "CallingPlanDomestic", "5"},
		{"license", "assign", "amosm@contoso.com", "PhoneSystem"},
		{"license", "assign", "amosm@contoso.com", "CallingPlanDomestic"},
	} {
		if out, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %s %v", args, out, err)
		}
	}
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"audiocodes"},
		"device_id": {"00:90:8F:12:34:56"}, "username": {"amosm@contoso.com"}, "password": {"correct horse"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a phone could not sign in through serve: %d %v", resp.StatusCode, tok)
	}
	runSteps(t, []cliStep{
		{"phones lists the signed-in phone", []string{"signin", "phones"}, "00908f123456", false},
		{"phones filters by user", []string{"signin", "phones", "--user", "someone@contoso.com"}, "MAC", false},
		{"phones searches part of a MAC in any spelling", []string{"signin", "phones", "--search", "8F-12:34"}, "00908f123456", false},
		{"unlock-code gives 10 digits", []string{"signin", "unlock-code", "00-90-8f-12-34-56"}, "works once", false},
		{"reset-pin clears the PIN", []string{"signin", "reset-pin", "00908f123456"}, "new one", false},
		{"unlock-code for an empty phone says nobody is on it", []string{"signin", "unlock-code", "00908f000000"}, "nobody is signed in", true},
		{"rotate-key publishes two keys", []string{"signin", "rotate-key"}, "2 key(s)", false},
		{"signout-user signs out of every phone", []string{"signin", "signout-user", "amosm@contoso.com"}, "out of 1 phone", false},
		{"signout-phone of an empty phone says so", []string{"signin", "signout-phone", "00908f123456"}, "nobody is signed in", true},
	})
}

func TestServeRefusesABadSecretKeyFile(t *testing.T) {
	key := filepath.Join(t.TempDir(), "deskprov.key")
	if err := os.WriteFile(key, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := serve(context.Background(), serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), SecretKeyFile: key, LogLevel: "warn", LogFormat: "text"}, io.Discard)
	if err == nil {
		t.Fatal("serve started with a 10-byte key file")
	}
	for _, want := range []string{key, "32 random bytes or 64 hex digits", "head -c 32 /dev/urandom > deskprov.key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestServeRefusesPostgresWithoutASecretKeyFile(t *testing.T) {
	dsn := os.Getenv(storetest.EnvPostgres)
	if dsn == "" {
		t.Skip("set " + storetest.EnvPostgres + " to run on PostgreSQL")
	}
	err := serve(context.Background(), serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), DB: postgresSchemaDSN(t, dsn), LogLevel: "warn", LogFormat: "text"}, io.Discard)
	if err == nil {
		t.Fatal("serve started on PostgreSQL without --secret-key-file")
	}
	for _, want := range []string{"--secret-key-file", "Every server sharing the database needs the same key file", "head -c 32 /dev/urandom > deskprov.key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
