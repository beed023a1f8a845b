package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/policy/policytest"
)

func TestPolicyFlagsAreTheSettings(t *testing.T) {
	for _, name := range []string{"set", "new"} {
		cmd, _, err := rootCmd.Find([]string{"policy", name})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range policy.Fields() {
			if cmd.Flags().Lookup(f.Name) == nil {
				t.Errorf("policy %s has no --%s flag", name, f.Name)
			}
		}
	}
}

func TestPolicyCLI(t *testing.T) {
	serveLoggedIn(t, "")
	if out, err := runCLI(t, "user", "add", "amosm@contoso.com"); err != nil {
		t.Fatalf("%s %v", out, err)
	}
	steps := []cliStep{
		{"listing shows Global", []string{"policy", "get"}, "Global", false},
		{"showing Global lists every setting", []string{"policy", "get", "Global"}, "HotDeskingIdleTimeoutInMinutes", false},
		{"set needs a setting", []string{"policy", "set", "Global"}, "at least one setting", true},
		{"a bad timeout is refused naming the field", []string{"policy", "set", "Global", "--PhoneLockTimeout", "01:30:00"}, "under 01:00:00", true},
		{"a bad number flag is refused", []string{"policy", "set", "Global", "--MinPhonePinLength", "many"}, "MinPhonePinLength", true},
		{"set changes the flags given", []string{"policy", "set", "Global", "--EnableDeviceUpdate=false", "--PhoneLockTimeout", "00:05:00"}, "00:05:00", false},
		{"new creates a policy", []string{"policy", "new", "Sales", "--DateTimeFormat", "12"}, "Sales", false},
		{"grant gives it to a user", []string{"policy", "grant", "amosm@contoso.com", "Sales"}, "now has the IP phone policy Sales", false},
		{"grant needs a name or --global", []string{"policy", "grant", "amosm@contoso.com"}, "--global", true},
		{"the effective policy is Sales", []string{"policy", "effective", "amosm@contoso.com"}, "Sales", false},
		{"remove refuses a held policy", []string{"policy", "remove", "Sales"}, "1 user(s)", true},
		{"grant --global falls back", []string{"policy", "grant", "amosm@contoso.com", "--global"}, "Global", false},
		{"remove removes it", []string{"policy", "remove", "Sales"}, "removed Sales", false},
		{"Global cannot be removed", []string{"policy", "remove", "Global"}, "cannot be removed", true},
		{"reset puts Global back", []string{"policy", "reset", "Global"}, "00:10:00", false},
		{"the audit shows the changes", []string{"policy", "audit", "--object", "ipphonepolicy/Global"}, "PhoneLockTimeout: 00:10:00 → 00:05:00", false},
	}
	runSteps(t, steps)
	t.Run("every setting flag reaches the server", func(t *testing.T) {
		args := []string{"policy", "new", "Every"}
		for _, f := range policy.Fields() {
			args = append(args, "--"+f.Name+"="+policytest.OtherValue(t, f))
		}
		if out, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		out, err := runCLI(t, "policy", "get", "Every", "--output", "json")
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, f := range policy.Fields() {
			want := policytest.OtherValue(t, f)
			if f.Kind == policy.Secret {
				want = policy.PasswordMask
			}
			raw, _ := json.Marshal(p[f.Name])
			if got := strings.Trim(string(raw), `"`); got != want {
				t.Errorf("%s is %s on the server, want %s", f.Name, raw, want)
			}
		}
		// The table shows every setting by its parameter name.
		table, err := runCLI(t, "policy", "get", "Every")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range policy.Fields() {
			if !strings.Contains(table, f.Name) {
				t.Errorf("policy get does not show %s", f.Name)
			}
		}
	})
	t.Run("a bad flag value names what is allowed", func(t *testing.T) {
		for flag, want := range map[string]string{
			"--MinPhonePinLength=many":   "a whole number from 6 to 15",
			"--EnableDeviceUpdate=maybe": "true or false",
			"--DateTimeFormat=13":        "12, 24",
			"--MinPhonePinLength=16":     "from 6 to 15",
		} {
			_, err := runCLI(t, "policy", "set", "Global", flag)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %v, want it to say %q", flag, err, want)
			}
		}
	})
	t.Run("set sends only the flags of this run", func(t *testing.T) {
		if _, err := runCLI(t, "policy", "set", "Global", "--AllowHotDesking"); err != nil {
			t.Fatal(err)
		}
		out, err := runCLI(t, "policy", "get", "Global", "--output", "json")
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if p["AllowHotDesking"] != true || p["EnableDeviceUpdate"] != true || p["PhoneLockTimeout"] != "00:10:00" {
			t.Fatalf("got %v", p)
		}
	})
}
