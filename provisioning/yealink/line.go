package yealink

import (
	"strconv"
	"strings"
)

// Line is a Yealink firmware line, read from the second number of the
// version a phone reports ("28.83.0.120" is line 83 of model code 28), and
// whether its files name parameters with the "static." prefix.
type Line struct {
	// First and Last bound the second version number of the line.
	First, Last int
	Name        string
	Static      bool
	Ref         string
}

// Lines is the one table that decides the prefix. Open-SIP firmware counts
// its lines 70–87; the Skype for Business edition numbers its builds
// x.9.y.z (T46S 66.9.0.63, T58 58.9.0.20), which a plain "below 81 is
// legacy" test took for v7x.
var Lines = []Line{
	{First: 9, Last: 9, Name: "Skype for Business edition", Static: true,
		Ref: "no public document names this line's parameters (VENDORS.md, Yealink prefix); its builds postdate the v81 change, so they get the current static. names"},
	{First: 70, Last: 80, Name: "v7x/v80 open SIP", Static: false,
		Ref: "wazo-platform/wazo-provd-plugins plugins/wazo_yealink/v73/templates/base.tpl and v80/templates/base.tpl (auto_provision.*, firmware.url, security.user_password without static.)"},
	{First: 81, Last: 99, Name: "v81 and later open SIP", Static: true,
		Ref: "wazo-platform/wazo-provd-plugins plugins/wazo_yealink/v81/templates/base.tpl to v87/templates/base.tpl (static.auto_provision.*, static.firmware.url, static.security.user_password)"},
}

// LineOf finds the firmware line of a version; ok is false for a version
// no line covers (then the current, static. names are used: a phone too
// old to know them is not one deskprov can serve anyway).
func LineOf(version string) (Line, bool) {
	parts := strings.Split(strings.TrimSpace(version), ".")
	if len(parts) < 2 {
		return Line{}, false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		return Line{}, false
	}
	for _, l := range Lines {
		if n >= l.First && n <= l.Last {
			return l, true
		}
	}
	return Line{}, false
}

// static reports whether a phone on version reads the static. names.
func static(version string) bool {
	l, ok := LineOf(version)
	return !ok || l.Static
}
