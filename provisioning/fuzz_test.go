package provisioning_test

import (
	"testing"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store/storetest"
)

// FuzzIdentify feeds User-Agents and paths to identification: it must never
// panic, and whatever it accepts must be a plain name with a canonical MAC.
func FuzzIdentify(f *testing.F) {
	for _, seed := range [][2]string{
		{"FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application", "0004f2a1b2c3.cfg"},
		{"FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Updater", "0004f2a1b2c3-app.log"},
		{"Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26", "y000000000028.cfg"},
		{"Yealink SIP-T54S  70.86.0.15 0015654c4c26", "0015654c4c26.boot"},
		{"AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)", "00908F602AAC.cfg"},
		{"AUDC/3.4.6.604 AUDC-IPPhone-C450HD_UC_3.4.6.604/1", "420HD.img"},
		{"", "../../etc/passwd"},
		{"x", "00:04:f2:a1:b2:c3-phone.cfg"},
	} {
		f.Add(seed[0], seed[1])
	}
	db := storetest.SQLite(f)
	s := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	f.Fuzz(func(t *testing.T, ua, name string) {
		for _, m := range []string{"GET", "PUT", "HEAD"} {
			_, dev, e, err := s.Identify(m, name, ua)
			if err != nil {
				continue
			}
			if err := provisioning.CheckName(e.Name); err != nil && e.Name != "" {
				t.Fatalf("accepted %q as entry name %q: %v", name, e.Name, err)
			}
			if dev.MAC != "" {
				if c, err := provisioning.ParseMAC(dev.MAC); err != nil || c != dev.MAC {
					t.Fatalf("MAC %q is not canonical", dev.MAC)
				}
			}
		}
	})
}

// FuzzParseMAC: whatever ParseMAC accepts is canonical and stable.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"0004f2a1b2c3", "00:04:F2:A1:B2:C3", "00-04-f2-a1-b2-c3", "0004.f2a1.b2c3", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := provisioning.ParseMAC(s)
		if err != nil {
			return
		}
		if again, err := provisioning.ParseMAC(m); err != nil || again != m || len(m) != 12 {
			t.Fatalf("ParseMAC(%q) = %q, not canonical", s, m)
		}
	})
}
