package textfield

import (
	"strings"
	"testing"

	"github.com/deskprov/deskprov/fault"
)

func TestLineAndLines(t *testing.T) {
	for _, tc := range []struct {
		name, v   string
		multiline bool
		ok        bool
		says      string
	}{
		{"plain text passes", "Amos M", false, true, ""},
		{"letters of any script pass", "Å 東京 Ελλά", false, true, ""},
		{"at the limit passes", strings.Repeat("é", 10), false, true, ""},
		{"over the limit is refused by characters", strings.Repeat("é", 11), false, false, "at most 10 characters; this one has 11"},
		{"NUL is refused", "a\x00b", false, false, "NUL"},
		{"NUL is refused in several lines too", "a\x00b", true, false, "NUL"},
		{"LF is refused on one line", "a\nb", false, false, "one line"},
		{"CR is refused on one line", "a\rb", false, false, "one line"},
		{"LF is allowed in several lines", "a\nb", true, true, ""},
		{"CR LF is allowed in several lines", "a\r\nb", true, true, ""},
		{"a lone CR is refused in several lines", "a\rb", true, false, "line break"},
		{"tab is refused on one line", "a\tb", false, false, "control character"},
		{"escape is refused", "a\x1b[31m", true, false, "control character"},
		{"a C1 control is refused", "a\u0085b", false, false, "control character"},
		{"a Unicode line separator is refused", "a\u2028b", false, false, "line break"},
		{"invalid UTF-8 is refused", "a\xffb", false, false, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := Line
			if tc.multiline {
				check = Lines
			}
			err := check("notes", tc.v, 10)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				fe, _ := fault.As(err)
				if fe.Kind != fault.Invalid || fe.Field != "notes" || !strings.Contains(fe.Message, tc.says) {
					t.Fatalf("%+v", fe)
				}
			}
		})
	}
}

func TestCount(t *testing.T) {
	if err := Count("purchased", 1<<63-1, 0, 1_000_000); err == nil || !strings.Contains(err.Error(), "from 0 to 1,000,000") {
		t.Fatalf("%v", err)
	}
	if err := Count("purchased", -1, 0, 10); err == nil {
		t.Fatal("a negative count passed")
	}
	if err := Count("purchased", 10, 0, 10); err != nil {
		t.Fatal(err)
	}
}
