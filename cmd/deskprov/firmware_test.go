package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFirmwareCLI(t *testing.T) {
	base := startServe(t)
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	if out, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "admin-password"); err != nil {
		t.Fatalf("login: %s %v", out, err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "3111-44500-001.sip.ld")
	content := strings.Repeat("polycom image ", 20000)
	if err := os.WriteFile(img, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(name string, want string, args ...string) string {
		t.Helper()
		out, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("%s: deskprov %s printed %q, err %v; want %q", name, strings.Join(args, " "), out, err, want)
		}
		return out
	}
	if out, err := runCLI(t, "firmware", "import", img); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("a Polycom import without --version must fail naming it: %q %v", out, err)
	}
	out := run("importing shows a progress bar and the parsed model", "VVX500", "firmware", "import", img, "--version", "5.9.7.4477")
	if !strings.Contains(out, "100%") {
		t.Fatalf("no progress bar in %q", out)
	}
	run("importing again finds the existing entry", "already in the catalog", "firmware", "import", img, "--version", "5.9.7.4477")
	run("the catalog lists it", "3111-44500-001.sip.ld", "firmware", "list")
	run("the rule holds it as pending", "5.9.7.4477", "firmware", "rules")
	run("a test device is listed by MAC", "0004f2aabbcc", "firmware", "testdevice", "add", "--mac", "00:04:F2:AA:BB:CC")
	run("approving with waves starts a rollout", "5.9.7.4477", "firmware", "approve", "1", "--waves", "25,100")
	run("the rollout shows its waves", "100%", "firmware", "rollout", "status", "1")
	run("the rollout list shows it", "VVX500", "firmware", "rollout", "list")
	run("no phone is flagged", "MAC", "firmware", "loops", "list")
	run("the audit names the admin", "admin", "firmware", "audit")

	resp, err := http.Get(base + "/prov/3111-44500-001.sip.ld")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != content || resp.Header.Get("X-Checksum-SHA256") == "" {
		t.Fatalf("the image is not served under /prov/: %d %d bytes", resp.StatusCode, len(body))
	}
}
