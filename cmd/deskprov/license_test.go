package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLicenseBulkAssignCLI: deskprov license assign SKU --upns-file assigns
// a license and a policy to each user of a CSV through the API, a row per
// user, fails when a row is refused, and agrees with the API's counts.
func TestLicenseBulkAssignCLI(t *testing.T) {
	serveLoggedIn(t, "")
	dir := t.TempDir()
	csv := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(csv, []byte("DisplayName,UserPrincipalName\nAmos,amosm@contoso.com\nMegan,megan@contoso.com\nNobody,nobody@contoso.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(list, []byte("amosm@contoso.com\n\nmegan@contoso.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runSteps(t, []cliStep{
		{"buying Phone System", []string{"license", "set", "PhoneSystem", "2"}, "PhoneSystem", false},
		{"adding amosm", []string{"user", "add", "amosm@contoso.com"}, "amosm@contoso.com", false},
		{"adding megan", []string{"user", "add", "megan@contoso.com"}, "megan@contoso.com", false},
		{"a policy to grant", []string{"policy", "new", "Sales"}, "Sales", false},
		{"a CSV with an unknown user assigns the others and fails", []string{"license", "assign", "PhoneSystem", "--upns-file", csv, "--policy", "Sales"}, "1 of 3 users were refused", true},
		{"amosm holds the license", []string{"user", "show", "amosm@contoso.com"}, "PhoneSystem", false},
		{"and the policy", []string{"policy", "effective", "amosm@contoso.com"}, "Sales", false},
		{"the counts agree", []string{"license", "list"}, "PhoneSystem               2          2", false},
		{"the same list again changes nothing and succeeds", []string{"license", "assign", "phonesystem", "--upns-file", list}, "PhoneSystem: 0 assigned, 2 unchanged, 0 refused", false},
		{"--upns-file takes the SKU only", []string{"license", "assign", "amosm@contoso.com", "PhoneSystem", "--upns-file", list}, "give only the SKU", true},
		{"--policy needs --upns-file", []string{"license", "assign", "amosm@contoso.com", "PhoneSystem", "--policy", "Sales"}, "--policy goes with --upns-file", true},
		{"a missing file is named", []string{"license", "assign", "PhoneSystem", "--upns-file", filepath.Join(dir, "none.csv")}, "none.csv", true},
		{"a search pages the users", []string{"user", "list", "--search", "MEGAN", "--limit", "1"}, "megan@contoso.com", false},
	})
}
