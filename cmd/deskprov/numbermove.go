package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// The in-place changes of issue 17 (items 3, 4, 5): moving numbers,
// a bridge's defaults, editing addresses, locations, and their audit.

func numberMoveCommand() *cobra.Command {
	var mv struct {
		address, location, serviceID uint
		serviceKind                  string
	}
	move := &cobra.Command{
		Use:   "move NUMBER",
		Short: "Change an assigned number in place: a user's emergency address or location, or the service it belongs to",
		Long: `Moves a number without releasing it, so its owner is never without it. For a user number give
--address (default: the current one) and/or --location (a location under that address; without it
the number has no location). For a service number give --service-kind and --service-id.`,
		Example: "  deskprov number move +14255550100 --address 2 --location 5\n" +
			"  deskprov number move +14255550200 --service-kind callQueue --service-id 3",
		Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			body := map[string]any{}
			if mv.address != 0 {
				body["emergencyAddressId"] = mv.address
			}
			if mv.location != 0 {
				body["locationId"] = mv.location
			}
			if mv.serviceKind != "" || mv.serviceID != 0 {
				body["service"] = map[string]any{"kind": mv.serviceKind, "id": mv.serviceID}
			}
			if len(body) == 0 {
				return errors.New("give --address and/or --location (a user number), or --service-kind and --service-id (a service number)")
			}
			var n numberView
			if err := c.do(http.MethodPost, "/api/v1/numbers/"+pathEscape(args[0])+"/move", body, &n); err != nil {
				return err
			}
			return render(cmd, n, func(w io.Writer) { printTable(w, numberHeaders, numberRows([]numberView{n})) })
		}),
	}
	f := move.Flags()
	f.UintVar(&mv.address, "address", 0, "the emergency address id to move a user number to")
	f.UintVar(&mv.location, "location", 0, "a location id under the address")
	f.StringVar(&mv.serviceKind, "service-kind", "", "conferenceBridge, callQueue or autoAttendant")
	f.UintVar(&mv.serviceID, "service-id", 0, "the service's id (deskprov service list)")
	return move
}

type voiceAuditView struct {
	ID     uint      `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Object string    `json:"object"`
	Action string    `json:"action"`
	Before any       `json:"before"`
	After  any       `json:"after"`
}

func voiceAuditCommand() *cobra.Command {
	var object string
	var limit int
	audit := &cobra.Command{
		Use:     "audit",
		Short:   "Show the record of numbers moved, bridge defaults set, addresses edited and locations removed",
		Example: "  deskprov number audit --object number/+14255550100\n  deskprov number audit --object voiceservice/3",
		Args:    cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var es []voiceAuditView
			q := numberQuery("object", object, "limit", strconv.Itoa(limit))
			if err := c.do(http.MethodGet, "/api/v1/voiceaudit"+q, nil, &es); err != nil {
				return err
			}
			return render(cmd, es, func(w io.Writer) {
				rows := make([][]string, len(es))
				for i, e := range es {
					rows[i] = []string{tableTime(e.At), e.Actor, e.Object, e.Action, compactJSON(e.Before), compactJSON(e.After)}
				}
				printTable(w, []string{"AT", "ACTOR", "OBJECT", "ACTION", "BEFORE", "AFTER"}, rows)
			})
		}),
	}
	audit.Flags().StringVar(&object, "object", "", "one object (number/+14255550100, voiceservice/3, emergencyaddress/2) or a kind (number)")
	audit.Flags().IntVar(&limit, "limit", 100, "how many records, newest first (at most 1000)")
	return audit
}

// compactJSON shows a decoded JSON value on one line.
func compactJSON(v any) string {
	if v == nil {
		return "-"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprint(v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, " ")
}

func addressEditCommands() []*cobra.Command {
	var set struct{ description, house, street, city, state, postal, country string }
	edit := &cobra.Command{
		Use:   "set ID",
		Short: "Edit an emergency address (it is validated again)",
		Long: `Changes the fields given and validates the address again. While a user's number uses the
address, an edit that would be Rejected or would put it in another country than the number's is
refused and nothing changes.`,
		Example: "  deskprov address set 2 --street \"5th Avenue\" --house-number 350",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			body := map[string]string{}
			for _, f := range []struct{ flag, field, value string }{{"description", "description", set.description},
				{"house-number", "houseNumber", set.house}, {"street", "street", set.street}, {"city", "city", set.city},
				{"state", "state", set.state}, {"postal-code", "postalCode", set.postal}, {"country", "country", set.country}} {
				if cmd.Flags().Changed(f.flag) {
					body[f.field] = f.value
				}
			}
			if len(body) == 0 {
				return errors.New("give at least one field to change (--street, --city, …)")
			}
			var a addressView
			if err := c.do(http.MethodPatch, "/api/v1/emergencyaddresses/"+pathEscape(args[0]), body, &a); err != nil {
				return err
			}
			return render(cmd, a, func(w io.Writer) { addressTable(w, []addressView{a}) })
		}),
	}
	f := edit.Flags()
	f.StringVar(&set.description, "description", "", "a name for the address")
	f.StringVar(&set.house, "house-number", "", "house number")
	f.StringVar(&set.street, "street", "", "street")
	f.StringVar(&set.city, "city", "", "city")
	f.StringVar(&set.state, "state", "", "state, province or region")
	f.StringVar(&set.postal, "postal-code", "", "postal code")
	f.StringVar(&set.country, "country", "", "country")
	locations := &cobra.Command{
		Use: "locations ADDRESS-ID", Short: "List an address's locations and the numbers using each", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var ls []struct {
				ID        uint     `json:"id"`
				Name      string   `json:"name"`
				IsDefault bool     `json:"isDefault"`
				UsedBy    []string `json:"usedBy"`
			}
			if err := c.do(http.MethodGet, "/api/v1/emergencyaddresses/"+pathEscape(args[0])+"/locations", nil, &ls); err != nil {
				return err
			}
			return render(cmd, ls, func(w io.Writer) {
				rows := make([][]string, len(ls))
				for i, l := range ls {
					rows[i] = []string{strconv.Itoa(int(l.ID)), l.Name, yesNo(l.IsDefault), firstNonEmpty(strings.Join(l.UsedBy, ","), "-")}
				}
				printTable(w, []string{"ID", "NAME", "DEFAULT", "USED BY"}, rows)
			})
		}),
	}
	removeLoc := &cobra.Command{
		Use: "delete-location ADDRESS-ID LOCATION-ID", Aliases: []string{"remove-location"}, Short: "Delete a location no user's number uses (not the default one)", Args: cobra.ExactArgs(2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/emergencyaddresses/"+pathEscape(args[0])+"/locations/"+pathEscape(args[1]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed location %s of emergency address %s.\n", args[1], args[0])
			return nil
		}),
	}
	return []*cobra.Command{edit, locations, removeLoc}
}

func serviceMoreCommands() []*cobra.Command {
	show := &cobra.Command{
		Use: "show ID", Short: "Show a service with all its numbers and, for a bridge, its defaults", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var v serviceView
			if err := c.do(http.MethodGet, "/api/v1/voiceservices/"+pathEscape(args[0]), nil, &v); err != nil {
				return err
			}
			return render(cmd, v, func(w io.Writer) { serviceTable(w, []serviceView{v}) })
		}),
	}
	var toll, tollFree string
	defaults := &cobra.Command{
		Use:   "defaults ID",
		Short: "Set a conference bridge's default toll and/or toll-free number",
		Long: `The first toll (toll-free) number a bridge gets is its default toll (toll-free) number. When the
default leaves the bridge (released or moved), the bridge's lowest other number of that type
becomes the default; with none left the bridge has no default of that type.`,
		Example: "  deskprov service defaults 1 --toll +14255550200 --toll-free +18005550100",
		Args:    cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if toll == "" && tollFree == "" {
				return errors.New("give --toll and/or --toll-free")
			}
			var v serviceView
			body := map[string]string{"defaultTollNumber": toll, "defaultTollFreeNumber": tollFree}
			if err := c.do(http.MethodPatch, "/api/v1/voiceservices/"+pathEscape(args[0]), body, &v); err != nil {
				return err
			}
			return render(cmd, v, func(w io.Writer) { serviceTable(w, []serviceView{v}) })
		}),
	}
	defaults.Flags().StringVar(&toll, "toll", "", "the bridge's toll number to make its default")
	defaults.Flags().StringVar(&tollFree, "toll-free", "", "the bridge's toll-free number to make its default")
	return []*cobra.Command{show, defaults}
}
