package provisioning_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/bytecache"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/lpe"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// provTestPolicy is a policy source whose settings a test edits, bumping
// the generation as policy.Service does.
type provTestPolicy struct {
	db  *gorm.DB
	eff policy.Effective
}

func (p *provTestPolicy) EffectiveForUser(context.Context, string) (policy.Effective, error) {
	return p.eff, nil
}

func (p *provTestPolicy) set(t *testing.T, edit func(*policy.Settings)) {
	t.Helper()
	edit(&p.eff.Settings)
	p.eff.Version++
	if err := store.Bump(p.db, store.ConfigGeneration); err != nil {
		t.Fatal(err)
	}
}

// provTestFirmware offers one image to every device.
type provTestFirmware struct {
	d     provisioning.Decision
	polls int
}

func (f *provTestFirmware) Decide(context.Context, provisioning.Device, policy.Settings) (provisioning.Decision, error) {
	return f.d, nil
}
func (f *provTestFirmware) Poll(context.Context, provisioning.Device) error { f.polls++; return nil }

func provTestService(t *testing.T, db *gorm.DB) *provisioning.Service {
	t.Helper()
	if err := provisioning.Migrate(db); err != nil {
		t.Fatal(err)
	}
	s := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	s.Server = provisioning.Server{PublicURL: "https://prov.example.com", PollInterval: time.Hour}
	return s
}

func TestParseMACAcceptsPhoneSpellingsAndRefusesTheRest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0004f2a1b2c3", "0004f2a1b2c3"},
		{"0004F2A1B2C3", "0004f2a1b2c3"},
		{"00:04:f2:a1:b2:c3", "0004f2a1b2c3"},
		{"00-04-F2-A1-B2-C3", "0004f2a1b2c3"},
		{"0004.f2a1.b2c3", "0004f2a1b2c3"},
		{"0004f2a1b2c", ""},
		{"0004f2a1b2c3d", ""},
		{"00:04-f2:a1:b2:c3", ""},
		{"00:04:f2:a1:b2:cg", ""},
		{"../../etc/pas", ""},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := provisioning.ParseMAC(tc.in)
			if tc.want == "" {
				if err == nil || fault.KindOf(err) != fault.Invalid {
					t.Fatalf("ParseMAC(%q) = %q, %v; want an invalid fault", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseMAC(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestIdentifyReadsUserAgentAndPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		for _, tc := range []struct {
			name, method, file, ua string
			want                   provisioning.Device
			kind                   provisioning.Kind
			entry                  string
		}{
			{"a VVX 500 asking for its master file", "GET", "0004F2A1B2C3.cfg", "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application",
				provisioning.Device{Vendor: "polycom", Model: "VVX500", MAC: "0004f2a1b2c3", Version: "5.9.7.4477"}, provisioning.Rendered, "0004f2a1b2c3.cfg"},
			{"a SoundPoint asking for the shared master file", "GET", "000000000000.cfg", "FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078",
				provisioning.Device{Vendor: "polycom", Model: "SPIP335", Version: "3.2.1.0078"}, provisioning.Rendered, "000000000000.cfg"},
			{"a VVX uploading its app log", "PUT", "0004f2a1b2c3-app.log", "FileTransport PolycomVVX-VVX_410-UA/5.4.2.1 Type/Updater",
				provisioning.Device{Vendor: "polycom", Model: "VVX410", MAC: "0004f2a1b2c3"}, provisioning.Upload, "0004f2a1b2c3-app.log"},
			{"a VVX trying the optional directory", "GET", "000000000000-directory.xml", "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application",
				provisioning.Device{Vendor: "polycom", Model: "VVX500", Version: "5.9.7.4477"}, provisioning.Optional, "000000000000-directory.xml"},
			{"a T46G with colons in its User-Agent", "GET", "y000000000028.cfg", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26",
				provisioning.Device{Vendor: "yealink", Model: "T46G", MAC: "0015654c4c26", Version: "28.83.0.120"}, provisioning.Rendered, "y000000000028.cfg"},
			{"a T5x without colons and two spaces", "GET", "0015654C4C26.cfg", "Yealink SIP-T54S  70.86.0.15 0015654c4c26",
				provisioning.Device{Vendor: "yealink", Model: "T54S", MAC: "0015654c4c26", Version: "70.86.0.15"}, provisioning.Rendered, "0015654c4c26.cfg"},
			{"a Yealink asking for firmware", "GET", "T46-28.83.0.120.rom", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26",
				provisioning.Device{Vendor: "yealink", Model: "T46G", MAC: "0015654c4c26", Version: "28.83.0.120"}, provisioning.Image, "T46-28.83.0.120.rom"},
			{"an AudioCodes 440HD", "GET", "00908F602AAC.cfg", "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)",
				provisioning.Device{Vendor: "audiocodes", Model: "440HD", MAC: "00908f602aac", Version: "2.2.8.61", Revision: "Rev0"}, provisioning.Rendered, "00908F602AAC.cfg"},
			{"an AudioCodes Skype build with the MAC only in the path", "GET", "00908f602aac.cfg", "AUDC/3.4.6.604 AUDC-IPPhone-C450HD_UC_3.4.6.604/1",
				provisioning.Device{Vendor: "audiocodes", Model: "450HD", MAC: "00908f602aac", Version: "3.4.6.604"}, provisioning.Rendered, "00908F602AAC.cfg"},
			{"an unknown client asking for a Yealink common file", "GET", "y000000000066.cfg", "curl/8.0",
				provisioning.Device{Vendor: "yealink", Model: "T46S"}, provisioning.Rendered, "y000000000066.cfg"},
			{"an unknown client asking for a Polycom MAC file", "GET", "64167f010203.cfg", "",
				provisioning.Device{Vendor: "polycom", MAC: "64167f010203"}, provisioning.Rendered, "64167f010203.cfg"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, dev, e, err := s.Identify(tc.method, tc.file, tc.ua)
				if err != nil {
					t.Fatal(err)
				}
				if dev != tc.want || e.Kind != tc.kind || e.Name != tc.entry {
					t.Fatalf("got %+v %v %q; want %+v %v %q", dev, e.Kind, e.Name, tc.want, tc.kind, tc.entry)
				}
			})
		}
		for _, tc := range []struct{ name, file, ua string }{
			{"a path with a directory", "../deskprov.db", "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"},
			{"a nested path", "sub/0004f2a1b2c3.cfg", ""},
			{"a MAC with a bad digit", "0004f2a1b2cz.cfg", "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"},
			{"a hidden file", ".env", ""},
			{"a name no family knows", "index.html", "Mozilla/5.0"},
			{"another model's Yealink common file", "y000000000035.cfg", "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"},
		} {
			t.Run("refuses "+tc.name, func(t *testing.T) {
				if _, dev, e, err := s.Identify("GET", tc.file, tc.ua); err == nil {
					t.Fatalf("accepted %q as %+v %+v", tc.file, dev, e)
				}
			})
		}
	})
}

// provGoldenCases are the devices and inputs every rendered file is checked
// with: defaults, and a changed policy with a firmware offer.
func provGoldenCases() []struct {
	name string
	dev  provisioning.Device
	edit func(*policy.Settings)
	fw   provisioning.Decision
} {
	changed := func(s *policy.Settings) {
		s.EnablePhoneLock = false
		s.PhoneLockTimeout = "00:05:00"
		s.AllowCallsWhenLocked = false
		s.EnableBetterTogetherOverEthernet = false
		s.BetterTogetherOverEthernetPairingMode = "Manual"
		s.DateTimeFormat = "12"
		s.PrioritizedCodecsList = "PCMU;G729"
		s.EnablePowerSaveMode = false
		s.UserDialTimeoutMS = 3000
	}
	return []struct {
		name string
		dev  provisioning.Device
		edit func(*policy.Settings)
		fw   provisioning.Decision
	}{
		{"polycom-defaults", provisioning.Device{Vendor: "polycom", Model: "VVX500", MAC: "0004f2a1b2c3", Version: "5.9.7.4477"}, nil, provisioning.Decision{}},
		{"polycom-old-offer", provisioning.Device{Vendor: "polycom", Model: "VVX410", MAC: "0004f2a1b2c4", Version: "5.4.2.1"}, changed,
			provisioning.Decision{Offer: true, Version: "5.9.7.4477", FileName: "3111-46162-001.sip.ld"}},
		{"yealink-defaults", provisioning.Device{Vendor: "yealink", Model: "T46G", MAC: "0015654c4c26", Version: "28.83.0.120"}, nil, provisioning.Decision{}},
		{"yealink-legacy-offer", provisioning.Device{Vendor: "yealink", Model: "T48G", MAC: "0015654c4c27", Version: "35.80.0.95"}, changed,
			provisioning.Decision{Offer: true, Version: "35.83.0.120", FileName: "T48-35.83.0.120.rom"}},
		{"audiocodes-defaults", provisioning.Device{Vendor: "audiocodes", Model: "440HD", MAC: "00908f602aac", Version: "2.2.8.61"}, nil, provisioning.Decision{}},
		{"audiocodes-offer", provisioning.Device{Vendor: "audiocodes", Model: "420HD", MAC: "00908f602aad", Version: "3.0.0.1"}, changed,
			provisioning.Decision{Offer: true, Version: "3.4.6.604", FileName: "420HD.img"}},
		{"audiocodes-skype-defaults", provisioning.Device{Vendor: "audiocodes", Model: "450HD", MAC: "00908f602aae", Version: "3.4.6.604"}, nil, provisioning.Decision{}},
	}
}

func TestRenderedFilesMatchGoldenFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, tc := range provGoldenCases() {
			t.Run(tc.name, func(t *testing.T) {
				s := provTestService(t, db)
				pol := &provTestPolicy{db: db, eff: policy.Effective{Identity: "Global", Settings: policy.Defaults()}}
				if tc.edit != nil {
					pol.eff.Identity = "Sales"
					pol.set(t, tc.edit)
				}
				s.Policy = pol
				s.Firmware = &provTestFirmware{d: tc.fw}
				fam := s.Family(tc.dev.Vendor)
				for _, name := range fam.Files(tc.dev) {
					f, err := s.Preview(context.Background(), tc.dev, name)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					provCheckParseable(t, tc.dev.Vendor, name, f.Body)
					provGolden(t, filepath.Join("testdata", "golden", tc.name, name), f.Body)
					// The one answer that issues the phone its credentials.
					dev := tc.dev
					e, err := fam.Resolve("GET", name, &dev)
					if err != nil || !e.Credentials || tc.edit != nil {
						continue
					}
					body, err := fam.Render(e, provisioning.Inputs{Device: dev, Policy: pol.eff, Server: s.Server, Site: s.Server.DefaultSite(), Private: true,
						Credential: &provisioning.Credential{User: "phone-" + dev.MAC, Password: "0123456789abcdef0123456789abcdef"}})
					if err != nil {
						t.Fatal(err)
					}
					provCheckParseable(t, tc.dev.Vendor, name, body)
					provGolden(t, filepath.Join("testdata", "golden", tc.name, "issuing-"+name), body)
				}
			})
		}
		t.Run("lpe answers", func(t *testing.T) {
			provGolden(t, filepath.Join("testdata", "golden", "lpe", "update.xml"),
				lpe.Render(provisioning.Decision{Offer: true, Version: "4.0.7577.4455", FileName: "UCUpdates.cab", SHA256: strings.Repeat("ab", 32), Size: 12345}, "https://prov.example.com"))
			provGolden(t, filepath.Join("testdata", "golden", "lpe", "none.xml"),
				lpe.Render(provisioning.Decision{Reason: "EnableDeviceUpdate is off in the effective IP phone policy"}, "https://prov.example.com"))
		})
	})
}

// provCheckParseable checks a rendered file is in the format its phone parses.
func provCheckParseable(t *testing.T, vendor, name string, body []byte) {
	t.Helper()
	switch vendor {
	case "polycom":
		d := xml.NewDecoder(bytes.NewReader(body))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("%s is not well-formed XML: %v", name, err)
				}
				break
			}
		}
	case "yealink":
		if !bytes.HasPrefix(body, []byte("#!version:1.0.0.1\n")) {
			t.Fatalf("%s does not start with #!version:1.0.0.1", name)
		}
	case "audiocodes":
		for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if !strings.HasPrefix(l, ";") && !strings.Contains(l, "=") {
				t.Fatalf("%s: line %q is neither a comment nor path=value", name, l)
			}
		}
	}
}

func provGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./provisioning -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from its golden file:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestAPollOfAnUnchangedConfigComesFromTheCacheAndAChangeIsNeverStale(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		pol := &provTestPolicy{db: db, eff: policy.Effective{Identity: "Global", Settings: policy.Defaults()}}
		s.Policy = pol
		fw := &provTestFirmware{}
		s.Firmware = fw
		req := provisioning.Request{Method: "GET", Name: "0015654c4c26.cfg", UserAgent: "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26", IP: "10.0.0.7"}
		ctx := context.Background()
		a1, err := s.Fetch(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		a2, _ := s.Fetch(ctx, req)
		if a1.File != a2.File {
			t.Fatal("the second poll re-rendered an unchanged file")
		}
		if fw.polls != 2 {
			t.Fatalf("firmware heard of %d polls, want 2", fw.polls)
		}
		pol.set(t, func(st *policy.Settings) { st.EnablePhoneLock = false })
		a3, _ := s.Fetch(ctx, req)
		if a3.File.ETag == a1.File.ETag || !bytes.Contains(a3.File.Body, []byte("phone_setting.phone_lock.enable = 0")) {
			t.Fatalf("after a policy edit the poll still got the old file:\n%s", a3.File.Body)
		}
	})
}

func TestSightingsAreBufferedAndFlushedToTheInventory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return now }
		ctx := context.Background()
		ua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		for _, f := range []string{"0004f2a1b2c3.cfg", "deskprov-0004f2a1b2c3.cfg", "0004f2a1b2c3-license.cfg"} {
			if _, err := s.Fetch(ctx, provisioning.Request{Method: "GET", Name: f, UserAgent: ua, IP: "10.0.0.9"}); err != nil {
				t.Fatal(err)
			}
		}
		var n int64
		db.Model(&provisioning.DeviceRecord{}).Count(&n)
		if n != 0 {
			t.Fatalf("a poll wrote the store directly (%d rows)", n)
		}
		now = now.Add(time.Hour)
		s.Fetch(ctx, provisioning.Request{Method: "GET", Name: "0004f2a1b2c3.cfg", UserAgent: ua, IP: "10.0.0.10"})
		ds, err := s.Devices(ctx, provisioning.DeviceFilter{Vendor: "polycom"})
		if err != nil || len(ds) != 1 {
			t.Fatalf("devices: %v %+v", err, ds)
		}
		d := ds[0]
		if d.MAC != "0004f2a1b2c3" || d.Model != "VVX500" || d.Firmware != "5.9.7.4477" || d.IP != "10.0.0.10" ||
			!d.FirstSeen.Equal(now.Add(-time.Hour)) || !d.LastSeen.Equal(now) || d.ConfigVersion == "" || len(d.FileList) != 3 {
			t.Fatalf("unexpected record %+v", d)
		}
		for _, f := range []provisioning.DeviceFilter{{Vendor: "yealink"}, {Model: "VVX410"}, {Firmware: "5.4.2.1"}, {SeenSince: now.Add(time.Minute)}} {
			if ds, _ := s.Devices(ctx, f); len(ds) != 0 {
				t.Fatalf("filter %+v matched %+v", f, ds)
			}
		}
		if _, err := s.Device(ctx, "00:04:F2:A1:B2:C3"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Device(ctx, "0004f2a1b2c4"); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("an unseen device: %v", err)
		}
	})
}

func TestUploadsAreCapped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := provisioning.Migrate(db); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		blobs, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		up := provisioning.NewUploads(db, blobs, 10)
		if _, err := up.Put(ctx, "0004f2a1b2c3", "0004f2a1b2c3-app.log", strings.NewReader("0123456789")); err != nil {
			t.Fatal(err)
		}
		if _, err := up.Put(ctx, "0004f2a1b2c3", "0004f2a1b2c3-app.log", strings.NewReader("0123456789X")); fault.KindOf(err) != fault.TooLarge {
			t.Fatalf("an 11-byte upload over a 10-byte cap: %v", err)
		}
		list, _ := up.List(ctx, "0004f2a1b2c3")
		if len(list) != 1 || list[0].Size != 10 {
			t.Fatalf("the refused upload replaced the kept one: %+v", list)
		}
		for _, bad := range [][2]string{{"../x", "a.log"}, {"0004f2a1b2c3", "../a.log"}, {"0004F2A1B2C3", "a.log"}} {
			if _, err := up.Put(ctx, bad[0], bad[1], strings.NewReader("x")); err == nil {
				t.Fatalf("Put(%q, %q) was accepted", bad[0], bad[1])
			}
		}
		// Replacing an upload lets go of the bytes it named before.
		if _, err := up.Put(ctx, "0004f2a1b2c3", "0004f2a1b2c3-app.log", strings.NewReader("abc")); err != nil {
			t.Fatal(err)
		}
		var n int
		blobs.List(ctx, func(blob.Info) error { n++; return nil })
		if n != 1 {
			t.Fatalf("%d blobs kept for one upload", n)
		}
	})
}

func TestUploadsOfAnEarlierReleaseAreMovedIntoTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := provisioning.Migrate(db); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		dir := t.TempDir()
		old := filepath.Join(dir, "uploads")
		os.MkdirAll(filepath.Join(old, "0004f2a1b2c3"), 0o750)
		os.WriteFile(filepath.Join(old, "0004f2a1b2c3", "0004f2a1b2c3-phone.cfg"), []byte("<PHONE_CONFIG/>"), 0o640)
		os.WriteFile(filepath.Join(old, "0004f2a1b2c3", ".tmp-abandoned"), []byte("half"), 0o640)
		// A symlink planted in a device directory must not lead outside it.
		os.WriteFile(filepath.Join(dir, "secret"), []byte("s"), 0o600)
		os.Symlink(filepath.Join(dir, "secret"), filepath.Join(old, "0004f2a1b2c3", "0004f2a1b2c3-web.cfg"))
		blobs, err := blob.NewDir(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		up := provisioning.NewUploads(db, blobs, 0)
		moved, left, err := up.AdoptOld(ctx, old)
		if err != nil || moved != 1 || len(left) != 1 {
			t.Fatalf("moved %d, left %v, %v", moved, left, err)
		}
		f, info, err := up.Open(ctx, "0004f2a1b2c3", "0004f2a1b2c3-phone.cfg")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "<PHONE_CONFIG/>" || info.Size != 15 {
			t.Fatalf("read %q %+v", b, info)
		}
		if _, _, err := up.Open(ctx, "0004f2a1b2c3", "0004f2a1b2c3-web.cfg"); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("a symlink out of the uploads directory was followed: %v", err)
		}
		if ents, _ := os.ReadDir(filepath.Join(old, "0004f2a1b2c3")); len(ents) != 1 || ents[0].Name() != "0004f2a1b2c3-web.cfg" {
			t.Fatalf("left in the old directory: %v", ents)
		}
	})
}

func TestLPEUpdateCheckRefusesAnExternalDeviceNobodySignedInOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		dev := provisioning.Device{Model: "CX600", MAC: "00-04-F2-11-22-33", Version: "4.0.7577.4387"}
		if _, err := s.UpdateCheck(context.Background(), dev, "192.0.2.1", true); fault.KindOf(err) != fault.Unauthorized {
			t.Fatalf("external, nobody signed in: %v", err)
		}
		d, err := s.UpdateCheck(context.Background(), dev, "10.0.0.1", false)
		if err != nil || d.Offer {
			t.Fatalf("internal: %+v %v", d, err)
		}
		s.SignIn = provTestSignedIn{"amosm@contoso.com"}
		if _, err := s.UpdateCheck(context.Background(), dev, "192.0.2.1", true); err != nil {
			t.Fatalf("external, someone signed in: %v", err)
		}
		r, err := s.Device(context.Background(), "0004f2112233")
		if err != nil || r.Vendor != "lpe" || r.User != "amosm@contoso.com" {
			t.Fatalf("inventory: %+v %v", r, err)
		}
	})
}

type provTestSignedIn struct{ upn string }

func (p provTestSignedIn) UserOnDevice(context.Context, string) (string, error) { return p.upn, nil }

// BenchmarkFetchCachedConfig is a poll of an unchanged config: identify,
// read the generation, take the file from the cache, note the sighting.
func BenchmarkFetchCachedConfig(b *testing.B) { benchmarkFetchCached(b, nil) }

// BenchmarkFetchCachedConfigShared is the cached poll with the caches
// sharing a budget with a kept cache, as serve wires them: reading what
// is free costs no allocation and no lock on the hit path.
func BenchmarkFetchCachedConfigShared(b *testing.B) {
	budget := bytecache.NewBudget(64 << 20)
	state := bytecache.New[uint64, int64](16<<20, bytecache.Uint64, func(uint64, int64) int64 { return 0 })
	state.Put(1, 1)
	budget.Keep(state.Bytes)
	benchmarkFetchCached(b, budget)
}

func benchmarkFetchCached(b *testing.B, budget *bytecache.Budget) {
	db := storetest.SQLite(b)
	if err := provisioning.Migrate(db); err != nil {
		b.Fatal(err)
	}
	s := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	if budget != nil {
		s.ShareCache(budget)
	}
	req := provisioning.Request{Method: "GET", Name: "0015654c4c26.cfg", UserAgent: "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26", IP: "10.0.0.7"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Fetch(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestALongUserAgentDoesNotStopTheInventory: a phone (or anyone) whose
// User-Agent carries a model and version longer than their columns used to
// fail every inventory flush on PostgreSQL, so no phone's sighting was
// recorded again; now what it says is clipped to fit.
func TestALongUserAgentDoesNotStopTheInventory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		ctx := context.Background()
		long := "FileTransport PolycomVVX-VVX_" + strings.Repeat("5", 200) + "-UA/5." + strings.Repeat("9", 300) + " Type/Application"
		for _, r := range []provisioning.Request{
			{Method: "GET", Name: "0004f2a1b2c3.cfg", UserAgent: long, IP: "10.0.0.9"},
			{Method: "GET", Name: "0004f2a1b2c4.cfg", UserAgent: "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application", IP: "10.0.0.10"},
		} {
			s.Fetch(ctx, r)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
		ds, err := s.Devices(ctx, provisioning.DeviceFilter{})
		if err != nil || len(ds) != 2 {
			t.Fatalf("%d devices: %v", len(ds), err)
		}
		for _, d := range ds {
			if len(d.Model) > 64 || len(d.Firmware) > 64 {
				t.Fatalf("%+v", d)
			}
		}
	})
}
