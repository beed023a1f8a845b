package main

import (
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

type organizationView struct {
	Name string `json:"name"`
}

func init() {
	org := &cobra.Command{Use: "organization", Aliases: []string{"org"}, Short: "The organisation's name, shown on every sign-in page and on the people's page"}
	print := func(w io.Writer, o organizationView) {
		name := o.Name
		if name == "" {
			name = "(none: the pages say deskprov)"
		}
		printTable(w, []string{"SETTING", "VALUE"}, [][]string{{"Name", name}})
	}
	show := &cobra.Command{
		Use: "show", Short: "Show the organisation's name", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var o organizationView
			if err := c.do(http.MethodGet, "/api/v1/settings/organization", nil, &o); err != nil {
				return err
			}
			return render(cmd, o, func(w io.Writer) { print(w, o) })
		}),
	}
	set := &cobra.Command{
		Use:     "set NAME",
		Short:   `Set the organisation's name ("" removes it)`,
		Example: "  deskprov organization set \"Contoso\"",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var o organizationView
			if err := c.do(http.MethodPut, "/api/v1/settings/organization", organizationView{Name: args[0]}, &o); err != nil {
				return err
			}
			return render(cmd, o, func(w io.Writer) { print(w, o) })
		}),
	}
	org.AddCommand(show, set)
	rootCmd.AddCommand(org)
}
