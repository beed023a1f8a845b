package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/store/storetest"
)

// freeAddr picks a loopback address nothing listens on, so that a test can
// give serve a --public-url that matches where it listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestServersOnOneDatabaseShareTheRecordedSettings(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	key := sharedKeyFile(t)
	addrA := freeAddr(t)
	urlA := "http://" + addrA
	base := startServeWith(t, func(o *serveOptions) {
		o.DB, o.SecretKeyFile, o.Listen, o.PublicURL = dsn, key, addrA, urlA
		o.Explicit = map[string]bool{settings.PublicURL: true}
	})
	if base != urlA {
		t.Fatalf("A serves at %s, want %s", base, urlA)
	}

	t.Run("a server given another public URL is refused, naming both and how to change it", func(t *testing.T) {
		o := serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), DB: dsn, SecretKeyFile: key, LogLevel: "error", LogFormat: "text",
			PublicURL: "http://192.0.2.99:8080", PollInterval: 30 * 60e9, Explicit: map[string]bool{settings.PublicURL: true, settings.PollInterval: true}}
		err := serve(context.Background(), o, io.Discard)
		if err == nil {
			t.Fatal("a server with another --public-url started")
		}
		for _, want := range []string{"--public-url http://192.0.2.99:8080", urlA, "--poll-interval 30m0s", "1h0m0s", "deskprov settings set"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal %q does not say %q", err, want)
			}
		}
	})
	t.Run("a server not given them takes the recorded ones", func(t *testing.T) {
		// Its own address would be its derived public URL; it runs with A's.
		if got := startServeWith(t, func(o *serveOptions) { o.DB, o.SecretKeyFile = dsn, key }); got != urlA {
			t.Fatalf("B's public URL is %s, want the recorded %s", got, urlA)
		}
	})

	t.Setenv("DESKPROV_CONFIG", t.TempDir()+"/cli.json")
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	t.Run("only admins see or change them", func(t *testing.T) {
		for _, r := range []struct{ method, path, auth string }{
			{"GET", "/api/v1/settings/service", ""},
			{"GET", "/api/v1/settings/service", "Bearer not-a-token"},
			{"PUT", "/api/v1/settings/service/poll-interval", ""},
			{"PUT", "/api/v1/settings/service/poll-interval", "Bearer not-a-token"},
		} {
			req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(`{"value":"30m"}`))
			req.Header.Set("Content-Type", "application/json")
			if r.auth != "" {
				req.Header.Set("Authorization", r.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d, want 401", r.method, r.path, r.auth, res.StatusCode)
			}
		}
	})
	if out, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "admin-password"); err != nil {
		t.Fatalf("login: %s %v", out, err)
	}
	runSteps(t, []cliStep{
		{name: "show lists the recorded settings", args: []string{"settings", "show"}, want: urlA + "  same"},
		{name: "show says what this server runs with", args: []string{"settings", "show", "--output", "json"}, want: `"inEffect": "1h0m0s"`},
		{name: "set refuses a bad value", args: []string{"settings", "set", "poll-interval", "1m"}, fail: true, want: "5m to 720h"},
		{name: "set refuses an unknown setting", args: []string{"settings", "set", "listen", ":80"}, fail: true, want: "public-url, poll-interval"},
		{name: "set records a new value", args: []string{"settings", "set", "poll-interval", "30m"}, want: "restart each server"},
		{name: "show then tells the recorded value from this server's", args: []string{"settings", "show"}, want: "1h0m0s (until restarted)"},
	})
	t.Run("a server started after the change takes the new value", func(t *testing.T) {
		o := serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), DB: dsn, SecretKeyFile: key, LogLevel: "error", LogFormat: "text",
			PollInterval: 60 * 60e9, Explicit: map[string]bool{settings.PollInterval: true}}
		if err := serve(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--poll-interval 1h0m0s differs from the value recorded in the database, 30m0s") {
			t.Fatalf("a server with the old explicit --poll-interval: %v", err)
		}
	})
}
