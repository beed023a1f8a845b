// Package audiocodes serves AudioCodes 4xx HD phones on both firmware lines
// (2.x Generic SIP, 3.x Skype for Business): the per-phone <MAC>.cfg and the
// firmware images, by the vendor's <model>.img or by the per-phone name the
// configuration gives (<MAC>-<model>.img).
package audiocodes

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
)

// Family is the AudioCodes family.
type Family struct{}

// New returns the AudioCodes family.
func New() Family { return Family{} }

// Vendor is "audiocodes".
func (Family) Vendor() string { return provisioning.AudioCodes }

var (
	// AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)
	uaRE = regexp.MustCompile(`AUDC-IPPhone/([0-9][0-9.]*)\s*\(\s*([0-9]{3}HD)[A-Z]?(?:-([A-Za-z0-9]+))?\s*;\s*([0-9A-Fa-f:\-]{12,17})\s*\)`)
	// AUDC/3.4.6.604 AUDC-IPPhone-C450HD_UC_3.4.6.604/1
	uaSkypeRE = regexp.MustCompile(`AUDC-IPPhone-C?([0-9]{3}HD)[A-Z]?_UC_([0-9][0-9.]*)`)
)

// Identify reads both AudioCodes User-Agent forms.
func (Family) Identify(ua string) (provisioning.Device, bool) {
	if m := uaRE.FindStringSubmatch(ua); m != nil {
		d := provisioning.Device{Vendor: provisioning.AudioCodes, Model: m[2], Version: strings.TrimRight(m[1], "."), Revision: m[3]}
		if mac, err := provisioning.ParseMAC(m[4]); err == nil {
			d.MAC = mac
		}
		return d, true
	}
	if m := uaSkypeRE.FindStringSubmatch(ua); m != nil {
		return provisioning.Device{Vendor: provisioning.AudioCodes, Model: m[1], Version: strings.TrimRight(m[2], ".")}, true
	}
	return provisioning.Device{}, false
}

// Claims recognises AudioCodes names (MAC prefix 00908F, .img images).
func (Family) Claims(name string) bool {
	l := strings.ToLower(name)
	return strings.HasSuffix(l, ".img") || strings.HasPrefix(provisioning.BareMAC(l), "00908f")
}

// Resolve names what an AudioCodes file name is.
func (Family) Resolve(method, name string, dev *provisioning.Device) (provisioning.Entry, error) {
	dev.Vendor = provisioning.AudioCodes
	if method == http.MethodPut {
		return provisioning.Entry{}, fault.Forbiddenf("AudioCodes phones upload nothing to deskprov")
	}
	if strings.HasSuffix(strings.ToLower(name), ".img") {
		return resolveImage(name, dev)
	}
	mac, _, ok, err := provisioning.SplitMAC(name, ".cfg")
	if !ok {
		return provisioning.Entry{}, provisioning.NotFound(name)
	}
	if err != nil {
		return provisioning.Entry{}, err
	}
	dev.MAC = mac
	return provisioning.Entry{Kind: provisioning.Rendered, Template: "cfg.tmpl", Name: strings.ToUpper(mac) + ".cfg", ContentType: "text/plain; charset=utf-8", Main: true, PerDevice: true, Credentials: true}, nil
}

// resolveImage reads an image name: the vendor's <model>.img (what a phone
// given only a server asks for), or deskprov's per-phone <MAC>-<model>.img
// and <MAC>.img (FirmwareURL), which name the phone even when its
// User-Agent does not. Either way the firmware module is asked for
// <model>.img on behalf of that phone.
func resolveImage(name string, dev *provisioning.Device) (provisioning.Entry, error) {
	stem := name[:len(name)-len(".img")]
	mac, model, _ := strings.Cut(stem, "-")
	if len(mac) != 12 || !provisioning.IsMAC(mac) {
		return provisioning.Entry{Kind: provisioning.Image, Name: name}, nil
	}
	m, _ := provisioning.ParseMAC(mac)
	if dev.MAC != "" && dev.MAC != m {
		return provisioning.Entry{}, fault.Forbiddenf("%s names another phone than the one asking", name)
	}
	dev.MAC = m
	if model == "" {
		model = dev.Model
	}
	if !modelRE.MatchString(strings.ToUpper(model)) {
		return provisioning.Entry{}, provisioning.NotFound(name)
	}
	return provisioning.Entry{Kind: provisioning.Image, Name: strings.ToUpper(model) + ".img"}, nil
}

var modelRE = regexp.MustCompile(`^C?[0-9]{3}HD$`)

// Render makes <MAC>.cfg. The lines are written here, not by a template,
// so that every value is folded onto its line (foldLine) and nothing a
// policy or an admin types can add a line or a key.
func (Family) Render(e provisioning.Entry, in provisioning.Inputs) ([]byte, error) {
	if e.Template != "cfg.tmpl" {
		return nil, provisioning.NotFound(e.Name)
	}
	kvs := provisioning.Apply(Table, in)
	n := 128 + len(in.Policy.Identity)
	for _, kv := range kvs {
		n += len(kv.Name) + len(kv.Value) + 2
	}
	// One buffer of the file's size: a fleet larger than the caches
	// re-renders on most polls, and growing a builder and copying it out
	// was half of what a render allocated.
	b := make([]byte, 0, n)
	b = fmt.Appendf(b, "; deskprov configuration for %s: IP phone policy %s version %d\n",
		strings.ToUpper(in.Device.MAC), foldLine(in.Policy.Identity), in.Policy.Version)
	for _, kv := range kvs {
		b = append(b, kv.Name...)
		b = append(b, '=')
		b = append(b, foldLine(kv.Value)...)
		b = append(b, '\n')
	}
	return b, nil
}

// foldLine makes a value one line of the phone's key=value format: every
// control character (CR, LF, NUL, tab, …) and the Unicode line and
// paragraph separators become a space. A ';' is kept: the format's
// comments are whole lines starting with ';', and a value never starts a
// line.
func foldLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
}

// BootSequence is an AudioCodes phone's requests at boot: the image header
// (the firmware module answers ranges), then the configuration, then the
// image its configuration names.
func (Family) BootSequence(dev provisioning.Device) []provisioning.Step {
	model := dev.Model
	if model == "" {
		model = "420HD"
	}
	return []provisioning.Step{
		{Method: http.MethodGet, Name: model + ".img", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: strings.ToUpper(dev.MAC) + ".cfg", Status: http.StatusOK},
		{Method: http.MethodGet, Name: dev.MAC + ".cfg", Status: http.StatusOK},
		// The per-phone image name its configuration points at: nothing is
		// offered on a fresh server.
		{Method: http.MethodGet, Name: ImageName(dev.MAC, model), Status: http.StatusNotFound},
	}
}

// Files are the rendered files of one phone.
func (Family) Files(dev provisioning.Device) []string {
	return []string{strings.ToUpper(dev.MAC) + ".cfg"}
}

// Reference is the family's table and its coverage of the policy settings.
func (Family) Reference() provisioning.Reference {
	return provisioning.Reference{Table: Table, Coverage: Coverage}
}
