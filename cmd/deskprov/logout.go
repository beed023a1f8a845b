package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "logout",
		Short: "End this admin session on the server and forget its token",
		Long: `End the admin session of the token in use (POST /api/v1/logout): the server
refuses the token from then on, on every instance. The token kept by deskprov login is
forgotten too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			err = c.do(http.MethodPost, "/api/v1/logout", nil, nil)
			var ae *apiError
			ended := errors.As(err, &ae) && ae.Status == http.StatusUnauthorized
			if err != nil && !ended {
				return err
			}
			cfg, cerr := loadConfig()
			if cerr == nil && cfg.Token == c.token && strings.TrimRight(cfg.Server, "/") == c.base {
				cfg.Token = ""
				if _, cerr = saveConfig(cfg); cerr != nil {
					return fmt.Errorf("forget the token: %w", cerr)
				}
			}
			if ended {
				fmt.Fprintf(cmd.OutOrStdout(), "The session at %s had already ended; its token is forgotten\n", c.base)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Signed out of %s\n", c.base)
			return nil
		},
	})
}
