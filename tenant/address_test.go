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
		{"an unsupported country is rejected", with(func(a *AddressInput) { a.Country = "JP" }), ValidationRejected, nil, "JP"},
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
