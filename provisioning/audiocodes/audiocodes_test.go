package audiocodes_test

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
)

const mac = "00908f602aac"

func inputs() provisioning.Inputs {
	return provisioning.Inputs{
		Device: provisioning.Device{Vendor: provisioning.AudioCodes, Model: "450HD", MAC: mac, Version: "3.4.6.604"},
		Policy: policy.Effective{Identity: "Global", Settings: policy.Defaults()},
		Server: provisioning.Server{PublicURL: "https://prov.example.com", PollInterval: time.Hour},
		Site:   provisioning.Server{}.DefaultSite(),
	}
}

func render(t *testing.T, in provisioning.Inputs) map[string]string {
	t.Helper()
	fam := audiocodes.New()
	dev := in.Device
	e, err := fam.Resolve(http.MethodGet, strings.ToUpper(mac)+".cfg", &dev)
	if err != nil {
		t.Fatal(err)
	}
	body, err := fam.Render(e, in)
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for i, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if i == 0 && strings.HasPrefix(l, ";") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("line %d %q is not path=value", i, l)
		}
		kv[k] = v
	}
	return kv
}

// TestNoValueCanAddALineOrAKey renders random and hostile values into
// every input an admin or a phone can set and reads the file back as the
// phone does (lines, one ';' comment, path=value): the file has exactly the
// keys the table gives, in order, each once, and its header comment stays
// one line.
func TestNoValueCanAddALineOrAKey(t *testing.T) {
	hostile := []string{"a\nprovisioning/firmware/url=http://evil/x.img", "x\r\nsystem/pin_lock/enabled=0", "\r", "\n;", "a\x00b",
		"a\u2028b\u2029c\u0085d", "; comment", "=", "key=value", "%NULL%", "<>&\"'", "--", "Ünïcödé ✓", "\x1b[31m", "\xff\xfe", "\v\f\t"}
	r := rand.New(rand.NewPCG(14, 400))
	randomText := func() string {
		if r.IntN(3) == 0 {
			return hostile[r.IntN(len(hostile))]
		}
		b := make([]rune, r.IntN(24))
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = rune(r.IntN(0x20))
			case 1:
				b[i] = rune(0x20 + r.IntN(0x5f))
			default:
				b[i] = rune(r.IntN(0x3000))
			}
		}
		return string(b)
	}
	fam := audiocodes.New()
	for i := range 500 {
		in := inputs()
		in.Policy.Identity = randomText()
		in.Policy.Version = int64(i)
		s := &in.Policy.Settings
		s.LocalProvisioningServerAddress = randomText()
		s.LocalProvisioningServerType = randomText()
		s.PrioritizedCodecsList = randomText() + ";PCMU;" + randomText()
		s.DateTimeFormat = randomText()
		s.BetterTogetherOverEthernetPairingMode = randomText()
		in.Site.NTPServers = []string{randomText(), randomText()}
		in.Site.Language = randomText()
		in.Site.TimeZone = []string{"Europe/Stockholm", "America/New_York", "Australia/Sydney", "Asia/Kolkata", randomText()}[r.IntN(5)]
		in.Device.Model = []string{"450HD", "C450HD", "420HD", ""}[r.IntN(4)]
		if r.IntN(2) == 0 {
			in.Credential = &provisioning.Credential{User: randomText(), Password: randomText()}
		}
		in.Firmware = provisioning.Decision{Offer: r.IntN(2) == 0, FileName: randomText()}
		dev := in.Device
		e, err := fam.Resolve(http.MethodGet, strings.ToUpper(mac)+".cfg", &dev)
		if err != nil {
			t.Fatal(err)
		}
		body, err := fam.Render(e, in)
		if err != nil {
			t.Fatal(err)
		}
		want := provisioning.Apply(audiocodes.Table, in)
		lines := strings.Split(string(body), "\n")
		if lines[len(lines)-1] != "" {
			t.Fatalf("case %d: the file does not end with a newline", i)
		}
		lines = lines[:len(lines)-1]
		if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "; deskprov configuration for ") {
			t.Fatalf("case %d: %d lines for %d parameters and a header:\n%s", i, len(lines), len(want), body)
		}
		seen := map[string]bool{}
		for j, l := range lines[1:] {
			if strings.HasPrefix(l, ";") || strings.ContainsAny(l, "\r\x00\v\f") || strings.ContainsRune(l, '\u2028') {
				t.Fatalf("case %d: line %q", i, l)
			}
			k, _, ok := strings.Cut(l, "=")
			if !ok || k != want[j].Name || seen[k] {
				t.Fatalf("case %d: line %d is %q, want the parameter %s once", i, j+1, l, want[j].Name)
			}
			seen[k] = true
		}
	}
}

// TestTimeFollowsTheSite: NTP servers, the standard offset and this
// year's daylight-saving dates, from the site's IANA zone.
func TestTimeFollowsTheSite(t *testing.T) {
	year := time.Now().Year()
	for _, tc := range []struct {
		zone      string
		ntp       []string
		offset    string
		dst       bool
		dstOffset string
	}{
		{"UTC", []string{"pool.ntp.org"}, "+00:00", false, ""},
		{"Europe/Stockholm", []string{"ntp1.example.se", "ntp2.example.se"}, "+01:00", true, "60"},
		{"America/New_York", []string{"time.example.com"}, "-05:00", true, "60"},
		{"Asia/Kolkata", []string{"in.pool.ntp.org"}, "+05:30", false, ""},
		{"Australia/Lord_Howe", []string{"au.pool.ntp.org"}, "+10:30", true, "30"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			in := inputs()
			in.Site.TimeZone, in.Site.NTPServers = tc.zone, tc.ntp
			kv := render(t, in)
			secondary := ""
			if len(tc.ntp) > 1 {
				secondary = tc.ntp[1]
			}
			if kv["system/ntp/enabled"] != "1" || kv["system/ntp/primary_server_address"] != tc.ntp[0] || kv["system/ntp/secondary_server_address"] != secondary {
				t.Fatalf("NTP: %v", kv)
			}
			if kv["system/ntp/gmt_offset"] != tc.offset {
				t.Fatalf("gmt_offset %q, want %q", kv["system/ntp/gmt_offset"], tc.offset)
			}
			if !tc.dst {
				if kv["system/daylight_saving/activate"] != "DISABLE" || kv["system/daylight_saving/start_date/month"] != "" {
					t.Fatalf("a zone without daylight saving: %v", kv)
				}
				return
			}
			z, err := provisioning.LoadZone(tc.zone, year)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{
				"system/daylight_saving/activate":          "ENABLE",
				"system/daylight_saving/mode":              "FIXED",
				"system/daylight_saving/start_date/month":  itoa(int(z.Start.Month())),
				"system/daylight_saving/start_date/day":    itoa(z.Start.Day()),
				"system/daylight_saving/start_date/hour":   itoa(z.Start.Hour()),
				"system/daylight_saving/start_date/minute": itoa(z.Start.Minute()),
				"system/daylight_saving/end_date/month":    itoa(int(z.End.Month())),
				"system/daylight_saving/end_date/day":      itoa(z.End.Day()),
				"system/daylight_saving/end_date/hour":     itoa(z.End.Hour()),
				"system/daylight_saving/offset":            tc.dstOffset,
			} {
				if kv[k] != v {
					t.Errorf("%s = %q, want %q", k, kv[k], v)
				}
			}
		})
	}
	t.Run("Stockholm's rule as written by hand", func(t *testing.T) {
		in := inputs()
		in.Site.TimeZone = "Europe/Stockholm"
		kv := render(t, in)
		// The last Sunday of March at 02:00, of October at 03:00.
		if kv["system/daylight_saving/start_date/month"] != "3" || kv["system/daylight_saving/start_date/hour"] != "2" ||
			kv["system/daylight_saving/end_date/month"] != "10" || kv["system/daylight_saving/end_date/hour"] != "3" {
			t.Fatalf("%v", kv)
		}
		day, _ := time.Parse("2006-1-2", itoa(time.Now().Year())+"-3-"+kv["system/daylight_saving/start_date/day"])
		if day.Weekday() != time.Sunday || day.AddDate(0, 0, 7).Month() != time.April {
			t.Fatalf("start %s is not the last Sunday of March", day)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFirmwareURLIsWrittenInEveryState: lync/SfBDeviceUpdate=0 keeps the
// phone off Microsoft's update service only while a firmware URL is set,
// so the URL is there whether an image is offered or not, and points at
// the local provisioning server when the policy names one.
func TestFirmwareURLIsWrittenInEveryState(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*provisioning.Inputs)
		want string
	}{
		{"an offer", func(in *provisioning.Inputs) {
			in.Firmware = provisioning.Decision{Offer: true, Version: "3.4.8.808", FileName: "450HD.img"}
		}, "https://prov.example.com/prov/00908F602AAC-450HD.img"},
		{"an offer whose file is named otherwise", func(in *provisioning.Inputs) {
			in.Firmware = provisioning.Decision{Offer: true, Version: "3.4.8.808", FileName: "C450HD_UC_3.4.8.808.img"}
		}, "https://prov.example.com/prov/00908F602AAC-450HD.img"},
		{"an offer to a phone whose model is unknown", func(in *provisioning.Inputs) {
			in.Device.Model = ""
			in.Firmware = provisioning.Decision{Offer: true, Version: "3.4.8.808", FileName: "420HD.img"}
		}, "https://prov.example.com/prov/00908F602AAC-420HD.img"},
		{"nothing offered", func(in *provisioning.Inputs) {
			in.Firmware = provisioning.Decision{Reason: "the device runs the version it should"}
		}, "https://prov.example.com/prov/00908F602AAC-450HD.img"},
		{"device update off", func(in *provisioning.Inputs) {
			in.Policy.Settings.EnableDeviceUpdate = false
			in.Firmware = provisioning.Decision{Reason: "EnableDeviceUpdate is off in the effective IP phone policy"}
		}, "https://prov.example.com/prov/00908F602AAC-450HD.img"},
		{"a model the User-Agent did not name", func(in *provisioning.Inputs) { in.Device.Model = "" },
			"https://prov.example.com/prov/00908F602AAC.img"},
		{"a local server by host name", func(in *provisioning.Inputs) {
			in.Policy.Settings.LocalProvisioningServerAddress = "prov.branch.example"
			in.Policy.Settings.LocalProvisioningServerType = "HTTP"
		}, "http://prov.branch.example/450HD.img"},
		{"a local server by URL", func(in *provisioning.Inputs) {
			in.Policy.Settings.LocalProvisioningServerAddress = "ftp://10.1.2.3/phones/"
			in.Policy.Settings.LocalProvisioningServerType = "FTP"
			in.Policy.Settings.LocalProvisioningServerUser = "u"
			in.Policy.Settings.LocalProvisioningServerPassword = "secret"
		}, "ftp://10.1.2.3/phones/450HD.img"},
		{"a local server naming the image", func(in *provisioning.Inputs) {
			in.Policy.Settings.LocalProvisioningServerAddress = "https://fw.example/audiocodes/450HD_3_4_8_808.img"
		}, "https://fw.example/audiocodes/450HD_3_4_8_808.img"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inputs()
			tc.edit(&in)
			kv := render(t, in)
			if kv["provisioning/firmware/url"] != tc.want || kv["lync/SfBDeviceUpdate"] != "0" {
				t.Fatalf("firmware/url %q, SfBDeviceUpdate %q; want %q and 0", kv["provisioning/firmware/url"], kv["lync/SfBDeviceUpdate"], tc.want)
			}
			for k, v := range kv {
				if strings.Contains(v, "secret") {
					t.Fatalf("%s carries the local server's password", k)
				}
			}
		})
	}
}

// TestCodecSlots: the policy's codecs under the 400HD's names in order,
// the ones it lacks skipped, the rest of the slots cleared explicitly.
func TestCodecSlots(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []string
	}{
		{"G722_8000;PCMU;PCMA;G729", []string{"G722_8000", "PCMU", "PCMA", "G729"}},
		{"OPUS;g711a;G722;ILBC;SILK", []string{"PCMA", "G722_8000", "SILK_16000"}},
		{"G722_1", nil},
	} {
		t.Run(tc.list, func(t *testing.T) {
			in := inputs()
			in.Policy.Settings.PrioritizedCodecsList = tc.list
			kv := render(t, in)
			for n := range audiocodes.CodecSlots {
				p := "voip/codec/codec_info/" + itoa(n) + "/"
				enabled, name, pname := "0", "", ""
				if n < len(tc.want) {
					enabled, name, pname = "1", tc.want[n], "20"
				}
				for k, v := range map[string]string{"enabled": enabled, "name": name, "pname": pname} {
					got, ok := kv[p+k]
					if !ok || got != v {
						t.Fatalf("%s%s = %q (written %v), want %q", p, k, got, ok, v)
					}
				}
			}
			if _, ok := kv["voip/codec/codec_info/"+itoa(audiocodes.CodecSlots)+"/name"]; ok {
				t.Fatal("a slot beyond CodecSlots")
			}
		})
	}
}

// TestClockAndLanguage: time_display_format and the language name.
func TestClockAndLanguage(t *testing.T) {
	for _, tc := range []struct{ format, want string }{{"24", "24Hour"}, {"12", "12Hour"}} {
		in := inputs()
		in.Policy.Settings.DateTimeFormat = tc.format
		if got := render(t, in)["system/ntp/time_display_format"]; got != tc.want {
			t.Fatalf("DateTimeFormat %s: %q, want %q", tc.format, got, tc.want)
		}
	}
	for _, tc := range []struct{ tag, want string }{
		{"en-US", "English"}, {"pt-BR", "Portuguese"}, {"de", "German"}, {"zh-CN", "Chinese Simplified"},
		{"zh-Hant-TW", "Chinese Traditional"}, {"sv-SE", ""}, {"", ""},
	} {
		in := inputs()
		in.Site.Language = tc.tag
		got, ok := render(t, in)["personal_settings/language"]
		if got != tc.want || ok != (tc.want != "") {
			t.Fatalf("%q: %q (written %v), want %q", tc.tag, got, ok, tc.want)
		}
	}
}

// TestImageNames: deskprov's per-phone image names resolve to the
// vendor's <model>.img for that phone; the vendor's own names stay as they
// are; another phone's name is refused.
func TestImageNames(t *testing.T) {
	fam := audiocodes.New()
	for _, tc := range []struct {
		name       string
		dev        provisioning.Device
		entry, mac string
		kind       fault.Kind
	}{
		{"00908F602AAC-450HD.img", provisioning.Device{}, "450HD.img", mac, ""},
		{"00908f602aac-c450hd.img", provisioning.Device{}, "C450HD.img", mac, ""},
		{"00908F602AAC.img", provisioning.Device{Model: "440HD"}, "440HD.img", mac, ""},
		{"420HD.img", provisioning.Device{}, "420HD.img", "", ""},
		{"00908F602AAC.img", provisioning.Device{}, "", "", fault.NotFound},
		{"00908F602AAC-../x.img", provisioning.Device{}, "", "", fault.NotFound},
		{"00908F602AAD-450HD.img", provisioning.Device{MAC: mac}, "", "", fault.Forbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := tc.dev
			e, err := fam.Resolve(http.MethodGet, tc.name, &dev)
			if tc.kind != "" {
				if fault.KindOf(err) != tc.kind {
					t.Fatalf("%v, want a %s fault", err, tc.kind)
				}
				return
			}
			if err != nil || e.Kind != provisioning.Image || e.Name != tc.entry || (tc.mac != "" && dev.MAC != tc.mac) {
				t.Fatalf("%+v %v, device %+v", e, err, dev)
			}
		})
	}
	if !slices.Contains(fam.Files(provisioning.Device{MAC: mac}), "00908F602AAC.cfg") {
		t.Fatal("Files")
	}
}
