package provisioning_test

import (
	"testing"

	"github.com/deskprov/deskprov/provisioning"
)

func TestLoadZoneFindsStandardOffsetAndDaylightSaving(t *testing.T) {
	for _, tc := range []struct {
		name       string
		std, dst   int
		hasDST     bool
		start, end string
	}{
		{"UTC", 0, 0, false, "", ""},
		{"Europe/Stockholm", 3600, 7200, true, "2026-03-29 02:00", "2026-10-25 03:00"},
		{"America/New_York", -5 * 3600, -4 * 3600, true, "2026-03-08 02:00", "2026-11-01 02:00"},
		{"Australia/Sydney", 10 * 3600, 11 * 3600, true, "2026-10-04 02:00", "2026-04-05 03:00"},
		{"Asia/Kolkata", 19800, 0, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, err := provisioning.LoadZone(tc.name, 2026)
			if err != nil {
				t.Fatal(err)
			}
			if z.StdOffset != tc.std || z.DST != tc.hasDST {
				t.Fatalf("got std %d dst %v, want %d %v", z.StdOffset, z.DST, tc.std, tc.hasDST)
			}
			if !tc.hasDST {
				return
			}
			if z.DSTOffset != tc.dst {
				t.Errorf("dst offset %d, want %d", z.DSTOffset, tc.dst)
			}
			if got := z.Start.Format("2006-01-02 15:04"); got != tc.start {
				t.Errorf("start %s, want %s", got, tc.start)
			}
			if got := z.End.Format("2006-01-02 15:04"); got != tc.end {
				t.Errorf("end %s, want %s", got, tc.end)
			}
		})
	}
}

func TestLoadZoneRefusesWhatIsNotAZone(t *testing.T) {
	for _, name := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "UTC+1"} {
		if _, err := provisioning.LoadZone(name, 2026); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}
