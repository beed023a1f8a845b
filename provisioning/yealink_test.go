package provisioning_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestYealinkGoldenFilesPerFirmwareLine renders every Yealink file for
// each firmware line (v80 legacy, v8x open SIP, Skype builds), with a site
// (NTP, zone, language, admin password), a CA and the states of a firmware
// offer, and compares them with testdata/golden/yealink-<line>/
// (go test ./provisioning -run Golden -update rewrites them).
func TestYealinkGoldenFilesPerFirmwareLine(t *testing.T) {
	server := provisioning.Server{PublicURL: "https://prov.example.com"}
	ca := []provisioning.CACert{{Name: "Example Root", PEM: "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n", FileName: "ca-example-root.pem"}}
	cases := []struct {
		name string
		dev  provisioning.Device
		site provisioning.Site
		edit func(*policy.Settings)
		fw   provisioning.Decision
	}{
		{"yealink-v80", provisioning.Device{Vendor: "yealink", Model: "T48G", MAC: "0015654c4c30", Version: "35.80.0.95"},
			provisioning.Site{Name: "Stockholm", NTPServers: []string{"ntp1.example.se", "ntp2.example.se"}, TimeZone: "Europe/Stockholm", Language: "de-DE", AdminPassword: "s3cret admin"},
			func(s *policy.Settings) { s.PrioritizedCodecsList = "SILK;OPUS;PCMA;G722_1" },
			provisioning.Decision{Offer: true, Version: "35.83.0.120", FileName: "T48-35.83.0.120.rom"}},
		{"yealink-v8x", provisioning.Device{Vendor: "yealink", Model: "T46S", MAC: "0015654c4c31", Version: "66.86.0.15"},
			provisioning.Site{Name: "New York", NTPServers: []string{"ntp.example.com"}, TimeZone: "America/New_York", Language: "en-US", AdminPassword: "%NULL%"},
			func(s *policy.Settings) {
				s.EnableDeviceUpdate = false
				s.LocalProvisioningServerAddress = "prov.local.example.com/yealink"
				s.LocalProvisioningServerType = "HTTPS"
				s.LocalProvisioningServerUser = "local"
				s.LocalProvisioningServerPassword = "local-pass"
			},
			provisioning.Decision{Reason: "EnableDeviceUpdate is off in the effective IP phone policy"}},
		{"yealink-skype", provisioning.Device{Vendor: "yealink", Model: "T46S", MAC: "0015654c4c32", Version: "66.9.0.63"},
			provisioning.Site{Name: "Sydney", NTPServers: []string{"pool.ntp.org"}, TimeZone: "Australia/Sydney", Language: "sv-SE"},
			nil, provisioning.Decision{Reason: "restored: the phone keeps what it runs"}},
		{"yealink-skype-t58", provisioning.Device{Vendor: "yealink", Model: "T58", MAC: "0015654c4c33", Version: "58.9.0.20"},
			provisioning.Site{NTPServers: []string{"pool.ntp.org"}, TimeZone: "Asia/Kolkata"},
			nil, provisioning.Decision{Offer: true, Version: "58.9.0.30", FileName: "T58-58.9.0.30.rom"}},
	}
	fam := yealink.New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			settings := policy.Defaults()
			if tc.edit != nil {
				tc.edit(&settings)
			}
			for _, name := range fam.Files(tc.dev) {
				dev := tc.dev
				e, err := fam.Resolve("GET", name, &dev)
				if err != nil {
					t.Fatal(err)
				}
				if !e.PerDevice {
					dev.MAC = "" // as the service renders a shared file
				}
				in := provisioning.Inputs{Device: dev, Policy: policy.Effective{Identity: "Global", Settings: settings}, Server: server,
					Firmware: tc.fw, Site: tc.site, CACerts: ca, Private: e.Credentials}
				body, err := fam.Render(e, in)
				if err != nil {
					t.Fatal(err)
				}
				provCheckParseable(t, "yealink", name, body)
				provGolden(t, filepath.Join("testdata", "golden", tc.name, name), body)
				if e.Credentials {
					in.Credential = &provisioning.Credential{User: "phone-" + dev.MAC, Password: "0123456789abcdef0123456789abcdef"}
					body, err := fam.Render(e, in)
					if err != nil {
						t.Fatal(err)
					}
					provGolden(t, filepath.Join("testdata", "golden", tc.name, "issuing-"+name), body)
				}
			}
		})
	}
}

// TestAWithdrawnYealinkOfferClearsTheFirmwareURL (issue 14 item 13): once
// nothing is offered — the offer withdrawn, EnableDeviceUpdate turned off —
// the phone's next poll says static.firmware.url = %NULL%, the empty value
// Yealink documents, so the phone forgets the URL it stored; a file
// without the row would leave it fetching the withdrawn image.
func TestAWithdrawnYealinkOfferClearsTheFirmwareURL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		pol := &provTestPolicy{db: db, eff: policy.Effective{Identity: "Global", Settings: policy.Defaults()}}
		s.Policy = pol
		fw := &provTestFirmware{d: provisioning.Decision{Offer: true, Version: "66.86.0.20", FileName: "T46S(T48S,T42S,T41S)-66.86.0.20.rom"}}
		s.Firmware = fw
		ctx := context.Background()
		poll := func() []byte {
			t.Helper()
			for _, name := range []string{"0015654c4c26.cfg", "y000000000066.cfg"} {
				a, err := s.Fetch(ctx, provisioning.Request{Method: "GET", Name: name, UserAgent: "Yealink SIP-T46S 66.86.0.15 00:15:65:4c:4c:26", IP: "10.0.0.7"})
				if err != nil {
					t.Fatal(err)
				}
				if name == "0015654c4c26.cfg" {
					return a.File.Body
				}
			}
			return nil
		}
		const offered = "static.firmware.url = https://prov.example.com/prov/T46S(T48S,T42S,T41S)-66.86.0.20.rom\n"
		if b := poll(); !bytes.Contains(b, []byte(offered)) {
			t.Fatalf("the offer is not in the file:\n%s", b)
		}
		// The offer withdrawn (a restore, a loop flag: firmware decides none).
		fw.d = provisioning.Decision{Reason: "restored"}
		pol.set(t, func(*policy.Settings) {})
		if b := poll(); !bytes.Contains(b, []byte("\nstatic.firmware.url = %NULL%\n")) {
			t.Fatalf("a withdrawn offer leaves the URL the phone stored:\n%s", b)
		}
		// EnableDeviceUpdate off: nothing is offered, whatever firmware says.
		fw.d = provisioning.Decision{Offer: true, Version: "66.86.0.20", FileName: "x.rom"}
		pol.set(t, func(p *policy.Settings) { p.EnableDeviceUpdate = false })
		if b := poll(); !bytes.Contains(b, []byte("\nstatic.firmware.url = %NULL%\n")) || strings.Contains(string(b), "x.rom") {
			t.Fatalf("EnableDeviceUpdate=false leaves the URL the phone stored:\n%s", b)
		}
	})
}

// TestTheYealinkAdminPasswordGoesOnlyWhereThePhoneMustProveItself (issue 14
// item 10): the site's local admin password is in <mac>.cfg while Yealink
// phones are given credentials (so only the phone gets that file), never in
// the shared common file, and in no file once the family is taken out of
// --phone-credentials (its files are then answered to anyone).
func TestTheYealinkAdminPasswordGoesOnlyWhereThePhoneMustProveItself(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		s.Server.Site = provisioning.Site{AdminPassword: "site-admin-pw"}
		pol := &provTestPolicy{db: db, eff: policy.Effective{Identity: "Global", Settings: policy.Defaults()}}
		s.Policy = pol
		ctx := context.Background()
		fetch := func(name string) string {
			t.Helper()
			a, err := s.Fetch(ctx, provisioning.Request{Method: "GET", Name: name, UserAgent: "Yealink SIP-T46S 66.9.0.63 00:15:65:4c:4c:26", IP: "10.0.0.7"})
			if err != nil {
				t.Fatal(err)
			}
			return string(a.File.Body)
		}
		const row = "\nstatic.security.user_password = admin:site-admin-pw\n"
		if b := fetch("0015654c4c26.cfg"); !strings.Contains(b, row) {
			t.Fatalf("<mac>.cfg lacks the admin password:\n%s", b)
		}
		if b := fetch("y000000000066.cfg"); strings.Contains(b, "site-admin-pw") {
			t.Fatalf("the shared common file carries the admin password:\n%s", b)
		}
		s.PhoneCredentials = []string{provisioning.Polycom}
		pol.set(t, func(*policy.Settings) {})
		if b := fetch("0015654c4c26.cfg"); strings.Contains(b, "site-admin-pw") {
			t.Fatalf("<mac>.cfg, answered without credentials, carries the admin password:\n%s", b)
		}
	})
}
