package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/fleet"
)

// TestServeDemoRefusesARealDataDirectory: --demo never touches a data
// directory or database it is given (issue 18 item 1).
func TestServeDemoRefusesARealDataDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dir},
		{"serve", "--demo", "--listen", "127.0.0.1:0", "--db", "postgres://nobody@127.0.0.1:1/none"},
	} {
		out, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "throwaway data directory") {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("--demo wrote into the data directory it refused: %v", ents)
	}
}

// TestServeDemoShowsAMovingFleet (issue 18 item 1, issue 15's dashboard):
// serve --demo prints the admin password and the URLs; within a bounded
// time the dashboard (its HTML and GET /api/v1/fleet) shows simulated
// phones of every family, phones signed in and a rollout in progress whose
// progress changes; stopping it removes its data directory.
func TestServeDemoShowsAMovingFleet(t *testing.T) {
	t.Setenv("DESKPROV_ADMIN_PASSWORD", "")
	os.Unsetenv("DESKPROV_ADMIN_PASSWORD") // the banner shows the password it made
	o := serveOptions{Listen: "127.0.0.1:0", LogLevel: "warn", LogFormat: "text", Demo: true, DemoPhones: 80, DemoPoll: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, out) }()

	banner := regexp.MustCompile(`(?s)directory (\S+) is removed.*admin console\s+(\S+)/admin\s+user admin, password (\S+)\n.*/my\s+user (\S+), password (\S+)\n\s+phones point at\s+(\S+)/prov/`)
	var m []string
	for deadline := time.Now().Add(60 * time.Second); m == nil; {
		m = banner.FindStringSubmatch(out.String())
		if m != nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve --demo stopped: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no banner:\n%s", out.String())
		}
	}
	dataDir, base, password := m[1], m[2], m[3]
	if _, err := os.Stat(dataDir); err != nil {
		t.Fatalf("the demo's data directory: %v", err)
	}

	token := cliAPILogin(t, base, password)
	families := []string{"polycom", "yealink", "audiocodes", "lpe"}
	seen := map[uint]int64{} // rollout → phones updated when last looked
	moved := false
	var rep fleet.Report
	for deadline := time.Now().Add(3 * time.Minute); ; {
		if time.Now().After(deadline) {
			t.Fatalf("within 3 minutes the dashboard did not show every family, phones signed in and a rollout moving: %+v", rep)
		}
		time.Sleep(time.Second)
		rep = fleet.Report{}
		if err := demoGet(base, token, &rep); err != nil {
			t.Fatal(err)
		}
		for _, ro := range rep.Rollouts {
			var updated int64
			for _, w := range ro.Waves {
				updated += w.Updated
			}
			if before, ok := seen[ro.ID]; ok && updated != before {
				moved = true
			}
			seen[ro.ID] = updated
		}
		vendors := map[string]int64{}
		for _, v := range rep.ByVendor {
			vendors[v.Vendor] = v.Phones
		}
		every := true
		for _, f := range families {
			every = every && vendors[f] > 0
		}
		if every && moved && rep.SignedIn > 0 && len(rep.Rollouts) > 0 {
			break
		}
	}

	// The console's home page shows the same fleet.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page := demoPage(t, browser, base+"/admin/login")
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	res, err := browser.PostForm(base+"/admin/login", url.Values{"csrf_token": {csrf[1]}, "username": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	page = demoPage(t, browser, base+"/admin")
	for _, want := range append(families, `id="t-models"`, `id="t-compliance"`, `id="t-rollout-`, "Rollouts in progress", `src="/admin/fleet/vendors.svg`) {
		if !strings.Contains(page, want) {
			t.Fatalf("the dashboard lacks %q:\n%s", want, page)
		}
	}

	// And deskprov fleet, over the API.
	t.Setenv("DESKPROV_CONFIG", t.TempDir()+"/cli.json")
	cli, err := runCLI(t, "fleet", "--server", base, "--token", token)
	if err != nil {
		t.Fatalf("deskprov fleet: %v\n%s", err, cli)
	}
	for _, want := range append(families, "Phones known", "Signed in", "ON APPROVED", "ROLLOUT") {
		if !strings.Contains(cli, want) {
			t.Fatalf("deskprov fleet lacks %q:\n%s", want, cli)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve --demo returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve --demo did not stop")
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("the demo's data directory is still there after the stop: %v", err)
	}
}

func demoGet(base, token string, out any) error {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/fleet", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(out)
}

func demoPage(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, res.Body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", u, res.StatusCode, b.String())
	}
	return b.String()
}

// TestServeDemoKeepsItsBannerInView: the demo's log is at warn unless a
// level was given, so the banner with the admin password is not scrolled
// away by the simulated phones' sign-ins; a given level is kept.
func TestServeDemoKeepsItsBannerInView(t *testing.T) {
	for _, tc := range []struct {
		demo, given bool
		level, want string
		quiet       bool
	}{
		{true, false, "info", "warn", true},
		{true, true, "info", "info", false},
		{true, true, "debug", "debug", false},
		{false, false, "info", "info", false},
	} {
		o := serveOptions{Demo: tc.demo, LogLevel: tc.level}
		demoLogLevel(&o, tc.given)
		if o.LogLevel != tc.want || o.DemoQuietLog != tc.quiet {
			t.Errorf("demo %v, level given %v (%s): level %s quiet %v, want %s %v", tc.demo, tc.given, tc.level, o.LogLevel, o.DemoQuietLog, tc.want, tc.quiet)
		}
	}
}
