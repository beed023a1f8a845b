package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestNumberCLI(t *testing.T) {
	base := startServe(t)
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	if out, err := runCLI(t, "login", "--server", base, "--username", "admin", "--password", "admin-password"); err != nil {
		t.Fatalf("login: %s %v", out, err)
	}
	csvPath := filepath.Join(t.TempDir(), "pool.csv")
	pool := "number,type,country,state,city\n+14255550100,user,US,WA,Redmond\n+14255550101,user,US,WA,Redmond\n+14255550200,serviceToll,US,WA,Redmond\n"
	if err := os.WriteFile(csvPath, []byte(pool), 0o600); err != nil {
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
	run("buying Phone System", "PhoneSystem", "license", "set", "PhoneSystem", "50")
	run("buying Calling Plans", "CallingPlanDomestic", "license", "set", "CallingPlanDomestic", "50")
	run("the quota follows SPEC §1", "65", "number", "quota")
	run("an operator loads the pool from CSV", "Added 3 numbers", "number", "load", csvPath)
	run("searching the pool", "2 free numbers match", "number", "search", "--type", "user", "--country", "US", "--city", "Redmond")
	out := run("reserving holds numbers", "holds 2 numbers", "number", "reserve", "--type", "user", "--country", "US", "--state", "WA", "--quantity", "2")
	id := regexp.MustCompile(`Reservation (\S+) holds`).FindStringSubmatch(out)[1]
	run("acquiring within the hold", "2 of 65 used", "number", "acquire", id)
	run("creating an emergency address shows its correction", "AcceptedWithChanges", "address", "create", "--description", "HQ",
		"--house-number", "1", "--street", "Microsoft Way", "--city", "Redmond", "--state", "Washington", "--postal-code", "98052", "--country", "US")
	run("adding a voice user", "ann@contoso.com", "user", "add", "ann@contoso.com", "--password", "password1")
	run("giving Phone System", "ann@contoso.com", "license", "assign", "ann@contoso.com", "PhoneSystem")
	run("giving a Calling Plan", "ann@contoso.com", "license", "assign", "ann@contoso.com", "CallingPlanDomestic")
	run("assigning a number", "assigned", "number", "assign", "+14255550100", "--user", "ann@contoso.com", "--address", "1")
	run("listing numbers", "ann@contoso.com", "number", "list")
	run("releasing a number", "unassigned", "number", "release", "+14255550100")
	run("a port order of service numbers takes a service request", "serviceRequest", "portorder", "submit", "--type", "serviceToll",
		"--country", "US", "--carrier", "Contoso Telecom", "--account", "42", "--billing-name", "Fabrikam",
		"--billing-address", "1 Main St", "--signatory", "Pat Doe", "--numbers", "+12065550100,+12065550101")
	run("creating a service", "Help desk", "service", "create", "callQueue", "Help desk")
	if _, err := runCLI(t, "address", "create", "--house-number", "1", "--street", "5 Avenue", "--city", "New York", "--state", "NY", "--postal-code", "10001", "--country", "US"); err != nil {
		t.Fatalf("a rejected address is still answered: %v", err)
	}
	run("a rejected address shows its reason", "ordinal suffix", "address", "list")
}
