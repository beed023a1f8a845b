package tenant

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

// numbersTestTenant is a voice-licensed tenant with a movable clock and a
// pool of count numbers of type t in US/WA/Redmond (+1425555NNNN).
func numbersTestTenant(t *testing.T, db *gorm.DB, t0 time.Time) (*Service, *time.Time) {
	t.Helper()
	s := newTestTenant(t, db)
	now := t0
	s.Now = func() time.Time { return now }
	mustSet(t, s, PhoneSystem, 50)
	mustSet(t, s, CallingPlanDomestic, 50)
	mustSet(t, s, CommunicationsCredits, 1)
	return s, &now
}

func numbersLoad(t *testing.T, s *Service, typ NumberType, country, state, city string, first, count int) []string {
	t.Helper()
	var in []InventoryNumber
	var out []string
	for i := 0; i < count; i++ {
		// Numbers of the declared kind and country, as libphonenumber
		// classifies them (LoadInventory checks them).
		n := fmt.Sprintf("+1425555%04d", first+i)
		switch {
		case country != "US":
			n = fmt.Sprintf("+4420794%05d", first+i)
		case typ == ServiceTollFreeNumber:
			n = fmt.Sprintf("+1800555%04d", first+i)
		}
		in = append(in, InventoryNumber{Number: n, Type: string(typ), Country: country, State: state, City: city})
		out = append(out, n)
	}
	if _, err := s.LoadInventory(context.Background(), in); err != nil {
		t.Fatalf("load inventory: %v", err)
	}
	return out
}

var numbersT0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func TestInventoryLoad(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		n, err := s.LoadInventory(ctx, []InventoryNumber{{Number: "+1 (425) 555-0100", Type: "user", Country: "us", State: "WA", City: "Redmond"}})
		if err != nil || n != 1 {
			t.Fatalf("load = %d, %v", n, err)
		}
		for _, c := range []struct {
			name string
			in   []InventoryNumber
			kind fault.Kind
		}{
			{"a number already in the pool is a conflict", []InventoryNumber{{Number: "+14255550100", Type: "user", Country: "US"}}, fault.Conflict},
			{"a number listed twice is refused", []InventoryNumber{{Number: "+14255550101", Type: "user", Country: "US"}, {Number: "+14255550101", Type: "user", Country: "US"}}, fault.Invalid},
			{"a malformed number is refused", []InventoryNumber{{Number: "425-555", Type: "user", Country: "US"}}, fault.Invalid},
			{"an unknown type is refused", []InventoryNumber{{Number: "+14255550102", Type: "fax", Country: "US"}}, fault.Invalid},
			{"a bad country is refused", []InventoryNumber{{Number: "+14255550103", Type: "user", Country: "USA"}}, fault.Invalid},
			{"an empty list is refused", nil, fault.Invalid},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.LoadInventory(ctx, c.in)
				wantKind(t, err, c.kind)
			})
		}
		res, err := s.SearchNumbers(ctx, NumberFilter{Country: "US", City: "redmond", Type: "user"})
		if err != nil || res.Available != 1 || res.Numbers[0].Number != "+14255550100" {
			t.Fatalf("search = %+v, %v; want the one loaded number", res, err)
		}
	})
}

func TestReservationHoldsForTenMinutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, now := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		numbersLoad(t, s, UserNumber, "US", "WA", "Redmond", 0, 5)
		r, err := s.Reserve(ctx, ReserveInput{Type: "user", Country: "US", State: "WA", City: "Redmond", Quantity: 3}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Numbers) != 3 || !r.ExpiresAt.Equal(numbersT0.Add(10*time.Minute)) {
			t.Fatalf("reservation = %+v", r)
		}
		t.Run("held numbers are not offered to anyone else", func(t *testing.T) {
			res, err := s.SearchNumbers(ctx, NumberFilter{Country: "US"})
			if err != nil || res.Available != 2 {
				t.Fatalf("available = %d, %v; want 2", res.Available, err)
			}
			r2, err := s.Reserve(ctx, ReserveInput{Type: "user", Country: "US", Quantity: 5}, "other")
			if err != nil || len(r2.Numbers) != 2 {
				t.Fatalf("second reservation = %+v, %v; want the 2 free numbers", r2, err)
			}
			_, err = s.Reserve(ctx, ReserveInput{Type: "user", Country: "US", Quantity: 1}, "third")
			wantKind(t, err, fault.Conflict)
		})
		t.Run("at 9 minutes 59 the hold still stands", func(t *testing.T) {
			*now = numbersT0.Add(10*time.Minute - time.Second)
			got, err := s.Reservation(ctx, r.ID)
			if err != nil || len(got.Numbers) != 3 {
				t.Fatalf("reservation = %+v, %v", got, err)
			}
		})
		t.Run("at 10 minutes the numbers are back in the pool without any job", func(t *testing.T) {
			*now = numbersT0.Add(10 * time.Minute)
			got, err := s.Reservation(ctx, r.ID)
			if err != nil || len(got.Numbers) != 0 {
				t.Fatalf("reservation = %+v, %v; want no numbers held", got, err)
			}
			res, err := s.SearchNumbers(ctx, NumberFilter{Country: "US"})
			if err != nil || res.Available != 5 {
				t.Fatalf("available = %d, %v; want 5", res.Available, err)
			}
			_, err = s.Acquire(ctx, r.ID, nil)
			wantKind(t, err, fault.Conflict)
		})
		t.Run("a new reservation can take the freed numbers", func(t *testing.T) {
			r3, err := s.Reserve(ctx, ReserveInput{Type: "user", Country: "US", Quantity: 5}, "admin")
			if err != nil || len(r3.Numbers) != 5 {
				t.Fatalf("reservation = %+v, %v", r3, err)
			}
		})
	})
}

func TestAcquireWithinTheHold(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, now := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		nums := numbersLoad(t, s, UserNumber, "US", "WA", "Redmond", 0, 4)
		r, err := s.Reserve(ctx, ReserveInput{Type: "user", Country: "US", Quantity: 4}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		*now = numbersT0.Add(5 * time.Minute)
		t.Run("a number the reservation does not hold is refused", func(t *testing.T) {
			_, err := s.Acquire(ctx, r.ID, []string{"+14255559999"})
			wantKind(t, err, fault.Conflict)
		})
		t.Run("some of the held numbers can be acquired", func(t *testing.T) {
			got, err := s.Acquire(ctx, r.ID, nums[:2])
			if err != nil || len(got.Numbers) != 2 || got.Numbers[0].Status != StatusUnassigned || got.Quota.Used != 2 {
				t.Fatalf("acquire = %+v, %v", got, err)
			}
		})
		t.Run("the rest stay held until the hold ends", func(t *testing.T) {
			got, err := s.Reservation(ctx, r.ID)
			if err != nil || len(got.Numbers) != 2 {
				t.Fatalf("reservation = %+v, %v", got, err)
			}
			*now = numbersT0.Add(11 * time.Minute)
			res, _ := s.SearchNumbers(ctx, NumberFilter{})
			if res.Available != 2 {
				t.Fatalf("available = %d, want 2", res.Available)
			}
			list, err := s.Numbers(ctx, NumberFilter{})
			if err != nil || len(list) != 2 {
				t.Fatalf("organisation's numbers = %+v, %v", list, err)
			}
		})
	})
}

func TestAcquireIsCheckedAgainstTheQuota(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newTestTenant(t, db)
		now := numbersT0
		s.Now = func() time.Time { return now }
		ctx := context.Background()
		mustSet(t, s, PhoneSystem, 1) // 1 license: 5 toll numbers, no toll-free
		numbersLoad(t, s, ServiceTollNumber, "US", "WA", "Seattle", 0, 7)
		numbersLoad(t, s, ServiceTollFreeNumber, "US", "", "", 100, 1)
		t.Run("toll-free numbers need Communications Credits", func(t *testing.T) {
			_, err := s.Reserve(ctx, ReserveInput{Type: "serviceTollFree", Country: "US", Quantity: 1}, "admin")
			if fe, _ := fault.As(err); fe == nil || fe.Code != "communications_credits_required" {
				t.Fatalf("err = %v, want communications_credits_required", err)
			}
		})
		t.Run("user numbers need a Calling Plan", func(t *testing.T) {
			_, err := s.Reserve(ctx, ReserveInput{Type: "user", Country: "US", Quantity: 1}, "admin")
			wantKind(t, err, fault.Conflict)
		})
		r, err := s.Reserve(ctx, ReserveInput{Type: "serviceToll", Country: "US", Quantity: 7}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		t.Run("acquiring past the quota is refused whole", func(t *testing.T) {
			_, err := s.Acquire(ctx, r.ID, nil)
			if fe, _ := fault.As(err); fe == nil || fe.Code != "quota_exceeded" {
				t.Fatalf("err = %v, want quota_exceeded", err)
			}
			q, _ := s.NumberQuota(ctx)
			if q.ServiceToll.Used != 0 {
				t.Fatalf("used = %d after a refused acquisition", q.ServiceToll.Used)
			}
		})
		t.Run("acquiring up to the quota works", func(t *testing.T) {
			got, err := s.Acquire(ctx, r.ID, r.Numbers[:5])
			if err != nil || got.Quota.Available != 0 {
				t.Fatalf("acquire = %+v, %v", got, err)
			}
		})
		t.Run("releasing to the pool frees the quota", func(t *testing.T) {
			if _, err := s.ReleaseNumber(ctx, r.Numbers[0], true); err != nil {
				t.Fatal(err)
			}
			q, _ := s.NumberQuota(ctx)
			if q.ServiceToll.Used != 4 || q.ServiceToll.Available != 1 {
				t.Fatalf("quota = %+v", q.ServiceToll)
			}
		})
	})
}

func TestConcurrentReservationsNeverShareANumber(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		const pool, racers, each = 30, 16, 3
		numbersLoad(t, s, UserNumber, "US", "WA", "Redmond", 0, pool)
		var mu sync.Mutex
		owner := map[string]int{}
		var wg sync.WaitGroup
		errs := make(chan error, racers)
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r, err := s.Reserve(ctx, ReserveInput{Type: "user", Country: "US", Quantity: each}, fmt.Sprint("admin", i))
				if err != nil {
					if !fault.Is(err, fault.Conflict) {
						errs <- err
					}
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, n := range r.Numbers {
					if prev, taken := owner[n]; taken {
						errs <- fmt.Errorf("%s held by racer %d and racer %d", n, prev, i)
					}
					owner[n] = i
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// 16 racers × 3 wanted = 48 > 30: every number is held exactly once.
		if len(owner) != pool {
			t.Fatalf("%d numbers held, want all %d", len(owner), pool)
		}
		var held int64
		db.Model(&PhoneNumber{}).Where("reservation_id IS NOT NULL").Count(&held)
		if held != pool {
			t.Fatalf("store says %d held, want %d", held, pool)
		}
	})
}

func TestConcurrentAcquisitionsNeverExceedTheQuota(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newTestTenant(t, db)
		s.Now = func() time.Time { return numbersT0 }
		ctx := context.Background()
		mustSet(t, s, AudioConferencing, 1) // 5 toll numbers
		const racers = 12
		numbersLoad(t, s, ServiceTollNumber, "US", "WA", "Seattle", 0, racers)
		ids := make([]string, racers)
		for i := range ids {
			r, err := s.Reserve(ctx, ReserveInput{Type: "serviceToll", Country: "US", Quantity: 1}, "admin")
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = r.ID
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for _, id := range ids {
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				_, err := s.Acquire(ctx, id, nil)
				if err != nil && !fault.Is(err, fault.Conflict) {
					t.Error(err)
				}
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}(id)
		}
		wg.Wait()
		q, _ := s.NumberQuota(ctx)
		if won != 5 || q.ServiceToll.Used != 5 {
			t.Fatalf("%d acquisitions succeeded and %d numbers are used; want 5 and 5", won, q.ServiceToll.Used)
		}
	})
}

func TestDeletingAUserFreesTheirNumber(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		numbersLoad(t, s, UserNumber, "US", "WA", "Redmond", 0, 1)
		nums := numbersAcquire(t, s, UserNumber, "US", 1)
		mustUser(t, s, "ann@contoso.com")
		for _, sku := range []string{"PhoneSystem", "CallingPlanDomestic"} {
			if err := s.Assign(ctx, "ann@contoso.com", sku); err != nil {
				t.Fatal(err)
			}
		}
		a, err := s.CreateAddress(ctx, AddressInput{HouseNumber: "1", Street: "Microsoft Way", City: "Redmond", State: "WA", PostalCode: "98052", Country: "US"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AssignNumber(ctx, nums[0], AssignInput{User: "ann@contoso.com", EmergencyAddressID: &a.ID}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, "ann@contoso.com"); err != nil {
			t.Fatal(err)
		}
		v, err := s.Number(ctx, nums[0])
		if err != nil || v.Status != StatusUnassigned {
			t.Fatalf("number after the user left = %+v, %v; want unassigned", v, err)
		}
	})
}
