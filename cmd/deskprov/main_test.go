package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/store"
)

// lockedBuffer lets the test read what serve prints while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs deskprov serve on a free loopback port with a fresh data
// directory and returns its public URL.
func startServe(t *testing.T) string {
	t.Helper()
	return startServeWith(t, nil)
}

// startServeWith starts serve on a fresh SQLite data directory, with its
// options changed by edit when it is not nil, and returns the public URL.
func startServeWith(t *testing.T, edit func(*serveOptions)) string {
	t.Helper()
	o := serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "warn", LogFormat: "text"}
	if edit != nil {
		edit(&o)
	}
	t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, o, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after shutdown", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not shut down")
		}
	})
	re := regexp.MustCompile(`public URL\s+(\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			engine := "SQLite"
			if strings.HasPrefix(o.DB, "postgres") {
				engine = "PostgreSQL"
			}
			for _, want := range []string{"/prov/", "DHCP option 66", "/admin", "/devicelogin", engine} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("serve's banner lacks %q:\n%s", want, out.String())
				}
			}
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no URLs:\n%s", out.String())
	return ""
}

// serveLoggedIn starts serve on the store dsn ("" for SQLite in the data dir),
// logs the CLI in as admin and returns the server's URL.
func serveLoggedIn(t *testing.T, dsn string) string {
	t.Helper()
	base := startServeWith(t, func(o *serveOptions) {
		o.DB = dsn
		if dsn != "" {
			// PostgreSQL needs a key file for sealed secrets (SQLite makes one).
			o.SecretKeyFile = filepath.Join(t.TempDir(), "deskprov.key")
			key := make([]byte, 32)
			rand.Read(key)
			if err := os.WriteFile(o.SecretKeyFile, key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	if out, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "admin-password"); err != nil {
		t.Fatalf("login: %s %v", out, err)
	}
	return base
}

// runCLI runs the CLI in-process and returns what it printed.
// runCLI runs the CLI in this process with every flag back at its default,
// as a fresh process would have it: nothing one run was given carries over
// to the next.
func runCLI(t *testing.T, args ...string) (string, error) {
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
	rootCmd.SetIn(strings.NewReader(""))
	rootCmd.SetArgs(args)
	err := execute()
	return out.String(), err
}

// cliStep is one CLI run of a table test: the text its output (or, when it
// must fail, its error) has to contain.
type cliStep struct {
	name string
	args []string
	want string
	fail bool
}

// runSteps runs the steps in order, each as a subtest.
func runSteps(t *testing.T, steps []cliStep) {
	t.Helper()
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, err := runCLI(t, st.args...)
			cliWant(t, out, err, st.fail, st.want)
		})
	}
}

func TestServeAndCLI(t *testing.T) {
	base := startServe(t)
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")

	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	t.Run("commands before login say how to sign in", func(t *testing.T) {
		_, err := runCLI(t, "user", "list")
		if err == nil || !strings.Contains(err.Error(), "deskprov login") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a wrong password is refused", func(t *testing.T) {
		_, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "wrong-password")
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("login keeps the token for later commands", func(t *testing.T) {
		out, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "admin-password")
		if err != nil || !strings.Contains(out, "Signed in") {
			t.Fatalf("%s %v", out, err)
		}
	})
	steps := []cliStep{
		{"buying Phone System", []string{"license", "set", "PhoneSystem", "2"}, "PhoneSystem", false},
		{"buying a Calling Plan", []string{"license", "set", "CallingPlanDomestic", "1"}, "CallingPlanDomestic", false},
		{"an unknown SKU is named", []string{"license", "set", "Teams", "1"}, "unknown license SKU", true},
		{"a count that is not a number", []string{"license", "set", "PhoneSystem", "many"}, "whole number", true},
		{"adding a user", []string{"user", "add", "amosm@contoso.com", "--display-name", "Amos Marble", "--password", "password1"}, "amosm@contoso.com", false},
		{"a bad UPN", []string{"user", "add", "amosm"}, "name@domain", true},
		{"a Calling Plan before Phone System", []string{"license", "assign", "amosm@contoso.com", "CallingPlanDomestic"}, "Phone System", true},
		{"assigning Phone System", []string{"license", "assign", "amosm@contoso.com", "PhoneSystem"}, "PhoneSystem", false},
		{"assigning the Calling Plan", []string{"license", "assign", "amosm@contoso.com", "CallingPlanDomestic"}, "CallingPlanDomestic", false},
		{"listing licenses", []string{"license", "list"}, "AVAILABLE", false},
		{"showing a user", []string{"user", "show", "AMOSM@contoso.com"}, "Amos Marble", false},
		{"changing a user", []string{"user", "set", "amosm@contoso.com", "--exchange-location", "OnPremises"}, "OnPremises", false},
		{"listing users", []string{"user", "list"}, "amosm@contoso.com", false},
		{"an unknown output format", []string{"user", "list", "--output", "yaml"}, "table or json", true},
	}
	runSteps(t, steps)
	t.Run("json output is machine-readable", func(t *testing.T) {
		out, err := runCLI(t, "user", "list", "--output", "json")
		if err != nil {
			t.Fatal(err)
		}
		var us []map[string]any
		if err := json.Unmarshal([]byte(out), &us); err != nil || len(us) != 1 || us[0]["exchangeLocation"] != "OnPremises" {
			t.Fatalf("%v %s", err, out)
		}
		licenses := us[0]["licenses"].([]any)
		if len(licenses) != 2 {
			t.Fatalf("licenses = %v", licenses)
		}
	})
	t.Run("removing a user", func(t *testing.T) {
		if out, err := runCLI(t, "user", "remove", "amosm@contoso.com"); err != nil || !strings.Contains(out, "Removed") {
			t.Fatalf("%s %v", out, err)
		}
	})
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range allCommands() {
		if c.Short == "" {
			t.Errorf("%q has no short help", c.CommandPath())
		}
	}
}

func TestSecondServerOnOneDataDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	release, err := store.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
	err = serve(context.Background(), serveOptions{Listen: "127.0.0.1:0", DataDir: dir, LogLevel: "warn", LogFormat: "text"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already serving the data directory") || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("err = %v", err)
	}
	release()
	// Once the first lets go, the directory can be taken again.
	again, err := store.LockDataDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

func TestSecondServerOnOneSQLiteFileIsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shared.db")
	release, err := store.LockSQLiteFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
	// Its own data directory, but the same store file.
	err = serve(context.Background(), serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), DB: "sqlite://" + file, LogLevel: "warn", LogFormat: "text"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already serving the SQLite store") || !strings.Contains(err.Error(), "--db") {
		t.Fatalf("err = %v", err)
	}
}

// TestServeAnswersRepeatedPolls: a phone polling on a new connection each
// time gets the same file every time, one challenge included.
func TestServeAnswersRepeatedPolls(t *testing.T) {
	base := startServeWith(t, func(o *serveOptions) {})
	var etags []string
	// The first poll issues the phone its credentials; the next meets a
	// 401 and answers its Digest challenge; the one after answers at once,
	// as phones reuse the nonce.
	phone := phoneclient.New(nil, "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26")
	for range 4 {
		// A connection of its own per poll, as phones an hour apart.
		phone.Client = &http.Client{Transport: &http.Transport{}}
		status, h, body, err := phone.Do(context.Background(), "GET", base+"/prov/0015654c4c26.cfg", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != 200 || !strings.HasPrefix(string(body), "#!version:1.0.0.1\n") {
			t.Fatalf("poll: %d %q", status, body)
		}
		etags = append(etags, h.Get("ETag"))
	}
	if phone.Credential().User == "" || etags[1] == "" || etags[1] == etags[0] || etags[2] != etags[1] || etags[3] != etags[1] {
		t.Fatalf("ETags %q", etags)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `deskprov_http_requests_total{method="GET",route="/prov/*name",status="200"} 4`) ||
		!strings.Contains(string(m), `deskprov_http_requests_total{method="GET",route="/prov/*name",status="401"} 1`) {
		t.Fatalf("metrics lack the 4 polls and one challenge:\n%s", m)
	}
	// The inventory's buffer: the phone's sighting waits for the next flush.
	for _, want := range []string{"deskprov_inventory_sightings_pending 1", "deskprov_inventory_sightings_dropped_total 0",
		"deskprov_inventory_flushes_total ", "deskprov_inventory_sightings_written_total ", "deskprov_inventory_flush_seconds_total ",
		"deskprov_inventory_flush_failures_total 0", "deskprov_inventory_buffer_bytes "} {
		if !strings.Contains(string(m), "\n"+want) {
			t.Fatalf("metrics lack %q:\n%s", want, m)
		}
	}
}

// TestServeStillAcceptsPhoneLane: --phone-lane named the phone lane, since
// removed; a command line that gives it keeps working, with a deprecation
// notice.
func TestServeStillAcceptsPhoneLane(t *testing.T) {
	serve, _, err := rootCmd.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	f := serve.Flags().Lookup("phone-lane")
	if f == nil || f.Deprecated == "" {
		t.Fatalf("serve's --phone-lane: %+v, want a deprecated flag", f)
	}
	if err := serve.Flags().Parse([]string{"--phone-lane=false"}); err != nil {
		t.Fatal(err)
	}
}
