package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNumberMovesCLI drives issue 17 items 3, 4, 5, 6 and 9 through the CLI
// against a running server, on SQLite and (with DESKPROV_TEST_POSTGRES) on
// PostgreSQL.
func TestNumberMovesCLI(t *testing.T) {
	serveEach(t, func(t *testing.T, _ string) {
		run := func(name, want string, args ...string) string {
			t.Helper()
			out, err := runCLI(t, args...)
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("%s: deskprov %s printed %q, err %v; want %q", name, strings.Join(args, " "), out, err, want)
			}
			return out
		}
		refused := func(name, want string, args ...string) {
			t.Helper()
			if out, err := runCLI(t, args...); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: deskprov %s printed %q, err %v; want an error with %q", name, strings.Join(args, " "), out, err, want)
			}
		}
		csvPath := filepath.Join(t.TempDir(), "pool.csv")
		pool := "+14255550100,user,US,WA,Redmond\n+14255550201,serviceToll,US,WA,Redmond\n+14255550202,serviceToll,US,WA,Redmond\n+18005550101,serviceTollFree,US,WA,Redmond\n"
		if err := os.WriteFile(csvPath, []byte(pool), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, l := range [][]string{{"PhoneSystem", "50"}, {"CallingPlanDomestic", "50"}, {"CommunicationsCredits", "1"}} {
			run("buying "+l[0], l[0], "license", "set", l[0], l[1])
		}
		run("loading the pool", "Added 4 numbers", "number", "load", csvPath)
		for _, typ := range []string{"user", "serviceToll", "serviceTollFree"} {
			out := run("reserving "+typ, "holds", "number", "reserve", "--type", typ, "--country", "US", "--quantity", map[string]string{"serviceToll": "2"}[typ]+map[bool]string{true: "1"}[typ != "serviceToll"])
			id := regexp.MustCompile(`Reservation (\S+) holds`).FindStringSubmatch(out)[1]
			run("acquiring "+typ, "used", "number", "acquire", id)
		}

		// Item 3: a bridge holds toll and toll-free numbers, with defaults.
		run("a bridge", "Main bridge", "service", "create", "conferenceBridge", "Main bridge")
		run("a call queue", "Help desk", "service", "create", "callQueue", "Help desk")
		run("a toll number on the bridge", "default", "number", "assign", "+14255550201", "--service-kind", "conferenceBridge", "--service-id", "1")
		run("a toll-free number on the bridge too", "default", "number", "assign", "+18005550101", "--service-kind", "conferenceBridge", "--service-id", "1")
		run("a second toll number on the bridge", "assigned", "number", "assign", "+14255550202", "--service-kind", "conferenceBridge", "--service-id", "1")
		out := run("the bridge shows its numbers and defaults", "+14255550201,+14255550202,+18005550101", "service", "show", "1")
		if !strings.Contains(out, "+18005550101") || !regexp.MustCompile(`\+14255550201\s+\+18005550101`).MatchString(out) {
			t.Fatalf("the defaults: %s", out)
		}
		run("changing the default toll number", "+14255550202", "service", "defaults", "1", "--toll", "+14255550202")
		refused("a call queue has no defaults", "only a conference bridge", "service", "defaults", "2", "--toll", "+14255550202")

		// Item 4: moves.
		run("moving a bridge number to the call queue", "callQueue", "number", "move", "+14255550202", "--service-kind", "callQueue", "--service-id", "2")
		run("the bridge's default passed on", "+14255550201", "service", "show", "1")
		refused("a call queue has one number", "has one number", "number", "move", "+14255550201", "--service-kind", "callQueue", "--service-id", "2")

		// Item 5: addresses and locations.
		run("an address in Redmond", "Redmond", "address", "create", "--description", "HQ", "--house-number", "1", "--street", "Microsoft Way",
			"--city", "Redmond", "--state", "WA", "--postal-code", "98052", "--country", "US")
		run("an address in Seattle", "Seattle", "address", "create", "--description", "Branch", "--house-number", "400", "--street", "Broad Street",
			"--city", "Seattle", "--state", "WA", "--postal-code", "98109", "--country", "US")
		if out := run("filtering by city", "Redmond", "address", "list", "--city", "redmond"); strings.Contains(out, "Seattle") {
			t.Fatalf("the city filter let Seattle through: %s", out)
		}
		if out := run("the filter does not stick", "Seattle", "address", "list"); !strings.Contains(out, "Redmond") {
			t.Fatalf("the plain list lost Redmond: %s", out)
		}
		run("a location", "Floor 3", "address", "location", "2", "Floor 3")
		run("editing an address validates it again", "5th Avenue", "address", "set", "2", "--street", "5rd Avenue")
		run("listing locations", "Floor 3", "address", "locations", "2")

		// Item 9 and item 4: the user sees the number; the address moves in place.
		run("a voice user", "ann@contoso.com", "user", "add", "ann@contoso.com", "--password", "password1")
		run("Phone System", "ann@contoso.com", "license", "assign", "ann@contoso.com", "PhoneSystem")
		run("a Calling Plan", "ann@contoso.com", "license", "assign", "ann@contoso.com", "CallingPlanDomestic")
		run("assigning the number", "address 1", "number", "assign", "+14255550100", "--user", "ann@contoso.com", "--address", "1")
		run("the user shows the number", "+14255550100", "user", "show", "ann@contoso.com")
		out = run("the locations", "Floor 3", "address", "locations", "2")
		loc := regexp.MustCompile(`(?m)^(\d+)\s+Floor 3`).FindStringSubmatch(out)[1]
		run("moving ann to the branch's third floor", "address 2 location "+loc, "number", "move", "+14255550100", "--address", "2", "--location", loc)
		refused("a location in use stays", "uses location", "address", "remove-location", "2", loc)
		run("moving ann to the default location", "address 2", "number", "move", "+14255550100", "--address", "2")
		run("removing the location", "Removed location", "address", "remove-location", "2", loc)
		run("the audit shows the moves", "move", "number", "audit", "--object", "number/+14255550100")

		// Item 6: licenses and numbers stay consistent.
		refused("a Calling Plan stays while a number needs it", "release it first", "license", "unassign", "ann@contoso.com", "CallingPlanDomestic")
		refused("credits stay while toll-free numbers are held", "toll-free numbers", "license", "set", "CommunicationsCredits", "0")
		run("releasing the number", "unassigned", "number", "release", "+14255550100")
		run("then the Calling Plan goes", "ann@contoso.com", "license", "unassign", "ann@contoso.com", "CallingPlanDomestic")
	})
}
