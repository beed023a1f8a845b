package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
)

var enrolmentHeaders = []string{"MAC", "STATE", "FIRST SEEN", "FIRST IP", "APPROVED BY", "ENROLLED", "UPDATED"}

func enrolmentRows(ps []phoneid.Phone) [][]string {
	rows := make([][]string, len(ps))
	for i, p := range ps {
		rows[i] = []string{p.MAC, string(p.State), cliTime(p.FirstSeen), firstNonEmpty(p.FirstIP, "-"), firstNonEmpty(p.ApprovedBy, "-"), cliTime(p.EnrolledAt), cliTime(&p.UpdatedAt)}
	}
	return rows
}

func printEnrolment(w io.Writer, p phoneid.Phone) {
	printTable(w, []string{"FIELD", "VALUE"}, [][]string{
		{"MAC", p.MAC}, {"State", string(p.State)}, {"Provisioning user", firstNonEmpty(p.User, "-")},
		{"First seen", cliTime(p.FirstSeen)}, {"First IP", firstNonEmpty(p.FirstIP, "-")}, {"First user agent", firstNonEmpty(p.FirstUserAgent, "-")},
		{"Approved", cliTime(p.ApprovedAt)}, {"Approved by", firstNonEmpty(p.ApprovedBy, "-")},
		{"Credentials issued", cliTime(p.IssuedAt)}, {"Issued to", firstNonEmpty(p.IssuedTo, "-")},
		{"Enrolled", cliTime(p.EnrolledAt)}, {"Revoked", cliTime(p.RevokedAt)}, {"Updated", cliTime(&p.UpdatedAt)},
	})
}

func init() {
	enrol := &cobra.Command{
		Use:   "enrolment",
		Short: "Approve, revoke and re-enrol phones (their provisioning credentials)",
		Long: `Each phone is given its own provisioning user and password in the first configuration file
it fetches; from then on its files need them. Approve a phone that waits (or before it asks),
revoke a lost or stolen one, and re-enrol one that was factory-reset or replaced so that its
next request is a first contact again. "settings" turns approval of new phones on or off.`,
	}

	var state string
	list := &cobra.Command{
		Use: "list", Short: "List the phones' enrolments (by MAC)", Args: cobra.NoArgs,
		Example: "  deskprov enrolment list --state awaiting_approval",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			path := "/api/v1/enrolments"
			if state != "" {
				path += "?" + url.Values{"state": {state}}.Encode()
			}
			var ps []phoneid.Phone
			if err := c.do(http.MethodGet, path, nil, &ps); err != nil {
				return err
			}
			return render(cmd, ps, func(w io.Writer) { printTable(w, enrolmentHeaders, enrolmentRows(ps)) })
		}),
	}
	list.Flags().StringVar(&state, "state", "", "only phones in this state: "+phoneid.StateNames())

	show := &cobra.Command{
		Use: "show MAC", Short: "Show one phone's enrolment (MAC in any common spelling)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var p phoneid.Phone
			if err := c.do(http.MethodGet, "/api/v1/enrolments/"+pathEscape(args[0]), nil, &p); err != nil {
				return err
			}
			return render(cmd, p, func(w io.Writer) { printEnrolment(w, p) })
		}),
	}

	action := func(verb, short, long, done string) *cobra.Command {
		return &cobra.Command{
			Use: verb + " MAC", Short: short, Long: long, Args: cobra.ExactArgs(1),
			RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
				var p phoneid.Phone
				if err := c.do(http.MethodPost, "/api/v1/enrolments/"+pathEscape(args[0])+"/"+verb, nil, &p); err != nil {
					return err
				}
				return render(cmd, p, func(w io.Writer) { fmt.Fprintf(w, done+"\n", p.MAC, p.State) })
			}),
		}
	}
	approve := action("approve", "Let a phone be issued its credentials at its next request",
		"Approve a phone that waits for approval, or one not seen yet, or one that was revoked:\nits next request for its configuration issues new credentials.",
		"phone %s is %s: its next request for its configuration issues its credentials")
	revoke := action("revoke", "Refuse a phone every file of its own (lost or stolen phone)",
		"Forget a phone's credentials and refuse it every file of its own until it is approved or\nre-enrolled. A MAC deskprov has not seen yet is refused from its first request.",
		"phone %s is %s: it gets no files of its own until it is approved or re-enrolled")

	reenrol := &cobra.Command{
		Use: "reenrol MAC", Short: "Forget a phone's enrolment (factory-reset or replaced phone)",
		Long: "Forget a phone's enrolment and credentials: its next request is a first contact, which\nissues new credentials (after approval, when approval of new phones is required).",
		Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var r web.Reenrolled
			if err := c.do(http.MethodPost, "/api/v1/enrolments/"+pathEscape(args[0])+"/reenrol", nil, &r); err != nil {
				return err
			}
			return render(cmd, r, func(w io.Writer) { fmt.Fprintln(w, r.Message) })
		}),
	}

	var limit int
	audit := &cobra.Command{
		Use: "audit MAC", Short: "List a phone's enrolment changes, newest first", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			path := "/api/v1/enrolments/" + pathEscape(args[0]) + "/audit"
			if limit != 0 {
				path += "?limit=" + strconv.Itoa(limit)
			}
			var es []phoneid.AuditEntry
			if err := c.do(http.MethodGet, path, nil, &es); err != nil {
				return err
			}
			return render(cmd, es, func(w io.Writer) {
				rows := make([][]string, len(es))
				for i, e := range es {
					rows[i] = []string{tableTime(e.At), e.Actor, e.Action, firstNonEmpty(e.Detail, "-")}
				}
				printTable(w, []string{"AT", "ACTOR", "ACTION", "DETAIL"}, rows)
			})
		}),
	}
	audit.Flags().IntVar(&limit, "limit", 0, "at most this many entries, 1 to 1000 (default 200)")

	var requireApproval bool
	settings := &cobra.Command{
		Use:     "settings",
		Short:   "Show the enrolment settings, or change them with --require-approval",
		Example: "  deskprov enrolment settings\n  deskprov enrolment settings --require-approval=true",
		Args:    cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var s api.EnrolmentSettings
			var err error
			if cmd.Flags().Changed("require-approval") {
				err = c.do(http.MethodPut, "/api/v1/enrolmentsettings", api.EnrolmentSettings{RequireApproval: requireApproval}, &s)
			} else {
				err = c.do(http.MethodGet, "/api/v1/enrolmentsettings", nil, &s)
			}
			if err != nil {
				return err
			}
			return render(cmd, s, func(w io.Writer) {
				printTable(w, []string{"SETTING", "VALUE"}, [][]string{{"require approval of new phones", yesNo(s.RequireApproval)}})
			})
		}),
	}
	settings.Flags().BoolVar(&requireApproval, "require-approval", false, "new phones wait for an admin's approval before they are issued credentials (true or false)")

	enrol.AddCommand(list, show, approve, revoke, reenrol, audit, settings)
	rootCmd.AddCommand(enrol)
}
