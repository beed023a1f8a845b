package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTableTimesAreLocalToTheMinute(t *testing.T) {
	defer func() { tableZone = nil }()
	tableZone = time.FixedZone("CET", 3600)
	for in, want := range map[string]string{
		"2026-12-01T16:55:00Z":                "2026-12-01 17:55",
		"2026-12-01T16:55:42.123456789+00:00": "2026-12-01 17:55",
		"2026-12-01T22:30:00-05:00":           "2026-12-02 04:30",
		"":                                    "-",
		"soon":                                "soon",
	} {
		if got := tableTimeText(in); got != want {
			t.Errorf("tableTimeText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cliTime(nil); got != "-" {
		t.Errorf("cliTime(nil) = %q", got)
	}
}

// TestTablesSpeakAsPeopleRead (issue 18 item 8): the firmware audit table
// shows local times to the minute and names versions, not image ids, while
// its JSON keeps RFC 3339 and the ids; a new policy's version is explained.
func TestTablesSpeakAsPeopleRead(t *testing.T) {
	defer func() { tableZone = nil }()
	tableZone = time.FixedZone("IST", 5*3600+1800) // half an hour off, so a UTC time cannot pass for it
	serveLoggedIn(t, "")
	img := filepath.Join(t.TempDir(), "T46-28.83.0.120.rom")
	if err := os.WriteFile(img, []byte(strings.Repeat("yealink 28.83.0.120 ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"firmware", "import", img}, {"firmware", "approve", "1"}} {
		if out, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %s %v", args, out, err)
		}
	}
	raw, err := runCLI(t, "firmware", "audit", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct{ At, Action, Target, Detail string }
	if err := json.Unmarshal([]byte(raw), &entries); err != nil || len(entries) < 2 {
		t.Fatalf("%v %s", err, raw)
	}
	at, err := time.Parse(time.RFC3339Nano, entries[0].At)
	if err != nil {
		t.Fatalf("JSON keeps RFC 3339: %v", err)
	}
	sha := entries[len(entries)-1].Target
	if entries[len(entries)-1].Action != "import" || len(sha) != 64 || !strings.Contains(entries[0].Detail, sha[:12]) {
		t.Fatalf("the API's audit names image ids: %+v", entries)
	}
	out, err := runCLI(t, "firmware", "audit")
	if err != nil {
		t.Fatal(err)
	}
	local := at.In(tableZone).Format("2006-01-02 15:04")
	if !strings.Contains(out, local) || strings.Contains(out, sha[:12]) || regexp.MustCompile(`\d{4}-\d\d-\d\dT`).MatchString(out) ||
		!strings.Contains(out, "image 28.83.0.120") || !strings.Contains(out, "none→28.83.0.120") {
		t.Fatalf("the audit table should show %s and versions, not ids:\n%s", local, out)
	}
	out, err = runCLI(t, "policy", "new", "Sales")
	if err != nil || !regexp.MustCompile(`Version \d+ counts edits over all policies`).MatchString(out) {
		t.Fatalf("a new policy's version is not explained: %s %v", out, err)
	}
}
