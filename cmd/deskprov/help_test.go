package main

import (
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
		{"policy create is not a command", []string{"policy", "create"}, `unknown command "create" for "deskprov policy"`, true},
		{"user frob is not a command", []string{"user", "frob"}, `unknown command "frob" for "deskprov user"`, true},
		{"a near miss gets a suggestion", []string{"firmware", "rule"}, "Did you mean this?\n\trules", true},
		{"a group alone prints its help", []string{"user"}, "Available Commands:", false},
		{"an unknown top-level command fails too", []string{"nosuch"}, `unknown command "nosuch" for "deskprov"`, true},
	})
}
