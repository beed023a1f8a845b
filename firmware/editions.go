package firmware

import (
	"strconv"
	"strings"
)

// Firmware editions. A vendor may build the same model's firmware for Skype
// for Business and for open SIP; a phone is offered only images of the
// edition it runs, so rules are kept per edition as well as per model.
const (
	// EditionSkype is a Skype for Business (Lync-qualified) build.
	EditionSkype = "skype"
	// EditionSIP is an open-SIP (generic) build.
	EditionSIP = "sip"
)

// editionRules is, per vendor, how a version string tells its edition: the
// one table of it, tested over real version strings (editions_test.go).
// A vendor not listed has one edition for its images (""):
//   - Polycom UC Software 5.x is one image for both the Skype and the
//     Generic base profile (the profile is a setting, device.baseProfile),
//     and its version scheme does not say which the phone runs;
//   - Lync Phone Edition exists only as the Lync edition, told apart by
//     model and revision instead.
var editionRules = map[string]func(parts []int) string{
	// Yealink <model code>.<line>.<x>.<y>: the Skype for Business builds
	// are line 9 (66.9.0.63, 58.9.0.20, as the December review found on
	// phones; no public source lists them), the open-SIP ones line 70 and
	// up (wazo-provd-plugins' plugins/wazo_yealink/v73 … v87/entry.py:
	// 9.73.0.50, 53.80.0.95, 66.86.0.15, 96.87.0.15).
	Yealink: func(p []int) string {
		switch {
		case len(p) < 2:
			return ""
		case p[1] == 9:
			return EditionSkype
		case p[1] >= 70:
			return EditionSIP
		}
		return ""
	},
	// AudioCodes 4xx HD: 2.x is the Generic SIP firmware, 3.x the Skype
	// for Business one (VENDORS.md, December review; the Skype builds name
	// themselves "…_UC_3.4.6.604" in their User-Agent).
	AudioCodes: func(p []int) string {
		switch p[0] {
		case 2:
			return EditionSIP
		case 3:
			return EditionSkype
		}
		return ""
	},
}

// Edition is the edition of firmware version of vendor ("" where the vendor
// has one edition, or the version does not follow a known scheme).
func Edition(vendor, version string) string {
	rule := editionRules[strings.ToLower(strings.TrimSpace(vendor))]
	if rule == nil {
		return ""
	}
	var parts []int
	for _, f := range strings.Split(strings.TrimSpace(version), ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return ""
		}
		parts = append(parts, n)
	}
	return rule(parts)
}

// EditionName is how admins read an edition.
func EditionName(e string) string {
	switch e {
	case EditionSkype:
		return "Skype for Business"
	case EditionSIP:
		return "open SIP"
	}
	return "any"
}
