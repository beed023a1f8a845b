package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

type mfaSettingsView struct {
	EnrollmentCodeRequired bool `json:"enrollmentCodeRequired"`
}

type enrollmentCodeView struct {
	UPN       string `json:"upn"`
	Code      string `json:"code"`
	ExpiresAt string `json:"expiresAt"`
}

func init() {
	mfa := &cobra.Command{Use: "mfa", Short: "Multi-factor authentication: require an admin-issued code for a user's first authenticator enrolment, issue codes"}

	printSettings := func(w io.Writer, m mfaSettingsView) {
		printTable(w, []string{"SETTING", "VALUE"}, [][]string{{"Enrolment code required", yesNo(m.EnrollmentCodeRequired)}})
	}
	show := &cobra.Command{
		Use: "show", Short: "Show the organisation's MFA settings", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var m mfaSettingsView
			if err := c.do(http.MethodGet, "/api/v1/settings/mfa", nil, &m); err != nil {
				return err
			}
			return render(cmd, m, func(w io.Writer) { printSettings(w, m) })
		}),
	}
	require := &cobra.Command{
		Use:   "require-enrollment-code on|off",
		Short: "Require (on) or stop requiring (off) an admin-issued code for a user's first authenticator enrolment",
		Long: `With "on", a user who signs in on the web for the first time with MFA must type a one-time
enrolment code that an admin issued for them (deskprov mfa enrollment-code UPN) before they
can set up their authenticator app. With "off", their password alone lets them enrol.`,
		Example: "  deskprov mfa require-enrollment-code on",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var on bool
			switch strings.ToLower(args[0]) {
			case "on", "yes":
				on = true
			case "off", "no":
			default:
				b, err := strconv.ParseBool(args[0])
				if err != nil {
					return fmt.Errorf("require-enrollment-code takes on or off, not %q", args[0])
				}
				on = b
			}
			var m mfaSettingsView
			if err := c.do(http.MethodPut, "/api/v1/settings/mfa", map[string]bool{"enrollmentCodeRequired": on}, &m); err != nil {
				return err
			}
			return render(cmd, m, func(w io.Writer) { printSettings(w, m) })
		}),
	}
	code := &cobra.Command{
		Use:     "enrollment-code UPN",
		Short:   "Issue a one-time enrolment code for a user's first authenticator enrolment (shown once; 72 hours)",
		Example: "  deskprov mfa enrollment-code amosm@contoso.com",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var v enrollmentCodeView
			if err := c.do(http.MethodPost, "/api/v1/users/"+pathEscape(args[0])+"/mfaenrollmentcode", nil, &v); err != nil {
				return err
			}
			return render(cmd, v, func(w io.Writer) {
				fmt.Fprintf(w, "Enrolment code for %s: %s (valid until %s, one use)\nGive it to them yourself or by another channel than their e-mail.\n", v.UPN, v.Code, tableTimeText(v.ExpiresAt))
			})
		}),
	}
	mfa.AddCommand(show, require, code)
	rootCmd.AddCommand(mfa)
}
