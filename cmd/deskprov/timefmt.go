package main

import "time"

// tableLayout is how tables and sentences show a time: local, to the
// minute, as people read a clock. JSON output keeps the API's RFC 3339.
const tableLayout = "2006-01-02 15:04"

// tableZone is the zone tables show: the machine's (time.Local) unless a
// test sets another.
var tableZone *time.Location

// tableTime shows t in tableLayout; the zero time is "-".
func tableTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	zone := tableZone
	if zone == nil {
		zone = time.Local
	}
	return t.In(zone).Format(tableLayout)
}

// tableTimeText shows an RFC 3339 time the API gave as text in tableLayout;
// "" is "-", and text that is not a time is shown as it came.
func tableTimeText(s string) string {
	if s == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return tableTime(t)
}

// cliTime is tableTime for a time that may be absent.
func cliTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return tableTime(*t)
}
