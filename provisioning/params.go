package provisioning

import (
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/template"

	"github.com/deskprov/deskprov/policy"
)

// Param is one row of a vendor's mapping table: the vendor's parameter name
// and how its value follows from the inputs. ok false leaves the parameter
// out of the file. Every family keeps all its rows in one table, so a name
// VENDORS.md marks unconfirmed is corrected in one place.
type Param struct {
	Name  string
	Value func(in Inputs) (value string, ok bool)
	// Settings names what the row carries: IP phone policy settings
	// (policy.Fields names) and deskprov's own inputs ("Server.PublicURL",
	// "Site.TimeZone", "Credential", …). docs/provisioning.md's per-setting
	// table is generated from it.
	Settings []string
	// Ref is the reference that confirms Name: a vendor guide and section,
	// or a public template's repository and path (read, never copied).
	Ref string
	// Unconfirmed marks names not confirmed by a vendor document or a public
	// template (VENDORS.md); docs/provisioning.md lists them. A row has a
	// Ref or is Unconfirmed, and an unconfirmed row is never the only thing
	// that makes a policy setting work.
	Unconfirmed bool
}

// Coverage says how a family handles a policy setting that no row of its
// table carries, so that no setting is silently dropped: deskprov's own
// service enforces it (EnforcedBy), or the family's firmware cannot take it
// from a file (NotSupported says why). Ref backs the claim where one exists.
type Coverage struct {
	Setting      string
	EnforcedBy   string
	NotSupported string
	Ref          string
}

// Reference is a family's documented mapping: its table rows and how it
// covers the settings no row carries.
type Reference struct {
	Table    []Param
	Coverage []Coverage
}

// KV is a rendered parameter.
type KV struct{ Name, Value string }

// Apply evaluates a table in order.
func Apply(table []Param, in Inputs) []KV {
	out := make([]KV, 0, len(table))
	for _, p := range table {
		if v, ok := p.Value(in); ok {
			out = append(out, KV{p.Name, v})
		}
	}
	return out
}

// Const is a fixed value.
func Const(v string) func(Inputs) (string, bool) {
	return func(Inputs) (string, bool) { return v, true }
}

// Bool01 renders a policy flag as 1/0.
func Bool01(f func(in Inputs) bool) func(Inputs) (string, bool) {
	return func(in Inputs) (string, bool) {
		if f(in) {
			return "1", true
		}
		return "0", true
	}
}

// Int renders an integer.
func Int(f func(in Inputs) int) func(Inputs) (string, bool) {
	return func(in Inputs) (string, bool) { return strconv.Itoa(f(in)), true }
}

// Seconds parses hh:mm:ss (or mm:ss, or plain seconds) into seconds; bad
// input gives 0.
func Seconds(hms string) int {
	parts := strings.Split(strings.TrimSpace(hms), ":")
	if len(parts) > 3 {
		return 0
	}
	total := 0
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0
		}
		total = total*60 + n
	}
	return total
}

// Codecs reads PrioritizedCodecsList ("G722_8000;PCMU;PCMA;G729") into the
// policy's canonical codec names (policy.Codecs), dropping names no family
// knows; each family skips the ones its firmware lacks.
//
// The list is shared with other renders: read it, never change it. Nearly
// every file rendered at a generation is under one policy (the Global one,
// or a few), so the last list read is kept: rendering a phone's file again
// after the cache evicted it (most polls at a fleet larger than the cache)
// spent a twentieth of its CPU splitting and canonicalising the same list.
func Codecs(list string) []string {
	if m := lastCodecs.Load(); m != nil && m.list == list {
		return m.out
	}
	out := slices.Clip(policy.CodecList(list))
	lastCodecs.Store(&codecMemo{list: strings.Clone(list), out: out})
	return out
}

// codecMemo is a policy's codec list as Codecs read it.
type codecMemo struct {
	list string
	out  []string
}

var lastCodecs atomic.Pointer[codecMemo]

// CodecRank is the 1-based place of codec in the policy's list, 0 when absent.
func CodecRank(in Inputs, codec string) int {
	for i, c := range Codecs(in.Policy.Settings.PrioritizedCodecsList) {
		if strings.EqualFold(c, codec) {
			return i + 1
		}
	}
	return 0
}

// FirmwareURL is where a phone downloads an offered image under /prov/.
func FirmwareURL(in Inputs) (string, bool) {
	if !in.Firmware.Offer || in.Firmware.FileName == "" {
		return "", false
	}
	return in.Server.ProvURL() + in.Firmware.FileName, true
}

// CredentialUser and CredentialPassword are the phone's issued provisioning
// user and password, written only in the answer that issues them
// (Inputs.Credential set).
func CredentialUser(in Inputs) (string, bool) {
	if in.Credential == nil {
		return "", false
	}
	return in.Credential.User, true
}

// CredentialPassword: see CredentialUser.
func CredentialPassword(in Inputs) (string, bool) {
	if in.Credential == nil {
		return "", false
	}
	return in.Credential.Password, true
}

// TemplateFuncs are available to every family's templates.
var TemplateFuncs = template.FuncMap{
	"xmlattr": XMLAttr,
}

// Templates are a family's embedded templates, with TemplateFuncs.
type Templates struct{ t *template.Template }

// ParseTemplates parses every templates/*.tmpl of a family's embedded files;
// it panics on a broken template, which the family's tests catch first.
func ParseTemplates(fsys fs.FS) Templates {
	return Templates{template.Must(template.New("").Funcs(TemplateFuncs).ParseFS(fsys, "templates/*.tmpl"))}
}

// Render executes the template named name for the file file.
func (t Templates) Render(name, file string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := t.t.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", file, err)
	}
	return b.Bytes(), nil
}

// XMLAttr escapes a string for an XML attribute value in double quotes.
func XMLAttr(s string) string { return xmlAttr.Replace(s) }

var xmlAttr = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;", "\n", "&#10;", "\r", "&#13;", "\t", "&#9;")

// OneLine folds line breaks into spaces, for line-based formats.
func OneLine(s string) string { return oneLine.Replace(s) }

var oneLine = strings.NewReplacer("\n", " ", "\r", " ")

// BareMAC drops the separators a MAC may be written with, for prefix checks.
func BareMAC(s string) string { return bareMAC.Replace(s) }

var bareMAC = strings.NewReplacer(":", "", "-", "", ".", "")

// SplitMAC splits name into a MAC and one of suffixes (matched without case).
// zero is true when the MAC part is the all-zero placeholder some phones ask
// for. ok is false when no suffix matches; err is set when one matches but
// the rest is not a MAC.
func SplitMAC(name string, suffixes ...string) (mac, suffix string, ok bool, err error) {
	lower := strings.ToLower(name)
	for _, s := range suffixes {
		if !strings.HasSuffix(lower, s) || len(name) == len(s) {
			continue
		}
		m, err := ParseMAC(name[:len(name)-len(s)])
		if err != nil {
			return "", s, true, err
		}
		return m, s, true, nil
	}
	return "", "", false, nil
}

// issuedCredentialRE finds the provisioning user and password in a file
// that issued them, in any family's format (the rows of the families'
// tables that carry Inputs.Credential).
var issuedCredentialRE = regexp.MustCompile(`(?m)(device\.prov\.user|device\.prov\.password|static\.auto_provision\.server\.username|static\.auto_provision\.server\.password|auto_provision\.server\.username|auto_provision\.server\.password|provisioning/configuration/username|provisioning/configuration/password)\s*=\s*"?([^"\s]+)"?`)

// IssuedCredential reads the credential a phone was issued out of the file
// that carried it, as a phone would (phone simulators and tests use it).
func IssuedCredential(body []byte) (Credential, bool) {
	var c Credential
	for _, m := range issuedCredentialRE.FindAllSubmatch(body, -1) {
		name, v := string(m[1]), string(m[2])
		if strings.HasSuffix(name, "user") || strings.HasSuffix(name, "username") {
			c.User = v
		} else {
			c.Password = v
		}
	}
	return c, c.User != "" && c.Password != ""
}
