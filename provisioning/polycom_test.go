package provisioning_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/polycom"
)

// polycomRender renders one Polycom file for in and reads it back as the
// phone does.
func polycomRender(t *testing.T, name string, in provisioning.Inputs) (map[string]string, string) {
	t.Helper()
	fam := polycom.New()
	dev := in.Device
	e, err := fam.Resolve("GET", name, &dev)
	if err != nil {
		t.Fatal(err)
	}
	in.Device = dev
	body, err := fam.Render(e, in)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := parsePolycom(name, body)
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", name, err, body)
	}
	return kv, string(body)
}

func polycomInputs() provisioning.Inputs {
	return provisioning.Inputs{
		Device: provisioning.Device{Vendor: "polycom", Model: "VVX500", MAC: "0004f2a1b2c3", Version: "5.9.7.4477"},
		Policy: policy.Effective{Identity: "Global", Settings: policy.Defaults()},
		Server: provisioning.Server{PublicURL: "https://prov.example.com", PollInterval: time.Hour},
		Site:   provisioning.Server{}.DefaultSite(),
	}
}

// TestPolycomTimeFollowsTheSite: the SNTP server, the standard offset and the
// daylight-saving rule (month, occurrence of a weekday, hour; 1 = Sunday)
// come from the site's IANA zone, overriding DHCP (issue 14 item 9; Polycom
// files carried no time at all before).
func TestPolycomTimeFollowsTheSite(t *testing.T) {
	for _, tc := range []struct {
		zone string
		want map[string]string
		none []string
	}{
		{"UTC", map[string]string{"tcpIpApp.sntp.gmtOffset": "0", "tcpIpApp.sntp.daylightSavings.enable": "0"},
			[]string{"tcpIpApp.sntp.daylightSavings.start.month"}},
		// Second Sunday of March 02:00 to first Sunday of November 02:00.
		{"America/New_York", map[string]string{"tcpIpApp.sntp.gmtOffset": "-18000", "tcpIpApp.sntp.daylightSavings.enable": "1",
			"tcpIpApp.sntp.daylightSavings.fixedDayEnable": "0",
			"tcpIpApp.sntp.daylightSavings.start.month":    "3", "tcpIpApp.sntp.daylightSavings.start.date": "8",
			"tcpIpApp.sntp.daylightSavings.start.dayOfWeek": "1", "tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth": "0",
			"tcpIpApp.sntp.daylightSavings.start.time": "2",
			"tcpIpApp.sntp.daylightSavings.stop.month": "11", "tcpIpApp.sntp.daylightSavings.stop.date": "1",
			"tcpIpApp.sntp.daylightSavings.stop.dayOfWeek": "1", "tcpIpApp.sntp.daylightSavings.stop.dayOfWeek.lastInMonth": "0",
			"tcpIpApp.sntp.daylightSavings.stop.time": "2"}, nil},
		// Last Sunday of March 02:00 to last Sunday of October 03:00.
		{"Europe/Stockholm", map[string]string{"tcpIpApp.sntp.gmtOffset": "3600", "tcpIpApp.sntp.daylightSavings.enable": "1",
			"tcpIpApp.sntp.daylightSavings.start.month": "3", "tcpIpApp.sntp.daylightSavings.start.dayOfWeek": "1",
			"tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth": "1", "tcpIpApp.sntp.daylightSavings.start.time": "2",
			"tcpIpApp.sntp.daylightSavings.stop.month": "10", "tcpIpApp.sntp.daylightSavings.stop.dayOfWeek.lastInMonth": "1",
			"tcpIpApp.sntp.daylightSavings.stop.time": "3"}, nil},
		// Southern hemisphere: first Sunday of October 02:00 to first Sunday of April 03:00.
		{"Australia/Sydney", map[string]string{"tcpIpApp.sntp.gmtOffset": "36000",
			"tcpIpApp.sntp.daylightSavings.start.month": "10", "tcpIpApp.sntp.daylightSavings.start.date": "1",
			"tcpIpApp.sntp.daylightSavings.start.time": "2",
			"tcpIpApp.sntp.daylightSavings.stop.month": "4", "tcpIpApp.sntp.daylightSavings.stop.date": "1",
			"tcpIpApp.sntp.daylightSavings.stop.time": "3"}, nil},
		// A name the zone database does not know leaves the phone's own.
		{"Mars/Olympus", nil, []string{"tcpIpApp.sntp.gmtOffset", "tcpIpApp.sntp.daylightSavings.enable"}},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			in := polycomInputs()
			in.Site.TimeZone = tc.zone
			in.Site.NTPServers = []string{"ntp1.example.com", "ntp2.example.com"}
			kv, body := polycomRender(t, "deskprov-0004f2a1b2c3.cfg", in)
			if kv["tcpIpApp.sntp.address"] != "ntp1.example.com" || kv["tcpIpApp.sntp.address.overrideDHCP"] != "1" {
				t.Errorf("SNTP server: %q override %q", kv["tcpIpApp.sntp.address"], kv["tcpIpApp.sntp.address.overrideDHCP"])
			}
			for k, v := range tc.want {
				if kv[k] != v {
					t.Errorf("%s = %q, want %q", k, kv[k], v)
				}
			}
			for _, k := range tc.none {
				if _, ok := kv[k]; ok {
					t.Errorf("%s is written:\n%s", k, body)
				}
			}
		})
	}
	// The server-wide defaults reach a phone out of the box.
	kv, _ := polycomRender(t, "deskprov-0004f2a1b2c3.cfg", polycomInputs())
	if kv["tcpIpApp.sntp.address"] != provisioning.DefaultNTPServer || kv["tcpIpApp.sntp.gmtOffset"] != "0" {
		t.Errorf("defaults: %v", kv)
	}
}

// TestPolycomAdminPasswordOnlyInTheFileOnlyThePhoneReads: the local admin
// password is written only into the phone's own configuration file, and
// only when that file is answered to the phone alone; never into a master
// file (issue 14 item 10).
func TestPolycomAdminPasswordOnlyInTheFileOnlyThePhoneReads(t *testing.T) {
	in := polycomInputs()
	in.Site.AdminPassword = `4dm1n&"<pw>`
	in.Private = true
	kv, _ := polycomRender(t, "deskprov-0004f2a1b2c3.cfg", in)
	if kv["device.auth.localAdminPassword"] != in.Site.AdminPassword || kv["device.auth.localAdminPassword.set"] != "1" || kv["device.set"] != "1" {
		t.Fatalf("the phone's own file: %q", kv["device.auth.localAdminPassword"])
	}
	for _, name := range []string{"0004f2a1b2c3.cfg", "000000000000.cfg"} {
		if _, body := polycomRender(t, name, in); strings.Contains(body, "4dm1n") || strings.Contains(body, "localAdminPassword") {
			t.Fatalf("%s carries the admin password:\n%s", name, body)
		}
	}
	in.Private = false // a family answered without credentials
	if kv, body := polycomRender(t, "deskprov-0004f2a1b2c3.cfg", in); kv["device.auth.localAdminPassword"] != "" || strings.Contains(body, "4dm1n") {
		t.Fatalf("a file answered to anyone carries the admin password:\n%s", body)
	}
}

// TestPolycomCACertsLanguageAndCodecs: the organisation's CA certificates go
// in as PEM (line breaks kept), the site's language as Polycom's name, and
// the policy's codecs by Polycom's names in the policy's order, skipping
// those Polycom lacks (issue 14 items 8 and 10).
func TestPolycomCACertsLanguageAndCodecs(t *testing.T) {
	in := polycomInputs()
	pem1 := "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
	pem2 := "-----BEGIN CERTIFICATE-----\nMIIBtDCCAVqgAwIBAgIV\n-----END CERTIFICATE-----\n"
	in.CACerts = []provisioning.CACert{{Name: "root", PEM: pem1}, {Name: "issuing", PEM: pem2}}
	in.Site.Language = "fr-CA"
	in.Policy.Settings.PrioritizedCodecsList = "G722_1;SILK;PCMA"
	kv, body := polycomRender(t, "deskprov-0004f2a1b2c3.cfg", in)
	if kv["sec.TLS.customCaCert.1"] != pem1 || kv["sec.TLS.customCaCert.2"] != pem2 {
		t.Fatalf("CA certificates: %q %q", kv["sec.TLS.customCaCert.1"], kv["sec.TLS.customCaCert.2"])
	}
	if _, ok := kv["sec.TLS.customCaCert.3"]; ok {
		t.Fatalf("an empty slot is written:\n%s", body)
	}
	if kv["lcl.ml.lang"] != "French_France" {
		t.Fatalf("language %q", kv["lcl.ml.lang"])
	}
	for k, v := range map[string]string{"voice.codecPref.G7221.32kbps": "1", "voice.codecPref.G711_A": "2",
		"voice.codecPref.G722": "0", "voice.codecPref.G711_Mu": "0", "voice.codecPref.G729_AB": "0"} {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	in.Site.Language = "sv-SE" // no Polycom name in the references: the phone keeps its own
	if kv, _ := polycomRender(t, "deskprov-0004f2a1b2c3.cfg", in); kv["lcl.ml.lang"] != "" {
		t.Fatalf("unknown language written as %q", kv["lcl.ml.lang"])
	}
}

// TestPolycomPolicySettingsThatReachedNoPhone: one-touch voicemail, Exchange
// calendaring and a local provisioning server now reach the phone; calls
// while locked are no longer written as answer-on-lock, a different
// feature (issue 14, "Policy settings that reach no phone").
func TestPolycomPolicySettingsThatReachedNoPhone(t *testing.T) {
	in := polycomInputs()
	in.Policy.Settings.EnableOneTouchVoicemail = false
	in.Policy.Settings.EnableExchangeCalendaring = false
	in.Policy.Settings.AllowCallsWhenLocked = true
	kv, body := polycomRender(t, "deskprov-0004f2a1b2c3.cfg", in)
	if kv["up.oneTouchVoiceMail"] != "0" || kv["feature.exchangeCalendar.enabled"] != "0" {
		t.Fatalf("voicemail %q calendar %q", kv["up.oneTouchVoiceMail"], kv["feature.exchangeCalendar.enabled"])
	}
	if strings.Contains(body, "AnswerOnLock") {
		t.Fatalf("calls while locked written as answer-on-lock:\n%s", body)
	}
	// The local provisioning server becomes the phone's one provisioning and
	// update authority, even in the answer that would issue deskprov's own
	// credentials.
	in.Policy.Settings.LocalProvisioningServerAddress = "prov.branch.example.com:8443/vvx"
	in.Policy.Settings.LocalProvisioningServerType = "https"
	in.Policy.Settings.LocalProvisioningServerUser = "branch"
	in.Policy.Settings.LocalProvisioningServerPassword = `p&"w`
	in.Credential = &provisioning.Credential{User: "phone-0004f2a1b2c3", Password: "0123456789abcdef0123456789abcdef"}
	in.Firmware = provisioning.Decision{Offer: true, Version: "5.9.7.4477", FileName: "3111-44500-001.sip.ld"} // offered before the policy changed
	kv, body = polycomRender(t, "deskprov-0004f2a1b2c3.cfg", in)
	for k, v := range map[string]string{"device.prov.serverType": "HTTPS", "device.prov.serverName": "prov.branch.example.com:8443/vvx",
		"device.prov.user": "branch", "device.prov.password": `p&"w`, "device.prov.serverName.set": "1", "device.prov.password.set": "1",
		"device.prov.lyncDeviceUpdateEnabled": "0", "device.prov.upgradeServer": "", "device.prov.upgradeServer.set": "1"} {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	if _, ok := kv["device.prov.upgradeServer"]; !ok || strings.Contains(body, "0123456789abcdef") || strings.Contains(body, "prov.example.com") {
		t.Fatalf("deskprov still named:\n%s", body)
	}
}

// TestPolycomSiteGolden: a Polycom configuration with a site (NTP, a zone
// with daylight saving, language, admin password) and a CA certificate, as
// reviewed against the references (go test ./provisioning -update rewrites
// it).
func TestPolycomSiteGolden(t *testing.T) {
	in := polycomInputs()
	in.Policy.Identity = "Sales -- Stockholm"
	in.Site = provisioning.Site{Name: "Stockholm", NTPServers: []string{"ntp.se.example.com"}, TimeZone: "Europe/Stockholm",
		Language: "de-DE", AdminPassword: "s3cret&<"}
	in.CACerts = []provisioning.CACert{{Name: "Example Root", PEM: "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"}}
	in.Private = true
	for _, name := range []string{"0004f2a1b2c3.cfg", "deskprov-0004f2a1b2c3.cfg"} {
		_, body := polycomRender(t, name, in)
		provGolden(t, filepath.Join("testdata", "golden", "polycom-site", name), []byte(body))
	}
}
