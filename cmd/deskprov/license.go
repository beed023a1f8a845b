package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/tenant"
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
	var upnsFile, policyName string
	assign := &cobra.Command{
		Use:   "assign UPN SKU | assign SKU --upns-file FILE",
		Short: "Assign a license to a user, or to every user of a list",
		Long: `Assign a license to one user, or with --upns-file to every user a file lists: UPNs one a
line, or a CSV whose header has a UserPrincipalName column (as the admin center exports
it); "-" reads standard input. Each user is assigned on their own (POST
/api/v1/licenses/{sku}/assignments): one refused does not stop the others, and with
--policy a user gets the license and the IP phone policy together or neither. A row per
user says assigned, unchanged or refused with the reason; the command fails when any
row is refused. Running the same list again is safe.`,
		Example: "  deskprov license assign amosm@contoso.com PhoneSystem\n  deskprov license assign PhoneSystem --upns-file users.csv --policy Sales",
		Args: func(cmd *cobra.Command, args []string) error {
			if upnsFile != "" {
				if len(args) != 1 {
					return fmt.Errorf("with --upns-file give only the SKU: deskprov license assign SKU --upns-file FILE")
				}
				return nil
			}
			if cmd.Flags().Changed("policy") {
				return fmt.Errorf("--policy goes with --upns-file; for one user use deskprov policy grant")
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if upnsFile != "" {
				return bulkAssign(cmd, c, args[0], upnsFile, policyName)
			}
			var u userView
			if err := c.do(http.MethodPut, "/api/v1/users/"+pathEscape(args[0])+"/licenses/"+pathEscape(args[1]), nil, &u); err != nil {
				return err
			}
			return render(cmd, u, func(w io.Writer) { printTable(w, userHeaders, userRows([]userView{u})) })
		}),
	}
	assign.Flags().StringVar(&upnsFile, "upns-file", "", "assign to every user this file lists (UPNs one a line, or a CSV with a UserPrincipalName column; - for standard input)")
	assign.Flags().StringVar(&policyName, "policy", "", "with --upns-file, grant this IP phone policy too, in the same step per user (Global takes a user's own away)")
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

// bulkView is the answer of POST /api/v1/licenses/{sku}/assignments.
type bulkView struct {
	SKU        string  `json:"sku"`
	PolicyName *string `json:"PolicyName,omitempty"`
	Assigned   int     `json:"assigned"`
	Unchanged  int     `json:"unchanged"`
	Refused    int     `json:"refused"`
	Rows       []struct {
		Row    int    `json:"row"`
		UPN    string `json:"upn"`
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"rows"`
}

// maxUPNsFile caps the list file, as the console caps its upload.
const maxUPNsFile = 512 << 10

func bulkAssign(cmd *cobra.Command, c *apiClient, sku, file, policyName string) error {
	var in io.Reader = cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("--upns-file: %w", err)
		}
		defer f.Close()
		in = f
	}
	upns, err := tenant.ParseUPNList(in, maxUPNsFile)
	if err != nil {
		return fmt.Errorf("--upns-file %s: %w", file, err)
	}
	req := map[string]any{"upns": upns}
	if cmd.Flags().Changed("policy") {
		req["PolicyName"] = policyName
	}
	var out bulkView
	if err := c.do(http.MethodPost, "/api/v1/licenses/"+pathEscape(sku)+"/assignments", req, &out); err != nil {
		return err
	}
	if err := render(cmd, out, func(w io.Writer) {
		rows := make([][]string, len(out.Rows))
		for i, r := range out.Rows {
			rows[i] = []string{strconv.Itoa(r.Row), r.UPN, r.Result, firstNonEmpty(r.Reason, "-")}
		}
		printTable(w, []string{"ROW", "UPN", "RESULT", "REASON"}, rows)
		fmt.Fprintf(w, "%s: %d assigned, %d unchanged, %d refused\n", out.SKU, out.Assigned, out.Unchanged, out.Refused)
	}); err != nil {
		return err
	}
	if out.Refused > 0 {
		return fmt.Errorf("%d of %d users were refused (see their rows); the others are assigned, and running the same list again is safe", out.Refused, len(out.Rows))
	}
	return nil
}
