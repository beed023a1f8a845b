package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/internal/phoneclient"
)

// TestSpoofedReportsCountForNothing: what an attacker reports in a phone's
// name (polls flipping between versions, downloads never installed) moves
// neither the update-loop guard nor a rollout; only a phone that proves
// itself with its provisioning credentials does (issue 13, item 2).
func TestSpoofedReportsCountForNothing(t *testing.T) {
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
		// curl: a plain client that sends what it is told and no credentials.
		curl := func(path, ua string) int {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, base+"/prov/"+path, nil)
			req.Header.Set("User-Agent", ua)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		ctx := context.Background()
		ua := func(version, mac string) string { return "Yealink SIP-T46G " + version + " " + mac }

		run("T46G", "firmware", "import", image("T46-28.83.0.100.rom", "yealink 28.83.0.100"))
		run("28.83.0.100", "firmware", "approve", "1")
		run("28.83.0.120", "firmware", "import", image("T46-28.83.0.120.rom", strings.Repeat("yealink 28.83.0.120 ", 100)))

		// The real phone enrols and reports its version.
		real := phoneclient.New(nil, ua("28.83.0.100", "001565000a01"))
		for range 2 {
			if st, _, _, err := real.Do(ctx, "GET", base+"/prov/001565000a01.cfg", nil, nil); err != nil || st != 200 {
				t.Fatalf("the real phone's poll: %d %v", st, err)
			}
		}

		t.Run("five polls flipping versions flag no loop", func(t *testing.T) {
			for _, mac := range []string{"001565000a01", "001565000a02"} { // enrolled, and never seen
				for i := range 5 {
					v := []string{"28.83.0.100", "28.83.0.120"}[i%2]
					curl(mac+".cfg", ua(v, mac))
				}
			}
			if out, _ := runCLI(t, "firmware", "loops", "list"); strings.Contains(out, "001565000a0") {
				t.Fatalf("spoofed polls flagged a loop:\n%s", out)
			}
		})

		t.Run("made-up failures do not halt a rollout", func(t *testing.T) {
			run("ROLLOUT", "firmware", "approve", "1", "--waves", "100", "--max-failures", "0", "--fail-after-polls", "1")
			run("running", "firmware", "rollout", "status", "1")
			for i := range 3 {
				mac := fmt.Sprintf("001565000b%02x", i)
				// Poll as the phone, "download" the new image in its name,
				// then keep reporting the old version.
				curl(mac+".cfg", ua("28.83.0.100", mac))
				// (401 now: the first poll issued that MAC credentials, which
				// curl does not send; without a MAC the image is public.)
				if st := curl("T46-28.83.0.120.rom", ua("28.83.0.100", mac)); st != http.StatusOK && st != http.StatusUnauthorized {
					t.Fatalf("the image: %d", st)
				}
				for range 3 {
					curl(mac+".cfg", ua("28.83.0.100", mac))
				}
			}
			if out := run("running", "firmware", "rollout", "status", "1"); strings.Contains(out, "halted") {
				t.Fatalf("made-up failures of unknown phones halted the rollout:\n%s", out)
			}
			// No phone deskprov follows has been offered the image yet (the
			// curl polls above proved nothing): asked for without a MAC, it
			// is refused (issue 14, item 13).
			if st := curl("T46-28.83.0.120.rom", "Yealink SIP-T46G 28.83.0.100"); st != http.StatusNotFound {
				t.Fatalf("an image offered to no phone, asked for without a MAC: %d", st)
			}
			// The enrolled phone's name, without its credentials.
			if st := curl("T46-28.83.0.120.rom", ua("28.83.0.100", "001565000a01")); st != http.StatusUnauthorized {
				t.Fatalf("an image fetched in an enrolled phone's name: %d", st)
			}
			for range 3 {
				curl("001565000a01.cfg", ua("28.83.0.100", "001565000a01"))
			}
			out := run("running", "firmware", "rollout", "status", "1")
			if strings.Contains(out, "halted") {
				t.Fatalf("made-up failures halted the rollout:\n%s", out)
			}
			// The real phone's own failure still counts: its config offers
			// it the image, it downloads, and keeps reporting the old version.
			if st, _, b, err := real.Do(ctx, "GET", base+"/prov/001565000a01.cfg", nil, nil); err != nil || st != 200 || !strings.Contains(string(b), "T46-28.83.0.120.rom") {
				t.Fatalf("the real phone's poll after the approval: %d %v\n%s", st, err, b)
			}
			if st := curl("T46-28.83.0.120.rom", "Yealink SIP-T46G 28.83.0.100"); st != http.StatusOK {
				t.Fatalf("offered to a T46G now, the image asked for without a MAC: %d", st)
			}
			if st, _, _, err := real.Do(ctx, "GET", base+"/prov/T46-28.83.0.120.rom", nil, nil); err != nil || st != 200 {
				t.Fatalf("the real phone's download: %d %v", st, err)
			}
			for range 2 {
				real.Do(ctx, "GET", base+"/prov/001565000a01.cfg", nil, nil)
			}
			run("halted", "firmware", "rollout", "status", "1")
		})
	})
}
