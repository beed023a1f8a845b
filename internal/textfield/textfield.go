// Package textfield is the one rule for free text that admins and phones
// give deskprov (names, addresses, notes, reasons, policy texts): valid
// UTF-8, no NUL or other control characters (a newline only where a field
// holds several lines), and a length limit in characters that is never more
// than the column holds. The domain packages check their fields with it, so
// the REST API, the CLI and the console refuse the same values with the
// same message, and both stores see only text they accept (PostgreSQL
// refuses NUL and invalid UTF-8 outright, SQLite stores them).
package textfield

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/deskprov/deskprov/fault"
)

// Line checks a one-line field of at most max characters.
func Line(field, v string, max int) error { return check(field, v, max, false) }

// Lines checks a field that may hold several lines (line feeds, CR LF pairs
// and tabs are allowed) of at most max characters in all.
func Lines(field, v string, max int) error { return check(field, v, max, true) }

// Valid reports whether v could be a one-line value at all: lookups by a
// name (a path segment, a form field) use it to answer "no such thing"
// without asking the store about text it cannot hold.
func Valid(v string) bool { return check("", v, len(v)+1, false) == nil }

func check(field, v string, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return fault.FieldInvalid(field, "%s is not valid UTF-8 text", field)
	}
	n := 0
	for i, r := range v {
		n++
		if n > max {
			return fault.FieldInvalid(field, "%s takes at most %d characters; this one has %d", field, max, utf8.RuneCountInString(v))
		}
		switch {
		case multiline && (r == '\n' || r == '\t'):
		case multiline && r == '\r' && i+1 < len(v) && v[i+1] == '\n':
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			what := "a control character"
			switch r {
			case 0:
				what = "a NUL character"
			case '\r', '\n', '\u2028', '\u2029':
				what = "a line break"
			}
			if !multiline && (r == '\r' || r == '\n') {
				return fault.FieldInvalid(field, "%s holds %s (%U at character %d): line breaks are not allowed, it is one line of text", field, what, r, n)
			}
			return fault.FieldInvalid(field, "%s holds %s (%U at character %d): use printable text", field, what, r, n)
		}
	}
	return nil
}

// Count checks a whole number that an admin or a phone gives: from min to
// max, so that no sum or product of counts can overflow.
func Count(field string, v, min, max int64) error {
	if v < min || v > max {
		return fault.FieldInvalid(field, "%s must be from %s to %s, not %d", field, group(min), group(max), v)
	}
	return nil
}

// group writes n with thousands separators, as people read limits.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// Clip shortens s to n bytes with an ellipsis, so that an error message
// quoting what was sent stays short whatever was sent.
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
