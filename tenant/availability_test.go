package tenant

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

// exampleNumber is a number of country's kind for t that libphonenumber
// itself gives as an example (varied by n in its last digits, each variant
// checked to be valid), so the test invents no numbering plan.
func exampleNumber(t *testing.T, country string, typ NumberType, n int) string {
	t.Helper()
	kind := phonenumbers.FIXED_LINE
	if typ == ServiceTollFreeNumber {
		kind = phonenumbers.TOLL_FREE
	}
	ex := phonenumbers.GetExampleNumberForType(country, kind)
	if ex == nil {
		t.Fatalf("libphonenumber has no example %v number for %s", kind, country)
	}
	base := phonenumbers.Format(ex, phonenumbers.E164)
	for tries := 0; tries < 100; tries++ {
		num := fmt.Sprintf("%s%02d", base[:len(base)-2], (n*7+tries)%100)
		if checkNumberAgainst(num, country, typ, "n", "c", "t") == nil {
			return num
		}
	}
	t.Fatalf("no valid variant of %s", base)
	return ""
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if fe, _ := fault.As(err); fe == nil || fe.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

// TestEveryCountryInTheAvailabilityTableTakesItsPath runs every country and
// number type of the table through the pool, reservations and number
// requests, and checks that each goes the way its row says: self-service
// (pool, reserve, acquire; the form refused), request (no pool, no
// reservation; the form filed and fulfilled into an owned number) or not
// offered (everything refused). Every country's example postal code
// validates and a malformed one is rejected.
func TestEveryCountryInTheAvailabilityTableTakesItsPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		countries := Availability().Countries
		if len(countries) < 10 {
			t.Fatalf("the table has %d countries", len(countries))
		}
		for i, c := range countries {
			addr := AddressInput{HouseNumber: "1", Street: "High Street", City: "Capital", PostalCode: c.PostalCode.Example, Country: c.Code}
			switch c.Code {
			case "US":
				addr.State = "CA"
			case "CA":
				addr.State = "QC"
			}
			t.Run(c.Code+" addresses follow its postal-code rule", func(t *testing.T) {
				a, err := s.CreateAddress(ctx, addr)
				if err != nil || (a.ValidationStatus != ValidationAccepted && a.ValidationStatus != ValidationAcceptedWithChanges) {
					t.Fatalf("the example postal code %q: %+v, %v", c.PostalCode.Example, a, err)
				}
				bad := addr
				bad.PostalCode = "!!"
				if v := ValidateAddress(bad); v.Status != ValidationRejected {
					t.Fatalf("postal code !! in %s: %s", c.Code, v.Status)
				}
			})
			for j, typ := range NumberTypes {
				path := c.Path(typ)
				t.Run(fmt.Sprintf("%s %s numbers are %s", c.Code, typ, path), func(t *testing.T) {
					num := exampleNumber(t, c.Code, typ, i*3+j)
					_, loadErr := s.LoadInventory(ctx, []InventoryNumber{{Number: num, Type: string(typ), Country: c.Code}})
					held, reserveErr := s.Reserve(ctx, ReserveInput{Type: string(typ), Country: c.Code, Quantity: 1}, "admin")
					req, requestErr := s.SubmitNumberRequest(ctx, NumberRequestInput{Type: string(typ), Country: c.Code, Quantity: 1, Contact: "pat@example.com"})
					switch path {
					case PathSelfService:
						if loadErr != nil || reserveErr != nil {
							t.Fatalf("load %v, reserve %v", loadErr, reserveErr)
						}
						wantCode(t, requestErr, "self_service_available")
						got, err := s.Acquire(ctx, held.ID, nil)
						if err != nil || len(got.Numbers) != 1 || got.Numbers[0].Number != num {
							t.Fatalf("acquire = %+v, %v", got, err)
						}
					case PathRequest:
						wantCode(t, loadErr, "not_self_service")
						wantCode(t, reserveErr, "number_request_required")
						if requestErr != nil {
							t.Fatal(requestErr)
						}
						if _, err := s.MoveNumberRequest(ctx, req.ID, "fulfil", "", []string{num}); err != nil {
							t.Fatal(err)
						}
						n, err := s.Number(ctx, num)
						if err != nil || n.Source != SourceRequest || n.Country != c.Code || n.Type != typ {
							t.Fatalf("fulfilled number = %+v, %v", n, err)
						}
					case PathNotOffered:
						wantCode(t, loadErr, "not_self_service")
						wantCode(t, reserveErr, "not_offered")
						wantCode(t, requestErr, "not_offered")
					default:
						t.Fatalf("path %q", path)
					}
				})
			}
		}
		t.Run("a country the table does not list offers nothing", func(t *testing.T) {
			for _, typ := range NumberTypes {
				_, err := s.SubmitNumberRequest(ctx, NumberRequestInput{Type: string(typ), Country: "JP", Quantity: 1, Contact: "pat@example.com"})
				wantCode(t, err, "not_offered")
			}
		})
	})
}

// TestGBServiceNumbersAreNotSelfService is issue 17's item 2: outside the
// United States service numbers go through the request form.
func TestGBServiceNumbersAreNotSelfService(t *testing.T) {
	for _, typ := range []NumberType{ServiceTollNumber, ServiceTollFreeNumber} {
		if p := NumberPathFor(typ, "GB"); p != PathRequest {
			t.Fatalf("GB %s: %s", typ, p)
		}
		if p := NumberPathFor(typ, "US"); p != PathSelfService {
			t.Fatalf("US %s: %s", typ, p)
		}
	}
}

func TestTheAvailabilityTableRefusesBadRows(t *testing.T) {
	good := `{"source":{"title":"t","date":"d"},"countries":[{"code":"NZ","name":"New Zealand","page":"p","commit":"c","user":"request","serviceToll":"request","serviceTollFree":"request","postalCode":{"pattern":"^\\d{4}$","example":"6001"}}]}`
	if _, err := parseAvailability([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"an unknown path":                strings.Replace(good, `"user":"request"`, `"user":"maybe"`, 1),
		"a row without its page":         strings.Replace(good, `"page":"p"`, `"page":""`, 1),
		"an example the pattern refuses": strings.Replace(good, `"example":"6001"`, `"example":"60011"`, 1),
		"a source without a date":        strings.Replace(good, `"date":"d"`, `"date":""`, 1),
		"an unknown field":               strings.Replace(good, `"name":"New Zealand"`, `"name":"New Zealand","colour":"red"`, 1),
	} {
		if _, err := parseAvailability([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
}
