package provisioning_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/lpe"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
)

// escapeRounds is how many random input sets every family's files are
// rendered for (a fixed seed, so a failure is reproducible).
const escapeRounds = 150

// escapePieces are what random values are made of: markup, comment and
// line-format delimiters, the Yealink empty marker, non-ASCII, long runs.
var escapePieces = []string{
	"<", ">", "&", `"`, "'", "--", "-", "\n", "\r\n", "\t", "%NULL%", "=", ";", "#", " ",
	"]]>", "<!--", "-->", "&amp;", "{{.}}", `\`, "é", "Ω", "日本語", "😀", "a", "Z", "0", "9",
	"include:config ", "#!version:1.0.0.1", strings.Repeat("x", 300),
}

func escapeString(r *rand.Rand) string {
	var b strings.Builder
	for n := 1 + r.IntN(6); n > 0; n-- {
		b.WriteString(escapePieces[r.IntN(len(escapePieces))])
	}
	return b.String()
}

// escapeInputs draws every input an admin or a phone can set: the policy's
// name and string settings, the site, CA certificates, the credential.
func escapeInputs(r *rand.Rand) provisioning.Inputs {
	s := policy.Defaults()
	pick := func(choices ...string) string {
		if r.IntN(2) == 0 {
			return escapeString(r)
		}
		return choices[r.IntN(len(choices))]
	}
	s.EnableBetterTogetherOverEthernet = r.IntN(2) == 0
	s.EnablePhoneLock = r.IntN(2) == 0
	s.BetterTogetherOverEthernetPairingMode = pick("Auto", "Manual")
	s.PhoneLockTimeout = pick("00:10:00", "00:00:30")
	s.PrioritizedCodecsList = pick("G722_8000;PCMU;PCMA;G729", "SILK;OPUS;G722_1;ILBC", "PCMA")
	s.DateTimeFormat = pick("12", "24")
	s.LocalProvisioningServerAddress = pick("", "", "ftp.example.com")
	s.LocalProvisioningServerUser = escapeString(r)
	s.LocalProvisioningServerPassword = escapeString(r)
	s.LocalProvisioningServerType = pick("FTP", "HTTP", "HTTPS")
	s.SignInMode = pick("UserSignIn", "CommonAreaPhoneSignIn")
	s.AllowHomeScreen = pick("Enabled", "Disabled")
	in := provisioning.Inputs{
		Policy: policy.Effective{Identity: escapeString(r), Version: r.Int64N(1 << 40), Settings: s},
		User:   escapeString(r),
		Server: provisioning.Server{PublicURL: []string{"https://prov.example.com", "http://10.0.0.5:8080/sub"}[r.IntN(2)]},
		Site: provisioning.Site{
			Name:          escapeString(r),
			NTPServers:    []string{escapeString(r), escapeString(r)},
			TimeZone:      pick("UTC", "Europe/Stockholm", "America/New_York", "Australia/Sydney"),
			Language:      pick("en-US", "fr-FR", "sv-SE", ""),
			AdminPassword: escapeString(r),
		},
		Private: r.IntN(2) == 0,
	}
	for n := r.IntN(3); n > 0; n-- {
		in.CACerts = append(in.CACerts, provisioning.CACert{Name: escapeString(r),
			PEM: "-----BEGIN CERTIFICATE-----\n" + escapeString(r) + "\n-----END CERTIFICATE-----\n", FileName: "ca.pem"})
	}
	if r.IntN(3) == 0 {
		// Credentials are issued only to a family that takes them, in the
		// file only the phone reads (the service sets Private so).
		in.Credential = &provisioning.Credential{User: escapeString(r), Password: escapeString(r)}
		in.Private = true
	}
	return in
}

// TestEveryFamilyEscapesWhatItWrites renders every family's files for random
// policy names and values and parses each with its format's parser (XML for
// Polycom, "#!version:1.0.0.1" then key = value lines for Yealink, key=value
// and ";" comments for AudioCodes). Every value the family's table computes
// must reach the phone as it is (a line format may fold a line break into a
// space): nothing an admin or a phone types may break a file or smuggle a
// parameter into it (issue 14 item 2).
func TestEveryFamilyEscapesWhatItWrites(t *testing.T) {
	families := []struct {
		title   string
		fam     provisioning.Family
		devices []provisioning.Device
		parse   func(name string, body []byte) (map[string]string, error)
		same    func(want, got string) bool
		// withheld says a row may be absent from every file by design
		// (nil: never).
		withheld func(kv provisioning.KV, in provisioning.Inputs) bool
	}{
		{"Polycom", polycom.New(), []provisioning.Device{
			{Vendor: "polycom", Model: "VVX500", MAC: "0004f2a1b2c3", Version: "5.9.7.4477"},
			{Vendor: "polycom", Model: "VVX410", MAC: "0004f2a1b2c4", Version: "5.4.2.1"},
		}, parsePolycom, func(want, got string) bool { return want == got }, nil},
		{"Yealink", yealink.New(), []provisioning.Device{
			{Vendor: "yealink", Model: "T46G", MAC: "0015654c4c26", Version: "28.83.0.120"},
			{Vendor: "yealink", Model: "T46S", MAC: "805ec0000001", Version: "66.86.0.15"},
		}, parseYealink, sameFolded, yealinkWithheld},
		{"AudioCodes", audiocodes.New(), []provisioning.Device{
			{Vendor: "audiocodes", Model: "440HD", MAC: "00908f602aac", Version: "3.4.6.604"},
		}, parseAudioCodes, sameFolded, nil},
	}
	for _, f := range families {
		t.Run(f.title, func(t *testing.T) {
			r := rand.New(rand.NewPCG(14, 2))
			failures := 0
			fail := func(format string, args ...any) {
				failures++
				if failures <= 8 {
					t.Errorf(format, args...)
				}
			}
			for round := 0; round < escapeRounds; round++ {
				base := escapeInputs(r)
				if r.IntN(2) == 0 {
					base.Firmware = provisioning.Decision{Offer: true, Version: "9.9.9.9", FileName: "image-9.9.9.9.bin"}
				}
				for _, dev := range f.devices {
					in := base
					// What the phone should see, from every file of the device.
					seen := map[string][]string{}
					in.Device = dev
					want := provisioning.Apply(f.fam.Reference().Table, in)
					broken := false
					for _, name := range f.fam.Files(dev) {
						d := dev
						e, err := f.fam.Resolve("GET", name, &d)
						if err != nil {
							t.Fatalf("resolve %s: %v", name, err)
						}
						fin := in
						fin.Device = d
						fin.Private = in.Private && e.Credentials
						body, err := f.fam.Render(e, fin)
						if err != nil {
							fail("round %d: rendering %s failed: %v", round, name, err)
							broken = true
							continue
						}
						kv, err := f.parse(name, body)
						if err != nil {
							fail("round %d: %s does not parse: %v\n%s", round, name, err, clipBody(body))
							broken = true
							continue
						}
						for k, v := range kv {
							seen[k] = append(seen[k], v)
						}
					}
					for _, kv := range want {
						got, ok := seen[kv.Name]
						if !ok {
							got, ok = seen[strings.TrimPrefix(kv.Name, "static.")]
						}
						if !ok && f.withheld != nil && f.withheld(kv, in) {
							continue
						}
						if !ok && !broken {
							fail("round %d: %s: no file carries %s (want %q)", round, dev.Model, kv.Name, clip(kv.Value))
							continue
						}
						if !ok {
							continue
						}
						for _, g := range got {
							if !f.same(kv.Value, g) {
								fail("round %d: %s: %s reads %q, want %q", round, dev.Model, kv.Name, clip(g), clip(kv.Value))
							}
						}
					}
				}
			}
			if failures > 8 {
				t.Errorf("… and %d more failures", failures-8)
			}
		})
	}
	t.Run("Lync Phone Edition", func(t *testing.T) {
		r := rand.New(rand.NewPCG(14, 3))
		for round := 0; round < escapeRounds; round++ {
			d := provisioning.Decision{Offer: r.IntN(2) == 0, Version: escapeString(r), FileName: escapeString(r), SHA256: escapeString(r), Size: r.Int64N(1 << 30), Reason: escapeString(r)}
			public := "https://prov.example.com/" + escapeString(r)
			var a lpe.Answer
			body := lpe.Render(d, public)
			if err := xml.Unmarshal(body, &a); err != nil {
				t.Fatalf("round %d: the update answer does not parse: %v\n%s", round, err, clipBody(body))
			}
			want := lpe.Answer{Status: "none", Reason: d.Reason}
			if d.Offer {
				want = lpe.Answer{Status: "update", Version: d.Version, URL: strings.TrimRight(public, "/") + lpe.FilesPath + d.FileName, SHA256: d.SHA256, Size: d.Size}
			}
			if a.Status != want.Status || a.Version != want.Version || a.URL != want.URL || a.SHA256 != want.SHA256 || a.Size != want.Size || a.Reason != want.Reason {
				t.Fatalf("round %d: the answer reads %+v, want %+v", round, a, want)
			}
		}
	})
}

// parsePolycom reads a Polycom file as the phone does: an XML document whose
// parameters are the attributes of its elements.
func parsePolycom(_ string, body []byte) (map[string]string, error) {
	out := map[string]string{}
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if _, dup := out[a.Name.Local]; dup {
					return nil, fmt.Errorf("%s is written twice", a.Name.Local)
				}
				out[a.Name.Local] = a.Value
			}
		}
	}
	return out, nil
}

var (
	yealinkKey    = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	yealinkInc    = regexp.MustCompile(`^include:config "[^"]*"$`)
	audiocodesKey = regexp.MustCompile(`^[A-Za-z0-9_./\-]+$`)
)

// parseYealink reads "#!version:1.0.0.1" then "key = value" lines ("#"
// comments; a boot file's include:config "URL" lines); %NULL% is empty.
func parseYealink(name string, body []byte) (map[string]string, error) {
	lines := strings.Split(string(body), "\n")
	if lines[0] != "#!version:1.0.0.1" {
		return nil, fmt.Errorf("the first line is %q, not #!version:1.0.0.1", clip(lines[0]))
	}
	out := map[string]string{}
	for i, l := range lines[1:] {
		t := strings.TrimSpace(l)
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
		case strings.HasSuffix(name, ".boot") && yealinkInc.MatchString(t):
		default:
			k, v, ok := strings.Cut(t, "=")
			k = strings.TrimSpace(k)
			if !ok || !yealinkKey.MatchString(k) {
				return nil, fmt.Errorf("line %d %q is not key = value", i+2, clip(l))
			}
			v = strings.TrimSpace(v)
			if v == "%NULL%" {
				v = ""
			}
			out[k] = v
		}
	}
	return out, nil
}

// parseAudioCodes reads "path=value" lines and ";" comments.
func parseAudioCodes(_ string, body []byte) (map[string]string, error) {
	out := map[string]string{}
	for i, l := range strings.Split(string(body), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, ";") {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok || !audiocodesKey.MatchString(k) {
			return nil, fmt.Errorf("line %d %q is not path=value", i+1, clip(l))
		}
		out[k] = v
	}
	return out, nil
}

// sameFolded compares a value as a line format carries it: line breaks may
// be folded into spaces and the spaces around it are not the value's.
// yealinkWithheld: Yealink writes its secrets only in the file only the
// phone reads, and leaves out a row whose value is the text %NULL% (the
// phone would read it as empty; docs/provisioning.md).
func yealinkWithheld(kv provisioning.KV, in provisioning.Inputs) bool {
	secret := kv.Name == "static.auto_provision.server.username" || kv.Name == "static.auto_provision.server.password" ||
		kv.Name == "static.security.user_password"
	return secret && !in.Private || strings.EqualFold(strings.Join(strings.Fields(kv.Value), " "), "%NULL%")
}

func sameFolded(want, got string) bool {
	return strings.Join(strings.Fields(want), " ") == strings.Join(strings.Fields(got), " ")
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func clipBody(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
