package site

import (
	"net/netip"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/language"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/provisioning"
)

// Limits of a site's fields. Phones keep at most a few NTP servers
// (Yealink two, Polycom one plus fallbacks), so four is already generous.
const (
	MaxName          = 64
	MaxSubnets       = 256
	MaxNTPServers    = 4
	MaxHostName      = 253
	MaxAdminPassword = 64
)

// CheckName returns the trimmed name when it can name a site: 1 to 64
// letters, digits, spaces and . - _ (a name goes into URLs, the console and
// the CLI's arguments, so nothing else).
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fault.FieldInvalid("name", "name is empty: give the site a name such as \"HQ\" or \"Building 2\"")
	}
	if err := textfield.Line("name", name, MaxName); err != nil {
		return "", err
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" .-_", r) {
			return "", fault.FieldInvalid("name", "name %q holds %q: use letters, digits, spaces and . - _", name, r)
		}
	}
	return name, nil
}

// CheckSubnets returns the subnets in canonical form (a single address is
// its own /32 or /128), without repeats. It refuses a prefix with host bits
// set, which is almost always a typing slip for a different network.
func CheckSubnets(subnets []string) ([]netip.Prefix, error) {
	if len(subnets) == 0 {
		return nil, fault.FieldInvalid("subnets", "subnets is empty: give at least one network of the site, such as 10.1.0.0/16 or 2001:db8:1::/48")
	}
	if len(subnets) > MaxSubnets {
		return nil, fault.FieldInvalid("subnets", "a site takes at most %d subnets, not %d", MaxSubnets, len(subnets))
	}
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for _, s := range subnets {
		p, err := ParseSubnet(s)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// ParseSubnet reads one CIDR or address.
func ParseSubnet(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	shown := clip(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fault.FieldInvalid("subnets", "%q is not a subnet: give a CIDR such as 10.1.0.0/16 or 2001:db8:1::/48, or one address", shown)
		}
		s = a.String() + "/" + itoa(a.BitLen())
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fault.FieldInvalid("subnets", "%q is not a subnet: give a CIDR such as 10.1.0.0/16 or 2001:db8:1::/48, or one address", shown)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fault.FieldInvalid("subnets", "%q is an IPv4 network written as IPv6: give it in IPv4 form (10.1.0.0/16)", shown)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fault.FieldInvalid("subnets", "%q has bits set past its /%d: did you mean %s?", shown, p.Bits(), m)
	}
	return p, nil
}

// CheckNTPServers returns the servers, host names in lower case; each is a
// host name or an IPv4 or IPv6 address. Empty means "the server-wide
// default" for a site; serve requires at least one.
func CheckNTPServers(field string, servers []string) ([]string, error) {
	if len(servers) > MaxNTPServers {
		return nil, fault.FieldInvalid(field, "give at most %d NTP servers, not %d", MaxNTPServers, len(servers))
	}
	out := make([]string, 0, len(servers))
	for _, s := range servers {
		s = strings.ToLower(strings.TrimSpace(s))
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			out = append(out, a.String())
		} else if hostName(s) {
			out = append(out, strings.TrimSuffix(s, "."))
		} else {
			return nil, fault.FieldInvalid(field, "%q is not an NTP server: give a host name such as pool.ntp.org or an address such as 10.1.0.1", clip(s))
		}
		for _, prev := range out[:len(out)-1] {
			if prev == out[len(out)-1] {
				return nil, fault.FieldInvalid(field, "NTP server %q is given twice", out[len(out)-1])
			}
		}
	}
	return out, nil
}

// hostName reports whether s is a DNS host name (RFC 1123 labels).
func hostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > MaxHostName {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// An all-digit last label is an address typed wrong (10.1.0.256), not a name.
	last := s[strings.LastIndexByte(s, '.')+1:]
	return strings.Trim(last, "0123456789") != ""
}

// CheckTimeZone returns the IANA zone name as given when it names a zone
// (the zone rules are inside the binary: time/tzdata); "" is left as it is.
func CheckTimeZone(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil
	}
	if _, err := provisioning.LoadZone(name, time.Now().Year()); err != nil {
		return "", fault.FieldInvalid(field, "%q is not a time zone: give an IANA name such as UTC, Europe/Stockholm or America/New_York", clip(name))
	}
	return name, nil
}

// CheckLanguage returns the BCP 47 tag in its canonical spelling ("sv-se"
// becomes "sv-SE"); "" is left as it is.
func CheckLanguage(field, tag string) (string, error) {
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return "", nil
	}
	t, err := language.Parse(tag)
	if err != nil || t == language.Und || len(tag) > 35 {
		return "", fault.FieldInvalid(field, "%q is not a language tag: give a BCP 47 tag such as en-US, de-DE or sv-SE", clip(tag))
	}
	return t.String(), nil
}

// CheckAdminPassword checks the phones' local admin password: 1 to 64
// printable ASCII characters, which every family's web UI and keypad take.
func CheckAdminPassword(pw string) error {
	if pw == "" {
		return fault.FieldInvalid("adminPassword", "adminPassword is empty: give a password, or removeAdminPassword to leave the phones' own")
	}
	if len(pw) > MaxAdminPassword {
		return fault.FieldInvalid("adminPassword", "adminPassword takes at most %d characters", MaxAdminPassword)
	}
	for i := 0; i < len(pw); i++ {
		if pw[i] < 0x21 || pw[i] > 0x7e {
			return fault.FieldInvalid("adminPassword", "adminPassword takes printable ASCII characters without spaces (phones' keypads and web pages take nothing else)")
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	if !textfield.Valid(s) {
		return strings.ToValidUTF8(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return '?'
			}
			return r
		}, s), "?")
	}
	return s
}

func itoa(n int) string {
	if n == 32 {
		return "32"
	}
	return "128"
}
