package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNumberAvailabilityCLI drives issue 17's items 1, 2, 7, 8 and 10
// through the CLI against a running server.
func TestNumberAvailabilityCLI(t *testing.T) {
	serveLoggedIn(t, "")
	run := func(name, want string, args ...string) string {
		t.Helper()
		out, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("%s: deskprov %s printed %q, err %v; want %q", name, strings.Join(args, " "), out, err, want)
		}
		return out
	}
	fails := func(name, want string, args ...string) {
		t.Helper()
		if _, err := runCLI(t, args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: deskprov %s: err %v, want %q", name, strings.Join(args, " "), err, want)
		}
	}
	run("buying Phone System", "PhoneSystem", "license", "set", "PhoneSystem", "50")
	run("buying a Calling Plan", "CallingPlanDomestic", "license", "set", "CallingPlanDomestic", "1")
	out := run("the table names its source", "Country and region availability for Audio Conferencing and Calling Plans", "number", "availability")
	if !strings.Contains(out, "NZ") || !strings.Contains(out, "notOffered") {
		t.Fatalf("the table: %s", out)
	}
	run("one country's row", "request", "number", "availability", "au")
	fails("a country without a row", "no row", "number", "availability", "JP")

	run("an Australian address is checked by its postal-code rule", "Accepted", "address", "create", "--house-number", "1",
		"--street", "George Street", "--city", "Sydney", "--postal-code", "2000", "--country", "AU")
	run("an address without rules is kept NotValidated", "NotValidated", "address", "create", "--house-number", "1-2-3",
		"--street", "Marunouchi", "--city", "Tokyo", "--postal-code", "100-0005", "--country", "JP")
	run("an admin marks it validated", "Accepted", "address", "validate", "2")
	fails("marking it twice", "already Accepted", "address", "validate", "2")

	fails("GB service numbers are not self-service", "number request", "number", "reserve", "--type", "serviceToll", "--country", "GB")
	run("an Australian user number by request", "submitted", "number", "request", "create", "--type", "user", "--country", "AU", "--contact", "pat@contoso.com")
	fails("a number of another country", "AU", "number", "request", "fulfil", "1", "+6443001234")
	run("fulfilled by the operator", "fulfilled", "number", "request", "fulfil", "1", "+61212345678")
	run("the number is the organisation's", "+61212345678", "number", "list", "--country", "AU")

	csvPath := filepath.Join(t.TempDir(), "pool.csv")
	if err := os.WriteFile(csvPath, []byte("+14255550100,user,GB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fails("a +1 number declared GB", "is a number of US (country code +1), not of GB", "number", "load", csvPath)
	if err := os.WriteFile(csvPath, []byte("+14255550100,user,US\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("loading the pool", "Added 1", "number", "load", csvPath)
	fails("beyond the quota only when it does not fit", "fit in the quota", "number", "request", "create", "--type", "user", "--country", "US", "--quantity", "2", "--beyond-quota", "--contact", "pat@contoso.com")
	run("a request beyond the quota", "beyond quota", "number", "request", "create", "--type", "user", "--country", "US", "--quantity", "20", "--beyond-quota", "--contact", "pat@contoso.com")
	fails("a user number needs no capacity set-up", "needs no capacity set-up", "number", "confirm-capacity", "+61212345678")
}
