package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() {
	var username, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a deskprov server as an admin and keep the token",
		Long: `Sign in to a deskprov server as an admin. The token is kept in the user's config
directory (deskprov/cli.json) and used by every other command.

The password is asked for on the terminal, or read from --password-stdin or DESKPROV_PASSWORD.`,
		Example: `  deskprov login --server http://prov.example.com:8080 --username admin
  echo "$PW" | deskprov login --server http://127.0.0.1:8080 --username admin --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			server := strings.TrimRight(firstNonEmpty(globalOpts.server, os.Getenv("DESKPROV_SERVER"), cfg.Server), "/")
			if server == "" {
				return errors.New("--server is required the first time, for example --server http://127.0.0.1:8080")
			}
			if username == "" {
				return errors.New("--username is required")
			}
			switch {
			case password != "":
			case passwordStdin:
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read the password from standard input: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			case os.Getenv("DESKPROV_PASSWORD") != "":
				password = os.Getenv("DESKPROV_PASSWORD")
			case term.IsTerminal(int(os.Stdin.Fd())):
				fmt.Fprintf(cmd.ErrOrStderr(), "Password for %s at %s: ", username, server)
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				password = string(b)
			default:
				return errors.New("no password: use --password-stdin, DESKPROV_PASSWORD, or run on a terminal")
			}
			body, _ := json.Marshal(map[string]string{"username": username, "password": password})
			hc := &http.Client{Timeout: 30 * time.Second}
			resp, err := hc.Post(server+"/api/v1/login", "application/json", bytes.NewReader(body))
			if err != nil {
				return fmt.Errorf("could not reach %s: %w", server, err)
			}
			defer resp.Body.Close()
			var out struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
			}
			if err := decodeAnswer(resp, &out); err != nil {
				return err
			}
			p, err := saveConfig(cliConfig{Server: server, Username: username, Token: out.AccessToken})
			if err != nil {
				return fmt.Errorf("keep the token: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Signed in to %s as %s (token valid %s, kept in %s)\n", server, username, time.Duration(out.ExpiresIn)*time.Second, p)
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "admin username")
	cmd.Flags().StringVar(&password, "password", "", "admin password (prefer the prompt or --password-stdin: flags show in ps)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	rootCmd.AddCommand(cmd)
}
