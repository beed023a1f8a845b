package provisioning_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
)

func TestParsePhoneCredentials(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{"polycom", "yealink"}},
		{"  ", []string{"polycom", "yealink"}},
		{"polycom,yealink", []string{"polycom", "yealink"}},
		{"Polycom, YEALINK ,audiocodes", []string{"polycom", "yealink", "audiocodes"}},
		{"audiocodes,audiocodes", []string{"audiocodes"}},
		{"yealink,", []string{"yealink"}},
		{"none", []string{}},
		{"NONE", []string{}},
	} {
		got, err := provisioning.ParsePhoneCredentials(tc.in)
		if err != nil || !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"polycom,cisco":   `unknown phone family "cisco"`,
		"lpe":             "Lync Phone Edition takes no provisioning credentials",
		"none,polycom":    `"none" cannot be combined`,
		",":               "no family given",
		"all":             `unknown phone family "all"`,
		"polycom;yealink": "unknown phone family",
	} {
		_, err := provisioning.ParsePhoneCredentials(in)
		if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an invalid-input error saying %q", in, err, want)
		}
	}
}
