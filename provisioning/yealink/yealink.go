// Package yealink serves Yealink T4x/T5x phones: the boot files <mac>.boot
// and y000000000000.boot, the common y0000000000xx.cfg, the per-phone
// <mac>.cfg, firmware .rom images and the <mac>-local.cfg phones upload.
package yealink

import (
	"embed"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = provisioning.ParseTemplates(templateFS)

// Family is the Yealink family.
type Family struct{}

// New returns the Yealink family.
func New() Family { return Family{} }

// Vendor is "yealink".
func (Family) Vendor() string { return provisioning.Yealink }

// Codes are the model codes: the xx of y0000000000xx.cfg and the first
// number of the firmware version (VENDORS.md; S and W models unconfirmed).
var Codes = map[string]string{
	"T40P": "54", "T40G": "76", "T41P": "36", "T42G": "29", "T46G": "28", "T48G": "35",
	"T41S": "68", "T42S": "67", "T46S": "66", "T48S": "65", "T52S": "70", "T54S": "70",
	"T53W": "95", "T54W": "96", "T57W": "97", "T58": "58", "T27G": "69", "T29G": "46", "T23G": "44",
}

var uaRE = regexp.MustCompile(`Yealink\s+SIP-([A-Za-z0-9]+)\s+([0-9][0-9.]*)(?:\s+([0-9A-Fa-f:\-]{12,17}))?`)

// Identify reads "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26".
func (Family) Identify(ua string) (provisioning.Device, bool) {
	m := uaRE.FindStringSubmatch(ua)
	if m == nil {
		return provisioning.Device{}, false
	}
	d := provisioning.Device{Vendor: provisioning.Yealink, Model: strings.ToUpper(m[1]), Version: strings.TrimRight(m[2], ".")}
	if mac, err := provisioning.ParseMAC(m[3]); err == nil {
		d.MAC = mac
	}
	return d, true
}

var ouis = []string{"001565", "805ec0", "249ad8", "805e0c", "44dbd2"}

var commonRE = regexp.MustCompile(`^y0000000000([0-9]{2})\.cfg$`)

// Claims recognises Yealink names when the User-Agent said nothing.
func (Family) Claims(name string) bool {
	l := strings.ToLower(name)
	if l == "y000000000000.boot" || commonRE.MatchString(l) || strings.HasSuffix(l, ".rom") || strings.HasSuffix(l, ".boot") || strings.HasSuffix(l, "-local.cfg") {
		return true
	}
	bare := provisioning.BareMAC(l)
	for _, o := range ouis {
		if strings.HasPrefix(bare, o) {
			return true
		}
	}
	return false
}

// Resolve names what a Yealink file name is. Every rendered Yealink file
// depends on the User-Agent: the boot files include the common file of the
// model it names, and the configuration files' names follow its firmware
// line (static. or not), so each says Vary: User-Agent.
func (Family) Resolve(method, name string, dev *provisioning.Device) (provisioning.Entry, error) {
	dev.Vendor = provisioning.Yealink
	l := strings.ToLower(name)
	text := "text/plain; charset=utf-8"
	switch {
	case strings.HasSuffix(l, ".rom"):
		return provisioning.Entry{Kind: provisioning.Image, Name: name}, nil
	case l == "y000000000000.boot":
		return provisioning.Entry{Kind: provisioning.Rendered, Template: "boot.tmpl", Name: l, ContentType: text, PerDevice: dev.MAC != "", VaryUserAgent: true}, nil
	}
	if m := commonRE.FindStringSubmatch(l); m != nil {
		if code := Codes[dev.Model]; code != "" && code != m[1] {
			// The common file of another model: this phone never parses it.
			return provisioning.Entry{}, provisioning.NotFound(name)
		}
		if Codes[dev.Model] == "" {
			dev.Model = modelOf(m[1])
		}
		if dev.Model == "" {
			return provisioning.Entry{}, provisioning.NotFound(name)
		}
		return provisioning.Entry{Kind: provisioning.Rendered, Template: "cfg.tmpl", Name: l, ContentType: text, VaryUserAgent: true}, nil
	}
	mac, suffix, ok, err := provisioning.SplitMAC(name, "-local.cfg", ".boot", ".cfg")
	if !ok {
		return provisioning.Entry{}, provisioning.NotFound(name)
	}
	if err != nil {
		return provisioning.Entry{}, err
	}
	dev.MAC = mac
	if method == http.MethodPut && suffix != "-local.cfg" {
		return provisioning.Entry{}, fault.Forbiddenf("only <mac>-local.cfg can be uploaded")
	}
	switch suffix {
	case "-local.cfg":
		return provisioning.Entry{Kind: provisioning.Upload, Name: mac + suffix, ContentType: text, PerDevice: true}, nil
	case ".boot":
		return provisioning.Entry{Kind: provisioning.Rendered, Template: "boot.tmpl", Name: mac + suffix, ContentType: text, PerDevice: true, VaryUserAgent: true}, nil
	}
	return provisioning.Entry{Kind: provisioning.Rendered, Template: "cfg.tmpl", Name: mac + suffix, ContentType: text, Main: true, PerDevice: true, Credentials: true, VaryUserAgent: true}, nil
}

func modelOf(code string) string {
	best := ""
	for m, c := range Codes {
		if c == code && (best == "" || m < best) {
			best = m
		}
	}
	return best
}

// Render makes a boot or configuration file.
func (Family) Render(e provisioning.Entry, in provisioning.Inputs) ([]byte, error) {
	var data any
	switch e.Template {
	case "boot.tmpl":
		var inc []string
		if code := Codes[in.Device.Model]; code != "" {
			inc = append(inc, in.Server.ProvURL()+"y0000000000"+code+".cfg")
		}
		if in.Device.MAC != "" {
			inc = append(inc, in.Server.ProvURL()+in.Device.MAC+".cfg")
		}
		for i := range inc {
			inc[i] = quotedURL.Replace(oneLine(inc[i]))
		}
		data = struct{ Includes []string }{inc}
	case "cfg.tmpl":
		return cfg(header(e, in), params(e, in)), nil
	default:
		return nil, provisioning.NotFound(e.Name)
	}
	return templates.Render(e.Template, e.Name, data)
}

// cfg writes a configuration file: the version line, the header, and a
// "name = value" line per parameter. It is what templates/cfg.tmpl says,
// written out, as a phone's file is re-rendered on most polls of a fleet
// larger than the caches and text/template's reflection was half the cost
// (TestCfgIsTheTemplate holds the two byte for byte).
func cfg(head string, params []provisioning.KV) []byte {
	n := len(cfgVersion) + len(head) + 1
	for _, kv := range params {
		n += len(kv.Name) + len(kv.Value) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, cfgVersion...)
	b = append(b, head...)
	for _, kv := range params {
		b = append(b, '\n')
		b = append(b, kv.Name...)
		b = append(b, " = "...)
		b = append(b, kv.Value...)
	}
	return append(b, '\n')
}

// cfgVersion is a configuration file's first line, which Yealink requires.
const cfgVersion = "#!version:1.0.0.1\n"

// header is the file's comment line, folded like every value: the policy
// name is an admin's text.
func header(e provisioning.Entry, in provisioning.Inputs) string {
	var h string
	if e.PerDevice {
		h = "configuration for " + in.Device.MAC
	} else {
		h = "common configuration for " + in.Device.Model
	}
	return oneLine(fmt.Sprintf("## deskprov %s: IP phone policy %s version %d", h, in.Policy.Identity, in.Policy.Version))
}

// params evaluates Table for one file. Escape by construction: Yealink's
// format has no quoting, so a value can only be kept to its one line —
// control characters (CR, LF, NUL, …) become spaces. A row's "" is written
// %NULL%, the empty value Yealink documents; a value that is itself the
// text %NULL% (only an admin can type it, say as a password) cannot be
// written without the phone reading it as empty, so its row is left out
// and the phone keeps what it had. Secrets (perPhone) go only into a file
// answered to the phone alone (Inputs.Private).
func params(e provisioning.Entry, in provisioning.Inputs) []provisioning.KV {
	kvs := provisioning.Apply(Table, in)
	out := kvs[:0]
	keepStatic := static(in.Device.Version)
	for _, kv := range kvs {
		if perPhone[kv.Name] && !in.Private {
			continue
		}
		if isNull(kv.Value) {
			continue
		}
		if !keepStatic {
			kv.Name = strings.TrimPrefix(kv.Name, "static.")
		}
		kv.Value = strings.TrimSpace(oneLine(kv.Value))
		if kv.Value == "" {
			kv.Value = null
		}
		out = append(out, kv)
	}
	return out
}

// quotedURL keeps a URL inside the quotes of an include:config line.
var quotedURL = strings.NewReplacer(`"`, "%22", " ", "%20")

// null is Yealink's empty value.
const null = "%NULL%"

// isNull reports whether an input value is the literal text %NULL%, which
// Yealink would read as the empty value.
func isNull(v string) bool { return strings.EqualFold(strings.TrimSpace(oneLine(v)), null) }

// oneLine replaces every control character, line breaks included, with a
// space: nothing in a value can start a new line, hence a new key.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
}

// BootSequence is a Yealink's requests at boot, newer firmware first asking
// for the boot files.
func (Family) BootSequence(dev provisioning.Device) []provisioning.Step {
	code := Codes[dev.Model]
	if code == "" {
		code = "28"
	}
	return []provisioning.Step{
		{Method: http.MethodGet, Name: dev.MAC + ".boot", Status: http.StatusOK},
		{Method: http.MethodGet, Name: "y000000000000.boot", Status: http.StatusOK},
		{Method: http.MethodGet, Name: "y0000000000" + code + ".cfg", Status: http.StatusOK},
		{Method: http.MethodGet, Name: dev.MAC + ".cfg", Status: http.StatusOK},
		{Method: http.MethodGet, Name: dev.MAC + "-local.cfg", Status: http.StatusNotFound},
		{Method: http.MethodPut, Name: dev.MAC + "-local.cfg", Status: http.StatusCreated},
		{Method: http.MethodGet, Name: dev.MAC + "-local.cfg", Status: http.StatusOK},
	}
}

// Files are the rendered files of one phone.
func (Family) Files(dev provisioning.Device) []string {
	out := []string{dev.MAC + ".boot", "y000000000000.boot"}
	if code := Codes[dev.Model]; code != "" {
		out = append(out, "y0000000000"+code+".cfg")
	}
	return append(out, dev.MAC+".cfg")
}

// Reference is the family's table and its coverage of the policy settings.
func (Family) Reference() provisioning.Reference {
	return provisioning.Reference{Table: Table, Coverage: Coverage}
}
