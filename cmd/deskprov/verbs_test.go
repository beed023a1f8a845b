package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// verbTable is every command that creates or deletes an object, per group,
// with the older names kept as aliases so that scripts written for them
// still run (issue 18 item 4: one pair of verbs, create and delete, as gh
// and kubectl have it).
var verbTable = []struct {
	group   string
	verb    string
	aliases []string
}{
	{"user", "create", []string{"add"}},
	{"user", "delete", []string{"remove", "rm"}},
	{"admin", "create", []string{"add"}},
	{"admin", "delete", []string{"remove", "rm"}},
	{"policy", "create", []string{"new"}},
	{"policy", "delete", []string{"remove", "rm"}},
	{"site", "create", []string{"add"}},
	{"site", "delete", []string{"remove", "rm"}},
	{"cacert", "create", []string{"add"}},
	{"cacert", "delete", []string{"remove", "rm"}},
	{"phonefile", "create", []string{"add"}},
	{"phonefile", "delete", []string{"remove", "rm"}},
	{"firmware", "delete", []string{"remove", "rm"}},
	{"firmware testdevice", "create", []string{"add"}},
	{"firmware testdevice", "delete", []string{"remove", "rm"}},
	{"portorder", "create", []string{"submit"}},
	{"address", "create", nil},
	{"address", "delete", nil},
	{"address", "create-location", []string{"location"}},
	{"address", "delete-location", []string{"remove-location"}},
	{"service", "create", nil},
	{"service", "delete", nil},
	{"number request", "create", nil},
}

// TestCLIVerbsAgree: issue 18 item 4. Across every command group, objects
// are created with "create" and removed with "delete"; no command is named
// by another word for either (add, new, submit, remove, …), and every older
// name still finds the same command and runs.
func TestCLIVerbsAgree(t *testing.T) {
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	synonyms := map[string]string{"add": "create", "new": "create", "submit": "create", "make": "create",
		"remove": "delete", "rm": "delete", "del": "delete", "destroy": "delete", "drop": "delete"}
	inTable := map[string]bool{}
	for _, v := range verbTable {
		inTable[v.group+" "+v.verb] = true
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Parent() == nil || c.Parent() == rootCmd {
			return
		}
		group := strings.TrimPrefix(c.Parent().CommandPath(), "deskprov ")
		verb, _, _ := strings.Cut(c.Name(), "-")
		if want, ok := synonyms[verb]; ok {
			t.Errorf("deskprov %s %s: name it %s (the one verb for it), and keep %q as an alias", group, c.Name(), strings.Replace(c.Name(), verb, want, 1), c.Name())
		}
		if (verb == "create" || verb == "delete") && !inTable[group+" "+c.Name()] {
			t.Errorf("deskprov %s %s is not in verbTable: add it with the aliases it keeps", group, c.Name())
		}
	}
	walk(rootCmd)

	for _, v := range verbTable {
		path := append(strings.Fields(v.group), v.verb)
		cmd, rest, err := rootCmd.Find(path)
		if err != nil || len(rest) > 0 || cmd.Name() != v.verb {
			t.Errorf("deskprov %s: not a command (%v %v)", strings.Join(path, " "), err, rest)
			continue
		}
		for _, alias := range v.aliases {
			old := append(strings.Fields(v.group), alias)
			got, rest, err := rootCmd.Find(old)
			if err != nil || len(rest) > 0 || got != cmd {
				t.Errorf("deskprov %s: does not find deskprov %s (%v)", strings.Join(old, " "), strings.Join(path, " "), err)
				continue
			}
			out, err := runCLI(t, append(old, "--help")...)
			if err != nil || !strings.Contains(out, "deskprov "+v.group+" "+v.verb) || !strings.Contains(out, "Aliases:") {
				t.Errorf("deskprov %s --help: %v\n%s", strings.Join(old, " "), err, out)
			}
		}
	}
}

// TestCLIArgumentForms: issue 18 item 4 (with item 3's exit codes). The
// argument forms of the renamed commands and their exit statuses: a wrong
// form exits 1 naming what to give and the help of the command meant (the
// canonical name, even when called by an alias); an unknown verb exits 1
// with "unknown command" and a suggestion.
func TestCLIArgumentForms(t *testing.T) {
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"a test device needs its MAC or serial", []string{"firmware", "testdevice", "create"}, 1, []string{"give the phone's MAC as the argument, or --serial SERIAL", "Run 'deskprov firmware testdevice create --help' for usage."}},
		{"a test device is one phone", []string{"firmware", "testdevice", "create", "0004f2aabbcc", "0004f2aabbcd"}, 1, []string{"accepts at most 1 arg(s), received 2"}},
		{"a MAC given twice", []string{"firmware", "testdevice", "create", "0004f2aabbcc", "--mac", "0004f2aabbcc"}, 1, []string{"give the MAC once"}},
		{"a MAC and a serial", []string{"firmware", "testdevice", "create", "0004f2aabbcc", "--serial", "SN1"}, 1, []string{"one of them"}},
		{"the old form's errors name the new command", []string{"firmware", "testdevice", "add"}, 1, []string{"Run 'deskprov firmware testdevice create --help' for usage."}},
		{"create needs its object", []string{"user", "create"}, 1, []string{"accepts 1 arg(s), received 0", "Run 'deskprov user create --help' for usage."}},
		{"so does its alias", []string{"user", "add"}, 1, []string{"accepts 1 arg(s), received 0", "Run 'deskprov user create --help' for usage."}},
		{"delete needs its object", []string{"policy", "delete"}, 1, []string{"accepts 1 arg(s), received 0", "Run 'deskprov policy delete --help' for usage."}},
		{"device show takes the MAC the same way", []string{"device", "show"}, 1, []string{"accepts 1 arg(s), received 0"}},
		{"an unknown verb", []string{"user", "frob"}, 1, []string{`unknown command "frob" for "deskprov user"`}},
		{"a misspelt create", []string{"policy", "creat", "Sales"}, 1, []string{`unknown command "creat" for "deskprov policy"`, "Did you mean this?\n\tcreate"}},
		{"a misspelt delete", []string{"site", "delet", "HQ"}, 1, []string{"Did you mean this?\n\tdelete"}},
		{"help of the new verb", []string{"firmware", "testdevice", "create", "--help"}, 0, []string{"deskprov firmware testdevice create MAC"}},
		{"a valid form reaches the server step", []string{"firmware", "testdevice", "create", "0004f2aabbcc"}, 1, []string{"no server: run deskprov login"}},
		{"so does the old --mac form", []string{"firmware", "testdevice", "add", "--mac", "0004f2aabbcc"}, 1, []string{"no server: run deskprov login"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, c.args...)
			var stderr bytes.Buffer
			code := reportError(&stderr, err)
			got := out + stderr.String()
			if code != c.code {
				t.Fatalf("deskprov %s: exit %d, want %d\n%s", strings.Join(c.args, " "), code, c.code, got)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("deskprov %s: printed %q, want %q", strings.Join(c.args, " "), got, w)
				}
			}
		})
	}
}

// TestCLICreateAndDeleteRun: the new verbs and the old ones they replace
// do the same thing against a running server (issue 18 item 4).
func TestCLICreateAndDeleteRun(t *testing.T) {
	serveLoggedIn(t, "")
	runSteps(t, []cliStep{
		{"user create", []string{"user", "create", "amosm@contoso.com", "--password", "password1"}, "amosm@contoso.com", false},
		{"user add (the old name)", []string{"user", "add", "pat@contoso.com", "--password", "password1"}, "pat@contoso.com", false},
		{"user delete", []string{"user", "delete", "pat@contoso.com"}, "pat@contoso.com", false},
		{"user remove (the old name)", []string{"user", "remove", "amosm@contoso.com"}, "amosm@contoso.com", false},
		{"policy create", []string{"policy", "create", "Sales"}, "Sales", false},
		{"policy new (the old name)", []string{"policy", "new", "Lobby"}, "Lobby", false},
		{"policy delete", []string{"policy", "delete", "Sales"}, "Sales", false},
		{"policy remove (the old name)", []string{"policy", "remove", "Lobby"}, "Lobby", false},
		{"a test device by its MAC as an argument", []string{"firmware", "testdevice", "create", "00:04:F2:AA:BB:CC"}, "0004f2aabbcc", false},
		{"the old --mac form", []string{"firmware", "testdevice", "add", "--mac", "00-04-f2-aa-bb-cd"}, "0004f2aabbcd", false},
		{"by serial", []string{"firmware", "testdevice", "create", "--serial", "SN123"}, "SN123", false},
		{"the list has all three", []string{"firmware", "testdevice", "list"}, "0004f2aabbcd", false},
		{"testdevice delete by the MAC it was created with, in another spelling", []string{"firmware", "testdevice", "delete", "00-04-f2-aa-bb-cc"}, "00-04-f2-aa-bb-cc", false},
		{"testdevice remove (the old name) by ID", []string{"firmware", "testdevice", "remove", "2"}, "2", false},
		{"site create", []string{"site", "create", "HQ", "--subnet", "10.1.0.0/16"}, "HQ", false},
		{"site delete", []string{"site", "delete", "HQ"}, "HQ", false},
	})
	out, err := runCLI(t, "firmware", "testdevice", "list")
	if err != nil || strings.Contains(out, "0004f2aabbcc") || strings.Contains(out, "0004f2aabbcd") || !strings.Contains(out, "SN123") {
		t.Fatalf("after deleting two: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "firmware", "testdevice", "delete", "SN123"); err != nil {
		t.Fatalf("delete by serial: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "firmware", "testdevice", "list"); err != nil || strings.Contains(out, "SN123") {
		t.Fatalf("after deleting by serial: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "firmware", "testdevice", "delete", "0004f2aabbcc"); err == nil || !strings.Contains(err.Error(), "no test device is listed as 0004f2aabbcc") {
		t.Fatalf("deleting a test device that is not listed: %v", err)
	}
}
