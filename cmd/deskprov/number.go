package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// The API's shapes, as far as the CLI shows them.
type quotaLineView struct {
	Limit     int    `json:"limit"`
	Used      int    `json:"used"`
	Available int    `json:"available"`
	Reason    string `json:"reason,omitempty"`
}

type quotaView struct {
	User            quotaLineView `json:"user"`
	ServiceToll     quotaLineView `json:"serviceToll"`
	ServiceTollFree quotaLineView `json:"serviceTollFree"`
}

type numberView struct {
	Number             string `json:"number"`
	Type               string `json:"type"`
	Country            string `json:"country"`
	State              string `json:"state,omitempty"`
	City               string `json:"city,omitempty"`
	Source             string `json:"source"`
	Status             string `json:"status"`
	User               string `json:"user,omitempty"`
	EmergencyAddressID *uint  `json:"emergencyAddressId,omitempty"`
	LocationID         *uint  `json:"locationId,omitempty"`
	ServiceDefault     bool   `json:"serviceDefault,omitempty"`
	Service            *struct {
		Kind string `json:"kind"`
		ID   uint   `json:"id"`
		Name string `json:"name"`
	} `json:"service,omitempty"`
	ConcurrentCalls string `json:"concurrentCalls"`
	CapacitySetup   string `json:"capacitySetup,omitempty"`
}

type reservationView struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Country   string    `json:"country"`
	Numbers   []string  `json:"numbers"`
	ExpiresAt time.Time `json:"expiresAt"`
}

var numberHeaders = []string{"NUMBER", "TYPE", "COUNTRY", "STATE", "CITY", "SOURCE", "STATUS", "ASSIGNED TO", "CALLS"}

func numberRows(ns []numberView) [][]string {
	rows := make([][]string, len(ns))
	for i, n := range ns {
		to := n.User
		if n.Service != nil {
			to = fmt.Sprintf("%s %q (%d)", n.Service.Kind, n.Service.Name, n.Service.ID)
			if n.ServiceDefault {
				to += " default"
			}
		} else if n.EmergencyAddressID != nil {
			to += fmt.Sprintf(" address %d", *n.EmergencyAddressID)
			if n.LocationID != nil {
				to += fmt.Sprintf(" location %d", *n.LocationID)
			}
		}
		calls := n.ConcurrentCalls
		if n.CapacitySetup != "" {
			calls += " (capacity set-up " + n.CapacitySetup + ")"
		}
		rows[i] = []string{n.Number, n.Type, n.Country, n.State, n.City, n.Source, n.Status, to, calls}
	}
	return rows
}

// numberQuery builds a query string from flag values, skipping empty ones.
func numberQuery(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// readInventoryCSV reads number,type,country,state,city rows; a first row
// naming the columns is skipped.
func readInventoryCSV(r io.Reader) ([]map[string]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var out []map[string]string
	cols := []string{"number", "type", "country", "state", "city"}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "number") {
			continue
		}
		if len(rec) < 3 || len(rec) > 5 {
			return nil, fmt.Errorf("line %d: want number,type,country[,state[,city]], got %d columns", line, len(rec))
		}
		m := map[string]string{}
		for i, v := range rec {
			m[cols[i]] = strings.TrimSpace(v)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("the file lists no numbers")
	}
	return out, nil
}

func init() {
	num := &cobra.Command{
		Use:   "number",
		Short: "Phone numbers: quota, pool, reservations, assignment",
		Long: `Phone numbers come from a pool an operator loads. Reserve some (held 10 minutes), acquire
them within the hold (checked against the quota that licenses give), assign them to voice users
or services, and release them. Types: user, serviceToll, serviceTollFree.`,
	}
	quota := &cobra.Command{
		Use: "quota", Short: "Show how many numbers of each type the organisation may still acquire", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var q quotaView
			if err := c.do(http.MethodGet, "/api/v1/numbers/quota", nil, &q); err != nil {
				return err
			}
			return render(cmd, q, func(w io.Writer) {
				row := func(t string, l quotaLineView) []string {
					return []string{t, strconv.Itoa(l.Limit), strconv.Itoa(l.Used), strconv.Itoa(l.Available), l.Reason}
				}
				printTable(w, []string{"TYPE", "LIMIT", "USED", "AVAILABLE", "NOTE"},
					[][]string{row("user", q.User), row("serviceToll", q.ServiceToll), row("serviceTollFree", q.ServiceTollFree)})
			})
		}),
	}
	load := &cobra.Command{
		Use: "load FILE.csv", Short: "Add numbers to the pool from a CSV file (operator)", Args: cobra.ExactArgs(1),
		Long:    "The CSV holds number,type,country,state,city per line; a header line is optional. All or none are added.",
		Example: "  deskprov number load pool.csv\n\n  pool.csv:\n  number,type,country,state,city\n  +14255550100,user,US,WA,Redmond",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rows, err := readInventoryCSV(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var out struct {
				Added int `json:"added"`
			}
			if err := c.do(http.MethodPost, "/api/v1/numbers/inventory", map[string]any{"numbers": rows}, &out); err != nil {
				return err
			}
			return render(cmd, out, func(w io.Writer) { fmt.Fprintf(w, "Added %d numbers to the pool.\n", out.Added) })
		}),
	}
	var where struct{ typ, country, state, city, status string }
	placeFlags := func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&where.typ, "type", "", "user, serviceToll or serviceTollFree")
		cmd.Flags().StringVar(&where.country, "country", "", "two-letter country code")
		cmd.Flags().StringVar(&where.state, "state", "", "state or region")
		cmd.Flags().StringVar(&where.city, "city", "", "city")
	}
	var limit int
	search := &cobra.Command{
		Use: "search", Short: "Look for free numbers in the pool", Args: cobra.NoArgs,
		Example: "  deskprov number search --type user --country US --state WA --city Redmond",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var res struct {
				Available int          `json:"available"`
				Numbers   []numberView `json:"numbers"`
			}
			q := numberQuery("type", where.typ, "country", where.country, "state", where.state, "city", where.city, "limit", strconv.Itoa(limit))
			if err := c.do(http.MethodGet, "/api/v1/numbers/search"+q, nil, &res); err != nil {
				return err
			}
			return render(cmd, res, func(w io.Writer) {
				printTable(w, numberHeaders, numberRows(res.Numbers))
				fmt.Fprintf(w, "%d free numbers match.\n", res.Available)
			})
		}),
	}
	placeFlags(search)
	search.Flags().IntVar(&limit, "limit", 20, "how many to show (at most 100)")
	var quantity int
	reserve := &cobra.Command{
		Use: "reserve", Short: "Hold free numbers for 10 minutes", Args: cobra.NoArgs,
		Example: "  deskprov number reserve --type user --country US --state WA --quantity 5",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var r reservationView
			body := map[string]any{"type": where.typ, "country": where.country, "state": where.state, "city": where.city, "quantity": quantity}
			if err := c.do(http.MethodPost, "/api/v1/numbers/reservations", body, &r); err != nil {
				return err
			}
			return render(cmd, r, func(w io.Writer) {
				fmt.Fprintf(w, "Reservation %s holds %d numbers until %s:\n  %s\nAcquire them with: deskprov number acquire %s\n",
					r.ID, len(r.Numbers), tableTime(r.ExpiresAt), strings.Join(r.Numbers, "\n  "), r.ID)
			})
		}),
	}
	placeFlags(reserve)
	reserve.Flags().IntVar(&quantity, "quantity", 1, "how many numbers to hold")
	acquire := &cobra.Command{
		Use: "acquire RESERVATION [NUMBER...]", Short: "Acquire held numbers (all of the reservation's, or those named)", Args: cobra.MinimumNArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var res struct {
				Numbers []numberView  `json:"numbers"`
				Quota   quotaLineView `json:"quota"`
			}
			body := map[string]any{"numbers": args[1:]}
			if err := c.do(http.MethodPost, "/api/v1/numbers/reservations/"+pathEscape(args[0])+"/acquire", body, &res); err != nil {
				return err
			}
			return render(cmd, res, func(w io.Writer) {
				printTable(w, numberHeaders, numberRows(res.Numbers))
				fmt.Fprintf(w, "Quota: %d of %d used, %d more available.\n", res.Quota.Used, res.Quota.Limit, res.Quota.Available)
			})
		}),
	}
	list := &cobra.Command{
		Use: "list", Short: "List the organisation's numbers", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var ns []numberView
			q := numberQuery("type", where.typ, "country", where.country, "status", where.status)
			if err := c.do(http.MethodGet, "/api/v1/numbers"+q, nil, &ns); err != nil {
				return err
			}
			return render(cmd, ns, func(w io.Writer) { printTable(w, numberHeaders, numberRows(ns)) })
		}),
	}
	list.Flags().StringVar(&where.typ, "type", "", "user, serviceToll or serviceTollFree")
	list.Flags().StringVar(&where.country, "country", "", "two-letter country code")
	list.Flags().StringVar(&where.status, "status", "", "assigned or unassigned")
	var asg struct {
		user, serviceKind string
		address, location uint
		serviceID         uint
	}
	assign := &cobra.Command{
		Use: "assign NUMBER", Short: "Give a number to a voice user or to a service", Args: cobra.ExactArgs(1),
		Example: "  deskprov number assign +14255550100 --user ann@contoso.com --address 1\n" +
			"  deskprov number assign +14255550200 --service-kind callQueue --service-id 2",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			body := map[string]any{}
			switch {
			case asg.user != "" && asg.serviceKind == "":
				body["user"] = asg.user
				if asg.address != 0 {
					body["emergencyAddressId"] = asg.address
				}
				if asg.location != 0 {
					body["locationId"] = asg.location
				}
			case asg.user == "" && asg.serviceKind != "":
				body["service"] = map[string]any{"kind": asg.serviceKind, "id": asg.serviceID}
			default:
				return errors.New("give either --user (with --address) or --service-kind and --service-id")
			}
			var n numberView
			if err := c.do(http.MethodPost, "/api/v1/numbers/"+pathEscape(args[0])+"/assign", body, &n); err != nil {
				return err
			}
			return render(cmd, n, func(w io.Writer) { printTable(w, numberHeaders, numberRows([]numberView{n})) })
		}),
	}
	assign.Flags().StringVar(&asg.user, "user", "", "the voice user's UPN")
	assign.Flags().UintVar(&asg.address, "address", 0, "emergency address id (deskprov address list)")
	assign.Flags().UintVar(&asg.location, "location", 0, "location id under the address (optional)")
	assign.Flags().StringVar(&asg.serviceKind, "service-kind", "", "conferenceBridge, callQueue or autoAttendant")
	assign.Flags().UintVar(&asg.serviceID, "service-id", 0, "the service's id (deskprov service list)")
	var toPool bool
	release := &cobra.Command{
		Use: "release NUMBER", Short: "Take a number back to the unassigned list (or, with --to-pool, give it back to the pool)", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var n numberView
			if err := c.do(http.MethodPost, "/api/v1/numbers/"+pathEscape(args[0])+"/release", map[string]bool{"returnToPool": toPool}, &n); err != nil {
				return err
			}
			return render(cmd, n, func(w io.Writer) { printTable(w, numberHeaders, numberRows([]numberView{n})) })
		}),
	}
	release.Flags().BoolVar(&toPool, "to-pool", false, "also give the number back to the pool (frees quota)")
	num.AddCommand(quota, load, search, reserve, acquire, list, assign, release, numberRequestCommand())
	num.AddCommand(numberMoveCommand(), voiceAuditCommand())
	rootCmd.AddCommand(num, portOrderCommand(), addressCommand(), serviceCommand())
}

type numberRequestView struct {
	ID       uint   `json:"id"`
	Type     string `json:"type"`
	Country  string `json:"country"`
	City     string `json:"city"`
	Quantity int    `json:"quantity"`
	Contact  string `json:"contact"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Beyond   bool   `json:"beyondQuota"`
}

func numberRequestTable(w io.Writer, rs []numberRequestView) {
	rows := make([][]string, len(rs))
	for i, r := range rs {
		q := strconv.Itoa(r.Quantity)
		if r.Beyond {
			q += " (beyond quota)"
		}
		rows[i] = []string{strconv.Itoa(int(r.ID)), r.Type, r.Country, r.City, q, r.Contact, r.Status, r.Reason}
	}
	printTable(w, []string{"ID", "TYPE", "COUNTRY", "CITY", "QUANTITY", "CONTACT", "STATUS", "REASON"}, rows)
}

func numberRequestCommand() *cobra.Command {
	req := &cobra.Command{Use: "request", Short: "Ask an operator for numbers where there is no self-service"}
	var in struct {
		typ, country, state, city, contact, notes string
		quantity                                  int
		beyondQuota                               bool
	}
	create := &cobra.Command{
		Use: "create", Short: "File a number request", Args: cobra.NoArgs,
		Example: "  deskprov number request create --type user --country AU --city Sydney --quantity 10 --contact pat@contoso.com",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var r numberRequestView
			body := map[string]any{"type": in.typ, "country": in.country, "state": in.state, "city": in.city,
				"quantity": in.quantity, "contact": in.contact, "notes": in.notes, "beyondQuota": in.beyondQuota}
			if err := c.do(http.MethodPost, "/api/v1/numberrequests", body, &r); err != nil {
				return err
			}
			return render(cmd, r, func(w io.Writer) { numberRequestTable(w, []numberRequestView{r}) })
		}),
	}
	f := create.Flags()
	f.StringVar(&in.typ, "type", "user", "user, serviceToll or serviceTollFree")
	f.StringVar(&in.country, "country", "", "two-letter country code")
	f.StringVar(&in.state, "state", "", "state or region")
	f.StringVar(&in.city, "city", "", "city")
	f.IntVar(&in.quantity, "quantity", 1, "how many numbers")
	f.StringVar(&in.contact, "contact", "", "who the operator should talk to")
	f.StringVar(&in.notes, "notes", "", "anything else the operator should know")
	f.BoolVar(&in.beyondQuota, "beyond-quota", false, "ask for more numbers than the quota allows (an operator provides them past it)")
	list := &cobra.Command{
		Use: "list", Short: "List number requests", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var rs []numberRequestView
			if err := c.do(http.MethodGet, "/api/v1/numberrequests", nil, &rs); err != nil {
				return err
			}
			return render(cmd, rs, func(w io.Writer) { numberRequestTable(w, rs) })
		}),
	}
	req.AddCommand(create, list)
	for _, action := range []string{"fulfil", "cancel", "reject"} {
		var reason string
		use, short, nargs := action+" ID", strings.ToUpper(action[:1])+action[1:]+" a number request", cobra.ExactArgs(1)
		if action == "fulfil" {
			use, short, nargs = "fulfil ID NUMBER...", "Fulfil a number request with the numbers found (operator)", cobra.MinimumNArgs(2)
		}
		cmd := &cobra.Command{
			Use: use, Short: short, Args: nargs,
			RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
				var r numberRequestView
				body := map[string]any{"reason": reason, "numbers": args[1:]}
				if err := c.do(http.MethodPost, "/api/v1/numberrequests/"+pathEscape(args[0])+"/"+action, body, &r); err != nil {
					return err
				}
				return render(cmd, r, func(w io.Writer) { numberRequestTable(w, []numberRequestView{r}) })
			}),
		}
		cmd.Flags().StringVar(&reason, "reason", "", "why (required to cancel or reject)")
		req.AddCommand(cmd)
	}
	return req
}

type portOrderView struct {
	ID            uint       `json:"id"`
	NumberType    string     `json:"numberType"`
	Country       string     `json:"country"`
	Carrier       string     `json:"carrier"`
	Path          string     `json:"path"`
	Status        string     `json:"status"`
	Reason        string     `json:"reason"`
	FirmOrderDate *time.Time `json:"firmOrderDate"`
	Numbers       []string   `json:"numbers"`
}

func portOrderTable(w io.Writer, orders []portOrderView) {
	rows := make([][]string, len(orders))
	for i, o := range orders {
		foc := ""
		if o.FirmOrderDate != nil {
			foc = tableTime(*o.FirmOrderDate)
		}
		rows[i] = []string{strconv.Itoa(int(o.ID)), o.NumberType, o.Country, o.Carrier, strconv.Itoa(len(o.Numbers)), o.Path, o.Status, foc, o.Reason}
	}
	printTable(w, []string{"ID", "TYPE", "COUNTRY", "CARRIER", "NUMBERS", "PATH", "STATUS", "FIRM ORDER DATE", "REASON"}, rows)
}

// readNumberList reads numbers one per line (or comma-separated) from a file.
func readNumberList(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out, nil
}

func portOrderCommand() *cobra.Command {
	po := &cobra.Command{
		Use:   "portorder",
		Short: "Port numbers in from another carrier",
		Long: `A port order moves numbers from another carrier. It carries a Letter of Authorization and one
number type. Up to 999 user numbers take the self-service wizard; more, or any service number,
go through a manual service request. States: submitted → confirmed (firm order date) → completed,
or cancelled / rejected with a reason. Completed numbers join the organisation's numbers.`,
	}
	var in struct {
		typ, country, state, city, carrier, account, billingName, billingAddress, signatory, file string
		numbers                                                                                   []string
	}
	submit := &cobra.Command{
		Use: "create", Aliases: []string{"submit"}, Short: "Submit a port order with its Letter of Authorization", Args: cobra.NoArgs,
		Example: "  deskprov portorder create --type user --country US --carrier \"Contoso Telecom\" --account 12345 \\\n" +
			"    --billing-name Fabrikam --billing-address \"1 Main St, Seattle WA 98101\" --signatory \"Pat Doe\" --numbers-file numbers.txt",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			nums := append([]string(nil), in.numbers...)
			if in.file != "" {
				more, err := readNumberList(in.file)
				if err != nil {
					return err
				}
				nums = append(nums, more...)
			}
			body := map[string]any{"numberType": in.typ, "country": in.country, "state": in.state, "city": in.city,
				"carrier": in.carrier, "accountNumber": in.account, "billingName": in.billingName,
				"billingAddress": in.billingAddress, "authorizedSignatory": in.signatory, "numbers": nums}
			var o portOrderView
			if err := c.do(http.MethodPost, "/api/v1/portorders", body, &o); err != nil {
				return err
			}
			return render(cmd, o, func(w io.Writer) { portOrderTable(w, []portOrderView{o}) })
		}),
	}
	f := submit.Flags()
	f.StringVar(&in.typ, "type", "user", "user, serviceToll or serviceTollFree (one type per order)")
	f.StringVar(&in.country, "country", "", "where the numbers are (two-letter code)")
	f.StringVar(&in.state, "state", "", "state or region")
	f.StringVar(&in.city, "city", "", "city")
	f.StringVar(&in.carrier, "carrier", "", "LOA: the losing carrier")
	f.StringVar(&in.account, "account", "", "LOA: the account number at that carrier")
	f.StringVar(&in.billingName, "billing-name", "", "LOA: the billing name")
	f.StringVar(&in.billingAddress, "billing-address", "", "LOA: the billing address")
	f.StringVar(&in.signatory, "signatory", "", "LOA: the authorised signatory")
	f.StringSliceVar(&in.numbers, "numbers", nil, "numbers to port, comma-separated")
	f.StringVar(&in.file, "numbers-file", "", "file with the numbers to port, one per line")
	list := &cobra.Command{
		Use: "list", Short: "List port orders", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var orders []portOrderView
			if err := c.do(http.MethodGet, "/api/v1/portorders", nil, &orders); err != nil {
				return err
			}
			return render(cmd, orders, func(w io.Writer) { portOrderTable(w, orders) })
		}),
	}
	show := &cobra.Command{
		Use: "show ID", Short: "Show a port order and its numbers", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var o portOrderView
			if err := c.do(http.MethodGet, "/api/v1/portorders/"+pathEscape(args[0]), nil, &o); err != nil {
				return err
			}
			return render(cmd, o, func(w io.Writer) {
				portOrderTable(w, []portOrderView{o})
				fmt.Fprintln(w, strings.Join(o.Numbers, "\n"))
			})
		}),
	}
	po.AddCommand(submit, list, show)
	for _, action := range []string{"confirm", "complete", "cancel", "reject"} {
		var reason, date string
		cmd := &cobra.Command{
			Use: action + " ID", Short: strings.ToUpper(action[:1]) + action[1:] + " a port order", Args: cobra.ExactArgs(1),
			RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
				body := map[string]any{}
				if reason != "" {
					body["reason"] = reason
				}
				if date != "" {
					d, err := time.Parse(time.RFC3339, date)
					if err != nil {
						if d, err = time.Parse("2006-01-02", date); err != nil {
							return fmt.Errorf("--date %q: use 2006-01-02 or RFC 3339", date)
						}
					}
					body["firmOrderDate"] = d
				}
				var o portOrderView
				if err := c.do(http.MethodPost, "/api/v1/portorders/"+pathEscape(args[0])+"/"+action, body, &o); err != nil {
					return err
				}
				return render(cmd, o, func(w io.Writer) { portOrderTable(w, []portOrderView{o}) })
			}),
		}
		switch action {
		case "confirm":
			cmd.Flags().StringVar(&date, "date", "", "the firm order date (2006-01-02 or RFC 3339)")
		case "cancel", "reject":
			cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
		}
		po.AddCommand(cmd)
	}
	return po
}

type addressView struct {
	ID               uint   `json:"id"`
	Description      string `json:"description"`
	HouseNumber      string `json:"houseNumber"`
	Street           string `json:"street"`
	City             string `json:"city"`
	State            string `json:"state"`
	PostalCode       string `json:"postalCode"`
	Country          string `json:"country"`
	ValidationStatus string `json:"validationStatus"`
	Reason           string `json:"reason"`
	Corrections      []struct {
		Field string `json:"field"`
		From  string `json:"from"`
		To    string `json:"to"`
	} `json:"corrections"`
	Locations []struct {
		ID        uint   `json:"id"`
		Name      string `json:"name"`
		IsDefault bool   `json:"isDefault"`
	} `json:"locations"`
}

func addressTable(w io.Writer, as []addressView) {
	rows := make([][]string, len(as))
	for i, a := range as {
		note := a.Reason
		for _, c := range a.Corrections {
			note += fmt.Sprintf("%s: %q → %q; ", c.Field, c.From, c.To)
		}
		locs := make([]string, len(a.Locations))
		for j, l := range a.Locations {
			locs[j] = fmt.Sprintf("%d:%s", l.ID, l.Name)
		}
		rows[i] = []string{strconv.Itoa(int(a.ID)), a.Description, strings.TrimSpace(a.HouseNumber + " " + a.Street),
			a.City, a.State, a.PostalCode, a.Country, a.ValidationStatus, strings.Join(locs, ","), strings.TrimSuffix(note, "; ")}
	}
	printTable(w, []string{"ID", "DESCRIPTION", "STREET", "CITY", "STATE", "POSTAL CODE", "COUNTRY", "VALIDATION", "LOCATIONS", "NOTE"}, rows)
}

func addressCommand() *cobra.Command {
	ad := &cobra.Command{
		Use:   "address",
		Short: "Emergency addresses and their locations",
		Long: `An emergency address is validated when created: Accepted, AcceptedWithChanges (the corrections are
shown), Rejected (with the reason), or NotValidated where deskprov has no rules for the country:
check such an address and mark it validated (deskprov address validate ID) before numbers use it.
Streets named by a number need their ordinal suffix (5th).`,
	}
	var in struct{ description, house, street, city, state, postal, country string }
	create := &cobra.Command{
		Use: "create", Short: "Create and validate an emergency address", Args: cobra.NoArgs,
		Example: "  deskprov address create --description HQ --house-number 1 --street \"Microsoft Way\" --city Redmond --state WA --postal-code 98052 --country US",
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			body := map[string]string{"description": in.description, "houseNumber": in.house, "street": in.street,
				"city": in.city, "state": in.state, "postalCode": in.postal, "country": in.country}
			var a addressView
			if err := c.do(http.MethodPost, "/api/v1/emergencyaddresses", body, &a); err != nil {
				return err
			}
			return render(cmd, a, func(w io.Writer) { addressTable(w, []addressView{a}) })
		}),
	}
	f := create.Flags()
	f.StringVar(&in.description, "description", "", "a name for the address")
	f.StringVar(&in.house, "house-number", "", "house number")
	f.StringVar(&in.street, "street", "", "street (a numbered street with its suffix: 5th Avenue)")
	f.StringVar(&in.city, "city", "", "city")
	f.StringVar(&in.state, "state", "", "state, province or region")
	f.StringVar(&in.postal, "postal-code", "", "postal code")
	f.StringVar(&in.country, "country", "", "two-letter country code (deskprov number availability lists the countries with rules)")
	var filter struct{ city, country, description string }
	list := &cobra.Command{
		Use: "list", Short: "List emergency addresses (all, or by city, country or description)", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var as []addressView
			q := numberQuery("city", filter.city, "country", filter.country, "description", filter.description)
			if err := c.do(http.MethodGet, "/api/v1/emergencyaddresses"+q, nil, &as); err != nil {
				return err
			}
			return render(cmd, as, func(w io.Writer) { addressTable(w, as) })
		}),
	}
	remove := &cobra.Command{
		Use: "delete ID", Short: "Delete an emergency address no number uses", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/emergencyaddresses/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted emergency address %s.\n", args[0])
			return nil
		}),
	}
	loc := &cobra.Command{
		Use: "create-location ADDRESS-ID NAME", Aliases: []string{"location"}, Short: "Add a location (a floor, a wing) under an address", Args: cobra.ExactArgs(2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var l struct {
				ID   uint   `json:"id"`
				Name string `json:"name"`
			}
			if err := c.do(http.MethodPost, "/api/v1/emergencyaddresses/"+pathEscape(args[0])+"/locations", map[string]string{"name": args[1]}, &l); err != nil {
				return err
			}
			return render(cmd, l, func(w io.Writer) { fmt.Fprintf(w, "Location %d %q added.\n", l.ID, l.Name) })
		}),
	}
	list.Flags().StringVar(&filter.city, "city", "", "only addresses in this city")
	list.Flags().StringVar(&filter.country, "country", "", "only addresses in this country")
	list.Flags().StringVar(&filter.description, "description", "", "only addresses whose description contains this")
	ad.AddCommand(create, list, remove, loc)
	ad.AddCommand(addressEditCommands()...)
	return ad
}

type serviceView struct {
	ID                    uint     `json:"id"`
	Kind                  string   `json:"kind"`
	Name                  string   `json:"name"`
	Number                string   `json:"number"`
	Numbers               []string `json:"numbers"`
	DefaultTollNumber     string   `json:"defaultTollNumber,omitempty"`
	DefaultTollFreeNumber string   `json:"defaultTollFreeNumber,omitempty"`
}

func serviceTable(w io.Writer, vs []serviceView) {
	rows := make([][]string, len(vs))
	for i, v := range vs {
		rows[i] = []string{strconv.Itoa(int(v.ID)), v.Kind, v.Name, v.Number, firstNonEmpty(strings.Join(v.Numbers, ","), "-"),
			firstNonEmpty(v.DefaultTollNumber, "-"), firstNonEmpty(v.DefaultTollFreeNumber, "-")}
	}
	printTable(w, []string{"ID", "KIND", "NAME", "NUMBER", "ALL NUMBERS", "DEFAULT TOLL", "DEFAULT TOLL-FREE"}, rows)
}

func serviceCommand() *cobra.Command {
	sv := &cobra.Command{Use: "service", Short: "Conference bridges, call queues and auto attendants that service numbers go to"}
	create := &cobra.Command{
		Use: "create KIND NAME", Short: "Create a conferenceBridge, callQueue or autoAttendant", Args: cobra.ExactArgs(2),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var v serviceView
			if err := c.do(http.MethodPost, "/api/v1/voiceservices", map[string]string{"kind": args[0], "name": args[1]}, &v); err != nil {
				return err
			}
			return render(cmd, v, func(w io.Writer) { serviceTable(w, []serviceView{v}) })
		}),
	}
	list := &cobra.Command{
		Use: "list", Short: "List services and their numbers", Args: cobra.NoArgs,
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var vs []serviceView
			if err := c.do(http.MethodGet, "/api/v1/voiceservices", nil, &vs); err != nil {
				return err
			}
			return render(cmd, vs, func(w io.Writer) { serviceTable(w, vs) })
		}),
	}
	remove := &cobra.Command{
		Use: "delete ID", Short: "Delete a service that has no number", Args: cobra.ExactArgs(1),
		RunE: apiCommand(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if err := c.do(http.MethodDelete, "/api/v1/voiceservices/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted service %s.\n", args[0])
			return nil
		}),
	}
	sv.AddCommand(create, list, remove)
	sv.AddCommand(serviceMoreCommands()...)
	return sv
}
