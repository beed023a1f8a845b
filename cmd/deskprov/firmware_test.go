package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

// serveEach runs fn against a running "deskprov serve" on SQLite and, when
// DESKPROV_TEST_POSTGRES is set, on a fresh PostgreSQL schema, with the CLI
// logged in as admin.
func serveEach(t *testing.T, fn func(t *testing.T, base string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, serveLoggedIn(t, "")) })
	if dsn := os.Getenv(storetest.EnvPostgres); dsn != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, serveLoggedIn(t, postgresSchemaDSN(t, dsn))) })
	}
}

// postgresSchemaDSN creates a schema for one test, dropped when it ends, and
// returns dsn pointed at it.
func postgresSchemaDSN(t *testing.T, dsn string) string {
	t.Helper()
	admin, _, err := store.Open(dsn, "")
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestFirmwareCLI(t *testing.T) {
	base := serveLoggedIn(t, "")
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
	out := run("importing into a pipe draws no progress bar", "VVX500", "firmware", "import", img, "--version", "5.9.7.4477")
	if strings.Contains(out, "\r[") || strings.Contains(out, "100%") {
		t.Fatalf("a progress bar went to a pipe: %q", out)
	}
	realTerminal := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	out = run("importing on a terminal shows a progress bar", "already in the catalog", "firmware", "import", img, "--version", "5.9.7.4477")
	isTerminal = realTerminal
	if !strings.Contains(out, "\r[") || !strings.Contains(out, "100%") {
		t.Fatalf("no progress bar in %q", out)
	}
	ac := filepath.Join(dir, "420HD.img")
	if err := os.WriteFile(ac, []byte("audiocodes image"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "firmware", "import", ac); err == nil || !strings.Contains(err.Error(), "give version") {
		t.Fatalf("an AudioCodes import without --version must fail naming it: %q %v", out, err)
	}
	run("an AudioCodes image takes its model from the name", "420HD", "firmware", "import", ac, "--version", "3.4.6.604")
	yl := filepath.Join(dir, "T46S(T48S,T42S,T41S)-66.86.0.15.rom")
	if err := os.WriteFile(yl, []byte("yealink image"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("a Yealink image takes models and version from the name", "T46S,T48S,T42S,T41S", "firmware", "import", yl)
	run("importing again finds the existing entry", "already in the catalog", "firmware", "import", img, "--version", "5.9.7.4477")
	run("the catalog lists it", "3111-44500-001.sip.ld", "firmware", "list")
	run("the rule holds it as pending", "5.9.7.4477", "firmware", "rules")
	run("a test device is listed by MAC", "0004f2aabbcc", "firmware", "testdevice", "add", "--mac", "00:04:F2:AA:BB:CC")
	run("approving with waves starts a rollout", "5.9.7.4477", "firmware", "approve", "1", "--waves", "25,100")
	run("the rollout shows its waves", "100%", "firmware", "rollout", "status", "1")
	run("without --max-failures the rollout halts past the default 10%", "halts when more than 10% of them fail", "firmware", "rollout", "status", "1")
	run("the rollout list shows it", "VVX500", "firmware", "rollout", "list")
	run("no phone is flagged", "MAC", "firmware", "loops", "list")
	run("the audit names the admin", "admin", "firmware", "audit")

	sha := func(b string) string { h := sha256.Sum256([]byte(b)); return hex.EncodeToString(h[:]) }
	if out, err := runCLI(t, "firmware", "remove", sha(content)[:12]); err == nil || !strings.Contains(err.Error(), "approved version of device update rule 1") {
		t.Fatalf("removing the image rule 1 holds: %q %v", out, err)
	}
	var rs []firmwareRuleView
	if out, err := runCLI(t, "firmware", "rules", "--output", "json"); err != nil || json.Unmarshal([]byte(out), &rs) != nil {
		t.Fatalf("rules: %q %v", out, err)
	}
	acRule := ""
	for _, r := range rs {
		if r.Model == "420HD" {
			acRule = strconv.Itoa(int(r.ID))
		}
	}
	run("resetting the AudioCodes rule lets its pending image go", "420HD", "firmware", "reset", acRule)
	run("an image nothing uses is removed by the ID firmware list shows", "removed firmware image", "firmware", "remove", sha("audiocodes image")[:12])
	if out := run("the catalog no longer lists it", "VVX500", "firmware", "list"); strings.Contains(out, "3.4.6.604") {
		t.Fatalf("the removed image is still listed:\n%s", out)
	}
	if out, err := runCLI(t, "firmware", "remove", sha("audiocodes image")[:12]); err == nil || !strings.Contains(err.Error(), "no firmware image") {
		t.Fatalf("removing it twice: %q %v", out, err)
	}
	run("the audit records the removal", "remove", "firmware", "audit")

	// Offered to no phone yet: a phone is refused it, an admin downloads it.
	resp, err := http.Get(base + "/prov/3111-44500-001.sip.ld")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), "not offered") {
		t.Fatalf("an image offered to no phone was served under /prov/: %d %s", resp.StatusCode, body)
	}
	saved := filepath.Join(dir, "saved.sip.ld")
	run("an admin downloads any image", "saved", "firmware", "download", sha(content)[:12], "--to", saved)
	if b, err := os.ReadFile(saved); err != nil || string(b) != content {
		t.Fatalf("the saved image differs: %v", err)
	}

	skype := filepath.Join(dir, "450HD.img")
	if err := os.WriteFile(skype, []byte("audiocodes skype image"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("a certified import", "450HD", "firmware", "import", skype, "--version", "3.4.6.700", "--certified")
	out = run("creates a rule that approved it by itself", "450HD", "firmware", "rules")
	if !regexp.MustCompile(`(?m)^(\d+)\s+audiocodes\s+450HD\s+skype\s+yes\s+-\s+3\.4\.6\.700\s`).MatchString(out) {
		t.Fatalf("rules after a certified import:\n%s", out)
	}
	rule := regexp.MustCompile(`(?m)^(\d+)\s+audiocodes\s+450HD`).FindStringSubmatch(out)[1]
	out = run("autoapprove off", "450HD", "firmware", "autoapprove", rule, "off")
	if !regexp.MustCompile(`(?m)^\d+\s+audiocodes\s+450HD\s+skype\s+no\s`).MatchString(out) {
		t.Fatalf("after autoapprove off:\n%s", out)
	}
	if out, err := runCLI(t, "firmware", "autoapprove", rule, "maybe"); err == nil {
		t.Fatalf("autoapprove maybe: %q", out)
	}
}

// TestFirmwareRolloutThroughProvisioning is the end to end on a
// running server: images imported and approved with the CLI, simulated
// Yealink phones booting against /prov/, the phone in the first wave offered
// the new image in its config, fetching it, reporting the new version on its
// next poll, and the rollout advancing to the next wave and finishing.
func TestFirmwareRolloutThroughProvisioning(t *testing.T) {
	serveEach(t, func(t *testing.T, base string) {
		dir := t.TempDir()
		image := func(name, content string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		run := func(want string, args ...string) string {
			t.Helper()
			out, err := runCLI(t, args...)
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("deskprov %s printed %q, err %v; want %q", strings.Join(args, " "), out, err, want)
			}
			return out
		}
		newImage := strings.Repeat("yealink 28.83.0.120 ", 5000)
		run("T46G", "firmware", "import", image("T46-28.83.0.100.rom", "yealink 28.83.0.100"))
		run("28.83.0.100", "firmware", "approve", "1")
		run("28.83.0.120", "firmware", "import", image("T46-28.83.0.120.rom", newImage))

		type phone struct {
			mac, version string
			c            *phoneclient.Phone
		}
		macIn := func(lo, hi int) string {
			for i := 0; ; i++ {
				if mac := fmt.Sprintf("001565%06x", i); firmware.Bucket(mac) >= lo && firmware.Bucket(mac) < hi {
					return mac
				}
			}
		}
		early := &phone{macIn(0, 5000), "28.83.0.100", phoneclient.New(nil, "")}
		late := &phone{macIn(5000, 10000), "28.83.0.100", phoneclient.New(nil, "")}
		// Phones answer the 401 challenges with the credentials their
		// first config issued them: only what they report then counts.
		get := func(p *phone, name string) (int, string) {
			t.Helper()
			p.c.UserAgent = "Yealink SIP-T46G " + p.version + " " + p.mac
			status, _, b, err := p.c.Do(context.Background(), http.MethodGet, base+"/prov/"+name, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return status, string(b)
		}
		imageURL := base + "/prov/T46-28.83.0.120.rom"
		// poll fetches the phone's main config and says whether it names the new image.
		poll := func(p *phone) bool {
			t.Helper()
			code, cfg := get(p, p.mac+".cfg")
			if code != http.StatusOK {
				t.Fatalf("%s.cfg: %d %s", p.mac, code, cfg)
			}
			return strings.Contains(cfg, imageURL)
		}
		// upgrade downloads the offered image, installs it and reboots:
		// the next poll reports the new version.
		upgrade := func(p *phone) {
			t.Helper()
			if !poll(p) {
				t.Fatalf("phone %s (bucket %d) was not offered the new image", p.mac, firmware.Bucket(p.mac))
			}
			if code, body := get(p, "T46-28.83.0.120.rom"); code != http.StatusOK || body != newImage {
				t.Fatalf("download: %d, %d bytes", code, len(body))
			}
			p.version = "28.83.0.120"
			if poll(p) {
				t.Fatalf("phone %s on the new version is still offered it", p.mac)
			}
		}
		for _, p := range []*phone{early, late} { // both boot on the approved version
			for range 2 { // the first poll enrols, the second reports
				if poll(p) {
					t.Fatalf("phone %s was offered the pending image", p.mac)
				}
			}
		}
		run("ROLLOUT", "firmware", "approve", "1", "--waves", "50,100", "--advance-at", "1")
		out := run("running", "firmware", "rollout", "status", "1")
		if !regexp.MustCompile(`(?m)^1\s+50%\s+yes\s+1\s+0\s+0\s*$`).MatchString(out) || !regexp.MustCompile(`(?m)^2\s+100%\s+no\s+1\s+0\s+0\s*$`).MatchString(out) {
			t.Fatalf("rollout status before any upgrade:\n%s", out)
		}
		if poll(late) {
			t.Fatal("the phone in the second wave was offered the image while only the first was open")
		}
		upgrade(early)
		out = run("running", "firmware", "rollout", "status", "1")
		if !regexp.MustCompile(`(?m)^1\s+50%\s+yes\s+1\s+1\s+0\s*$`).MatchString(out) || !regexp.MustCompile(`(?m)^2\s+100%\s+yes\s+1\s+0\s+0\s*$`).MatchString(out) {
			t.Fatalf("the rollout did not advance to the second wave:\n%s", out)
		}
		upgrade(late)
		run("done", "firmware", "rollout", "status", "1")
		run("28.83.0.100", "firmware", "rules") // now the restore version
	})
}

func TestPercentWritesSharesAsPeopleDo(t *testing.T) {
	for share, want := range map[float64]string{0: "0%", 0.07: "7%", 0.1: "10%", 0.9: "90%", 0.125: "12.5%", 1: "100%"} {
		if got := percent(share); got != want {
			t.Errorf("percent(%v) = %q, want %q", share, got, want)
		}
	}
}

// TestFirmwareImportChecksBeforeUploading (issue 18 item 7): an import the
// server would refuse for its arguments fails before a byte of the image is
// sent; a whole one does go up (so the counter can tell).
func TestFirmwareImportChecksBeforeUploading(t *testing.T) {
	var mu sync.Mutex
	var requests int
	var received int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		mu.Lock()
		requests++
		received += n
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","vendor":"yealink","models":["T46G"],"version":"28.83.0.120","fileName":"T46-28.83.0.120.rom","size":100000}`)
	}))
	defer ts.Close()
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", ts.URL)
	t.Setenv("DESKPROV_TOKEN", "test-token")
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	blob := file("image.bin", 100000)
	cab := file("UCUpdates.cab", 100000)
	rom := file("T46-28.83.0.120.rom", 100000)
	unreadable := file("T46-28.83.0.121.rom", 100000)
	os.Chmod(unreadable, 0)
	empty := file("T46-28.83.0.122.rom", 0)
	romDir := filepath.Join(dir, "T46-28.83.0.300.rom")
	if err := os.Mkdir(romDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no vendor and a name that tells none", []string{blob, "--model", "T46G", "--version", "28.83.0.120"}, "--vendor: "},
		{"an unknown vendor", []string{blob, "--vendor", "cisco", "--model", "X", "--version", "1.0"}, "--vendor: vendor \"cisco\" is unknown"},
		{"no models", []string{cab, "--version", "4.0.7577.4387", "--revision", "A"}, "--model: "},
		{"no version", []string{file("3111-44500-001.sip.ld", 10)}, "--version: "},
		{"a version that is not one", []string{rom, "--version", "latest"}, "--version: "},
		{"an LPE image without its revision", []string{cab, "--model", "CX600", "--version", "4.0.7577.4387"}, "--revision: "},
		{"a revision on a Yealink image", []string{rom, "--revision", "A"}, "--revision: "},
		{"a file that is not there", []string{filepath.Join(dir, "T46-28.83.0.200.rom")}, "cannot read the image"},
		{"a directory", []string{romDir}, "is a directory"},
		{"an empty file", []string{empty}, "is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, append([]string{"firmware", "import"}, c.args...)...)
			mu.Lock()
			n, sent := requests, received
			mu.Unlock()
			if err == nil || !strings.Contains(err.Error(), c.want) || n != 0 || sent != 0 {
				t.Fatalf("printed %q, err %v (want %q); the server got %d requests, %d bytes", out, err, c.want, n, sent)
			}
		})
	}
	if os.Getuid() != 0 { // root reads a file whatever its mode
		if _, err := runCLI(t, "firmware", "import", unreadable); err == nil || !strings.Contains(err.Error(), "cannot read the image") || requests != 0 {
			t.Fatalf("an unreadable file: err %v, %d requests", err, requests)
		}
	}
	if out, err := runCLI(t, "firmware", "import", rom); err != nil || received < 100000 {
		t.Fatalf("a whole import: %q %v; the server got %d bytes", out, err, received)
	}
}
