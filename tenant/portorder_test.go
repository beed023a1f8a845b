package tenant

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

func portTestInput(typ NumberType, numbers ...string) PortOrderInput {
	return PortOrderInput{NumberType: string(typ), Country: "US", State: "WA", City: "Seattle", Carrier: "Contoso Telecom",
		AccountNumber: "A-1234", BillingName: "Fabrikam Inc", BillingAddress: "1 Main St, Seattle WA 98101",
		AuthorizedSignatory: "Pat Doe", Numbers: numbers}
}

func portTestNumbers(first, count int) []string {
	out := make([]string, count)
	for i := range out {
		out[i] = fmt.Sprintf("+1206555%04d", first+i)
	}
	return out
}

func TestPortOrderRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, now := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		for _, c := range []struct {
			name string
			in   PortOrderInput
			path string
			kind fault.Kind
		}{
			{"999 user numbers go through the wizard", portTestInput(UserNumber, portTestNumbers(0, 999)...), PathWizard, ""},
			{"1,000 user numbers need a service request", portTestInput(UserNumber, portTestNumbers(1000, 1000)...), PathServiceRequest, ""},
			{"any service number needs a service request", portTestInput(ServiceTollNumber, portTestNumbers(3000, 1)...), PathServiceRequest, ""},
			{"toll-free numbers in a user order are refused (one type per order)", portTestInput(UserNumber, "+12065554000", "+18005550100"), "", fault.Invalid},
			{"a toll-free order takes only toll-free numbers", portTestInput(ServiceTollFreeNumber, "+12065554001"), "", fault.Invalid},
			{"a number already in an open order is refused", portTestInput(UserNumber, portTestNumbers(0, 1)...), "", fault.Conflict},
			{"the LOA needs its fields", func() PortOrderInput {
				in := portTestInput(UserNumber, "+12065554002")
				in.AuthorizedSignatory = ""
				return in
			}(), "", fault.Invalid},
		} {
			t.Run(c.name, func(t *testing.T) {
				o, err := s.SubmitPortOrder(ctx, c.in)
				if c.kind != "" {
					wantKind(t, err, c.kind)
					return
				}
				if err != nil || o.Path != c.path || o.State != OrderSubmitted {
					t.Fatalf("order = %s/%s, %v; want %s/submitted", o.Path, o.State, err, c.path)
				}
			})
		}
		o, err := s.SubmitPortOrder(ctx, portTestInput(ServiceTollFreeNumber, "+18445550100", "+18445550101"))
		if err != nil {
			t.Fatal(err)
		}
		t.Run("an order cannot complete before it is confirmed", func(t *testing.T) {
			_, err := s.MovePortOrder(ctx, o.ID, "complete", PortTransition{})
			wantKind(t, err, fault.Conflict)
		})
		t.Run("confirming needs a firm order date in the future", func(t *testing.T) {
			past := numbersT0.Add(-time.Hour)
			_, err := s.MovePortOrder(ctx, o.ID, "confirm", PortTransition{FirmOrderDate: &past})
			wantKind(t, err, fault.Invalid)
		})
		foc := numbersT0.Add(72 * time.Hour)
		if _, err := s.MovePortOrder(ctx, o.ID, "confirm", PortTransition{FirmOrderDate: &foc}); err != nil {
			t.Fatal(err)
		}
		t.Run("completing before the firm order date is refused", func(t *testing.T) {
			_, err := s.MovePortOrder(ctx, o.ID, "complete", PortTransition{})
			wantKind(t, err, fault.Conflict)
		})
		t.Run("a completed order puts its numbers in the inventory with their type, outside the quota", func(t *testing.T) {
			*now = foc
			done, err := s.MovePortOrder(ctx, o.ID, "complete", PortTransition{})
			if err != nil || done.State != OrderCompleted {
				t.Fatalf("order = %+v, %v", done, err)
			}
			list, err := s.Numbers(ctx, NumberFilter{Type: "serviceTollFree"})
			if err != nil || len(list) != 2 || list[0].Source != SourcePorted || list[0].Status != StatusUnassigned {
				t.Fatalf("numbers = %+v, %v", list, err)
			}
			q, _ := s.NumberQuota(ctx)
			if q.ServiceTollFree.Used != 0 {
				t.Fatalf("ported numbers used %d of the quota", q.ServiceTollFree.Used)
			}
			_, err = s.MovePortOrder(ctx, o.ID, "cancel", PortTransition{Reason: "changed our mind"})
			wantKind(t, err, fault.Conflict)
		})
		t.Run("cancelling needs a reason and keeps it", func(t *testing.T) {
			orders, _ := s.PortOrders(ctx)
			first := orders[len(orders)-1]
			_, err := s.MovePortOrder(ctx, first.ID, "reject", PortTransition{})
			wantKind(t, err, fault.Invalid)
			got, err := s.MovePortOrder(ctx, first.ID, "reject", PortTransition{Reason: "the LOA signature does not match the account"})
			if err != nil || got.State != OrderRejected || got.Reason == "" {
				t.Fatalf("order = %+v, %v", got, err)
			}
			// Its numbers are free to port again.
			if _, err := s.SubmitPortOrder(ctx, portTestInput(UserNumber, portTestNumbers(0, 1)...)); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestNumberRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		numbersLoad(t, s, UserNumber, "US", "WA", "Redmond", 0, 1)
		t.Run("where self-service numbers exist the admin is sent to reserve", func(t *testing.T) {
			_, err := s.SubmitNumberRequest(ctx, NumberRequestInput{Type: "user", Country: "US", Quantity: 5, Contact: "pat@example.com"})
			wantKind(t, err, fault.Conflict)
		})
		t.Run("reserving where there is no self-service points to the request form", func(t *testing.T) {
			_, err := s.Reserve(ctx, ReserveInput{Type: "serviceToll", Country: "NZ", Quantity: 1}, "admin")
			if fe, _ := fault.As(err); fe == nil || fe.Code != "number_request_required" {
				t.Fatalf("err = %v, want number_request_required", err)
			}
		})
		r, err := s.SubmitNumberRequest(ctx, NumberRequestInput{Type: "serviceToll", Country: "nz", City: "Auckland", Quantity: 2, Contact: "pat@example.com"})
		if err != nil || r.State != OrderSubmitted || r.Country != "NZ" {
			t.Fatalf("request = %+v, %v", r, err)
		}
		t.Run("fulfilling needs the numbers, at most as many as asked", func(t *testing.T) {
			_, err := s.MoveNumberRequest(ctx, r.ID, "fulfil", "", nil)
			wantKind(t, err, fault.Invalid)
			_, err = s.MoveNumberRequest(ctx, r.ID, "fulfil", "", []string{"+6493001001", "+6493001002", "+6493001003"})
			wantKind(t, err, fault.Invalid)
		})
		t.Run("a fulfilled request's numbers are the organisation's and count on the quota", func(t *testing.T) {
			got, err := s.MoveNumberRequest(ctx, r.ID, "fulfil", "", []string{"+6493001001", "+6493001002"})
			if err != nil || got.State != RequestFulfilled {
				t.Fatalf("request = %+v, %v", got, err)
			}
			list, err := s.Numbers(ctx, NumberFilter{Country: "NZ"})
			if err != nil || len(list) != 2 || list[0].Source != SourceRequest || list[0].City != "Auckland" {
				t.Fatalf("numbers = %+v, %v", list, err)
			}
			q, _ := s.NumberQuota(ctx)
			if q.ServiceToll.Used != 2 {
				t.Fatalf("toll used = %d, want 2", q.ServiceToll.Used)
			}
			_, err = s.MoveNumberRequest(ctx, r.ID, "reject", "too late", nil)
			wantKind(t, err, fault.Conflict)
		})
		t.Run("the country stays without self-service", func(t *testing.T) {
			if _, err := s.SubmitNumberRequest(ctx, NumberRequestInput{Type: "serviceToll", Country: "NZ", Quantity: 1, Contact: "pat@example.com"}); err != nil {
				t.Fatal(err)
			}
		})
	})
}
