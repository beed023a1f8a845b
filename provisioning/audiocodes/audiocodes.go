// Package audiocodes serves AudioCodes 4xx HD phones (Skype for Business
// firmware): the per-phone <MAC>.cfg and the <model>.img firmware images.
package audiocodes

import (
	"embed"
	"net/http"
	"regexp"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = provisioning.ParseTemplates(templateFS)

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
		return provisioning.Entry{Kind: provisioning.Image, Name: name}, nil
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

// Render makes <MAC>.cfg.
func (Family) Render(e provisioning.Entry, in provisioning.Inputs) ([]byte, error) {
	if e.Template != "cfg.tmpl" {
		return nil, provisioning.NotFound(e.Name)
	}
	kvs := provisioning.Apply(Table, in)
	for i := range kvs {
		kvs[i].Value = provisioning.OneLine(kvs[i].Value)
	}
	return templates.Render(e.Template, e.Name, struct {
		MAC, Policy string
		Version     int64
		Params      []provisioning.KV
	}{strings.ToUpper(in.Device.MAC), in.Policy.Identity, in.Policy.Version, kvs})
}

// BootSequence is an AudioCodes phone's requests at boot: the image header
// (the firmware module answers ranges), then the configuration.
func (Family) BootSequence(dev provisioning.Device) []provisioning.Step {
	model := dev.Model
	if model == "" {
		model = "420HD"
	}
	return []provisioning.Step{
		{Method: http.MethodGet, Name: model + ".img", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: strings.ToUpper(dev.MAC) + ".cfg", Status: http.StatusOK},
		{Method: http.MethodGet, Name: dev.MAC + ".cfg", Status: http.StatusOK},
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
