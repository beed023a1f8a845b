package tenant

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

func TestUserNumberLimit(t *testing.T) {
	for _, c := range []struct{ plans, want int }{
		{0, 0}, {1, 11}, {9, 19}, {10, 21}, {50, 65}, {51, 66}, {100, 120}, {1000, 1110},
	} {
		t.Run("calling plans "+strconv.Itoa(c.plans)+" allow "+strconv.Itoa(c.want)+" user numbers", func(t *testing.T) {
			if got := UserNumberLimit(c.plans); got != c.want {
				t.Fatalf("UserNumberLimit(%d) = %d, want %d", c.plans, got, c.want)
			}
		})
	}
}

func TestServiceNumberTiers(t *testing.T) {
	// Every boundary of SPEC §1's table: the last license count of a tier
	// and the first of the next.
	for _, c := range []struct{ licenses, want int }{
		{0, 0}, {1, 5}, {25, 5}, {26, 10}, {49, 10}, {50, 20}, {51, 20}, {99, 20}, {100, 30}, {149, 30},
		{150, 40}, {199, 40}, {200, 65}, {499, 65}, {500, 90}, {749, 90}, {750, 110}, {999, 110},
		{1000, 125}, {1001, 125}, {1249, 125}, {1250, 135}, {1499, 135}, {1500, 160}, {1999, 160},
		{2000, 210}, {2999, 210}, {3000, 420}, {6999, 420}, {7000, 500}, {9999, 500}, {10000, 600},
		{14999, 600}, {15000, 700}, {19999, 700}, {20000, 1000}, {49999, 1000}, {50000, 1500}, {1000000, 1500},
	} {
		t.Run(strconv.Itoa(c.licenses)+" licenses allow "+strconv.Itoa(c.want)+" service numbers", func(t *testing.T) {
			if got := ServiceNumberLimit(c.licenses); got != c.want {
				t.Fatalf("ServiceNumberLimit(%d) = %d, want %d", c.licenses, got, c.want)
			}
		})
	}
}

func TestQuotaFromPurchasedLicenses(t *testing.T) {
	for _, c := range []struct {
		name                 string
		bought               map[SKU]int
		user, toll, tollFree int
	}{
		{"50 Calling Plans give 65 user numbers", map[SKU]int{PhoneSystem: 50, CallingPlanDomestic: 50}, 65, 20, 0},
		{"100 Calling Plans (domestic + international) give 120", map[SKU]int{PhoneSystem: 100, CallingPlanDomestic: 60, CallingPlanInternational: 40}, 120, 30, 0},
		{"51 licenses give 20 toll numbers", map[SKU]int{PhoneSystem: 30, AudioConferencing: 21}, 0, 20, 0},
		{"1,001 licenses with credits give 125 toll-free numbers", map[SKU]int{PhoneSystem: 1001, CommunicationsCredits: 1}, 0, 125, 125},
		{"each E5 counts as Phone System and as Audio Conferencing", map[SKU]int{EnterpriseE5: 13}, 0, 10, 0},
		{"E5 adds to Phone System and Audio Conferencing", map[SKU]int{EnterpriseE5: 20, PhoneSystem: 5, AudioConferencing: 5}, 0, 20, 0},
		{"toll-free needs Communications Credits", map[SKU]int{AudioConferencing: 200}, 0, 65, 0},
		{"nothing bought gives nothing", map[SKU]int{}, 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := QuotaFor(c.bought)
			if q.User.Limit != c.user || q.ServiceToll.Limit != c.toll || q.ServiceTollFree.Limit != c.tollFree {
				t.Fatalf("limits = user %d, toll %d, toll-free %d; want %d, %d, %d", q.User.Limit, q.ServiceToll.Limit, q.ServiceTollFree.Limit, c.user, c.toll, c.tollFree)
			}
		})
	}
}

func TestNumberQuotaCountsPurchasedNotAssignedAndSkipsPorted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newTestTenant(t, db)
		ctx := context.Background()
		mustSet(t, s, PhoneSystem, 50)
		mustSet(t, s, CallingPlanDomestic, 50)
		// Two acquired from the pool count; one ported does not.
		for _, n := range []PhoneNumber{
			{Number: "+14255550001", Type: UserNumber, Country: "US", Source: SourcePool, Acquired: true},
			{Number: "+14255550002", Type: UserNumber, Country: "US", Source: SourcePool, Acquired: true},
			{Number: "+14255550003", Type: UserNumber, Country: "US", Source: SourcePorted, Acquired: true},
			{Number: "+14255550004", Type: UserNumber, Country: "US", Source: SourcePool},
		} {
			if err := db.Create(&n).Error; err != nil {
				t.Fatal(err)
			}
		}
		q, err := s.NumberQuota(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if q.User != (QuotaLine{Limit: 65, Used: 2, Available: 63}) {
			t.Fatalf("user quota = %+v, want limit 65 used 2 available 63", q.User)
		}
		if q.ServiceToll.Limit != 20 || q.ServiceTollFree.Limit != 0 || q.ServiceTollFree.Reason == "" {
			t.Fatalf("service quota = %+v / %+v", q.ServiceToll, q.ServiceTollFree)
		}
	})
}

// TestQuotaWorkedExamplesInTheStore checks SPEC §1's worked examples through
// the stored, purchased license counts on SQLite and PostgreSQL: 50 → 65 and
// 100 → 120 user numbers, 51 → 20 toll, 1,001 → 125 toll-free.
func TestQuotaWorkedExamplesInTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newTestTenant(t, db)
		ctx := context.Background()
		quota := func() Quota {
			t.Helper()
			q, err := s.NumberQuota(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
		t.Run("50 Calling Plans give 65 user numbers", func(t *testing.T) {
			mustSet(t, s, PhoneSystem, 50)
			mustSet(t, s, CallingPlanDomestic, 50)
			if q := quota(); q.User != (QuotaLine{Limit: 65, Available: 65}) {
				t.Fatalf("user quota = %+v", q.User)
			}
		})
		t.Run("100 Calling Plans give 120 user numbers", func(t *testing.T) {
			mustSet(t, s, PhoneSystem, 100)
			mustSet(t, s, CallingPlanDomestic, 70)
			mustSet(t, s, CallingPlanInternational, 30)
			if q := quota(); q.User.Limit != 120 {
				t.Fatalf("user quota = %+v", q.User)
			}
		})
		t.Run("51 licenses give 20 toll numbers", func(t *testing.T) {
			mustSet(t, s, CallingPlanDomestic, 0)
			mustSet(t, s, CallingPlanInternational, 0)
			mustSet(t, s, PhoneSystem, 26)
			mustSet(t, s, AudioConferencing, 25)
			q := quota()
			if q.ServiceToll.Limit != 20 || q.User.Limit != 0 || q.User.Reason == "" {
				t.Fatalf("quota = %+v", q)
			}
			if q.ServiceTollFree.Limit != 0 || !strings.Contains(q.ServiceTollFree.Reason, "Communications Credits") {
				t.Fatalf("toll-free without credits = %+v", q.ServiceTollFree)
			}
		})
		t.Run("1,001 licenses give 125 toll-free numbers with Communications Credits", func(t *testing.T) {
			mustSet(t, s, AudioConferencing, 0)
			mustSet(t, s, PhoneSystem, 1001)
			mustSet(t, s, CommunicationsCredits, 1)
			if q := quota(); q.ServiceTollFree.Limit != 125 || q.ServiceToll.Limit != 125 {
				t.Fatalf("quota = %+v", q)
			}
		})
		t.Run("each E5 counts once as Phone System and once as Audio Conferencing", func(t *testing.T) {
			mustSet(t, s, PhoneSystem, 0)
			mustSet(t, s, EnterpriseE5, 25) // 50 licenses: the 50–99 tier
			if q := quota(); q.ServiceToll.Limit != 20 {
				t.Fatalf("toll quota = %+v", q.ServiceToll)
			}
		})
	})
}
