package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"
)

type licenseView struct {
	SKU       string `json:"sku"`
	Purchased int    `json:"purchased"`
	Assigned  int    `json:"assigned"`
}

func licenseTable(w io.Writer, ls []licenseView) {
	rows := make([][]string, len(ls))
	for i, l := range ls {
		rows[i] = []string{l.SKU, strconv.Itoa(l.Purchased), strconv.Itoa(l.Assigned), strconv.Itoa(l.Purchased - l.Assigned)}
	}
	printTable(w, []string{"SKU", "PURCHASED", "ASSIGNED", "AVAILABLE"}, rows)
}

func init() {
	lic := &cobra.Command{
		Use:   "license",
		Short: "Manage purchased and assigned licenses",
		Long: `Licenses decide who may sign in on a desk phone (Phone System and a Calling Plan) and
how many phone numbers the organisation may hold. SKUs: PhoneSystem, CallingPlanDomestic,
CallingPlanInternational, AudioConferencing, CommunicationsCredits, EnterpriseE5.`,
	}
	set := &cobra.Command{
		Use: "set SKU COUNT", Short: "Set how many licenses of a SKU the organisation bought", Args: cobra.ExactArgs(2),
		Example: "  deskprov license set PhoneSystem 50\n  deskprov license set CallingPlanDomestic 50",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("COUNT must be a whole number, not %q", args[1])
			}
			var l licenseView
			if err := c.do(http.MethodPut, "/api/v1/licenses/"+pathEscape(args[0]), map[string]int{"purchased": n}, &l); err != nil {
				return err
			}
			return render(cmd, l, func(w io.Writer) { licenseTable(w, []licenseView{l}) })
		}),
	}
	list := &cobra.Command{
		Use: "list", Short: "List every SKU with purchased and assigned counts", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var ls []licenseView
			if err := c.do(http.MethodGet, "/api/v1/licenses", nil, &ls); err != nil {
				return err
			}
			return render(cmd, ls, func(w io.Writer) { licenseTable(w, ls) })
		}),
	}
	assign := &cobra.Command{
		Use: "assign UPN SKU", Short: "Assign a license to a user", Args: cobra.ExactArgs(2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var u userView
			if err := c.do(http.MethodPut, "/api/v1/users/"+pathEscape(args[0])+"/licenses/"+pathEscape(args[1]), nil, &u); err != nil {
				return err
			}
			return render(cmd, u, func(w io.Writer) { printTable(w, userHeaders, userRows([]userView{u})) })
		}),
	}
	unassign := &cobra.Command{
		Use: "unassign UPN SKU", Short: "Take a license away from a user", Args: cobra.ExactArgs(2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var u userView
			if err := c.do(http.MethodDelete, "/api/v1/users/"+pathEscape(args[0])+"/licenses/"+pathEscape(args[1]), nil, &u); err != nil {
				return err
			}
			return render(cmd, u, func(w io.Writer) { printTable(w, userHeaders, userRows([]userView{u})) })
		}),
	}
	lic.AddCommand(set, list, assign, unassign)
	rootCmd.AddCommand(lic)
}
