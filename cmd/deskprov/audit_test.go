package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/internal/testcert"
)

// TestEveryAdminChangeIsAudited: issue 15 item 7 through the whole server.
// One change of each kind an admin makes from the CLI lands in the one
// audit log with the admin as actor, and deskprov audit filters it by kind
// and actor; a password given to a user is not in it.
func TestEveryAdminChangeIsAudited(t *testing.T) {
	serveEach(t, func(t *testing.T, base string) {
		dir := t.TempDir()
		ca := testcert.CA(t, "Corp Root")
		caFile := filepath.Join(dir, "ca.pem")
		os.WriteFile(caFile, ca.PEM, 0o600)
		dict := filepath.Join(dir, "dict.xml")
		os.WriteFile(dict, []byte("<dictionary/>"), 0o600)
		for _, args := range [][]string{
			{"license", "set", "PhoneSystem", "5"},
			{"user", "add", "amosm@contoso.com"},
			{"user", "set", "amosm@contoso.com", "--display-name", "Amos Marble", "--password", "user-secret-pw"},
			{"license", "assign", "amosm@contoso.com", "PhoneSystem"},
			{"policy", "new", "Sales"},
			{"policy", "grant", "amosm@contoso.com", "Sales"},
			{"site", "add", "HQ", "--subnet", "10.1.0.0/16"},
			{"cacert", "add", caFile, "--name", "Corp root"},
			{"phonefile", "add", dict, "--path", "dict.xml", "--vendor", "polycom"},
			{"mfa", "require-enrollment-code", "on"},
			{"signin", "rotate-key"},
			{"enrolment", "approve", "00:04:f2:00:00:42"},
			{"enrolment", "revoke", "0004f2000042"},
			{"admin", "add", "desk", "--role", "helpdesk"},
			{"address", "create", "--house-number", "1", "--street", "Microsoft Way", "--city", "Redmond", "--state", "WA", "--postal-code", "98052", "--country", "US"},
			{"address", "location", "1", "Floor 3"},
			{"service", "create", "callQueue", "Help desk"},
			{"service", "delete", "1"},
			{"license", "unassign", "amosm@contoso.com", "PhoneSystem"},
			{"user", "remove", "amosm@contoso.com"},
		} {
			if out, err := runCLI(t, args...); err != nil {
				t.Fatalf("%v: %s %v", args, out, err)
			}
		}
		out, err := runCLI(t, "audit", "--actor", "admin", "--limit", "1000", "-o", "json")
		var es []auditEntryView
		if err != nil || json.Unmarshal([]byte(out), &es) != nil {
			t.Fatalf("audit: %s %v", out, err)
		}
		have := map[string]bool{}
		for _, e := range es {
			kind, _, _ := strings.Cut(e.Object, "/")
			have[kind+" "+e.Action] = true
			if strings.Contains(string(e.Before)+string(e.After), "user-secret-pw") {
				t.Errorf("a password is in the log: %+v", e)
			}
		}
		for _, want := range []string{
			"license set-purchased", "user create", "user update", "user assign", "user unassign", "user delete",
			"ipphonepolicy create", "user grant", "site create", "cacert add", "phonefile add",
			"mfasettings update", "signingkey rotate", "admin create",
			"enrolment approve", "enrolment revoke",
			"emergencyaddress create", "voiceservice create", "voiceservice delete",
		} {
			if !have[want] {
				t.Errorf("no %q entry by admin; have %v", want, have)
			}
		}
		out, err = runCLI(t, "audit", "--kind", "site")
		if err != nil || !strings.Contains(out, "site/HQ") || strings.Contains(out, "user/") {
			t.Fatalf("audit --kind site: %s %v", out, err)
		}
	})
}
