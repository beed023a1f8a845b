// Package polycom serves Polycom VVX phones (UC Software 5.x, Skype for
// Business mode): the master file <mac>.cfg (or 000000000000.cfg), the
// configuration deskprov-<mac>.cfg it names, split firmware images
// <part>.sip.ld, and the logs and override files phones upload.
package polycom

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
)

// Family is the Polycom family.
type Family struct{}

// New returns the Polycom family.
func New() Family { return Family{} }

// Vendor is "polycom".
func (Family) Vendor() string { return provisioning.Polycom }

// Zero is the MAC placeholder of the shared master file.
const Zero = "000000000000"

// ConfigPrefix starts the name of the configuration file the master names.
const ConfigPrefix = "deskprov-"

var uaRE = regexp.MustCompile(`Polycom([A-Za-z]+)-([A-Za-z0-9_]+?)-UA/([0-9][0-9.]*)`)

// Identify reads "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application".
// The Updater (the boot stage before the application) sends the same form
// with "Type/Updater" and its own version (wazo-provd-plugins,
// plugins/wazo_polycom/common/common.py lists both): that version is not
// the running firmware, so an Updater request reports none and what was
// last reported by the Application stands (loop guard, 5.5.1 check,
// inventory, firmware offer).
func (Family) Identify(ua string) (provisioning.Device, bool) {
	m := uaRE.FindStringSubmatch(ua)
	if m == nil {
		return provisioning.Device{}, false
	}
	d := provisioning.Device{Vendor: provisioning.Polycom, Model: strings.ReplaceAll(m[2], "_", ""), Version: strings.TrimRight(m[3], ".")}
	if strings.Contains(ua[len(m[0]):], "Type/Updater") {
		d.Version = ""
	}
	return d, true
}

// Polycom MAC prefixes (IEEE OUIs of Polycom/Poly).
var ouis = []string{"0004f2", "64167f", "482567", "00e0db"}

// Claims recognises Polycom names when the User-Agent said nothing.
func (Family) Claims(name string) bool {
	l := strings.ToLower(name)
	if strings.HasPrefix(l, Zero) || strings.HasSuffix(l, ".sip.ld") || l == "sip.ld" || strings.HasPrefix(l, ConfigPrefix) {
		return true
	}
	for _, o := range ouis {
		if strings.HasPrefix(provisioning.BareMAC(l), o) {
			return true
		}
	}
	return false
}

var (
	// uploads are the files a phone PUTs and reads back: its logs, its
	// override files, and its own contacts and call list, which it keeps on
	// the provisioning server (CONTACTS_DIRECTORY left empty).
	uploads = []string{"-app.log", "-boot.log", "-phone.cfg", "-web.cfg", "-calls.xml", "-directory.xml"}
	// optional are answered 404: the licence files, and the shared
	// 000000000000-directory.xml (only a phone's own directory is kept).
	optional = []string{"-license.cfg", "-directory.xml"}
	// macSuffixes are every per-MAC file name ending, the main file last.
	macSuffixes = append(append(append([]string{}, uploads...), optional...), ".cfg")
)

// Resolve names what a Polycom file name is.
func (Family) Resolve(method, name string, dev *provisioning.Device) (provisioning.Entry, error) {
	dev.Vendor = provisioning.Polycom
	l := strings.ToLower(name)
	if l == "sip.ld" || strings.HasSuffix(l, ".sip.ld") {
		return provisioning.Entry{Kind: provisioning.Image, Name: name}, nil
	}
	if strings.HasPrefix(l, ConfigPrefix) {
		mac, _, ok, err := provisioning.SplitMAC(name[len(ConfigPrefix):], ".cfg")
		if err != nil {
			return provisioning.Entry{}, err
		}
		if ok && mac != Zero {
			dev.MAC = mac
			return provisioning.Entry{Kind: provisioning.Rendered, Template: configFile, Name: ConfigPrefix + mac + ".cfg", ContentType: "application/xml", PerDevice: true, Credentials: true}, nil
		}
		return provisioning.Entry{}, provisioning.NotFound(name)
	}
	mac, suffix, ok, err := provisioning.SplitMAC(name, macSuffixes...)
	if !ok {
		return provisioning.Entry{}, provisioning.NotFound(name)
	}
	if err != nil {
		return provisioning.Entry{}, err
	}
	if suffix == ".cfg" {
		if mac == Zero {
			return provisioning.Entry{Kind: provisioning.Rendered, Template: masterFile, Name: Zero + ".cfg", ContentType: "application/xml", Main: true, VaryUserAgent: true}, nil
		}
		dev.MAC = mac
		return provisioning.Entry{Kind: provisioning.Rendered, Template: masterFile, Name: mac + ".cfg", ContentType: "application/xml", Main: true, PerDevice: true}, nil
	}
	for _, s := range uploads {
		if s == suffix && mac != Zero {
			dev.MAC = mac
			ct := "text/plain; charset=utf-8"
			if strings.HasSuffix(s, ".cfg") || strings.HasSuffix(s, ".xml") {
				ct = "application/xml"
			}
			return provisioning.Entry{Kind: provisioning.Upload, Name: mac + s, ContentType: ct, PerDevice: true}, nil
		}
	}
	if method == http.MethodPut {
		return provisioning.Entry{}, fault.Forbiddenf("deskprov does not keep %s uploads", suffix)
	}
	if mac != Zero {
		dev.MAC = mac
	}
	return provisioning.Entry{Kind: provisioning.Optional, Name: mac + suffix}, nil
}

// The two files deskprov renders (Entry.Template).
const (
	masterFile = "master.xml"
	configFile = "config.xml"
)

// Render makes the master or configuration file. Both are written by an
// escaping writer (xmlWriter), never by pasting values into text: nothing an
// admin or a phone can type changes the structure of the file.
func (Family) Render(e provisioning.Entry, in provisioning.Inputs) ([]byte, error) {
	var w xmlWriter
	w.header()
	switch e.Template {
	case masterFile:
		if in.Device.MAC != "" {
			w.comment("deskprov master file for " + in.Device.MAC + ": generated, change IP phone policy instead of editing")
		} else {
			w.comment("deskprov master file: generated, change IP phone policy instead of editing")
		}
		var appFile, model string
		if in.Firmware.Offer && in.Firmware.FileName != "" {
			appFile = in.Firmware.FileName
			if modelName.MatchString(in.Device.Model) {
				model = in.Device.Model
			}
		}
		w.start("", "APPLICATION", []provisioning.KV{
			{Name: "APP_FILE_PATH", Value: appFile},
			{Name: "CONFIG_FILES", Value: ConfigPrefix + "[PHONE_MAC_ADDRESS].cfg"},
			{Name: "MISC_FILES"}, {Name: "LOG_FILE_DIRECTORY"}, {Name: "OVERRIDES_DIRECTORY"},
			{Name: "CONTACTS_DIRECTORY"}, {Name: "LICENSE_DIRECTORY"},
		}, false, false)
		if model != "" {
			w.start("  ", "APPLICATION_"+model, []provisioning.KV{{Name: "APP_FILE_PATH_" + model, Value: appFile}}, false, true)
		}
		w.end("", "APPLICATION")
	case configFile:
		w.comment("deskprov configuration for " + in.Device.MAC + ": IP phone policy " + in.Policy.Identity + " version " + strconv.FormatInt(in.Policy.Version, 10))
		w.raw("<PHONE_CONFIG>\n")
		w.start("  ", "ALL", params(in), true, true)
		w.raw("</PHONE_CONFIG>\n")
	default:
		return nil, provisioning.NotFound(e.Name)
	}
	if w.err != nil {
		return nil, fmt.Errorf("render %s: %w", e.Name, w.err)
	}
	return w.b.Bytes(), nil
}

var modelName = regexp.MustCompile(`^[A-Za-z0-9]{1,16}$`)

// xmlName is what deskprov writes as an element or attribute name: the
// table's parameter names and the fixed master-file names.
var xmlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// xmlWriter writes a Polycom XML file. Attribute values go through
// xml.EscapeText (which also escapes quotes, line breaks and tabs, and
// replaces characters XML cannot hold), names are checked, and comments are
// made safe: the file is well-formed whatever the values.
type xmlWriter struct {
	b   bytes.Buffer
	err error
}

func (w *xmlWriter) header() {
	w.raw(`<?xml version="1.0" encoding="utf-8" standalone="yes"?>` + "\n")
}

func (w *xmlWriter) raw(s string) { w.b.WriteString(s) }

// comment writes text as an XML comment: no "--" inside, none at the end,
// nothing XML cannot hold, one line.
func (w *xmlWriter) comment(text string) {
	w.raw("<!-- ")
	last := rune(0)
	for _, r := range text {
		if !xmlChar(r) || r == '\n' || r == '\r' || r == '\t' {
			r = ' '
		}
		if r == '-' && last == '-' {
			w.b.WriteByte(' ')
		}
		w.b.WriteRune(r)
		last = r
	}
	w.raw(" -->\n")
}

// start writes an element's start tag with its attributes, one a line when
// perLine, closed with "/>" when empty.
func (w *xmlWriter) start(indent, name string, attrs []provisioning.KV, perLine, empty bool) {
	w.checkName(name)
	w.raw(indent + "<" + name)
	for _, a := range attrs {
		w.checkName(a.Name)
		if perLine {
			w.raw("\n" + indent + "  ")
		} else {
			w.raw(" ")
		}
		w.raw(a.Name + `="`)
		if err := xml.EscapeText(&w.b, []byte(a.Value)); err != nil && w.err == nil {
			w.err = err
		}
		w.raw(`"`)
	}
	switch {
	case empty && perLine:
		w.raw("\n" + indent + "/>\n")
	case empty:
		w.raw("/>\n")
	default:
		w.raw(">\n")
	}
}

func (w *xmlWriter) end(indent, name string) { w.raw(indent + "</" + name + ">\n") }

func (w *xmlWriter) checkName(n string) {
	if !xmlName.MatchString(n) && w.err == nil {
		w.err = fmt.Errorf("%q is not an XML name", n)
	}
}

// xmlChar reports whether XML 1.0 can hold r.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// params evaluates Table, adding the ".set" companion every device.*
// parameter needs.
func params(in provisioning.Inputs) []provisioning.KV {
	var out []provisioning.KV
	for _, kv := range provisioning.Apply(Table, in) {
		out = append(out, kv)
		if strings.HasPrefix(kv.Name, "device.") && kv.Name != "device.set" {
			out = append(out, provisioning.KV{Name: kv.Name + ".set", Value: "1"})
		}
	}
	return out
}

// Parts are the split firmware image part numbers by model (VENDORS.md).
var Parts = map[string]string{
	"VVX101": "3111-40250-001", "VVX150": "3111-48810-001", "VVX201": "3111-40450-001",
	"VVX250": "3111-48820-001", "VVX300": "3111-46135-002", "VVX301": "3111-48300-001",
	"VVX310": "3111-46161-001", "VVX311": "3111-48350-001", "VVX350": "3111-48830-001",
	"VVX400": "3111-46157-002", "VVX401": "3111-48400-001", "VVX410": "3111-46162-001",
	"VVX411": "3111-48450-001", "VVX450": "3111-48840-001", "VVX500": "3111-44500-001",
	"VVX501": "3111-48500-001", "VVX600": "3111-44600-001", "VVX601": "3111-48600-001",
	"VVX1500": "2345-17960-001",
}

// BootSequence is a VVX's requests at boot (VENDORS.md, logged from a VVX 500).
func (Family) BootSequence(dev provisioning.Device) []provisioning.Step {
	m := dev.MAC
	part := Parts[dev.Model]
	if part == "" {
		part = "3111-44500-001"
	}
	return []provisioning.Step{
		// The first boot uploads before the configuration file issues the
		// phone its credentials: refused then.
		{Method: http.MethodPut, Name: m + "-boot.log", Status: http.StatusCreated, Unenrolled: http.StatusUnauthorized},
		{Method: http.MethodGet, Name: m + ".cfg", Status: http.StatusOK},
		{Method: http.MethodGet, Name: part + ".sip.ld", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: ConfigPrefix + m + ".cfg", Status: http.StatusOK},
		{Method: http.MethodGet, Name: m + "-phone.cfg", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: m + "-web.cfg", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: Zero + "-license.cfg", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: m + "-license.cfg", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: m + "-calls.xml", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: m + "-directory.xml", Status: http.StatusNotFound},
		{Method: http.MethodGet, Name: Zero + "-directory.xml", Status: http.StatusNotFound},
		{Method: http.MethodHead, Name: m + "-app.log", Status: http.StatusNotFound},
		{Method: http.MethodPut, Name: m + "-app.log", Status: http.StatusCreated},
		// A user's contact edit and a finished call upload the phone's
		// directory and call list.
		{Method: http.MethodPut, Name: m + "-directory.xml", Status: http.StatusCreated},
		{Method: http.MethodPut, Name: m + "-calls.xml", Status: http.StatusCreated},
	}
}

// Files are the rendered files of one phone.
func (Family) Files(dev provisioning.Device) []string {
	return []string{dev.MAC + ".cfg", ConfigPrefix + dev.MAC + ".cfg", Zero + ".cfg"}
}

// Reference is the family's table and its coverage of the policy settings.
func (Family) Reference() provisioning.Reference {
	return provisioning.Reference{Table: Table, Coverage: Coverage}
}
