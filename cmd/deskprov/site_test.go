package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestServeSiteFlags: --ntp-server, --time-zone and --language (with their
// DESKPROV_ variables) default to pool.ntp.org, UTC and none, are checked
// at start with a message naming the flag, and are shown in the banner.
func TestServeSiteFlags(t *testing.T) {
	serveCmd, _, err := rootCmd.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	for flag, def := range map[string]string{"ntp-server": "[pool.ntp.org]", "time-zone": "UTC", "language": ""} {
		if f := serveCmd.Flags().Lookup(flag); f == nil || f.DefValue != def {
			t.Fatalf("--%s: %+v", flag, f)
		}
	}
	t.Run("refuses bad values at start", func(t *testing.T) {
		t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
		start := func(args ...string) error {
			_, err := runCLI(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "error"}, args...)...)
			return err
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--ntp-server", "ntp_1.example.com"}, "--ntp-server"},
			{[]string{"--ntp-server", "a.example,b.example,c.example,d.example,e.example"}, "at most 4"},
			{[]string{"--time-zone", "Mars/Olympus"}, "--time-zone"},
			{[]string{"--language", "not a language"}, "--language"},
		} {
			if err := start(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: %v, want it to say %q", c.args, err, c.want)
			}
		}
		t.Setenv("DESKPROV_TIME_ZONE", "Europe/Nowhere")
		if err := start(); err == nil || !strings.Contains(err.Error(), "--time-zone") {
			t.Errorf("DESKPROV_TIME_ZONE: %v", err)
		}
		// Good values pass, and serve stops at the next wrong flag.
		t.Setenv("DESKPROV_TIME_ZONE", "Europe/Stockholm")
		t.Setenv("DESKPROV_NTP_SERVER", "ntp1.example.com,10.0.0.1")
		if err := start("--language", "sv-SE", "--tls-cert", "cert.pem"); err == nil || !strings.Contains(err.Error(), "--tls-cert and --tls-key go together") {
			t.Errorf("good values were refused: %v", err)
		}
	})
	t.Run("the banner shows them", func(t *testing.T) {
		t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
		for _, c := range []struct {
			o    serveOptions
			want string
		}{
			{serveOptions{}, "phone settings      NTP pool.ntp.org, time zone UTC, language the phone's own"},
			{serveOptions{NTPServers: []string{"NTP1.example.com, 10.0.0.1"}, TimeZone: "Europe/Stockholm", Language: "sv-se"},
				"phone settings      NTP ntp1.example.com, 10.0.0.1, time zone Europe/Stockholm, language sv-SE"},
		} {
			o := c.o
			o.Listen, o.DataDir, o.LogLevel, o.LogFormat = "127.0.0.1:0", t.TempDir(), "error", "text"
			ctx, cancel := context.WithCancel(context.Background())
			out := &lockedBuffer{}
			done := make(chan error, 1)
			go func() { done <- serve(ctx, o, out) }()
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), "Stop with Ctrl-C") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), c.want) {
				t.Errorf("the banner lacks %q:\n%s", c.want, out.String())
			}
		}
	})
}

// TestSiteCLI: deskprov site list, show, add, set and remove do what the
// API does, and print what it answers.
func TestSiteCLI(t *testing.T) {
	each := func(t *testing.T, e enrolmentServe) {
		runSteps(t, []cliStep{
			{"no site yet", []string{"site", "list"}, "NAME", false},
			{"add a site", []string{"site", "add", "HQ", "--subnet", "10.1.0.0/16", "--subnet", "2001:db8:1::/48", "--ntp-server", "ntp1.example.com,10.1.0.1",
				"--time-zone", "Europe/Stockholm", "--language", "sv-se"}, "sv-SE", false},
			{"add needs subnets", []string{"site", "add", "Lab"}, "--subnet", true},
			{"a subnet of another site is refused", []string{"site", "add", "Lab", "--subnet", "10.1.0.0/16"}, `belongs to site "HQ"`, true},
			{"a bad time zone names the field", []string{"site", "set", "HQ", "--time-zone", "Mars/Olympus"}, "is not a time zone", true},
			{"set with nothing to change", []string{"site", "set", "HQ"}, "nothing to change", true},
			{"back to the server-wide NTP servers", []string{"site", "set", "HQ", "--ntp-server", ""}, "(server-wide)", false},
			{"a site not there", []string{"site", "show", "Nowhere"}, `no site is named "Nowhere"`, true},
		})
		out, err := runCLIInput(t, "Phone-Admin-1\n", "site", "add", "Plant", "--subnet", "10.2.0.0/16", "--admin-password-stdin")
		cliWant(t, out, err, false, "Admin password  set")
		if strings.Contains(out, "Phone-Admin-1") {
			t.Fatalf("the CLI shows the password: %s", out)
		}
		_, err = runCLIInput(t, "", "site", "set", "Plant", "--admin-password-stdin")
		cliWant(t, "", err, true, "standard input holds no password")
		ss := sameAsAPI[[]site.Site](t, e, "/api/v1/sites", "site", "list")
		if len(ss) != 2 || ss[0].Name != "HQ" || len(ss[0].NTPServers) != 0 || ss[0].TimeZone != "Europe/Stockholm" || !ss[1].AdminPassword.Set {
			t.Fatalf("sites: %+v", ss)
		}
		sameAsAPI[site.Site](t, e, "/api/v1/sites/Plant", "site", "show", "plant")
		runSteps(t, []cliStep{
			{"preview a phone's file in a site", []string{"device", "preview", "0004f2a1b2c3", "deskprov-0004f2a1b2c3.cfg", "--vendor", "polycom", "--site", "hq"}, "device.prov.serverName", false},
			{"preview in a site not there", []string{"device", "preview", "0004f2a1b2c3", "deskprov-0004f2a1b2c3.cfg", "--vendor", "polycom", "--site", "Nowhere"}, `no site is named "Nowhere"`, true},
			{"remove the password", []string{"site", "set", "Plant", "--remove-admin-password", "--name", "Plant 2"}, "not set", false},
			{"remove the site", []string{"site", "remove", "plant 2"}, "Removed site Plant 2", false},
			{"it is gone", []string{"site", "show", "Plant 2"}, "no site is named", true},
		})
	}
	t.Run("sqlite", func(t *testing.T) { each(t, serveEnrolment(t, "")) })
	if dsn := os.Getenv(storetest.EnvPostgres); dsn != "" {
		t.Run("postgres", func(t *testing.T) { each(t, serveEnrolment(t, postgresSchemaDSN(t, dsn))) })
	}
}
