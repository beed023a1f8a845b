// Command deskprov is the deskprov server (deskprov serve) and its admin CLI,
// which talks to a running server over the REST API.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// rootCmd is the top of the command tree; each area's file adds its commands
// in an init function.
var rootCmd = &cobra.Command{
	Use:   "deskprov",
	Short: "Provisioning, firmware and sign-in server for Skype for Business certified desk phones",
	Long: `deskprov serves configuration and certified firmware to Polycom VVX, Yealink T4x,
AudioCodes 4xx HD and Lync Phone Edition desk phones, signs people in on them, and
manages the IP phone policy, licenses and phone numbers behind them.

Run the server with "deskprov serve". Every other command is an admin client that
talks to a running server: start with "deskprov login --server URL --username admin".`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	os.Exit(reportError(os.Stderr, execute()))
}

// execute runs the command line, once every file's init has added its
// commands.
func execute() error {
	strictGroups(rootCmd)
	return rootCmd.Execute()
}

// envFallback fills every flag the user did not set from DESKPROV_<FLAG>,
// so "--data-dir" falls back to DESKPROV_DATA_DIR.
func envFallback(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "DESKPROV_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func init() {
	rootCmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := envFallback(cmd.Flags()); err != nil {
			return err
		}
		return envFallback(cmd.InheritedFlags())
	}
}

// resetFlag puts one flag back to its default. A list flag is emptied with
// Replace rather than Set, because Set appends: Set("[]") would leave the
// literal "[]" in the list.
func resetFlag(f *pflag.Flag) {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		def := strings.TrimSuffix(strings.TrimPrefix(f.DefValue, "["), "]")
		var vals []string
		if def != "" {
			vals = strings.Split(def, ",")
		}
		_ = sv.Replace(vals)
	} else {
		_ = f.Value.Set(f.DefValue)
	}
	f.Changed = false
}
