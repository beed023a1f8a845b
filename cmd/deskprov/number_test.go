package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNumberCLI(t *testing.T) {
	serveLoggedIn(t, "")
	csvPath := filepath.Join(t.TempDir(), "pool.csv")
	pool := "number,type,country,state,city\n+14255550100,user,US,WA,Redmond\n+14255550101,user,US,WA,Redmond\n+14255550200,serviceToll,US,WA,Redmond\n"
	if err := os.WriteFile(csvPath, []byte(pool), 0o600); err != nil {
		t.Fatal(err)
	}
	runT := func(t *testing.T, name string, want string, args ...string) string {
		t.Helper()
		out, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("%s: deskprov %s printed %q, err %v; want %q", name, strings.Join(args, " "), out, err, want)
		}
		return out
	}
	run := func(name string, want string, args ...string) string {
		t.Helper()
		return runT(t, name, want, args...)
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

	t.Run("a filter of one run does not stick to the next", func(t *testing.T) {
		runT(t, "no number is assigned", "NUMBER", "number", "list", "--status", "assigned")
		out := runT(t, "the plain list shows every number", "+14255550101", "number", "list")
		if !strings.Contains(out, "+14255550100") {
			t.Fatalf("the list lost a number: %s", out)
		}
	})
	t.Run("address", func(t *testing.T) {
		runT(t, "a location goes under an address", `Location`, "address", "location", "1", "Floor 3")
		runT(t, "the list shows the locations", "Floor 3", "address", "list")
		if _, err := runCLI(t, "address", "location", "1", "floor 3"); err == nil || !strings.Contains(err.Error(), "already has a location") {
			t.Fatalf("a second location of the same name: %v", err)
		}
		if _, err := runCLI(t, "address", "create", "--house-number", "1", "--street", "Main Street", "--city", "Stockholm", "--postal-code", "1234", "--country", "SE"); err != nil {
			t.Fatalf("a rejected Swedish address: %v", err)
		}
		runT(t, "a Swedish postal code is checked", "Swedish postal code", "address", "list")
		runT(t, "an address no number uses can be deleted", "Deleted emergency address 2", "address", "delete", "2")
		if _, err := runCLI(t, "address", "delete", "99"); err == nil || !strings.Contains(err.Error(), "no emergency address 99") {
			t.Fatalf("deleting an unknown address: %v", err)
		}
	})
	t.Run("portorder", func(t *testing.T) {
		portID := func(out string) string {
			t.Helper()
			var o struct {
				ID int `json:"id"`
			}
			if err := json.Unmarshal([]byte(out), &o); err != nil || o.ID == 0 {
				t.Fatalf("no order id in %q: %v", out, err)
			}
			return strconv.Itoa(o.ID)
		}
		numbersFile := filepath.Join(t.TempDir(), "numbers.txt")
		if err := os.WriteFile(numbersFile, []byte("+12065550300\n+12065550301\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		loa := []string{"--country", "US", "--state", "WA", "--city", "Seattle", "--carrier", "Contoso Telecom", "--account", "42",
			"--billing-name", "Fabrikam", "--billing-address", "1 Main St", "--signatory", "Pat Doe"}
		out := runT(t, "user numbers take the wizard", `"path": "wizard"`, append([]string{"portorder", "submit", "--type", "user", "--numbers-file", numbersFile, "--output", "json"}, loa...)...)
		id := portID(out)
		runT(t, "the list shows the order", "wizard", "portorder", "list")
		runT(t, "show lists its numbers", "+12065550301", "portorder", "show", id)
		if _, err := runCLI(t, append([]string{"portorder", "submit", "--type", "user", "--numbers", "+12065550300"}, loa...)...); err == nil || !strings.Contains(err.Error(), "open port order") {
			t.Fatalf("porting a number twice: %v", err)
		}
		if _, err := runCLI(t, append([]string{"portorder", "submit", "--type", "user", "--numbers", "+12065550400,+18005550100"}, loa...)...); err == nil || !strings.Contains(err.Error(), "separate order") {
			t.Fatalf("mixing types: %v", err)
		}
		if _, err := runCLI(t, "portorder", "confirm", id, "--date", "soon"); err == nil || !strings.Contains(err.Error(), "--date") {
			t.Fatalf("a bad date: %v", err)
		}
		if _, err := runCLI(t, "portorder", "confirm", id); err == nil || !strings.Contains(err.Error(), "firm order date") {
			t.Fatalf("confirming without a date: %v", err)
		}
		due := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
		runT(t, "confirming sets the firm order date", "confirmed", "portorder", "confirm", id, "--date", due.Format(time.RFC3339))
		if _, err := runCLI(t, "portorder", "complete", id); err == nil || !strings.Contains(err.Error(), "due on") {
			t.Fatalf("completing early: %v", err)
		}
		time.Sleep(time.Until(due) + 100*time.Millisecond)
		runT(t, "completing on the date", "completed", "portorder", "complete", id)
		out = runT(t, "the ported numbers are the organisation's", "+12065550300", "number", "list", "--type", "user")
		if !strings.Contains(out, "ported") {
			t.Fatalf("the numbers do not say they were ported: %s", out)
		}
		var q struct {
			User struct{ Limit, Used int } `json:"user"`
		}
		if err := json.Unmarshal([]byte(runT(t, "the quota", "user", "number", "quota", "--output", "json")), &q); err != nil || q.User.Used != 2 || q.User.Limit != 65 {
			t.Fatalf("user quota after porting = %+v, %v; want 2 of 65 used (ported numbers do not count)", q.User, err)
		}
		if _, err := runCLI(t, "portorder", "reject", "1"); err == nil || !strings.Contains(err.Error(), "reason") {
			t.Fatalf("rejecting without a reason: %v", err)
		}
		runT(t, "cancelling keeps the reason", "not needed any more", "portorder", "cancel", "1", "--reason", "not needed any more")
		if _, err := runCLI(t, "portorder", "cancel", "1", "--reason", "again"); err == nil || !strings.Contains(err.Error(), "already cancelled") {
			t.Fatalf("cancelling twice: %v", err)
		}
	})
	t.Run("number request", func(t *testing.T) {
		runT(t, "filing a request where there is no self-service", "submitted", "number", "request", "create", "--type", "serviceToll", "--country", "NZ", "--city", "Auckland", "--quantity", "2", "--contact", "pat@contoso.com")
		runT(t, "the list shows it", "Auckland", "number", "request", "list")
		if _, err := runCLI(t, "number", "request", "create", "--country", "US", "--contact", "pat@contoso.com"); err == nil || !strings.Contains(err.Error(), "self-service") {
			t.Fatalf("a request where numbers are self-service: %v", err)
		}
	})
}
