package tenant

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/deskprov/deskprov/fault"
)

// How an organisation gets numbers of one type in one country: reserve them
// itself, file a number request an operator fulfils, or not at all.
type NumberPath string

const (
	PathSelfService NumberPath = "selfService"
	PathRequest     NumberPath = "request"
	PathNotOffered  NumberPath = "notOffered"
)

// availabilityJSON is the availability table: which countries offer which
// number types and how, as Microsoft's "Country and region availability for
// Audio Conferencing and Calling Plans" pages say (the seeds' step 1), with
// the page and commit each row was read from. It is data, not code, so that
// updating it is an edit of one file (docs/numbers.md says how).
//
//go:embed availability.json
var availabilityJSON []byte

// AvailabilityTable is the parsed table.
type AvailabilityTable struct {
	Source           map[string]string     `json:"source"`
	PostalCodeSource map[string]string     `json:"postalCodeSource"`
	Countries        []CountryAvailability `json:"countries"`
}

// CountryAvailability is one country's row.
type CountryAvailability struct {
	Code            string     `json:"code"`
	Name            string     `json:"name"`
	Aliases         []string   `json:"aliases,omitempty"`
	Page            string     `json:"page"`
	Commit          string     `json:"commit"`
	User            NumberPath `json:"user"`
	ServiceToll     NumberPath `json:"serviceToll"`
	ServiceTollFree NumberPath `json:"serviceTollFree"`
	Note            string     `json:"note,omitempty"`
	PostalCode      struct {
		Pattern string `json:"pattern"`
		Example string `json:"example"`
	} `json:"postalCode"`

	postal *regexp.Regexp
}

// Path is how numbers of type t are got in this country.
func (c CountryAvailability) Path(t NumberType) NumberPath {
	switch t {
	case UserNumber:
		return c.User
	case ServiceTollNumber:
		return c.ServiceToll
	}
	return c.ServiceTollFree
}

var availability = mustLoadAvailability(availabilityJSON)

// mustLoadAvailability parses and checks the embedded table; a table that
// does not hold together stops the program at start, never mid-request.
func mustLoadAvailability(b []byte) AvailabilityTable {
	t, err := parseAvailability(b)
	if err != nil {
		panic("tenant/availability.json: " + err.Error())
	}
	return t
}

func parseAvailability(b []byte) (AvailabilityTable, error) {
	var t AvailabilityTable
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, err
	}
	if t.Source["title"] == "" || t.Source["date"] == "" {
		return t, fmt.Errorf("the source needs a title and a date")
	}
	seen := map[string]bool{}
	for i := range t.Countries {
		c := &t.Countries[i]
		if !countryCode.MatchString(c.Code) || seen[c.Code] {
			return t, fmt.Errorf("country %d: code %q is not a new two-letter code", i, c.Code)
		}
		seen[c.Code] = true
		if c.Page == "" || c.Commit == "" {
			return t, fmt.Errorf("%s: name the page and commit it was read from", c.Code)
		}
		for _, p := range []NumberPath{c.User, c.ServiceToll, c.ServiceTollFree} {
			if p != PathSelfService && p != PathRequest && p != PathNotOffered {
				return t, fmt.Errorf("%s: path %q is not selfService, request or notOffered", c.Code, p)
			}
		}
		if c.PostalCode.Pattern != "" {
			re, err := regexp.Compile(c.PostalCode.Pattern)
			if err != nil {
				return t, fmt.Errorf("%s: postal code pattern: %w", c.Code, err)
			}
			if !re.MatchString(c.PostalCode.Example) {
				return t, fmt.Errorf("%s: the example postal code %q does not match the pattern", c.Code, c.PostalCode.Example)
			}
			c.postal = re
		}
	}
	sort.Slice(t.Countries, func(i, j int) bool { return t.Countries[i].Code < t.Countries[j].Code })
	return t, nil
}

// Availability returns the availability table (a copy: callers cannot
// change it).
func Availability() AvailabilityTable {
	t := availability
	t.Countries = append([]CountryAvailability(nil), availability.Countries...)
	return t
}

// CountryAvailabilityOf returns the row of a country code, if the table has one.
func CountryAvailabilityOf(code string) (CountryAvailability, bool) {
	for _, c := range availability.Countries {
		if c.Code == code {
			return c, true
		}
	}
	return CountryAvailability{}, false
}

// countryByName finds a row by its code, name or an alias, in any case.
func countryByName(s string) (CountryAvailability, bool) {
	for _, c := range availability.Countries {
		if strings.EqualFold(c.Code, s) || strings.EqualFold(c.Name, s) {
			return c, true
		}
		for _, a := range c.Aliases {
			if strings.EqualFold(a, s) {
				return c, true
			}
		}
	}
	return CountryAvailability{}, false
}

// NumberPathFor is how numbers of type t are got in country. A country the
// table does not list offers nothing: the table is the list of countries
// the service offers.
func NumberPathFor(t NumberType, country string) NumberPath {
	c, ok := CountryAvailabilityOf(country)
	if !ok {
		return PathNotOffered
	}
	return c.Path(t)
}

// notOffered is the refusal where the table says the service has no numbers
// of type t in country.
func notOffered(t NumberType, country string) error {
	why := "deskprov's availability table has no row for " + country
	if c, ok := CountryAvailabilityOf(country); ok {
		why = fmt.Sprintf("the availability table (%s, %s) says %s does not offer them", availability.Source["title"], c.Page, c.Name)
	}
	return fault.Hintf(fault.Conflict, "%s numbers are not offered in %s: %s ({fix} lists what each country offers)", t, country, why).WithFix("number.availability").WithCode("not_offered")
}

// selfServiceOnly is the check before a reservation or a pool load: only
// the table's self-service paths have a pool.
func selfServiceOnly(t NumberType, country string) error {
	switch NumberPathFor(t, country) {
	case PathSelfService:
		return nil
	case PathRequest:
		return fault.Hintf(fault.Conflict, "%s numbers in %s are got through a number request, not self-service (availability table): file one ({fix}) and an operator will provide them", t, country).WithFix("numberrequest.create").WithCode("number_request_required")
	}
	return notOffered(t, country)
}

// poolCheck refuses a pool number the availability table or the number's
// own digits contradict: the pool holds only self-service numbers.
func poolCheck(num, country string, t NumberType, field string) error {
	if p := NumberPathFor(t, country); p != PathSelfService {
		return fault.FieldInvalid(field+".type", "%s numbers in %s are %s in the availability table, so they never enter the pool: provide them by fulfilling a number request", t, country, p).WithCode("not_self_service")
	}
	return checkNumberAgainst(num, country, t, field+".number", field+".country", field+".type")
}
