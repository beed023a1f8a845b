package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type adminSessionView struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Kind      string `json:"kind"`
	Address   string `json:"address"`
	CreatedAt string `json:"createdAt"`
	ExpiresAt string `json:"expiresAt"`
	Current   bool   `json:"current"`
}

func init() {
	admin := &cobra.Command{Use: "admin", Short: "Admin accounts and roles, admin sessions (console sign-ins and API tokens), your admin password"}

	sessions := &cobra.Command{
		Use:   "sessions",
		Short: "List the live admin sessions: console sign-ins and API tokens",
		Args:  cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var ss []adminSessionView
			if err := c.do(http.MethodGet, "/api/v1/admin/sessions", nil, &ss); err != nil {
				return err
			}
			return render(cmd, ss, func(w io.Writer) {
				rows := make([][]string, len(ss))
				for i, s := range ss {
					who := s.Username
					if s.Current {
						who += " (this one)"
					}
					rows[i] = []string{s.ID, who, s.Kind, s.Address, tableTimeText(s.CreatedAt), tableTimeText(s.ExpiresAt)}
				}
				printTable(w, []string{"ID", "ADMIN", "KIND", "FROM", "SIGNED IN", "EXPIRES"}, rows)
			})
		}),
	}

	revoke := &cobra.Command{
		Use:     "revoke-session ID",
		Short:   "End an admin session: its token stops working at once, on every server",
		Example: "  deskprov admin revoke-session 3f2a…   (IDs from deskprov admin sessions)",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/admin/sessions/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			return render(cmd, map[string]any{"revoked": args[0]}, func(w io.Writer) { fmt.Fprintf(w, "revoked admin session %s\n", args[0]) })
		}),
	}

	var passwordStdin bool
	password := &cobra.Command{
		Use:     "password",
		Aliases: []string{"passwd"},
		Short:   "Change your admin password; your other sessions end",
		Long: `Change the password of the admin you are signed in as. Every other session of
yours (console sign-ins, other API tokens) ends; this CLI's token stays valid.

The current and the new password are asked for on the terminal, or read from
--password-stdin as two lines (current, then new).`,
		Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			cur, next, err := readPasswordChange(cmd, passwordStdin)
			if err != nil {
				return err
			}
			var out struct {
				EndedSessions int `json:"endedSessions"`
			}
			if err := c.do(http.MethodPut, "/api/v1/admin/password", map[string]string{"currentPassword": cur, "newPassword": next}, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "password changed; %d other session(s) ended\n", out.EndedSessions)
			})
		}),
	}
	password.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the current and the new password from standard input, one per line")

	admin.AddCommand(sessions, revoke, password)
	admin.AddCommand(adminAccountCommands()...)
	rootCmd.AddCommand(admin)
}

func readPasswordChange(cmd *cobra.Command, fromStdin bool) (string, string, error) {
	if fromStdin {
		r := bufio.NewReader(cmd.InOrStdin())
		var lines [2]string
		for i := range lines {
			line, err := r.ReadString('\n')
			if err != nil && line == "" {
				return "", "", errors.New("--password-stdin needs two lines: the current password, then the new one")
			}
			lines[i] = strings.TrimRight(line, "\r\n")
		}
		return lines[0], lines[1], nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", "", errors.New("no terminal to ask for the passwords on: use --password-stdin")
	}
	var out [2]string
	for i, prompt := range []string{"Current password: ", "New password: "} {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", "", err
		}
		out[i] = string(b)
	}
	return out[0], out[1], nil
}
