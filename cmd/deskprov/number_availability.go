package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

type availabilityView struct {
	Source    map[string]string `json:"source"`
	Countries []struct {
		Code            string `json:"code"`
		Name            string `json:"name"`
		Page            string `json:"page"`
		User            string `json:"user"`
		ServiceToll     string `json:"serviceToll"`
		ServiceTollFree string `json:"serviceTollFree"`
		Note            string `json:"note"`
		PostalCode      struct {
			Example string `json:"example"`
		} `json:"postalCode"`
	} `json:"countries"`
}

// This file's init runs after number.go's (files initialise in name
// order), so the number and address commands exist to be added to.
func init() {
	num, addr := subcommand(rootCmd, "number"), subcommand(rootCmd, "address")
	avail := &cobra.Command{
		Use: "availability [COUNTRY]", Short: "Show which countries offer which numbers: self-service, request or not offered", Args: cobra.MaximumNArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			path := "/api/v1/numbers/availability"
			if len(args) == 1 {
				path += numberQuery("country", args[0])
			}
			var a availabilityView
			if err := c.do(http.MethodGet, path, nil, &a); err != nil {
				return err
			}
			return render(cmd, a, func(w io.Writer) {
				rows := make([][]string, len(a.Countries))
				for i, r := range a.Countries {
					rows[i] = []string{r.Code, r.Name, r.User, r.ServiceToll, r.ServiceTollFree, r.PostalCode.Example, r.Note}
				}
				printTable(w, []string{"CODE", "COUNTRY", "USER", "TOLL", "TOLL-FREE", "POSTAL CODE", "NOTE"}, rows)
				fmt.Fprintf(w, "Source: %q (%s, %s), %s.\n", a.Source["title"], a.Source["repository"], a.Source["folder"], a.Source["date"])
			})
		}),
	}
	capacity := &cobra.Command{
		Use: "confirm-capacity NUMBER", Short: "Confirm a ported service number's concurrent-call capacity is set up (operator)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var n numberView
			if err := c.do(http.MethodPost, "/api/v1/numbers/"+pathEscape(args[0])+"/confirmcapacity", nil, &n); err != nil {
				return err
			}
			return render(cmd, n, func(w io.Writer) { printTable(w, numberHeaders, numberRows([]numberView{n})) })
		}),
	}
	num.AddCommand(avail, capacity)
	validate := &cobra.Command{
		Use: "validate ID", Short: "Mark a NotValidated address (a country deskprov has no rules for) validated, having checked it", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if _, err := strconv.ParseUint(args[0], 10, 32); err != nil {
				return fmt.Errorf("%q is not an address id (deskprov address list shows them)", args[0])
			}
			var a addressView
			if err := c.do(http.MethodPost, "/api/v1/emergencyaddresses/"+pathEscape(args[0])+"/validate", nil, &a); err != nil {
				return err
			}
			return render(cmd, a, func(w io.Writer) { addressTable(w, []addressView{a}) })
		}),
	}
	addr.AddCommand(validate)
}

func subcommand(parent *cobra.Command, name string) *cobra.Command {
	for _, c := range parent.Commands() {
		if c.Name() == name {
			return c
		}
	}
	panic("no " + strings.TrimSpace(parent.Name()+" "+name) + " command")
}
