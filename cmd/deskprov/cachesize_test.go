package main

import "testing"

func TestParseCacheSize(t *testing.T) {
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "512M": 512 << 20, "100MB": 100e6, "16777216": 16 << 20, " 2 GiB ": 2 << 30} {
		if got, err := parseCacheSize(in); err != nil || got != want {
			t.Errorf("parseCacheSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1GiB", "1MiB", "65GiB", "1.5GiB", "99999999999999999GiB"} {
		if _, err := parseCacheSize(in); err == nil {
			t.Errorf("parseCacheSize(%q) was accepted", in)
		}
	}
	for _, cached := range []bool{true, false} {
		prov, rows, polls := cacheShares(1000, cached)
		if prov+rows+polls != 1000 || (rows == 0) == cached {
			t.Fatalf("shares %d+%d+%d (enrolments cached: %v)", prov, rows, polls, cached)
		}
	}
}
