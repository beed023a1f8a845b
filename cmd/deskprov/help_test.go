package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

type cobraCommand = cobra.Command

// allCommands lists every command under the root.
func allCommands() []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			out = append(out, sub)
			walk(sub)
		}
	}
	walk(rootCmd)
	return out
}

// TestUnknownSubcommandsFail (issue 18 item 3): a word a command group does
// not know exits non-zero with "unknown command" and a suggestion, as cobra
// does for top-level commands; the group alone still prints its help.
func TestUnknownSubcommandsFail(t *testing.T) {
	runSteps(t, []cliStep{
		{"policy creat is not a command", []string{"policy", "creat"}, "unknown command \"creat\" for \"deskprov policy\"\n\nDid you mean this?\n\tcreate", true},
		{"user frob is not a command", []string{"user", "frob"}, `unknown command "frob" for "deskprov user"`, true},
		{"a near miss gets a suggestion", []string{"firmware", "rule"}, "Did you mean this?\n\trules", true},
		{"a group alone prints its help", []string{"user"}, "Available Commands:", false},
		{"an unknown top-level command fails too", []string{"nosuch"}, `unknown command "nosuch" for "deskprov"`, true},
	})
}

// TestCLIErrorsHaveOneForm (issue 18 item 10): every failure, whether cobra
// or deskprov finds it, prints "error: …" once (never cobra's "Error: …"),
// usage errors then point at the help of the command meant, and the exit
// status is 1; help and a group alone exit 0.
func TestCLIErrorsHaveOneForm(t *testing.T) {
	t.Setenv("DESKPROV_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	t.Setenv("DESKPROV_SERVER", "")
	t.Setenv("DESKPROV_TOKEN", "")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // the start of what is printed on failure
	}{
		{"an unknown top-level command", []string{"nosuch"}, 1, "error: unknown command \"nosuch\" for \"deskprov\"\nRun 'deskprov --help' for usage.\n"},
		{"an unknown subcommand", []string{"policy", "frob"}, 1, "error: unknown command \"frob\" for \"deskprov policy\"\nRun 'deskprov policy --help' for usage.\n"},
		{"an unknown flag", []string{"user", "list", "--bogus"}, 1, "error: unknown flag: --bogus\nRun 'deskprov user list --help' for usage.\n"},
		{"an unknown flag at the top", []string{"--bogus"}, 1, "error: unknown flag: --bogus\nRun 'deskprov --help' for usage.\n"},
		{"a flag without its value", []string{"user", "create", "a@contoso.com", "--display-name"}, 1, "error: flag needs an argument: --display-name\nRun 'deskprov user create --help' for usage.\n"},
		{"a flag value of the wrong type", []string{"firmware", "approve", "1", "--advance-at", "most"}, 1, "error: invalid argument \"most\" for \"--advance-at\""},
		{"a missing argument", []string{"firmware", "import"}, 1, "error: accepts 1 arg(s), received 0\nRun 'deskprov firmware import --help' for usage.\n"},
		{"an error from deskprov itself", []string{"user", "list"}, 1, "error: no server: run deskprov login"},
		{"help on an unknown topic", []string{"help", "nosuch"}, 1, "error: unknown command \"nosuch\" for \"deskprov\"\n"},
		{"help on an unknown subcommand", []string{"help", "policy", "frob"}, 1, "error: unknown command \"frob\" for \"deskprov policy\"\n"},
		{"help on a command", []string{"help", "policy"}, 0, ""},
		{"--help", []string{"user", "--help"}, 0, ""},
		{"a group alone", []string{"user"}, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, c.args...)
			var stderr bytes.Buffer
			code := reportError(&stderr, err)
			if code != c.code || !strings.HasPrefix(stderr.String(), c.want) || strings.Count(stderr.String(), "error:") > 1 ||
				strings.Contains(out, "Error:") || strings.Contains(stderr.String(), "Error:") {
				t.Fatalf("deskprov %s: exit %d, printed %q then %q; want exit %d and %q", strings.Join(c.args, " "), code, out, stderr.String(), c.code, c.want)
			}
		})
	}
}

// TestHelpTellsTheTruth (issue 18 item 5): policy setting flags show the
// policy's real defaults for "policy create" and none for "policy set" (an
// omitted flag leaves the setting alone there); serve's help lists no admin
// client flags and no "(default [])".
func TestHelpTellsTheTruth(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"policy", "create", "--help"}, []string{"KeyboardLockMaxPinRetry int", "(default 5)", "(default 6)", `(default "G722_8000;PCMU;PCMA;G729")`}, []string{"(default 0)"}},
		{[]string{"policy", "set", "--help"}, []string{"KeyboardLockMaxPinRetry int"}, []string{"(default 0)", "(default 5)", "(default false)"}},
		{[]string{"serve", "--help"}, []string{"--phone-lock-lockout", "--data-dir"}, []string{"(default [])", "--server string", "--token string", "--output string"}},
		{[]string{"user", "list", "--help"}, []string{"--server string", "--token string"}, nil},
	} {
		out, err := runCLI(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: help lacks %q", tc.args, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(out, n) {
				t.Errorf("%v: help says %q", tc.args, n)
			}
		}
	}
}
