// Package provisioning decides which phone asks for which file and what that
// file says. Each phone family (provisioning/polycom, yealink, audiocodes,
// lpe) implements Family; Service identifies a request, renders the file from
// its inputs (effective IP phone policy, signed-in user, firmware decision,
// server settings), caches it per config generation, and keeps the device
// inventory.
package provisioning

import (
	"context"
	"hash/fnv"
	"strings"
	"time"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
)

// Vendors, as phones name them in OAuth client_ids.
const (
	Polycom    = "polycom"
	Yealink    = "yealink"
	AudioCodes = "audiocodes"
	LPE        = "lpe"
)

// Device is what a request tells about the phone that sent it.
type Device struct {
	Vendor   string `json:"vendor"`
	Model    string `json:"model"`
	MAC      string `json:"mac"`
	Version  string `json:"firmware"`
	Serial   string `json:"serial,omitempty"`
	Revision string `json:"revision,omitempty"`
	Locale   string `json:"locale,omitempty"`
}

// Kind says what deskprov does with a file name.
type Kind int

const (
	// Rendered files are made from templates and inputs.
	Rendered Kind = iota + 1
	// Image names a firmware image, answered by the firmware module.
	Image
	// Upload names a file the phone writes with PUT and may read back.
	Upload
	// Optional names a file the phone tries and deskprov does not provide:
	// a plain 404.
	Optional
)

// Entry is a file name resolved by a family.
type Entry struct {
	Kind Kind
	// Name is the file's name as served, with the MAC in canonical form.
	Name string
	// Template names what to render (Rendered only).
	Template string
	// ContentType of a rendered or uploaded file.
	ContentType string
	// Main marks the phone's main config file: its fetch counts as a poll
	// (firmware.Poll, inventory config version).
	Main bool
	// PerDevice is false for files whose content does not depend on the MAC
	// (Yealink's common file, Polycom's 000000000000.cfg).
	PerDevice bool
	// Credentials marks the per-MAC file that carries the phone's
	// provisioning credentials (Inputs.Credential) when they are issued.
	Credentials bool
	// VaryUserAgent marks a file whose body depends on the User-Agent
	// (model, firmware version, MAC read from it) and not only on its name:
	// the answer says Vary: User-Agent, so no cache between phone and
	// server hands one phone's answer to another.
	VaryUserAgent bool
}

// Step is one request of a boot sequence.
type Step struct {
	Method string
	Name   string
	// Status is what deskprov answers on a fresh server with nobody signed
	// in and no firmware offered, to a phone that answers its 401
	// challenges with the credentials it was issued.
	Status int
	// Unenrolled, when set, is the answer before the phone has been issued
	// its credentials, where it differs: an upload then is refused (401).
	Unenrolled int
}

// Family is one phone family's knowledge.
type Family interface {
	Vendor() string
	// Identify reads the User-Agent; ok is false when it is not this family's.
	Identify(userAgent string) (dev Device, ok bool)
	// Claims reports whether a file name belongs to this family when the
	// User-Agent said nothing (file name shape, MAC vendor prefix).
	Claims(name string) bool
	// Resolve names what name is for dev (which may gain its MAC from the
	// name). Unknown names are a fault.NotFound, malformed MACs fault.Invalid.
	Resolve(method, name string, dev *Device) (Entry, error)
	// Render makes a Rendered entry's body.
	Render(e Entry, in Inputs) ([]byte, error)
	// BootSequence lists what a phone of this family asks for at boot.
	BootSequence(dev Device) []Step
	// Files lists the rendered files an admin can preview for dev.
	Files(dev Device) []string
	// Reference is the family's parameter table and coverage of the policy
	// settings, with their references (docs/provisioning.md is generated
	// from it).
	Reference() Reference
}

// Inputs are everything a rendered file depends on.
type Inputs struct {
	Device   Device
	Policy   policy.Effective
	User     string
	Firmware Decision
	Server   Server
	// Credential is set only when rendering the one answer that issues the
	// phone its provisioning credentials; every other render leaves it nil,
	// so no cached file ever holds a password.
	Credential *Credential
	// Site is the phone's site (chosen by its address), or the server-wide
	// defaults: time, language, local admin password.
	Site Site
	// CACerts are the organisation's trusted CA certificates that phones
	// install for TLS.
	CACerts []CACert
	// Private is set when the file is answered only to the phone that
	// proves itself (its per-MAC credentials file, the family given
	// credentials): the only file that may carry secrets such as
	// Site.AdminPassword.
	Private bool
}

// Site is a named set of settings chosen by the phone's subnet. The
// server-wide defaults (serve flags) apply where no site matches.
type Site struct {
	// Name is "" for the server-wide defaults.
	Name string
	// NTPServers in order of preference; never empty once defaults apply.
	NTPServers []string
	// TimeZone is an IANA zone name ("UTC", "Europe/Stockholm").
	TimeZone string
	// Language is a BCP 47 tag ("en-US", "sv-SE"); "" leaves the phone's own.
	Language string
	// AdminPassword is the phones' local admin password in clear, for
	// per-device files that need the phone's credentials; "" leaves the
	// phone's own.
	AdminPassword string
}

// CACert is a trusted CA certificate phones install.
type CACert struct {
	// Name identifies it to admins.
	Name string
	// PEM is the certificate, PEM encoded.
	PEM string
	// FileName is where phones fetch it under /prov/ for families that take
	// a URL rather than the certificate itself.
	FileName string
}

// Credential is a phone's provisioning user and password in clear, for the
// issuing answer only.
type Credential struct {
	User, Password string
}

// Server are the server-wide settings phones are given.
type Server struct {
	// PublicURL is the base URL phones use, without trailing slash.
	PublicURL string
	// PollInterval is how often phones poll (default one hour).
	PollInterval time.Duration
	// Site holds the server-wide defaults (serve --ntp-server,
	// --time-zone, …) that apply where no site matches.
	Site Site
}

// DefaultNTPServer and DefaultTimeZone apply when serve sets nothing.
const (
	DefaultNTPServer = "pool.ntp.org"
	DefaultTimeZone  = "UTC"
)

// DefaultSite is s.Site with the built-in defaults filled in.
func (s Server) DefaultSite() Site {
	d := s.Site
	if len(d.NTPServers) == 0 {
		d.NTPServers = []string{DefaultNTPServer}
	}
	if d.TimeZone == "" {
		d.TimeZone = DefaultTimeZone
	}
	return d
}

// ProvURL is the /prov/ base URL with its trailing slash.
func (s Server) ProvURL() string { return s.PublicURL + "/prov/" }

// WebSignInURL is the address users open to finish a web sign-in.
func (s Server) WebSignInURL() string { return s.PublicURL + "/devicelogin" }

// Interval is the polling interval, one hour when unset.
func (s Server) Interval() time.Duration {
	if s.PollInterval <= 0 {
		return time.Hour
	}
	return s.PollInterval
}

// PollOffset is a stable per-device delay in [0, interval/10) derived from the
// MAC, so that a building's phones do not all poll in the same second.
func (s Server) PollOffset(mac string) time.Duration {
	span := int64(s.Interval()/10) / int64(time.Second)
	if span <= 0 || mac == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(mac))
	return time.Duration(h.Sum64()%uint64(span)) * time.Second
}

// Decision is firmware's answer for one device (mirrors firmware.Decision).
type Decision struct {
	Offer    bool   `json:"offer"`
	Reason   string `json:"reason,omitempty"`
	Version  string `json:"version,omitempty"`
	FileName string `json:"fileName,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Size     int64  `json:"size,omitempty"`
}

// SignedIn tells who is signed in on a phone ("" for nobody).
type SignedIn interface {
	UserOnDevice(ctx context.Context, mac string) (string, error)
}

// Firmware decides which image a device gets and follows the versions
// devices report.
type Firmware interface {
	Decide(ctx context.Context, dev Device, pol policy.Settings) (Decision, error)
	Poll(ctx context.Context, dev Device) error
}

// GlobalDefaults is the policy used when no policy service is wired: the
// Global policy's defaults, version 0, for everyone.
type GlobalDefaults struct{}

// EffectiveForUser returns policy.Defaults() as Global.
func (GlobalDefaults) EffectiveForUser(context.Context, string) (policy.Effective, error) {
	return policy.Effective{Identity: "Global", Version: 0, Settings: policy.Defaults()}, nil
}

// ParseMAC accepts a MAC in the spellings phones use — 12 hex digits in either
// case, bare or grouped by ':' or '-' in pairs (or '.' in fours) — and returns
// it in canonical form: 12 lower-case hex digits.
func ParseMAC(s string) (string, error) {
	var b [12]byte
	switch len(s) {
	case 12:
		copy(b[:], s)
	case 17:
		sep := s[2]
		if sep != ':' && sep != '-' {
			return "", badMAC(s)
		}
		for i := 0; i < 6; i++ {
			if i < 5 && s[i*3+2] != sep {
				return "", badMAC(s)
			}
			b[i*2], b[i*2+1] = s[i*3], s[i*3+1]
		}
	case 14:
		for i := 0; i < 3; i++ {
			if i < 2 && s[i*5+4] != '.' {
				return "", badMAC(s)
			}
			copy(b[i*4:], s[i*5:i*5+4])
		}
	default:
		return "", badMAC(s)
	}
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + 'a' - 'A'
		default:
			return "", badMAC(s)
		}
	}
	return string(b[:]), nil
}

// badMAC is built only on failure: ParseMAC runs on every phone request.
func badMAC(s string) error {
	return fault.FieldInvalid("mac", "%q is not a MAC address: use 12 hex digits, for example 0004f2a1b2c3 or 00:04:f2:a1:b2:c3", clip(s))
}

// IsMAC reports whether s is a MAC in a spelling ParseMAC accepts.
func IsMAC(s string) bool { _, err := ParseMAC(s); return err == nil }

// CheckName refuses file names that are not one plain path element: phones
// only ever ask for flat names under /prov/, so nothing else can be reached.
func CheckName(name string) error {
	if name == "" || len(name) > 128 {
		return fault.Invalidf("ask for a file name under /prov/ (1 to 128 characters)")
	}
	if name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fault.Invalidf("%q is not a provisioning file name", clip(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '(' || c == ')' || c == ',' || c == ':'
		if !ok {
			return fault.Invalidf("%q is not a provisioning file name: only letters, digits and . - _ ( ) , : are allowed", clip(name))
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// CompareVersions compares dotted numeric versions ("5.4.2" < "5.5.1").
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x = atoi(as[i])
		}
		if i < len(bs) {
			y = atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			break
		}
	}
	return n
}

// NotFound is the answer for a name no family knows.
func NotFound(name string) error {
	return fault.NotFoundf("no provisioning file %q", clip(name))
}
