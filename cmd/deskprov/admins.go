package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
)

type adminAccountView struct {
	Username          string `json:"username"`
	Role              string `json:"role"`
	CreatedAt         string `json:"createdAt"`
	GeneratedPassword string `json:"generatedPassword,omitempty"`
}

// adminAccountCommands are deskprov admin list|add|set-role|remove over the
// API, and reset-password, which works on the store itself: it is how the
// server host's operator gets back in when no admin can sign in.
func adminAccountCommands() []*cobra.Command {
	list := &cobra.Command{
		Use: "list", Short: "List the admin accounts and their roles", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var as []adminAccountView
			if err := c.do(http.MethodGet, "/api/v1/admins", nil, &as); err != nil {
				return err
			}
			return render(cmd, as, func(w io.Writer) {
				rows := make([][]string, len(as))
				for i, a := range as {
					rows[i] = []string{a.Username, a.Role, a.CreatedAt}
				}
				printTable(w, []string{"USERNAME", "ROLE", "ADDED"}, rows)
			})
		}),
	}

	var role string
	var addStdin bool
	add := &cobra.Command{
		Use:     "create USERNAME",
		Aliases: []string{"add"},
		Short:   "Create an admin account (needs the admin role)",
		Long: `Create an admin account with --role admin (everything), helpdesk (read, sign
phones out, reset phone-lock PINs, issue unlock codes) or reader (read only).
The password is read from --password-stdin (one line); without it the server
makes one and it is printed this once.`,
		Example: "  deskprov admin create hd1 --role helpdesk\n  printf '%s\\n' \"$PW\" | deskprov admin create ops --role admin --password-stdin",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			pw := ""
			if addStdin {
				var err error
				if pw, err = readLine(cmd.InOrStdin()); err != nil {
					return err
				}
			}
			var out adminAccountView
			if err := c.do(http.MethodPost, "/api/v1/admins", map[string]string{"username": args[0], "password": pw, "role": role}, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "added admin %s (%s)\n", out.Username, out.Role)
				if out.GeneratedPassword != "" {
					fmt.Fprintf(w, "password: %s   (shown this once)\n", out.GeneratedPassword)
				}
			})
		}),
	}
	add.Flags().StringVar(&role, "role", "reader", "admin, helpdesk or reader")
	add.Flags().BoolVar(&addStdin, "password-stdin", false, "read the new admin's password from standard input")

	setRole := &cobra.Command{
		Use: "set-role USERNAME ROLE", Short: "Change an admin's role: admin, helpdesk or reader (needs the admin role)",
		Args: cobra.ExactArgs(2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var out adminAccountView
			if err := c.do(http.MethodPatch, "/api/v1/admins/"+pathEscape(args[0]), map[string]string{"role": args[1]}, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { fmt.Fprintf(w, "%s is now %s\n", out.Username, out.Role) })
		}),
	}

	remove := &cobra.Command{
		Use: "delete USERNAME", Aliases: []string{"remove", "rm"}, Short: "Delete an admin account and end its sessions (needs the admin role)",
		Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/admins/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			return render(cmd, map[string]string{"removed": args[0]}, func(w io.Writer) { fmt.Fprintf(w, "removed admin %s\n", args[0]) })
		}),
	}

	var dataDir, dsn string
	var resetStdin bool
	reset := &cobra.Command{
		Use:   "reset-password USERNAME",
		Short: "Recover a lost admin password: run on the server host, against its store",
		Long: `Set a new password for an admin without the old one, ending all of their
sessions. It works on the store directly (the data directory's SQLite file, or
--db for PostgreSQL), not through the API, so it needs no admin to be signed
in: whoever can read the server's store can run it. The server may be running.

The new password is read from --password-stdin (one line); without it one is
made and printed. The change is in the audit log.`,
		Example: "  deskprov admin reset-password admin --data-dir /var/lib/deskprov\n  deskprov admin reset-password admin --db postgres://deskprov@db/deskprov",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated := "", false
			if resetStdin {
				var err error
				if pw, err = readLine(cmd.InOrStdin()); err != nil {
					return err
				}
			} else {
				var err error
				if pw, err = tenant.GeneratePassword(); err != nil {
					return err
				}
				generated = true
			}
			n, err := resetAdminPassword(cmd.Context(), dataDir, dsn, args[0], pw)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "reset the password of admin %s; %d session(s) ended\n", args[0], n)
			if generated {
				fmt.Fprintf(out, "new password: %s\n", pw)
			}
			return nil
		},
	}
	reset.Flags().StringVar(&dataDir, "data-dir", "./deskprov-data", "the server's data directory (its SQLite store)")
	reset.Flags().StringVar(&dsn, "db", "", "the server's database DSN when it is not SQLite in the data dir")
	reset.Flags().BoolVar(&resetStdin, "password-stdin", false, "read the new password from standard input")
	return []*cobra.Command{list, add, setRole, remove, reset}
}

// resetAdminPassword opens the store as serve does and resets the password.
// It does not take the data directory's lock, which a running server
// holds: the change is one short transaction, and the server reads admin
// sessions from the store on every request, so it holds there at once.
func resetAdminPassword(ctx context.Context, dataDir, dsn, username, password string) (int, error) {
	if dsn == "" {
		if _, err := os.Stat(store.SQLitePath(dsn, dataDir)); err != nil {
			return 0, fmt.Errorf("no store in the data directory %s (%v): give the server's --data-dir, or --db", dataDir, err)
		}
	}
	db, _, err := store.Open(dsn, dataDir)
	if err != nil {
		return 0, err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	if err := tenant.Migrate(db); err != nil {
		return 0, fmt.Errorf("migrate the store: %w", err)
	}
	host, _ := os.Hostname()
	return tenant.New(db).ResetAdminPassword(ctx, "reset-password on "+host, username, password)
}

func readLine(r io.Reader) (string, error) {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("--password-stdin: no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
