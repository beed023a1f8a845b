package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/deskprov/deskprov/fleet"
	"github.com/spf13/cobra"
)

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "fleet",
		Short: "Show the fleet at a glance: phones by vendor, model and firmware, compliance, rollouts",
		Long: `Show the figures of the console's home page (GET /api/v1/fleet): phones known, seen in
the last hour and day, signed in, update loops flagged; phones by vendor, model and firmware
version; the share of each update rule's phones on its approved version; rollouts in progress
with their waves. Every admin role may read it.`,
		Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var r fleet.Report
			if err := c.do(http.MethodGet, "/api/v1/fleet", nil, &r); err != nil {
				return err
			}
			return render(cmd, r, func(w io.Writer) { printFleet(w, r) })
		}),
	})
}

func printFleet(w io.Writer, r fleet.Report) {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	printTable(w, []string{"FIGURE", "PHONES"}, [][]string{
		{"Phones known", n(r.Phones)}, {"Seen in the last hour", n(r.SeenLastHour)}, {"Seen in the last day", n(r.SeenLastDay)},
		{"Signed in", n(r.SignedIn)}, {"Update loops flagged", n(r.UpdateLoops)},
	})
	var rows [][]string
	for _, v := range r.ByVendor {
		rows = append(rows, []string{v.Vendor, n(v.Phones)})
	}
	fmt.Fprintln(w)
	printTable(w, []string{"VENDOR", "PHONES"}, rows)
	rows = nil
	for _, m := range r.ByModel {
		rows = append(rows, []string{m.Vendor, m.Model, n(m.Phones)})
	}
	fmt.Fprintln(w)
	printTable(w, []string{"VENDOR", "MODEL", "PHONES"}, rows)
	rows = nil
	for _, f := range r.ByFirmware {
		rows = append(rows, []string{f.Vendor, f.Model, firstNonEmpty(f.Firmware, "-"), n(f.Phones)})
	}
	fmt.Fprintln(w)
	printTable(w, []string{"VENDOR", "MODEL", "FIRMWARE", "PHONES"}, rows)
	rows = nil
	for _, c := range r.Compliance {
		rows = append(rows, []string{strconv.FormatUint(uint64(c.RuleID), 10), c.Vendor, c.Model, c.Approved, n(c.Phones), n(c.OnApproved),
			strconv.FormatFloat(c.Share*100, 'f', 1, 64) + "%"})
	}
	fmt.Fprintln(w)
	printTable(w, []string{"RULE", "VENDOR", "MODEL", "APPROVED", "PHONES", "ON APPROVED", "SHARE"}, rows)
	rows = nil
	for _, ro := range r.Rollouts {
		for i, wv := range ro.Waves {
			open := "no"
			if wv.Open {
				open = "yes"
			}
			rows = append(rows, []string{strconv.FormatUint(uint64(ro.ID), 10), ro.Vendor + " " + ro.Model, ro.Version, ro.State,
				strconv.Itoa(i+1) + " (" + strconv.Itoa(wv.Percent) + "%)", open, n(wv.Devices), n(wv.Updated), n(wv.Failed)})
		}
	}
	fmt.Fprintln(w)
	printTable(w, []string{"ROLLOUT", "RULE", "TO", "STATE", "WAVE", "OPEN", "PHONES", "UPDATED", "FAILED"}, rows)
}
