// Package policytest holds test helpers shared by the surfaces of the IP
// phone policy (API, console, CLI).
package policytest

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/policy"
)

// Box is the key tests seal policy secrets with: the same for every service
// a test builds on one store, as serve's key is.
func Box(t testing.TB) *sealbox.Box {
	t.Helper()
	b, err := sealbox.New(bytes.Repeat([]byte{0x5a}, sealbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OtherValue is a valid value for f, in its text form, that differs from
// the default: setting every field to it shows that a surface carries every
// setting through to the store. A secret's value starts with "s3cret", so a
// test can look for it where it must not show.
func OtherValue(t testing.TB, f policy.Field) string {
	t.Helper()
	def := policy.Defaults()
	switch f.Kind {
	case policy.Bool:
		return strconv.FormatBool(!f.Value(def).(bool))
	case policy.Int:
		n := f.Value(def).(int) + 1
		if f.Max > 0 && n > f.Max {
			n = f.Min
		}
		return strconv.Itoa(n)
	case policy.Enum:
		for _, a := range f.Allowed {
			if a != f.Text(def) {
				return a
			}
		}
	case policy.Duration:
		return "00:05:30"
	case policy.Secret:
		return "s3cret-" + f.Name
	case policy.Text:
		if f.Name == "PrioritizedCodecsList" {
			return "PCMU;G722_8000"
		}
		return "prov-" + strings.ToLower(f.Name)
	}
	t.Fatalf("no other value for %s (%s)", f.Name, f.Kind)
	return ""
}
