package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
)

// Kind is the type of one setting, which decides how it is validated and how
// the CLI and the console ask for it.
type Kind string

const (
	Bool     Kind = "bool"
	Int      Kind = "int"
	Enum     Kind = "enum"
	Duration Kind = "duration" // hh:mm:ss
	Text     Kind = "text"
	Secret   Kind = "secret"
)

// Field describes one setting. The API, the CLI flags and the console form
// are all built from Fields(), so they cannot disagree about a setting.
type Field struct {
	Name    string
	Kind    Kind
	Allowed []string // Enum values
	Min     int      // Int lower bound
	Max     int      // Int upper bound; 0 means none
	Help    string
	index   int
}

// Maximum lengths of free-text settings.
const (
	maxText   = 256
	maxCodecs = 512
)

var fields = []Field{
	{Name: "EnableDeviceUpdate", Kind: Bool, Help: "phones get firmware updates from this service"},
	{Name: "EnableBetterTogetherOverEthernet", Kind: Bool, Help: "Better Together over Ethernet (BToE) is allowed"},
	{Name: "BetterTogetherOverEthernetPairingMode", Kind: Enum, Allowed: []string{"Auto", "Manual"}, Help: "how a phone pairs with the PC app"},
	{Name: "EnablePhoneLock", Kind: Bool, Help: "phone lock is on"},
	{Name: "PhoneLockTimeout", Kind: Duration, Help: "idle time before the phone locks"},
	{Name: "AllowCallsWhenLocked", Kind: Bool, Help: "calls beyond emergency calls are allowed while locked"},
	{Name: "MinPhonePinLength", Kind: Int, Min: 6, Max: 15, Help: "shortest phone lock PIN accepted, in digits"},
	{Name: "KeyboardLockMaxPinRetry", Kind: Int, Min: 1, Max: 100, Help: "wrong PINs before sign-out or the admin code"},
	{Name: "UserDialTimeoutMS", Kind: Int, Min: 1, Max: 600000, Help: "on-hook dial timeout in milliseconds"},
	{Name: "PrioritizedCodecsList", Kind: Text, Help: "codecs in order of preference, separated by semicolons"},
	{Name: "EnablePowerSaveMode", Kind: Bool, Help: "the display saves power when idle"},
	{Name: "PowerSaveDuringOfficeHoursTimeoutMS", Kind: Int, Min: 1, Max: 86400000, Help: "idle time before power save during office hours, in milliseconds"},
	{Name: "PowerSavePostOfficeHoursTimeoutMS", Kind: Int, Min: 1, Max: 86400000, Help: "idle time before power save after office hours, in milliseconds"},
	{Name: "EnableOneTouchVoicemail", Kind: Bool, Help: "visual voicemail on the phone"},
	{Name: "DateTimeFormat", Kind: Enum, Allowed: []string{"12", "24"}, Help: "12- or 24-hour clock"},
	{Name: "EnableExchangeCalendaring", Kind: Bool, Help: "the Exchange calendar on the phone"},
	{Name: "LocalProvisioningServerAddress", Kind: Text, Help: "your own provisioning server (host or URL), empty for none"},
	{Name: "LocalProvisioningServerUser", Kind: Text, Help: "user name on your provisioning server"},
	{Name: "LocalProvisioningServerPassword", Kind: Secret, Help: "password on your provisioning server"},
	{Name: "LocalProvisioningServerType", Kind: Enum, Allowed: []string{"FTP", "HTTP", "HTTPS"}, Help: "protocol of your provisioning server"},
	{Name: "SignInMode", Kind: Enum, Allowed: []string{"UserSignIn", "CommonAreaPhoneSignIn", "MeetingSignIn"}, Help: "kind of sign-in"},
	{Name: "AllowHomeScreen", Kind: Enum, Allowed: []string{"Enabled", "EnabledUserOverride", "Disabled"}, Help: "the home screen"},
	{Name: "AllowHotDesking", Kind: Bool, Help: "hot desking"},
	{Name: "HotDeskingIdleTimeoutInMinutes", Kind: Int, Min: 1, Max: 720, Help: "idle minutes before a hot-desking user is signed out"},
}

var fieldByKey = map[string]int{}

func init() {
	t := reflect.TypeOf(Settings{})
	byTag := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		byTag[t.Field(i).Tag.Get("json")] = i
	}
	if len(byTag) != len(fields) {
		panic("policy: Settings and fields disagree")
	}
	for i := range fields {
		idx, ok := byTag[fields[i].Name]
		if !ok {
			panic("policy: no Settings field for " + fields[i].Name)
		}
		fields[i].index = idx
		fieldByKey[strings.ToLower(fields[i].Name)] = i
	}
}

// Fields lists every setting in the order admins know them.
func Fields() []Field {
	out := make([]Field, len(fields))
	copy(out, fields)
	return out
}

// FieldNamed finds a setting by name, ignoring case.
func FieldNamed(name string) (Field, bool) {
	i, ok := fieldByKey[strings.ToLower(name)]
	if !ok {
		return Field{}, false
	}
	return fields[i], true
}

// AllowedText describes what the field accepts, for messages and help text.
func (f Field) AllowedText() string {
	switch f.Kind {
	case Bool:
		return "true or false"
	case Int:
		if f.Max > 0 {
			return fmt.Sprintf("a whole number from %d to %d", f.Min, f.Max)
		}
		return fmt.Sprintf("a whole number of at least %d", f.Min)
	case Enum:
		return "one of " + strings.Join(f.Allowed, ", ")
	case Duration:
		return "a time hh:mm:ss from 00:00:01 to 00:59:59"
	case Secret, Text:
		return fmt.Sprintf("text of at most %d characters", f.maxLen())
	}
	return ""
}

func (f Field) maxLen() int {
	if f.Name == "PrioritizedCodecsList" {
		return maxCodecs
	}
	return maxText
}

// Value returns the field's value in s (bool, int or string).
func (f Field) Value(s Settings) any {
	return reflect.ValueOf(s).Field(f.index).Interface()
}

// Text renders the field's value in s the way the CLI and the form show it.
func (f Field) Text(s Settings) string {
	switch v := f.Value(s).(type) {
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case string:
		return v
	}
	return ""
}

func (f Field) invalid(format string, args ...any) *fault.Error {
	return fault.FieldInvalid(f.Name, "%s: %s", f.Name, fmt.Sprintf(format, args...))
}

// set decodes raw JSON into the field of s and checks the field's rule.
func (f Field) set(s *Settings, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return f.invalid("null is not allowed; give %s", f.AllowedText())
	}
	v := reflect.ValueOf(s).Elem().Field(f.index)
	switch f.Kind {
	case Bool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return f.invalid("%s is not allowed; give true or false", raw)
		}
		v.SetBool(b)
	case Int:
		if raw[0] == '"' {
			return f.invalid("%s is not allowed; give %s (a JSON number, not a string)", raw, f.AllowedText())
		}
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil {
			return f.invalid("%s is not allowed; give %s", raw, f.AllowedText())
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return f.invalid("%s is not allowed; give %s", raw, f.AllowedText())
		}
		v.SetInt(i)
	default:
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return f.invalid("%s is not allowed; give %s as a JSON string", raw, f.AllowedText())
		}
		if f.Name == "PrioritizedCodecsList" {
			// Stored in the policy's own spelling, so every face and every
			// family reads one name per codec.
			if err := f.check(Settings{PrioritizedCodecsList: str}); err != nil {
				return err
			}
			str = strings.Join(CodecList(str), ";")
		}
		v.SetString(str)
	}
	return f.check(*s)
}

var (
	hhmmss    = regexp.MustCompile(`^([0-9]{2}):([0-9]{2}):([0-9]{2})$`)
	codecItem = regexp.MustCompile(`^[A-Za-z0-9_.\-/]+$`)
)

// check applies the field's rule to its value in s.
func (f Field) check(s Settings) error {
	switch v := f.Value(s).(type) {
	case int:
		if v < f.Min || (f.Max > 0 && v > f.Max) {
			return f.invalid("%d is not allowed; give %s", v, f.AllowedText())
		}
	case string:
		switch f.Kind {
		case Enum:
			for _, a := range f.Allowed {
				if v == a {
					return nil
				}
			}
			return f.invalid("%q is not allowed; give %s", v, f.AllowedText())
		case Duration:
			m := hhmmss.FindStringSubmatch(v)
			if m == nil {
				return f.invalid("%q is not allowed; give %s, for example 00:10:00", v, f.AllowedText())
			}
			h, _ := strconv.Atoi(m[1])
			mi, _ := strconv.Atoi(m[2])
			se, _ := strconv.Atoi(m[3])
			if mi > 59 || se > 59 {
				return f.invalid("%q is not a time; minutes and seconds go up to 59", v)
			}
			if h > 0 {
				return f.invalid("%q is not allowed: the timeout must be under 01:00:00", v)
			}
			if mi == 0 && se == 0 {
				return f.invalid("%q is not allowed: the timeout must be at least 00:00:01", v)
			}
		default:
			if err := textfield.Line(f.Name, v, f.maxLen()); err != nil {
				return err
			}
			if f.Name == "PrioritizedCodecsList" {
				if strings.TrimSpace(v) == "" {
					return f.invalid("give at least one codec, for example G722_8000;PCMU;PCMA;G729")
				}
				for _, c := range strings.Split(v, ";") {
					if !codecItem.MatchString(strings.TrimSpace(c)) {
						return f.invalid("%q is not a codec name; separate codecs with semicolons, for example G722_8000;PCMU;PCMA;G729", c)
					}
					if _, ok := CanonicalCodec(c); !ok {
						return f.invalid("%q is not a codec the phones support; use %s (G722, G711U/G711A and G.729 spellings are accepted)", strings.TrimSpace(c), codecNames())
					}
				}
			}
		}
	}
	return nil
}

// ParseText turns the text form of a value (a CLI flag, a form field) into
// JSON for the field: "true"/"false" for bools, digits for numbers. A value
// that is no bool or number is a 400 naming the field.
func ParseText(name, text string) (json.RawMessage, error) {
	f, ok := FieldNamed(name)
	if !ok {
		return nil, unknownField(name)
	}
	switch f.Kind {
	case Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, f.invalid("%q is not allowed; give true or false", text)
		}
		return json.RawMessage(strconv.FormatBool(b)), nil
	case Int:
		i, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return nil, f.invalid("%q is not allowed; give %s", text, f.AllowedText())
		}
		return json.RawMessage(strconv.Itoa(i)), nil
	}
	b, _ := json.Marshal(text)
	return b, nil
}

func unknownField(name string) *fault.Error {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return fault.FieldInvalid(name, "unknown field %q; the settings are %s", name, strings.Join(names, ", "))
}

// Validate checks every setting and returns all problems (nil when none).
func (s Settings) Validate() Problems {
	var ps Problems
	for _, f := range fields {
		if err := f.check(s); err != nil {
			fe, _ := fault.As(err)
			ps = append(ps, fe)
		}
	}
	return ps
}

// Problems are every invalid field of one request, so that a form can show
// each message beside its field. The service returns the first as a
// fault.Error wrapping all of them.
type Problems []*fault.Error

func (p Problems) Error() string {
	msgs := make([]string, len(p))
	for i, e := range p {
		msgs[i] = e.Message
	}
	return strings.Join(msgs, "; ")
}

// ByField maps each field name to its message.
func (p Problems) ByField() map[string]string {
	m := make(map[string]string, len(p))
	for _, e := range p {
		if _, ok := m[e.Field]; !ok {
			m[e.Field] = e.Message
		}
	}
	return m
}

func (p Problems) err() error {
	if len(p) == 0 {
		return nil
	}
	first := *p[0]
	return (&first).Wrap(p)
}

// Patch names the settings to change, each with its new value as JSON, keyed
// by Set-CsIPPhonePolicy parameter name. A PATCH changes only these.
type Patch map[string]json.RawMessage

// Apply returns base with the patch applied, or every problem found: an
// unknown name, a value of the wrong type, or a value the rules refuse.
func (p Patch) Apply(base Settings) (Settings, error) {
	var ps Problems
	out := base
	for _, name := range sortedKeys(p) {
		f, ok := FieldNamed(name)
		if !ok || f.Name != name {
			if ok {
				ps = append(ps, fault.FieldInvalid(name, "unknown field %q; did you mean %q?", name, f.Name))
			} else {
				ps = append(ps, unknownField(name))
			}
			continue
		}
		if err := f.set(&out, p[name]); err != nil {
			fe, _ := fault.As(err)
			ps = append(ps, fe)
		}
	}
	if len(ps) > 0 {
		return base, ps.err()
	}
	return out, nil
}

func sortedKeys(p Patch) []string {
	// Settings order first, unknown names after, so messages read in form order.
	var out []string
	seen := map[string]bool{}
	for _, f := range fields {
		if _, ok := p[f.Name]; ok {
			out = append(out, f.Name)
			seen[f.Name] = true
		}
	}
	var rest []string
	for k := range p {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// changes lists the fields whose values differ between a and b.
func changes(a, b Settings) []string {
	var out []string
	for _, f := range fields {
		if f.Value(a) != f.Value(b) {
			out = append(out, f.Name)
		}
	}
	return out
}
