package tenant

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

// numbersAcquire reserves and acquires count numbers of typ from the pool.
func numbersAcquire(t *testing.T, s *Service, typ NumberType, country string, count int) []string {
	t.Helper()
	r, err := s.Reserve(context.Background(), ReserveInput{Type: string(typ), Country: country, Quantity: count}, "admin")
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	if _, err := s.Acquire(context.Background(), r.ID, nil); err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return r.Numbers
}

func TestAssignment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		numbersLoad(t, s, UserNumber, "US", "WA", "Redmond", 0, 3)
		numbersLoad(t, s, ServiceTollNumber, "US", "WA", "Redmond", 100, 4)
		users := numbersAcquire(t, s, UserNumber, "US", 3)
		services := numbersAcquire(t, s, ServiceTollNumber, "US", 4)
		for _, upn := range []string{"ann@contoso.com", "bob@contoso.com", "cat@contoso.com"} {
			mustUser(t, s, upn)
		}
		for _, a := range []struct{ upn, sku string }{{"ann@contoso.com", "PhoneSystem"}, {"ann@contoso.com", "CallingPlanDomestic"},
			{"bob@contoso.com", "PhoneSystem"}, {"cat@contoso.com", "PhoneSystem"}, {"cat@contoso.com", "CallingPlanDomestic"}} {
			if err := s.Assign(ctx, a.upn, a.sku); err != nil {
				t.Fatal(err)
			}
		}
		addr, err := s.CreateAddress(ctx, AddressInput{HouseNumber: "1", Street: "Microsoft Way", City: "Redmond", State: "WA", PostalCode: "98052", Country: "US"})
		if err != nil {
			t.Fatal(err)
		}
		bridge, err := s.CreateService(ctx, ServiceInput{Kind: "conferenceBridge", Name: "Main bridge"})
		if err != nil {
			t.Fatal(err)
		}
		queue, err := s.CreateService(ctx, ServiceInput{Kind: "callQueue", Name: "Help desk"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name   string
			number string
			in     AssignInput
			kind   fault.Kind
		}{
			{"a voice user gets a user number with an emergency address", users[0], AssignInput{User: "ann@contoso.com", EmergencyAddressID: &addr.ID}, ""},
			{"a number has one owner", users[0], AssignInput{User: "cat@contoso.com", EmergencyAddressID: &addr.ID}, fault.Conflict},
			{"a user has one number", users[1], AssignInput{User: "ann@contoso.com", EmergencyAddressID: &addr.ID}, fault.Conflict},
			{"a user without a Calling Plan is not a voice user", users[1], AssignInput{User: "bob@contoso.com", EmergencyAddressID: &addr.ID}, fault.Conflict},
			{"a user number needs an emergency address", users[1], AssignInput{User: "cat@contoso.com"}, fault.Invalid},
			{"a user cannot get a service number", services[0], AssignInput{User: "cat@contoso.com", EmergencyAddressID: &addr.ID}, fault.Conflict},
			{"a service number goes to a conference bridge", services[0], AssignInput{Service: &ServiceRef{Kind: ConferenceBridge, ID: bridge.ID}}, ""},
			{"a conference bridge holds several numbers", services[1], AssignInput{Service: &ServiceRef{Kind: ConferenceBridge, ID: bridge.ID}}, ""},
			{"a call queue gets a service number", services[2], AssignInput{Service: &ServiceRef{Kind: CallQueue, ID: queue.ID}}, ""},
			{"a call queue has one number", services[3], AssignInput{Service: &ServiceRef{Kind: CallQueue, ID: queue.ID}}, fault.Conflict},
			{"a service cannot get a user number", users[1], AssignInput{Service: &ServiceRef{Kind: CallQueue, ID: queue.ID}}, fault.Conflict},
			{"a service is found by kind and id", services[3], AssignInput{Service: &ServiceRef{Kind: AutoAttendant, ID: queue.ID}}, fault.NotFound},
			{"a number not the organisation's cannot be assigned", "+19995550000", AssignInput{User: "cat@contoso.com", EmergencyAddressID: &addr.ID}, fault.NotFound},
		} {
			t.Run(c.name, func(t *testing.T) {
				v, err := s.AssignNumber(ctx, c.number, c.in)
				if c.kind != "" {
					wantKind(t, err, c.kind)
					return
				}
				if err != nil || v.Status != StatusAssigned {
					t.Fatalf("assign = %+v, %v", v, err)
				}
			})
		}
		t.Run("releasing puts the number back on the unassigned list", func(t *testing.T) {
			v, err := s.ReleaseNumber(ctx, users[0], false)
			if err != nil || v.Status != StatusUnassigned || v.User != "" {
				t.Fatalf("release = %+v, %v", v, err)
			}
			if _, err := s.AssignNumber(ctx, users[0], AssignInput{User: "cat@contoso.com", EmergencyAddressID: &addr.ID}); err != nil {
				t.Fatalf("reassign after release: %v", err)
			}
		})
		t.Run("a service with a number cannot be deleted", func(t *testing.T) {
			wantKind(t, s.DeleteService(ctx, bridge.ID), fault.Conflict)
		})
	})
}

func TestUserNumbersOutsideTheUSNeedAnEmergencyAddressFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, now := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		numbersLoad(t, s, UserNumber, "GB", "", "London", 0, 2)
		r, err := s.Reserve(ctx, ReserveInput{Type: "user", Country: "GB", Quantity: 1}, "admin")
		if fe, _ := fault.As(err); fe == nil || fe.Code != "emergency_address_required" {
			t.Fatalf("reserve = %+v, %v; want emergency_address_required", r, err)
		}
		if _, err := s.CreateAddress(ctx, AddressInput{HouseNumber: "10", Street: "Downing Street", City: "London", PostalCode: "SW1A 2AA", Country: "GB"}); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Minute)
		numbersAcquire(t, s, UserNumber, "GB", 2)
	})
}
