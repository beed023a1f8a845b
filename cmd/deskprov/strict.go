package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a command line the CLI could not read (an unknown command or
// flag, a wrong number of arguments): reported like any error, then pointed
// at the help of the command that was meant.
type usageError struct {
	path string // the command's path, "deskprov policy"
	err  error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// reportError prints err in the CLI's one form ("error: …", the usage hint
// after a usage error) and returns the exit code: 0 without an error, 1 with
// one. Cobra prints nothing itself (SilenceErrors), so this is the only form.
func reportError(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(w, "error:", strings.TrimRight(err.Error(), "\n"))
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", ue.path)
	}
	return 1
}

// strictGroups makes every command that only groups others (deskprov user,
// deskprov firmware, …) refuse a word it does not know, as cobra does for
// top-level commands: "deskprov policy frob" exits non-zero with
// "unknown command" and a suggestion, instead of printing help and exiting 0.
// A group given no word still prints its help. Every command's argument and
// flag errors become usage errors, so all of them read alike.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if c == rootCmd {
		c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
			return &usageError{path: cmd.CommandPath(), err: err}
		})
		c.SetHelpCommand(helpCmd)
	}
	if !c.HasSubCommands() || c.Runnable() {
		if args := c.Args; args != nil {
			if _, done := c.Annotations["deskprov.usage"]; !done {
				c.Args = func(cmd *cobra.Command, a []string) error {
					if err := args(cmd, a); err != nil {
						return &usageError{path: cmd.CommandPath(), err: err}
					}
					return nil
				}
				if c.Annotations == nil {
					c.Annotations = map[string]string{}
				}
				c.Annotations["deskprov.usage"] = "" // wrapped once, however often execute runs
			}
		}
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return unknownCommand(cmd, args[0])
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

func unknownCommand(cmd *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return &usageError{path: cmd.CommandPath(), err: errors.New(msg)}
}

// helpCmd replaces cobra's help command, which answers an unknown topic with
// the root's usage and exit status 0.
var helpCmd = &cobra.Command{
	Use:   "help [command]",
	Short: "Help about any command",
	RunE: func(c *cobra.Command, args []string) error {
		cmd, rest, err := c.Root().Find(args)
		if err != nil {
			return &usageError{path: c.Root().CommandPath(), err: err}
		}
		if len(rest) > 0 {
			return unknownCommand(cmd, rest[0])
		}
		cmd.InitDefaultHelpFlag()
		return cmd.Help()
	},
}
