package firmware

import "testing"

// TestEdition runs the edition table over real version strings: Yealink
// builds from VENDORS.md and wazo-provd-plugins' Yealink plugins, the
// Skype builds the December review found on phones, AudioCodes 2.x
// (Generic SIP, e.g. the 2.2.8.61 of VENDORS.md's User-Agent) and 3.x
// (Skype for Business, 3.4.6.604).
func TestEdition(t *testing.T) {
	for _, c := range []struct{ vendor, version, want string }{
		{Yealink, "66.9.0.63", EditionSkype},
		{Yealink, "58.9.0.20", EditionSkype},
		{Yealink, "66.86.0.15", EditionSIP},
		{Yealink, "28.83.0.120", EditionSIP},
		{Yealink, "35.83.0.120", EditionSIP},
		{Yealink, "70.86.0.15", EditionSIP},
		{Yealink, "28.73.0.50", EditionSIP},
		{Yealink, "28.80.0.95", EditionSIP},
		{Yealink, "9.73.0.50", EditionSIP},
		{Yealink, "53.80.0.95", EditionSIP},
		{Yealink, "96.87.0.15", EditionSIP},
		{Yealink, "58.15.0.20", ""}, // neither line: not guessed
		{Yealink, "", ""},
		{AudioCodes, "2.2.8.61", EditionSIP},
		{AudioCodes, "2.2.16.372", EditionSIP},
		{AudioCodes, "3.4.6.604", EditionSkype},
		{AudioCodes, "3.0.1.379", EditionSkype},
		{AudioCodes, "1.6.0.1", ""},
		{Polycom, "5.9.7.4477", ""},
		{LPE, "4.0.7577.4387", ""},
		{Yealink, "66.x.0.1", ""},
	} {
		if got := Edition(c.vendor, c.version); got != c.want {
			t.Errorf("Edition(%s, %q) = %q, want %q", c.vendor, c.version, got, c.want)
		}
	}
}
