package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// strictGroups makes every command that only groups others (deskprov user,
// deskprov firmware, …) refuse a word it does not know, as cobra does for
// top-level commands: "deskprov policy create" exits non-zero with
// "unknown command" and a suggestion, instead of printing help and exiting 0.
// A group given no word still prints its help.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if c == rootCmd || !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return fmt.Errorf("%s\nRun '%s --help' for its commands", msg, cmd.CommandPath())
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}
