package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/pages"
	"github.com/deskprov/deskprov/web/phone"
)

// addSignIn builds the authorization server on the app's tenant and policy
// services and mounts its module (OAuth endpoints, /devicelogin, admin API).
func (a *app) addSignIn(o serveOptions) (*signin.Service, error) {
	var pol policy.Source
	if a.policy != nil {
		pol = a.policy
	}
	si := signin.New(a.db, a.tenant, pol, o.PublicURL)
	si.Secrets = a.secrets
	if _, err := si.SealClearSecrets(context.Background()); err != nil {
		return nil, fmt.Errorf("seal authenticator secrets stored in clear: %w", err)
	}
	for family, action := range o.PhoneLockLockout {
		if _, ok := signin.Clients[family]; !ok {
			return nil, fmt.Errorf("--phone-lock-lockout: unknown phone family %q: use polycom, yealink, audiocodes or lpe", family)
		}
		switch l := signin.Lockout(action); l {
		case signin.LockoutSignOut, signin.LockoutAdminCode:
			si.Lockouts[family] = l
		default:
			return nil, fmt.Errorf("--phone-lock-lockout: %s=%q: use sign_out or admin_unlock_code", family, action)
		}
	}
	a.modules = append(a.modules, phone.SignIn(si), api.SignIn(si), pages.DeviceLogin(si))
	return si, nil
}

type phoneSessionView struct {
	ID              string `json:"id"`
	MAC             string `json:"mac"`
	UPN             string `json:"upn"`
	ClientID        string `json:"clientId"`
	Method          string `json:"method"`
	Scope           string `json:"scope"`
	SignedInAt      string `json:"signedInAt"`
	Locked          bool   `json:"locked"`
	NeedsUnlockCode bool   `json:"needsUnlockCode"`
	PINSet          bool   `json:"phoneLockPinSet"`
}

func init() {
	phone := &cobra.Command{Use: "signin", Short: "See who is signed in on which phone; sign out, reset phone-lock PINs, issue unlock codes"}

	var upn, search string
	list := &cobra.Command{
		Use:   "phones",
		Short: "List signed-in phones (all, one user's with --user, or matching --search)",
		Args:  cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"upn": upn, "q": search} {
				if v != "" {
					q.Set(k, v)
				}
			}
			// The server pages the list in its store: read every page.
			var ss []phoneSessionView
			q.Set("limit", strconv.Itoa(signin.MaxSessionPage))
			for {
				var page []phoneSessionView
				if err := c.do(http.MethodGet, "/api/v1/phonesessions?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				ss = append(ss, page...)
				if len(page) < signin.MaxSessionPage {
					break
				}
				last := page[len(page)-1]
				q.Set("after", strings.ToLower(last.UPN)+","+last.MAC)
			}
			return render(cmd, ss, func(w io.Writer) {
				rows := make([][]string, len(ss))
				for i, s := range ss {
					lock := "-"
					switch {
					case s.NeedsUnlockCode:
						lock = "needs unlock code"
					case s.Locked:
						lock = "locked"
					case s.PINSet:
						lock = "PIN set"
					}
					rows[i] = []string{s.MAC, s.UPN, s.ClientID, s.Method, s.Scope, tableTimeText(s.SignedInAt), lock}
				}
				printTable(w, []string{"MAC", "USER", "FAMILY", "METHOD", "SCOPE", "SIGNED IN", "PHONE LOCK"}, rows)
			})
		}),
	}
	list.Flags().StringVar(&upn, "user", "", "only this user's phones")
	list.Flags().StringVar(&search, "search", "", "only sessions whose UPN or MAC (any spelling) contains this")

	signOutUser := &cobra.Command{
		Use:     "signout-user UPN",
		Short:   "Sign a user out of every phone",
		Example: "  deskprov signin signout-user amosm@contoso.com",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var out struct {
				SignedOut int `json:"signedOut"`
			}
			if err := c.do(http.MethodPost, "/api/v1/users/"+pathEscape(args[0])+"/signout", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { fmt.Fprintf(w, "signed %s out of %d phone(s)\n", args[0], out.SignedOut) })
		}),
	}

	signOutPhone := &cobra.Command{
		Use:   "signout-phone MAC",
		Short: "Sign whoever is on a phone out of it",
		Args:  cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var out map[string]any
			if err := c.do(http.MethodPost, "/api/v1/phonesessions/"+pathEscape(args[0])+"/signout", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { fmt.Fprintf(w, "signed phone %s out\n", args[0]) })
		}),
	}

	resetPIN := &cobra.Command{
		Use:   "reset-pin MAC",
		Short: "Clear a phone's phone-lock PIN and unlock it; the user sets a new PIN",
		Args:  cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var out map[string]any
			if err := c.do(http.MethodPost, "/api/v1/phonesessions/"+pathEscape(args[0])+"/resetpin", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "phone-lock PIN of %s cleared; the user will be asked for a new one\n", args[0])
			})
		}),
	}

	unlockCode := &cobra.Command{
		Use:   "unlock-code MAC",
		Short: "Issue a one-time code that unlocks a phone locked by too many wrong PINs",
		Args:  cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var out struct {
				Code      string `json:"code"`
				ExpiresAt string `json:"expiresAt"`
			}
			if err := c.do(http.MethodPost, "/api/v1/phonesessions/"+pathEscape(args[0])+"/unlockcode", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "unlock code for %s: %s (works once, until %s)\n", args[0], out.Code, tableTimeText(out.ExpiresAt))
			})
		}),
	}

	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Start a new token signing key (the old one stays published for an hour)",
		Args:  cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var out struct {
				KID       string `json:"kid"`
				Published int    `json:"published"`
			}
			if err := c.do(http.MethodPost, "/api/v1/signin/keys/rotate", nil, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "new signing key %s; %d key(s) published in the JWKS\n", out.KID, out.Published)
			})
		}),
	}

	phone.AddCommand(list, signOutUser, signOutPhone, resetPIN, unlockCode, rotate)
	rootCmd.AddCommand(phone)
}
