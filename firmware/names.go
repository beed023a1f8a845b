package firmware

import (
	"path"
	"regexp"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/polycom"
)

// Vendors are the phone families deskprov provisions (also the OAuth client_ids).
const (
	Polycom    = "polycom"
	Yealink    = "yealink"
	AudioCodes = "audiocodes"
	LPE        = "lpe"
)

// polycomParts maps a Polycom model to the part number of its split image
// (<part>.sip.ld): the one table, kept with the Polycom family.
var polycomParts = polycom.Parts

// yealinkCodes maps the first number of a Yealink version (its model code) to
// the model, for image names that carry only the model family ("T46-28…").
var yealinkCodes = map[string]string{
	"54": "T40P", "76": "T40G", "36": "T41P", "29": "T42G", "28": "T46G", "35": "T48G",
	"68": "T41S", "67": "T42S", "66": "T46S", "65": "T48S", "70": "T52S", "95": "T53W",
	"96": "T54W", "97": "T57W", "58": "T58", "69": "T27G", "46": "T29G", "44": "T23G",
}

// PolycomPart returns the part number of a Polycom model's split image.
func PolycomPart(model string) (string, bool) {
	p, ok := polycomParts[NormalizeModel(Polycom, model)]
	return p, ok
}

var (
	yealinkName  = regexp.MustCompile(`(?i)^(T[0-9A-Z]+(?:\([T0-9A-Z,]+\))?)-([0-9]+(?:\.[0-9]+){3})\.rom$`)
	polycomName  = regexp.MustCompile(`^([0-9]{4}-[0-9]{5}-[0-9]{3})\.sip\.ld$`)
	audiocodesNm = regexp.MustCompile(`(?i)^([0-9]{3}HD)\.img$`)
	versionRe    = regexp.MustCompile(`^[0-9]+(\.[0-9]+){1,4}$`)
	modelRe      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_.-]{0,31}$`)
)

// ImageMeta is what an image is for: read from its file name, completed or
// overridden by what the admin gave.
type ImageMeta struct {
	Vendor   string
	Models   []string
	Version  string
	FileName string
	Revision string // LPE only
	Locale   string // LPE only
	// Edition is told from the version (Edition), never given.
	Edition string
	// Certified marks an import of a version certified for Skype for
	// Business Online: a rule it creates approves new versions by itself
	// (Rule.AutoApprove). It changes nothing on an existing rule.
	Certified bool
}

// ParseMeta reads vendor, models and version from a vendor file name and
// merges what the admin gave (given wins where both exist). It fails with a
// message naming what is missing.
func ParseMeta(fileName string, given ImageMeta) (ImageMeta, error) {
	name := path.Base(strings.ReplaceAll(fileName, "\\", "/"))
	m := ImageMeta{FileName: name, Revision: strings.TrimSpace(given.Revision), Locale: strings.TrimSpace(given.Locale), Certified: given.Certified}
	if name == "" || name == "." || name == "/" || len(name) > 200 {
		return m, fault.FieldInvalid("file", "the upload needs a file name such as T46-28.83.0.120.rom or 3111-44500-001.sip.ld")
	}
	vendor := strings.ToLower(strings.TrimSpace(given.Vendor))
	if vendor == "" {
		vendor = vendorOf(name)
	}
	switch vendor {
	case Polycom, Yealink, AudioCodes, LPE:
	case "":
		return m, fault.FieldInvalid("vendor", "cannot tell the vendor from the file name %q: give vendor (polycom, yealink, audiocodes or lpe)", name)
	default:
		return m, fault.FieldInvalid("vendor", "vendor %q is unknown: use polycom, yealink, audiocodes or lpe", given.Vendor)
	}
	m.Vendor = vendor
	var models []string
	version := ""
	switch vendor {
	case Yealink:
		if g := yealinkName.FindStringSubmatch(strings.ToUpper(name)); g != nil {
			version = g[2]
			fam := g[1]
			if i := strings.Index(fam, "("); i >= 0 {
				models = append(models, fam[:i])
				models = append(models, strings.Split(strings.TrimSuffix(fam[i+1:], ")"), ",")...)
			} else if mdl, ok := yealinkCodes[strings.SplitN(version, ".", 2)[0]]; ok && strings.HasPrefix(mdl, fam) {
				models = []string{mdl}
			} else {
				models = []string{fam}
			}
		}
	case Polycom:
		if g := polycomName.FindStringSubmatch(name); g != nil {
			for mdl, part := range polycomParts {
				if part == g[1] {
					models = []string{mdl}
				}
			}
			if models == nil && len(given.Models) == 0 {
				return m, fault.FieldInvalid("models", "part number %s is not in the Polycom part-number table: give models", g[1])
			}
		} else if strings.EqualFold(name, "sip.ld") {
			m.FileName = "sip.ld"
			if len(given.Models) == 0 {
				return m, fault.Hintf(fault.Invalid, "sip.ld is Polycom's combined image and names no model: give the models it is for in {field} (for example VVX400,VVX500)").On("models")
			}
		} else if len(given.Models) == 0 {
			return m, fault.FieldInvalid("file", "Polycom images are named <part>.sip.ld (for example 3111-44500-001.sip.ld) or sip.ld, not %q", name)
		}
	case AudioCodes:
		if g := audiocodesNm.FindStringSubmatch(strings.ToUpper(name)); g != nil {
			models = []string{g[1]}
			m.FileName = g[1] + ".img"
		} else if len(given.Models) == 0 {
			return m, fault.FieldInvalid("file", "AudioCodes images are named <model>.img (for example 420HD.img), not %q", name)
		}
	case LPE:
		if !strings.HasSuffix(strings.ToLower(name), ".cab") {
			return m, fault.FieldInvalid("file", "Lync Phone Edition images are .cab files, not %q", name)
		}
	}
	if len(given.Models) > 0 {
		models = nil
		for _, g := range given.Models {
			for _, one := range strings.Split(g, ",") {
				if one = strings.TrimSpace(one); one != "" {
					models = append(models, one)
				}
			}
		}
	}
	if len(models) == 0 {
		return m, fault.FieldInvalid("models", "cannot tell the models from the file name %q: give models", name)
	}
	seen := map[string]bool{}
	for _, mdl := range models {
		n := NormalizeModel(vendor, mdl)
		if !modelRe.MatchString(n) {
			return m, fault.FieldInvalid("models", "model %q is not a model name", mdl)
		}
		if !seen[n] {
			seen[n] = true
			m.Models = append(m.Models, n)
		}
	}
	if v := strings.TrimSpace(given.Version); v != "" {
		version = v
	}
	if version == "" {
		return m, fault.FieldInvalid("version", "the file name %q carries no version: give version (for example 5.9.7.4477)", name)
	}
	if !versionRe.MatchString(version) {
		return m, fault.FieldInvalid("version", "version %q is not dotted numbers like 5.9.7.4477", version)
	}
	m.Version = version
	if vendor != LPE && (m.Revision != "" || m.Locale != "") {
		return m, fault.FieldInvalid("revision", "revision and locale apply to Lync Phone Edition images only")
	}
	if vendor == LPE && m.Revision == "" {
		// An LPE image is built for one model and hardware revision, and a
		// device is offered only its own (issue 14, item 7).
		return m, fault.Hintf(fault.Invalid, "a Lync Phone Edition image is for one hardware revision: give {field} (for example A)").On("revision")
	}
	m.Edition = Edition(vendor, version)
	return m, nil
}

func vendorOf(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".sip.ld"), l == "sip.ld":
		return Polycom
	case strings.HasSuffix(l, ".rom"):
		return Yealink
	case strings.HasSuffix(l, ".img"):
		return AudioCodes
	case strings.HasSuffix(l, ".cab"):
		return LPE
	}
	return ""
}

var polycomModelSeparators = strings.NewReplacer("_", "", " ", "", "-", "")

// NormalizeModel gives a model the one spelling rules are keyed by, whatever
// the phone or admin wrote: "VVX_500" → "VVX500", "SIP-T46G" → "T46G",
// "440HDG-Rev0" → "440HD", "C450HD" → "450HD".
func NormalizeModel(vendor, model string) string {
	m := strings.ToUpper(strings.TrimSpace(model))
	switch strings.ToLower(vendor) {
	case Polycom:
		m = polycomModelSeparators.Replace(m)
	case Yealink:
		m = strings.TrimPrefix(m, "SIP-")
		m = strings.TrimPrefix(m, "SIP")
	case AudioCodes:
		if i := strings.Index(m, "-REV"); i >= 0 {
			m = m[:i]
		}
		m = strings.TrimPrefix(m, "C")
		m = strings.TrimSuffix(m, "G")
		m = strings.TrimSuffix(m, "_UC")
	}
	return m
}

// NormalizeMAC returns the canonical MAC (12 lower-case hex digits) or "" when
// s is not one, in the spellings provisioning.ParseMAC accepts.
func NormalizeMAC(s string) string {
	m, err := provisioning.ParseMAC(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return m
}
