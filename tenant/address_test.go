package tenant

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

func TestValidateAddress(t *testing.T) {
	us := AddressInput{Description: "HQ", HouseNumber: "1", Street: "Microsoft Way", City: "Redmond", State: "WA", PostalCode: "98052", Country: "US"}
	with := func(f func(a *AddressInput)) AddressInput { a := us; f(&a); return a }
	for _, c := range []struct {
		name   string
		in     AddressInput
		status string
		// field → corrected value, for AcceptedWithChanges
		fixed map[string]string
		// a word the reason must contain, for Rejected
		reason string
	}{
		{"a complete US address is accepted as is", us, ValidationAccepted, nil, ""},
		{"a state written in full is corrected to its code", with(func(a *AddressInput) { a.State = "Washington" }), ValidationAcceptedWithChanges, map[string]string{"state": "WA"}, ""},
		{"a ZIP+4 without its dash is normalised", with(func(a *AddressInput) { a.PostalCode = "980526399" }), ValidationAcceptedWithChanges, map[string]string{"postalCode": "98052-6399"}, ""},
		{"a wrong ordinal suffix is corrected", with(func(a *AddressInput) {
			a.HouseNumber = "350"
			a.Street = "5rd Avenue"
			a.City = "New York"
			a.State = "NY"
			a.PostalCode = "10118"
		}), ValidationAcceptedWithChanges, map[string]string{"street": "5th Avenue"}, ""},
		{"11th keeps th and 21st keeps st", with(func(a *AddressInput) { a.Street = "NE 21st Street and 11th" }), ValidationAccepted, nil, ""},
		{"a street named by a bare number is rejected", with(func(a *AddressInput) { a.Street = "West 42 Street" }), ValidationRejected, nil, "42nd"},
		{"a numbered route is not an ordinal street", with(func(a *AddressInput) { a.Street = "Route 66" }), ValidationAccepted, nil, ""},
		{"a bad ZIP code is rejected", with(func(a *AddressInput) { a.PostalCode = "9805" }), ValidationRejected, nil, "ZIP"},
		{"an unknown state is rejected", with(func(a *AddressInput) { a.State = "Atlantis" }), ValidationRejected, nil, "Atlantis"},
		{"a missing house number is rejected", with(func(a *AddressInput) { a.HouseNumber = "" }), ValidationRejected, nil, "house number"},
		{"a country deskprov has no rules for is kept, not validated", with(func(a *AddressInput) { a.Country = "JP"; a.State = ""; a.HouseNumber = "1-2-3" }), ValidationNotValidated, nil, "JP"},
		{"a country that is no code and no known name is rejected", with(func(a *AddressInput) { a.Country = "Atlantis" }), ValidationRejected, nil, "two-letter"},
		{"a New Zealand address is checked against NZ's postal-code rule", AddressInput{HouseNumber: "1", Street: "Lambton Quay", City: "Wellington", PostalCode: "6011", Country: "New Zealand"}, ValidationAcceptedWithChanges, map[string]string{"country": "NZ"}, ""},
		{"a New Zealand postal code of five digits is rejected", AddressInput{HouseNumber: "1", Street: "Lambton Quay", City: "Wellington", PostalCode: "60111", Country: "NZ"}, ValidationRejected, nil, "New Zealand postal code"},
		{"a Dutch postal code is upper-cased", AddressInput{HouseNumber: "1", Street: "Dam", City: "Amsterdam", PostalCode: "1012 jm", Country: "NL"}, ValidationAcceptedWithChanges, map[string]string{"postalCode": "1012 JM"}, ""},
		{"a country name becomes its code", with(func(a *AddressInput) { a.Country = "United States" }), ValidationAcceptedWithChanges, map[string]string{"country": "US"}, ""},
		{"a Canadian postal code is spaced and upper-cased", AddressInput{HouseNumber: "24", Street: "Sussex Drive", City: "Ottawa", State: "Ontario", PostalCode: "k1m1m4", Country: "CA"}, ValidationAcceptedWithChanges, map[string]string{"postalCode": "K1M 1M4", "state": "ON"}, ""},
		{"a Canadian postal code with a D is rejected", AddressInput{HouseNumber: "24", Street: "Sussex Drive", City: "Ottawa", State: "ON", PostalCode: "D1M 1M4", Country: "CA"}, ValidationRejected, nil, "Canadian"},
		{"a UK postcode gets its space", AddressInput{HouseNumber: "10", Street: "Downing Street", City: "London", PostalCode: "sw1a2aa", Country: "GB"}, ValidationAcceptedWithChanges, map[string]string{"postalCode": "SW1A 2AA"}, ""},
		{"a malformed UK postcode is rejected", AddressInput{HouseNumber: "10", Street: "Downing Street", City: "London", PostalCode: "12345", Country: "GB"}, ValidationRejected, nil, "UK postcode"},
		{"a French postal code is five digits", AddressInput{HouseNumber: "35", Street: "Rue du 4 Septembre", City: "Paris", PostalCode: "75002", Country: "FR"}, ValidationAccepted, nil, ""},
		{"a French postal code of four digits is rejected", AddressInput{HouseNumber: "35", Street: "Rue de Rivoli", City: "Paris", PostalCode: "7500", Country: "FR"}, ValidationRejected, nil, "5 digits"},
		{"a Swedish postal code is written 123 45", AddressInput{HouseNumber: "1", Street: "Drottninggatan", City: "Stockholm", PostalCode: "11151", Country: "SE"}, ValidationAcceptedWithChanges, map[string]string{"postalCode": "111 51"}, ""},
		{"a Swedish postal code of six digits is rejected", AddressInput{HouseNumber: "1", Street: "Drottninggatan", City: "Stockholm", PostalCode: "111 512", Country: "SE"}, ValidationRejected, nil, "Swedish"},
		{"a German postal code is five digits", AddressInput{HouseNumber: "1", Street: "Unter den Linden", City: "Berlin", PostalCode: "10117", Country: "Deutschland"}, ValidationAcceptedWithChanges, map[string]string{"country": "DE"}, ""},
		{"a German postal code with letters is rejected", AddressInput{HouseNumber: "1", Street: "Unter den Linden", City: "Berlin", PostalCode: "1O117", Country: "DE"}, ValidationRejected, nil, "DE postal code"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := ValidateAddress(c.in)
			if v.Status != c.status {
				t.Fatalf("status = %s (reason %q, corrections %+v), want %s", v.Status, v.Reason, v.Corrections, c.status)
			}
			if c.reason != "" && !strings.Contains(v.Reason, c.reason) {
				t.Fatalf("reason = %q, want it to mention %q", v.Reason, c.reason)
			}
			got := map[string]string{}
			for _, fix := range v.Corrections {
				got[fix.Field] = fix.To
			}
			if len(got) != len(c.fixed) {
				t.Fatalf("corrections = %+v, want %v", v.Corrections, c.fixed)
			}
			for f, want := range c.fixed {
				if got[f] != want {
					t.Fatalf("%s corrected to %q, want %q", f, got[f], want)
				}
			}
		})
	}
}

func TestEmergencyAddressesAndLocations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		a, err := s.CreateAddress(ctx, AddressInput{Description: "HQ", HouseNumber: "1", Street: "Microsoft Way", City: "Redmond", State: "washington", PostalCode: "98052", Country: "US"})
		if err != nil {
			t.Fatal(err)
		}
		if a.ValidationStatus != ValidationAcceptedWithChanges || a.State != "WA" || len(a.Locations) != 1 || !a.Locations[0].IsDefault {
			t.Fatalf("address = %+v", a)
		}
		t.Run("locations hang under the address", func(t *testing.T) {
			if _, err := s.AddLocation(ctx, a.ID, "Floor 3"); err != nil {
				t.Fatal(err)
			}
			_, err := s.AddLocation(ctx, a.ID, "floor 3")
			wantKind(t, err, fault.Conflict)
			got, err := s.Address(ctx, a.ID)
			if err != nil || len(got.Locations) != 2 || len(got.Corrections) != 1 {
				t.Fatalf("address = %+v, %v", got, err)
			}
		})
		t.Run("a rejected address is kept with its reason but cannot be used", func(t *testing.T) {
			r, err := s.CreateAddress(ctx, AddressInput{HouseNumber: "1", Street: "5 Avenue", City: "New York", State: "NY", PostalCode: "10001", Country: "US"})
			if err != nil || r.ValidationStatus != ValidationRejected || r.Reason == "" {
				t.Fatalf("address = %+v, %v", r, err)
			}
			_, err = usableAddress(db, r.ID)
			wantKind(t, err, fault.Conflict)
		})
	})
}

func TestOrdinalSuffixRule(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 10: "10th", 11: "11th", 12: "12th", 13: "13th",
		21: "21st", 22: "22nd", 23: "23rd", 101: "101st", 111: "111th", 112: "112th", 113: "113th", 122: "122nd"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
	addr := func(country, street string) AddressInput {
		switch country {
		case "CA":
			return AddressInput{HouseNumber: "100", Street: street, City: "Calgary", State: "AB", PostalCode: "T2P 1J9", Country: "CA"}
		case "GB":
			return AddressInput{HouseNumber: "12", Street: street, City: "London", PostalCode: "SW1A 2AA", Country: "GB"}
		}
		return AddressInput{HouseNumber: "350", Street: street, City: "New York", State: "NY", PostalCode: "10118", Country: "US"}
	}
	for _, c := range []struct {
		name, country, street, status, want string
	}{
		{"1 needs st", "US", "1 Avenue", ValidationRejected, `"1st Avenue"`},
		{"2 needs nd", "US", "2 Avenue", ValidationRejected, `"2nd Avenue"`},
		{"3 needs rd", "US", "3 Avenue", ValidationRejected, `"3rd Avenue"`},
		{"12 needs th, not nd", "US", "W 12 Street", ValidationRejected, `"W 12th Street"`},
		{"113 needs th", "US", "113 Street", ValidationRejected, `"113th Street"`},
		{"a Canadian numbered street needs its suffix", "CA", "8 Avenue SW", ValidationRejected, `"8th Avenue SW"`},
		{"a British numbered street needs its suffix", "GB", "2 Street", ValidationRejected, `"2nd Street"`},
		{"1th is corrected to 1st", "US", "1th Avenue", ValidationAcceptedWithChanges, "1st Avenue"},
		{"12nd is corrected to 12th", "US", "12nd Street", ValidationAcceptedWithChanges, "12th Street"},
		{"23th is corrected to 23rd", "US", "23th Street", ValidationAcceptedWithChanges, "23rd Street"},
		{"an upper-case suffix is accepted", "US", "5TH Avenue", ValidationAccepted, ""},
		{"Highway 101 is a road number", "US", "Highway 101", ValidationAccepted, ""},
		{"a street with no number is accepted", "US", "Broadway", ValidationAccepted, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := ValidateAddress(addr(c.country, c.street))
			if v.Status != c.status {
				t.Fatalf("status = %s (reason %q, corrections %+v), want %s", v.Status, v.Reason, v.Corrections, c.status)
			}
			switch c.status {
			case ValidationRejected:
				if !strings.Contains(v.Reason, "ordinal suffix") || !strings.Contains(v.Reason, c.want) {
					t.Fatalf("reason = %q, want it to suggest %s", v.Reason, c.want)
				}
			case ValidationAcceptedWithChanges:
				if v.Address.Street != c.want || len(v.Corrections) != 1 || v.Corrections[0].From != c.street {
					t.Fatalf("street = %q, corrections %+v; want %q", v.Address.Street, v.Corrections, c.want)
				}
			}
		})
	}
}

func TestUserNumbersOutsideTheUSNeedAnEmergencyAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		numbersLoad(t, s, UserNumber, "GB", "", "London", 0, 3)
		wantCode := func(t *testing.T, err error, code string) {
			t.Helper()
			if fe, _ := fault.As(err); fe == nil || fe.Code != code {
				t.Fatalf("err = %v, want %s", err, code)
			}
		}
		reserve := func() (NumberReservation, error) {
			return s.Reserve(ctx, ReserveInput{Type: "user", Country: "GB", Quantity: 1}, "admin")
		}
		t.Run("without any address user numbers are refused with what to do", func(t *testing.T) {
			_, err := reserve()
			wantCode(t, err, "emergency_address_required")
			if !strings.Contains(err.Error(), "create a valid emergency address in GB") {
				t.Fatalf("message = %q", err)
			}
		})
		t.Run("an address in another country does not count", func(t *testing.T) {
			if _, err := s.CreateAddress(ctx, AddressInput{HouseNumber: "1", Street: "Microsoft Way", City: "Redmond", State: "WA", PostalCode: "98052", Country: "US"}); err != nil {
				t.Fatal(err)
			}
			_, err := reserve()
			wantCode(t, err, "emergency_address_required")
		})
		t.Run("a rejected address does not count", func(t *testing.T) {
			a, err := s.CreateAddress(ctx, AddressInput{HouseNumber: "10", Street: "Downing Street", City: "London", PostalCode: "12345", Country: "GB"})
			if err != nil || a.ValidationStatus != ValidationRejected {
				t.Fatalf("address = %+v, %v", a, err)
			}
			_, err = reserve()
			wantCode(t, err, "emergency_address_required")
		})
		t.Run("service numbers need no address", func(t *testing.T) {
			// GB service numbers come through a number request (the
			// availability table), which checks the address rule as acquiring does.
			r, err := s.SubmitNumberRequest(ctx, NumberRequestInput{Type: "serviceToll", Country: "GB", City: "London", Quantity: 1, Contact: "pat@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.MoveNumberRequest(ctx, r.ID, "fulfil", "", []string{"+442079400010"}); err != nil {
				t.Fatal(err)
			}
		})
		var gb EmergencyAddress
		t.Run("with a valid address in the country they can be reserved and acquired", func(t *testing.T) {
			var err error
			gb, err = s.CreateAddress(ctx, AddressInput{HouseNumber: "10", Street: "Downing Street", City: "London", PostalCode: "sw1a2aa", Country: "GB"})
			if err != nil || gb.ValidationStatus != ValidationAcceptedWithChanges {
				t.Fatalf("address = %+v, %v", gb, err)
			}
			r, err := reserve()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Acquire(ctx, r.ID, nil); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("the rule is checked again when acquiring", func(t *testing.T) {
			r, err := reserve()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteAddress(ctx, gb.ID); err != nil {
				t.Fatal(err)
			}
			_, err = s.Acquire(ctx, r.ID, nil)
			wantCode(t, err, "emergency_address_required")
		})
	})
}
