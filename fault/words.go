package fault

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// A fault's message is read through three faces — the REST API, the CLI
// and the console — and each names inputs and actions in its own words:
// the API says "emergencyAddressId" and "POST /api/v1/emergencyaddresses",
// the CLI "--address" and "deskprov address create", the console the
// button on the page. So a domain error names no face's words: it carries
// the facts (the field at fault, the actions that would fix it) and a
// message template with placeholders, and each face renders it.
//
// Placeholders in a template:
//
//	{field}       the input at fault (Error.Field)
//	{field:NAME}  another input, by its API field name
//	{set:NAME}    turning the boolean option NAME on
//	{fix} {fix2}  the first, second … of Error.Fixes
//	{{            a literal "{"

// Fix is an action that would clear the error, named by a code every face
// knows ("address.create", "number.release") and the values it needs
// ({"number": "+6491234567"}).
type Fix struct {
	Action string            `json:"action"`
	Args   map[string]string `json:"args,omitempty"`
}

// Words is one face's vocabulary.
type Words interface {
	// Field names an input (given by its API field name).
	Field(name string) string
	// Set says how to turn the boolean option name on.
	Set(name string) string
	// Fix says how to do the action.
	Fix(f Fix) string
}

// Hintf builds an error whose message is a template (see the package
// comment): Message holds it rendered in neutral words, for logs and for
// callers that render nothing. String arguments are escaped, so that text
// a person typed (a name holding "{fix}") is never read as a placeholder.
func Hintf(kind Kind, format string, args ...any) *Error {
	esc := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case fmt.Stringer:
			esc[i] = strings.ReplaceAll(v.String(), "{", "{{")
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				esc[i] = strings.ReplaceAll(rv.String(), "{", "{{")
			} else {
				esc[i] = a
			}
		}
	}
	e := &Error{Kind: kind, Template: fmt.Sprintf(format, esc...)}
	e.Message = e.In(Neutral)
	return e
}

// On names the input at fault.
func (e *Error) On(field string) *Error {
	e.Field = field
	return e.rerender()
}

// WithFix adds an action that would clear the error; args are name, value
// pairs.
func (e *Error) WithFix(action string, args ...string) *Error {
	f := Fix{Action: action}
	for i := 0; i+1 < len(args); i += 2 {
		if f.Args == nil {
			f.Args = map[string]string{}
		}
		f.Args[args[i]] = args[i+1]
	}
	e.Fixes = append(e.Fixes, f)
	return e.rerender()
}

func (e *Error) rerender() *Error {
	if e.Template != "" {
		e.Message = e.In(Neutral)
	}
	return e
}

// In renders the message in a face's words; an error built without a
// template is its Message as it is.
func (e *Error) In(w Words) string {
	if e.Template == "" {
		return e.Message
	}
	return Render(e.Template, e.Field, e.Fixes, w)
}

// Render fills a template's placeholders in w's words. A placeholder it
// does not know, or a fix the error does not carry, is left as written.
func Render(tmpl, field string, fixes []Fix, w Words) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(tmpl) && tmpl[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(tmpl[i:], '}')
		if end < 0 {
			b.WriteString(tmpl[i:])
			break
		}
		tok := tmpl[i+1 : i+end]
		if s, ok := renderToken(tok, field, fixes, w); ok {
			b.WriteString(s)
		} else {
			b.WriteString(tmpl[i : i+end+1])
		}
		i += end
	}
	return b.String()
}

func renderToken(tok, field string, fixes []Fix, w Words) (string, bool) {
	name, arg, _ := strings.Cut(tok, ":")
	switch name {
	case "field":
		if arg != "" {
			return w.Field(arg), true
		}
		if field == "" {
			return "", false
		}
		return w.Field(field), true
	case "set":
		if arg == "" {
			return "", false
		}
		return w.Set(arg), true
	}
	if rest, ok := strings.CutPrefix(name, "fix"); ok && arg == "" {
		n := 1
		if rest != "" {
			if _, err := fmt.Sscanf(rest, "%d", &n); err != nil || fmt.Sprint(n) != rest {
				return "", false
			}
		}
		if n < 1 || n > len(fixes) {
			return "", false
		}
		return w.Fix(fixes[n-1]), true
	}
	return "", false
}

// Neutral is the vocabulary of no face, for logs: inputs by their field
// names, actions by their codes and values.
var Neutral Words = neutralWords{}

type neutralWords struct{}

func (neutralWords) Field(name string) string { return name }
func (neutralWords) Set(name string) string   { return name + " on" }
func (neutralWords) Fix(f Fix) string {
	s := f.Action
	for _, k := range slices.Sorted(maps.Keys(f.Args)) {
		s += " " + f.Args[k]
	}
	return s
}

// Phrase fills a face's pattern for a fix: "{number}" becomes the fix's
// number argument, and a part in square brackets is said only when the fix
// carries every argument it names ("move N[ --address {address}]"). It is
// how the faces keep their vocabularies as tables.
func Phrase(pattern string, f Fix) string {
	var b strings.Builder
	for pattern != "" {
		open := strings.IndexByte(pattern, '[')
		if open < 0 {
			b.WriteString(fill(pattern, f, nil))
			break
		}
		b.WriteString(fill(pattern[:open], f, nil))
		end := strings.IndexByte(pattern[open:], ']')
		if end < 0 {
			b.WriteString(fill(pattern[open:], f, nil))
			break
		}
		missing := false
		part := fill(pattern[open+1:open+end], f, &missing)
		if !missing {
			b.WriteString(part)
		}
		pattern = pattern[open+end+1:]
	}
	return b.String()
}

// fill puts the fix's arguments in for "{name}"; a name the fix lacks is
// left as written, and reported through missing when that is not nil.
func fill(s string, f Fix, missing *bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '{' {
			if end := strings.IndexByte(s[i:], '}'); end > 0 {
				if v, ok := f.Args[s[i+1:i+end]]; ok {
					b.WriteString(v)
					i += end
					continue
				}
				if missing != nil {
					*missing = true
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
