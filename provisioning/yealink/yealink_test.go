package yealink

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
)

// TestTheFirmwareLineDecidesThePrefix (issue 14 item 5): the static.
// prefix follows the firmware line of each model's real version strings
// (those wazo-provd's plugins ship, plugins/wazo_yealink/v73…v87/entry.py,
// and the Skype builds the issue reports), through the rendered file.
func TestTheFirmwareLineDecidesThePrefix(t *testing.T) {
	cases := []struct {
		ua     string
		static bool
	}{
		{"Yealink SIP-T28P 2.73.0.50 00:15:65:00:00:01", false},
		{"Yealink SIP-T40P 54.80.0.95 00:15:65:00:00:01", false},
		{"Yealink SIP-T41P 36.80.0.95 00:15:65:00:00:01", false},
		{"Yealink SIP-T42G 29.80.0.95 00:15:65:00:00:01", false},
		{"Yealink SIP-T46G 28.80.0.95 00:15:65:00:00:01", false},
		{"Yealink SIP-T48G 35.80.0.95 00:15:65:00:00:01", false},
		{"Yealink SIP-T29G 46.80.0.95 00:15:65:00:00:01", false},
		{"Yealink SIP-T23G 44.80.0.95 00:15:65:00:00:01", false},
		{"Yealink SIP-T46G 28.81.0.110 00:15:65:00:00:01", true},
		{"Yealink SIP-T40G 76.81.0.110 00:15:65:00:00:01", true},
		{"Yealink SIP-T41S 66.82.0.30 00:15:65:00:00:01", true},
		{"Yealink SIP-T46G 28.83.0.120 00:15:65:00:00:01", true},
		{"Yealink SIP-T48G 35.83.0.120 00:15:65:00:00:01", true},
		{"Yealink SIP-T52S 70.83.0.35 00:15:65:00:00:01", true},
		{"Yealink SIP-T54S 70.84.0.70 00:15:65:00:00:01", true},
		{"Yealink SIP-T53W 95.84.0.125 00:15:65:00:00:01", true},
		{"Yealink SIP-T27G 69.85.0.5 00:15:65:00:00:01", true},
		{"Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:01", true},
		{"Yealink SIP-T58 58.86.0.20 00:15:65:00:00:01", true},
		{"Yealink SIP-T54W 96.87.0.15 00:15:65:00:00:01", true},
		// Skype for Business builds: not v7x whatever their second number.
		{"Yealink SIP-T46S 66.9.0.63 00:15:65:00:00:01", true},
		{"Yealink SIP-T58 58.9.0.20 00:15:65:00:00:01", true},
	}
	f := New()
	for _, tc := range cases {
		dev, ok := f.Identify(tc.ua)
		if !ok {
			t.Fatalf("%q not identified", tc.ua)
		}
		if got := static(dev.Version); got != tc.static {
			t.Errorf("%s: static %v, want %v", tc.ua, got, tc.static)
		}
		body := render(t, dev, dev.MAC+".cfg", provisioning.Inputs{})
		has := bytes.Contains(body, []byte("\nstatic.auto_provision.server.url = "))
		bare := bytes.Contains(body, []byte("\nauto_provision.server.url = "))
		if has != tc.static || bare == tc.static {
			t.Errorf("%s: the file names its server as\n%s", tc.ua, body)
		}
	}
}

// render resolves and renders name for dev as the service does, with the
// inputs in filled out by defaults.
func render(t *testing.T, dev provisioning.Device, name string, in provisioning.Inputs) []byte {
	t.Helper()
	f := New()
	e, err := f.Resolve("GET", name, &dev)
	if err != nil {
		t.Fatal(err)
	}
	if !e.PerDevice {
		dev.MAC = ""
	}
	in.Device = dev
	in.Private = e.Credentials // as the service sets it for a family given credentials
	if in.Policy.Identity == "" {
		in.Policy = policy.Effective{Identity: "Global", Settings: policy.Defaults()}
	}
	if in.Server.PublicURL == "" {
		in.Server = provisioning.Server{PublicURL: "https://prov.example.com"}
	}
	if in.Site.TimeZone == "" && len(in.Site.NTPServers) == 0 {
		in.Site = in.Server.DefaultSite()
	}
	body, err := f.Render(e, in)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// parse reads a Yealink file as the phone does: the version line, then
// comments and key = value lines.
func parse(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	kv := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	first := true
	for sc.Scan() {
		l := sc.Text()
		if first {
			if l != "#!version:1.0.0.1" {
				t.Fatalf("first line %q", l)
			}
			first = false
			continue
		}
		if strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, " = ")
		if !ok {
			t.Fatalf("line %q is neither a comment nor key = value in\n%s", l, body)
		}
		kv[k] = append(kv[k], v)
	}
	return kv
}

// TestTimeRowsFollowTheSiteZone (issue 14 item 9): offset and daylight
// saving by week, from the IANA zone, in both hemispheres and without DST.
func TestTimeRowsFollowTheSiteZone(t *testing.T) {
	dev := provisioning.Device{Vendor: provisioning.Yealink, Model: "T46S", MAC: "0015654c4c26", Version: "66.86.0.15"}
	cases := []struct {
		zone string
		want map[string]string
	}{
		{"Europe/Stockholm", map[string]string{"local_time.time_zone": "+1", "local_time.summer_time": "1", "local_time.dst_time_type": "1",
			"local_time.start_time": "3/5/7/2", "local_time.end_time": "10/5/7/3", "local_time.offset_time": "60"}},
		{"America/New_York", map[string]string{"local_time.time_zone": "-5", "local_time.start_time": "3/2/7/2", "local_time.end_time": "11/1/7/2"}},
		{"Australia/Sydney", map[string]string{"local_time.time_zone": "+10", "local_time.start_time": "10/1/7/2", "local_time.end_time": "4/1/7/3"}},
		{"Asia/Kolkata", map[string]string{"local_time.time_zone": "+5:30", "local_time.summer_time": "0", "local_time.start_time": "%NULL%"}},
		{"UTC", map[string]string{"local_time.time_zone": "+0", "local_time.summer_time": "0"}},
	}
	for _, tc := range cases {
		site := provisioning.Site{NTPServers: []string{"a.example", "b.example"}, TimeZone: tc.zone}
		kv := parse(t, render(t, dev, "0015654c4c26.cfg", provisioning.Inputs{Site: site}))
		for k, v := range tc.want {
			if got := kv[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s = %q, want %q", tc.zone, k, got, v)
			}
		}
		if kv["local_time.ntp_server1"][0] != "a.example" || kv["local_time.ntp_server2"][0] != "b.example" {
			t.Errorf("%s: NTP servers %q %q", tc.zone, kv["local_time.ntp_server1"], kv["local_time.ntp_server2"])
		}
	}
}

// TestSecretsStayInThePhonesOwnFile (issue 14 item 10): the local admin
// password and a local provisioning server's credentials are written only
// in <mac>.cfg, which needs the phone's credentials, never in the shared
// common file; an admin's password that is literally %NULL% is left out
// rather than clearing the phone's password.
func TestSecretsStayInThePhonesOwnFile(t *testing.T) {
	dev := provisioning.Device{Vendor: provisioning.Yealink, Model: "T46S", MAC: "0015654c4c26", Version: "66.9.0.63"}
	pol := policy.Effective{Identity: "Global", Settings: policy.Defaults()}
	pol.Settings.LocalProvisioningServerAddress = "10.1.1.1"
	pol.Settings.LocalProvisioningServerType = "HTTP"
	pol.Settings.LocalProvisioningServerUser = "lp-user"
	pol.Settings.LocalProvisioningServerPassword = "lp-pass"
	in := provisioning.Inputs{Policy: pol, Site: provisioning.Site{TimeZone: "UTC", AdminPassword: "adm1n"}}
	own := parse(t, render(t, dev, "0015654c4c26.cfg", in))
	common := parse(t, render(t, dev, "y000000000066.cfg", in))
	for k, v := range map[string]string{"static.security.user_password": "admin:adm1n", "static.auto_provision.server.username": "lp-user",
		"static.auto_provision.server.password": "lp-pass", "static.auto_provision.server.url": "http://10.1.1.1/"} {
		if got := own[k]; len(got) != 1 || got[0] != v {
			t.Errorf("<mac>.cfg: %s = %q, want %q", k, got, v)
		}
		if _, ok := common[k]; ok && k != "static.auto_provision.server.url" {
			t.Errorf("the shared common file carries %s", k)
		}
	}
	in.Site.AdminPassword = " %null% "
	if got, ok := parse(t, render(t, dev, "0015654c4c26.cfg", in))["static.security.user_password"]; ok {
		t.Errorf("an admin password %%NULL%% was written as %q", got)
	}
}

// TestNoValueAddsALineOrAKey (issue 14 item 7, Yealink's own): random
// admin and policy text — line breaks, NUL, %NULL%, '=' and '#', non-ASCII —
// in every field that reaches a Yealink file never adds a line or a key, the
// file keeps its version line, and a value that is literally %NULL% is
// never written (the phone would read it as empty).
func TestNoValueAddsALineOrAKey(t *testing.T) {
	names := map[string]bool{}
	for _, p := range Table {
		names[p.Name], names[strings.TrimPrefix(p.Name, "static.")] = true, true
	}
	pieces := []string{"a", "Z", "9", " ", "\r", "\n", "\r\n", "\x00", "\t", "\x7f", "\u2028", "\u0085", "=", " = ", "#", "#!version:1.0.0.1",
		"%NULL%", "%null%", "static.firmware.url = x", "é", "漢", "\"", "'", "<", ">", "&", "--", "include:config \"x\""}
	rnd := rand.New(rand.NewPCG(14, 7))
	text := func() string {
		var b strings.Builder
		for range rnd.IntN(6) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return b.String()
	}
	for i := range 2000 {
		pol := policy.Effective{Identity: text(), Version: int64(i), Settings: policy.Defaults()}
		pol.Settings.LocalProvisioningServerAddress = text()
		pol.Settings.LocalProvisioningServerUser = text()
		pol.Settings.LocalProvisioningServerPassword = text()
		pol.Settings.LocalProvisioningServerType = text()
		site := provisioning.Site{Name: text(), NTPServers: []string{text(), text()}, TimeZone: "Europe/Stockholm", Language: text(), AdminPassword: text()}
		in := provisioning.Inputs{Policy: pol, Site: site, CACerts: []provisioning.CACert{{Name: text(), FileName: text()}},
			Firmware: provisioning.Decision{Offer: true, FileName: text()}}
		in.Server = provisioning.Server{PublicURL: "https://prov.example.com/" + text()}
		version := []string{"28.80.0.95", "66.86.0.15", "66.9.0.63"}[i%3]
		dev := provisioning.Device{Vendor: provisioning.Yealink, Model: "T46S", MAC: "0015654c4c26", Version: version}
		for _, name := range []string{"0015654c4c26.boot", "y000000000000.boot"} {
			body := string(render(t, dev, name, in))
			lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
			if len(lines) != 5 || lines[0] != "#!version:1.0.0.1" || lines[4] != "overwrite_mode = 1" {
				t.Fatalf("%s has lines %q", name, lines)
			}
			for _, l := range lines[2:4] {
				if !strings.HasPrefix(l, `include:config "`) || strings.Count(l, `"`) != 2 || !strings.HasSuffix(l, `"`) {
					t.Fatalf("%s: include line %q", name, l)
				}
			}
		}
		for _, name := range []string{"0015654c4c26.cfg", "y000000000066.cfg"} {
			body := render(t, dev, name, in)
			lines := strings.Count(string(body), "\n")
			kv := parse(t, body)
			n := 0
			for k, vs := range kv {
				if !names[k] {
					t.Fatalf("a value added the key %q:\n%s", k, body)
				}
				if len(vs) != 1 {
					t.Fatalf("%s is written %d times:\n%s", k, len(vs), body)
				}
				n++
			}
			if lines != n+2 { // the version line and the comment
				t.Fatalf("%d lines for %d keys:\n%q", lines, n, body)
			}
			// An admin's literal %NULL% is left out, not written as empty.
			pw := append(kv["static.security.user_password"], kv["security.user_password"]...)
			if isNull(site.AdminPassword) && len(pw) > 0 {
				t.Fatalf("the admin password %q was written as %q", site.AdminPassword, pw)
			}
			lp := append(kv["static.auto_provision.server.password"], kv["auto_provision.server.password"]...)
			if isNull(pol.Settings.LocalProvisioningServerPassword) && len(lp) > 0 && lp[0] == null {
				t.Fatalf("the local server password %q was written as %q", pol.Settings.LocalProvisioningServerPassword, lp)
			}
		}
	}
}

// TestCodecsMapToYealinkNames (issue 14 item 8): canonical codecs become
// Yealink's names, SILK (which Yealink lacks) is skipped and the rest keep
// their order without a gap.
func TestCodecsMapToYealinkNames(t *testing.T) {
	dev := provisioning.Device{Vendor: provisioning.Yealink, Model: "T46S", MAC: "0015654c4c26", Version: "66.86.0.15"}
	pol := policy.Effective{Identity: "Global", Settings: policy.Defaults()}
	pol.Settings.PrioritizedCodecsList = "silk;G722;G.711u;ilbc"
	kv := parse(t, render(t, dev, "0015654c4c26.cfg", provisioning.Inputs{Policy: pol}))
	want := map[string]string{
		"account.1.codec.g722.enable": "1", "account.1.codec.g722.priority": "1",
		"account.1.codec.pcmu.enable": "1", "account.1.codec.pcmu.priority": "2",
		"account.1.codec.ilbc.enable": "1", "account.1.codec.ilbc.priority": "3",
		"account.1.codec.pcma.enable": "0", "account.1.codec.g729.enable": "0", "account.1.codec.opus.enable": "0",
	}
	for k, v := range want {
		if got := kv[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := kv["account.1.codec.pcma.priority"]; ok {
		t.Errorf("a disabled codec got a priority")
	}
	for k := range kv {
		if strings.Contains(strings.ToLower(k), "silk") {
			t.Errorf("SILK written as %s", k)
		}
	}
}

// TestCfgIsTheTemplate holds cfg, which writes a configuration file out,
// to templates/cfg.tmpl byte for byte: for the files of several models and
// versions, with a site, credentials and a policy whose name and values
// carry what a template would have to keep as typed.
func TestCfgIsTheTemplate(t *testing.T) {
	pol := policy.Defaults()
	pol.LocalProvisioningServerPassword = "Ring <desk> & \"front\" = 1 % {{.x}}"
	for _, dev := range []provisioning.Device{
		{Vendor: provisioning.Yealink, Model: "T46G", MAC: "001565aabbcc", Version: "28.83.0.120"},
		{Vendor: provisioning.Yealink, Model: "T58A", MAC: "805ec0112233", Version: "58.86.0.15"},
		{Vendor: provisioning.Yealink, Model: "T46S", Version: "66.86.0.15"},
	} {
		for _, private := range []bool{false, true} {
			e, err := New().Resolve("GET", "y0000000000"+Codes[dev.Model]+".cfg", &dev)
			if dev.MAC != "" {
				e, err = New().Resolve("GET", dev.MAC+".cfg", &dev)
			}
			if err != nil {
				t.Fatal(err)
			}
			in := provisioning.Inputs{Device: dev, Private: private, Server: provisioning.Server{PublicURL: "https://prov.example.com"},
				Policy:     policy.Effective{Identity: "Tag:Front <desk>", Version: 7, Settings: pol},
				Credential: &provisioning.Credential{User: "phone-x", Password: "p = w % d"}}
			in.Site = in.Server.DefaultSite()
			head, kvs := header(e, in), params(e, in)
			want, err := templates.Render("cfg.tmpl", e.Name, struct {
				Head   string
				Params []provisioning.KV
			}{head, kvs})
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg(head, kvs); !bytes.Equal(got, want) {
				t.Fatalf("%s private=%v: cfg wrote\n%s\nthe template\n%s", e.Name, private, got, want)
			}
			if got := cfg(head, nil); !bytes.Equal(got, must(templates.Render("cfg.tmpl", e.Name, struct {
				Head   string
				Params []provisioning.KV
			}{head, nil}))) {
				t.Fatalf("no parameters: %q", got)
			}
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
