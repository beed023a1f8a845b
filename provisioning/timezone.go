package provisioning

import (
	"time"
	_ "time/tzdata" // zone rules inside the binary: no zoneinfo on minimal hosts

	"github.com/deskprov/deskprov/fault"
)

// Zone is what phones that do not know IANA zone names need of one: the
// standard offset from UTC and, where the zone keeps daylight saving time
// in the given year, when it starts and ends (local wall-clock times) and
// the offset during it.
type Zone struct {
	Name string
	// StdOffset is the standard (winter) offset from UTC in seconds.
	StdOffset int
	// DST is false when the zone has no daylight saving time that year.
	DST bool
	// DSTOffset is the offset from UTC in seconds during daylight saving.
	DSTOffset int
	// Start and End are the local wall-clock times of the two changes in
	// the year (for the southern hemisphere End comes before Start).
	Start, End time.Time
}

// LoadZone reads an IANA zone name (time/tzdata is embedded in the binary,
// so no system zoneinfo is needed) and works out its rules for year.
func LoadZone(name string, year int) (Zone, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return Zone{}, fault.FieldInvalid("timeZone", "%q is not a time zone: give an IANA name such as UTC, Europe/Stockholm or America/New_York", clip(name))
	}
	z := Zone{Name: name}
	// Sample the year hour by hour is too slow for every render; the offset
	// changes at most twice a year, so find changes between month starts and
	// narrow each down by bisection.
	start := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	_, jan := start.Zone()
	_, jul := time.Date(year, 7, 1, 0, 0, 0, 0, loc).Zone()
	z.StdOffset = min(jan, jul)
	if jan == jul {
		return z, nil
	}
	z.DST, z.DSTOffset = true, max(jan, jul)
	prev := start
	for m := 2; m <= 13; m++ {
		next := time.Date(year, time.Month(m), 1, 0, 0, 0, 0, loc)
		_, a := prev.Zone()
		_, b := next.Zone()
		if a != b {
			lo, hi := prev.Unix(), next.Unix()
			for hi-lo > 1 {
				mid := (lo + hi) / 2
				if _, o := time.Unix(mid, 0).In(loc).Zone(); o == a {
					lo = mid
				} else {
					hi = mid
				}
			}
			// The wall-clock time just before the change, in the offset
			// that was in force (the way vendors write "02:00 last Sunday").
			change := time.Unix(hi, 0).UTC().Add(time.Duration(a) * time.Second)
			if b > a {
				z.Start = change
			} else {
				z.End = change
			}
		}
		prev = next
	}
	return z, nil
}
