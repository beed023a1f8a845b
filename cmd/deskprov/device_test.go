package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/provisioning"
)

func TestDeviceCLI(t *testing.T) {
	base := serveLoggedIn(t, "")
	phone := phoneclient.New(nil, "FileTransport PolycomVVX-VVX_500-UA/5.4.2.1 Type/Application")
	for _, step := range []struct {
		method, name string
		status       int
	}{
		{"PUT", "0004f2a1b2c3-boot.log", 401}, // before it holds credentials
		{"GET", "0004f2a1b2c3.cfg", 200},
		{"GET", "deskprov-0004f2a1b2c3.cfg", 200}, // issues them
		{"GET", "0004f2a1b2c3-license.cfg", 404},
		{"PUT", "0004f2a1b2c3-boot.log", 201},
	} {
		status, _, _, err := phone.Do(context.Background(), step.method, base+"/prov/"+step.name, []byte("boot log\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != step.status {
			t.Fatalf("%s %s: %d, want %d", step.method, step.name, status, step.status)
		}
	}
	run := func(name, want string, args ...string) string {
		t.Helper()
		out, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("%s: deskprov %s printed %q, err %v; want %q", name, strings.Join(args, " "), out, err, want)
		}
		return out
	}
	run("the list shows the phone", "VVX500", "device", "list", "--vendor", "polycom", "--seen-since", "1h")
	if out, _ := runCLI(t, "device", "list", "--vendor", "yealink"); strings.Contains(out, "0004f2a1b2c3") {
		t.Fatalf("the vendor filter let a Polycom through: %q", out)
	}
	if out, _ := runCLI(t, "device", "list", "--seen-since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); strings.Contains(out, "0004f2a1b2c3") {
		t.Fatalf("--seen-since in the future still listed the phone: %q", out)
	}
	run("show takes any MAC spelling", "deskprov-0004f2a1b2c3.cfg", "device", "show", "00-04-F2-A1-B2-C3")
	run("preview lists the files", "deskprov-0004f2a1b2c3.cfg", "device", "preview", "0004f2a1b2c3")
	run("preview prints a file with the 5.4 upgrade soft key", `lync.deviceUpdate.popUpSK.enabled="1"`, "device", "preview", "0004f2a1b2c3", "deskprov-0004f2a1b2c3.cfg")
	run("an unseen phone previews with --vendor", "#!version:1.0.0.1", "device", "preview", "001565000001", "001565000001.cfg", "--vendor", "yealink", "--model", "T46G", "--firmware", "28.83.0.120")
	run("uploads are listed", "0004f2a1b2c3-boot.log", "device", "uploads", "0004f2a1b2c3")
	run("an upload prints", "boot log", "device", "uploads", "0004f2a1b2c3", "0004f2a1b2c3-boot.log")
	run("--search finds a MAC in any spelling", "VVX500", "device", "list", "--search", "00:04:F2:A1")
	run("--enrolment keeps the phones in that state", "VVX500", "device", "list", "--enrolment", "enrolled")
	for _, args := range [][]string{{"--search", "T58"}, {"--enrolment", "revoked"}, {"--enrolment", "none"}} {
		if out, _ := runCLI(t, append([]string{"device", "list"}, args...)...); strings.Contains(out, "0004f2a1b2c3") {
			t.Fatalf("device list %v listed the phone: %q", args, out)
		}
	}
	if out, err := runCLI(t, "device", "list", "--enrolment", "lost"); err == nil || !strings.Contains(err.Error(), "enrolment state") {
		t.Fatalf("an unknown enrolment state: %q %v", out, err)
	}
	// The phone fetched its files but no firmware: firmware says so (the
	// web tests show a phone's history).
	if out, err := runCLI(t, "device", "firmware", "00:04:f2:a1:b2:c3"); err == nil || !strings.Contains(err.Error(), "has not asked for firmware yet (HTTP 404)") {
		t.Fatalf("device firmware: %q %v", out, err)
	}
	if out, err := runCLI(t, "device", "show", "not-a-mac"); err == nil || !strings.Contains(err.Error(), "MAC") {
		t.Fatalf("a malformed MAC: %q %v", out, err)
	}
}

// TestDeviceListCLIReadsEveryPage: the server answers the device list a page
// (at most provisioning.MaxDevicePage records) at a time; `deskprov device
// list` follows the pages and lists every phone, each once. A CLI that read
// one answer would list 1000 of these 1005 phones.
func TestDeviceListCLIReadsEveryPage(t *testing.T) {
	base := serveLoggedIn(t, "")
	const phones = provisioning.MaxDevicePage + 5
	for i := 0; i < phones; i++ {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/prov/00908F%06X.cfg", base, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		// AudioCodes phones are given no credentials by default: one
		// request records a phone.
		req.Header.Set("User-Agent", "AUDC/3.4.6.604 AUDC-IPPhone-C450HD_UC_3.4.6.604/1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("phone %d: %d", i, resp.StatusCode)
		}
	}
	out, err := runCLI(t, "device", "list", "--vendor", "audiocodes", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var ds []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("%v: %.200s", err, out)
	}
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.ID] {
			t.Fatalf("%s listed twice", d.ID)
		}
		seen[d.ID] = true
	}
	if len(seen) != phones {
		t.Fatalf("device list printed %d phones of %d", len(seen), phones)
	}
}
