package phone

import "testing"

func TestProvisioningETagMatch(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{`"a1"`, true},
		{`W/"a1"`, true},
		{`"b2", "a1"`, true},
		{`"b2",W/"a1"`, true},
		{`*`, true},
		{`"b2"`, false},
		{`"a1`, false},
		{`,,`, false},
	} {
		if got := etagMatch(c.header, `"a1"`); got != c.want {
			t.Errorf("If-None-Match %q: %v, want %v", c.header, got, c.want)
		}
	}
}
