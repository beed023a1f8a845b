package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

type userView struct {
	UPN              string   `json:"upn"`
	DisplayName      string   `json:"displayName"`
	SkypeLocation    string   `json:"skypeLocation"`
	ExchangeLocation string   `json:"exchangeLocation"`
	MFA              bool     `json:"mfa"`
	Extension        string   `json:"extension,omitempty"`
	Licenses         []string `json:"licenses"`
	HasPassword      bool     `json:"hasPassword"`
	HasPIN           bool     `json:"hasPin"`
	PhoneNumber      *struct {
		Number string `json:"number"`
	} `json:"phoneNumber,omitempty"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func userRows(us []userView) [][]string {
	rows := make([][]string, len(us))
	for i, u := range us {
		lic := strings.Join(u.Licenses, ",")
		if lic == "" {
			lic = "-"
		}
		rows[i] = []string{u.UPN, u.DisplayName, u.SkypeLocation, u.ExchangeLocation, yesNo(u.MFA), firstNonEmpty(u.Extension, "-"), lic, userNumberText(u)}
	}
	return rows
}

// userNumberText is the user's assigned phone number, "-" when none.
func userNumberText(u userView) string {
	if u.PhoneNumber == nil {
		return "-"
	}
	return u.PhoneNumber.Number
}

var userHeaders = []string{"UPN", "NAME", "SKYPE", "EXCHANGE", "MFA", "EXTENSION", "LICENSES", "NUMBER"}

func init() {
	user := &cobra.Command{Use: "user", Short: "Manage the organisation's users"}

	var in struct {
		DisplayName      string `json:"displayName,omitempty"`
		Password         string `json:"password,omitempty"`
		SkypeLocation    string `json:"skypeLocation,omitempty"`
		ExchangeLocation string `json:"exchangeLocation,omitempty"`
		MFA              bool   `json:"mfa"`
		Extension        string `json:"extension,omitempty"`
		PIN              string `json:"pin,omitempty"`
		UPN              string `json:"upn"`
	}
	add := &cobra.Command{
		Use:     "create UPN",
		Aliases: []string{"add"},
		Short:   "Create a user",
		Example: "  deskprov user create amosm@contoso.com --display-name 'Amos Marble' --password 'S3cret!pass'",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			in.UPN = args[0]
			var u userView
			if err := c.do(http.MethodPost, "/api/v1/users", in, &u); err != nil {
				return err
			}
			return render(cmd, u, func(w io.Writer) { printTable(w, userHeaders, userRows([]userView{u})) })
		}),
	}
	af := add.Flags()
	af.StringVar(&in.DisplayName, "display-name", "", "display name")
	af.StringVar(&in.Password, "password", "", "password for password sign-in (at least 8 characters)")
	af.StringVar(&in.SkypeLocation, "skype-location", "Online", "where the Skype for Business account lives: Online or OnPremises")
	af.StringVar(&in.ExchangeLocation, "exchange-location", "Online", "where the mailbox lives: Online or OnPremises")
	af.BoolVar(&in.MFA, "mfa", false, "the user signs in with multi-factor authentication")
	af.StringVar(&in.Extension, "extension", "", "extension for PIN sign-in")
	af.StringVar(&in.PIN, "pin", "", "PIN for PIN sign-in (4 to 15 digits)")

	var search string
	var limit, offset int
	list := &cobra.Command{
		Use: "list", Short: "List users, all or one page of those a search matches", Args: cobra.NoArgs,
		Example: "  deskprov user list --search contoso --limit 50 --offset 50",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			q := url.Values{}
			if search != "" {
				q.Set("search", search)
			}
			if cmd.Flags().Changed("limit") {
				q.Set("limit", strconv.Itoa(limit))
			}
			if cmd.Flags().Changed("offset") {
				q.Set("offset", strconv.Itoa(offset))
			}
			path := "/api/v1/users"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var us []userView
			if err := c.do(http.MethodGet, path, nil, &us); err != nil {
				return err
			}
			return render(cmd, us, func(w io.Writer) { printTable(w, userHeaders, userRows(us)) })
		}),
	}
	list.Flags().StringVar(&search, "search", "", "only the users whose UPN or display name contains this (without case)")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many users (1 to 500)")
	list.Flags().IntVar(&offset, "offset", 0, "skip this many users first (with --limit, the page)")
	show := &cobra.Command{
		Use: "show UPN", Short: "Show one user", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var u userView
			if err := c.do(http.MethodGet, "/api/v1/users/"+pathEscape(args[0]), nil, &u); err != nil {
				return err
			}
			return render(cmd, u, func(w io.Writer) {
				lic := strings.Join(u.Licenses, ", ")
				printTable(w, []string{"FIELD", "VALUE"}, [][]string{
					{"UPN", u.UPN}, {"Display name", u.DisplayName},
					{"Skype for Business", u.SkypeLocation}, {"Exchange", u.ExchangeLocation},
					{"MFA", yesNo(u.MFA)}, {"Password sign-in", yesNo(u.HasPassword)},
					{"Extension", firstNonEmpty(u.Extension, "-")}, {"PIN sign-in", yesNo(u.HasPIN)},
					{"Licenses", firstNonEmpty(lic, "-")}, {"Phone number", userNumberText(u)}, {"Created", tableTimeText(u.CreatedAt)},
				})
			})
		}),
	}
	var patch struct {
		displayName, password, skype, exchange, extension, pin string
		mfa, removePassword, removePIN                         bool
	}
	set := &cobra.Command{
		Use: "set UPN", Short: "Change a user (only the flags given)", Args: cobra.ExactArgs(1),
		Example: "  deskprov user set amosm@contoso.com --mfa=true --exchange-location OnPremises",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			body := map[string]any{}
			f := cmd.Flags()
			for flag, field := range map[string]string{"display-name": "displayName", "password": "password", "skype-location": "skypeLocation", "exchange-location": "exchangeLocation", "extension": "extension", "pin": "pin"} {
				if f.Changed(flag) {
					v, _ := f.GetString(flag)
					body[field] = v
				}
			}
			if f.Changed("mfa") {
				body["mfa"] = patch.mfa
			}
			if patch.removePassword {
				body["removePassword"] = true
			}
			if patch.removePIN {
				body["removePin"] = true
			}
			if len(body) == 0 {
				return fmt.Errorf("nothing to change: give at least one flag (see --help)")
			}
			var u userView
			if err := c.do(http.MethodPatch, "/api/v1/users/"+pathEscape(args[0]), body, &u); err != nil {
				return err
			}
			return render(cmd, u, func(w io.Writer) { printTable(w, userHeaders, userRows([]userView{u})) })
		}),
	}
	sf := set.Flags()
	sf.StringVar(&patch.displayName, "display-name", "", "display name")
	sf.StringVar(&patch.password, "password", "", "new password (at least 8 characters; to remove it use --remove-password)")
	sf.StringVar(&patch.skype, "skype-location", "", "Online or OnPremises")
	sf.StringVar(&patch.exchange, "exchange-location", "", "Online or OnPremises")
	sf.StringVar(&patch.extension, "extension", "", "extension (empty removes it; a user with a PIN also needs --remove-pin)")
	sf.StringVar(&patch.pin, "pin", "", "PIN for PIN sign-in (4 to 15 digits; to remove it use --remove-pin)")
	sf.BoolVar(&patch.removePassword, "remove-password", false, "remove the password: the user can no longer sign in with a password or on the web")
	sf.BoolVar(&patch.removePIN, "remove-pin", false, "remove the PIN: the user can no longer sign in with extension and PIN")
	sf.BoolVar(&patch.mfa, "mfa", false, "multi-factor authentication on or off")

	remove := &cobra.Command{
		Use: "delete UPN", Aliases: []string{"remove", "rm"}, Short: "Delete a user and free their licenses", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/users/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed %s\n", args[0])
			return nil
		}),
	}
	user.AddCommand(add, list, show, set, remove)
	rootCmd.AddCommand(user)
}
