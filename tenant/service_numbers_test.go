package tenant

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestAStoreFromBeforeBridgesHeldSeveralNumbersIsMigrated: a store made
// when a service held one number has a unique index on service_id; Migrate
// replaces it, and a bridge then takes a second number, on both engines.
func TestAStoreFromBeforeBridgesHeldSeveralNumbersIsMigrated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _ := numbersTestTenant(t, db, numbersT0)
		ctx := context.Background()
		m := db.Migrator()
		if err := m.DropIndex(&PhoneNumber{}, "idx_phone_numbers_service"); err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("CREATE UNIQUE INDEX idx_phone_numbers_service_id ON phone_numbers (service_id)").Error; err != nil {
			t.Fatal(err)
		}
		if err := Migrate(db); err != nil {
			t.Fatalf("migrating the old store: %v", err)
		}
		if m.HasIndex(&PhoneNumber{}, "idx_phone_numbers_service_id") || !m.HasIndex(&PhoneNumber{}, "idx_phone_numbers_service") {
			t.Fatal("the old unique index is still there, or the new one is missing")
		}
		if err := Migrate(db); err != nil {
			t.Fatalf("migrating again: %v", err)
		}
		numbersLoad(t, s, ServiceTollNumber, "US", "WA", "Redmond", 100, 2)
		nums := numbersAcquire(t, s, ServiceTollNumber, "US", 2)
		bridge, err := s.CreateService(ctx, ServiceInput{Kind: "conferenceBridge", Name: "Bridge"})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nums {
			if _, err := s.AssignNumber(ctx, n, AssignInput{Service: &ServiceRef{Kind: ConferenceBridge, ID: bridge.ID}}); err != nil {
				t.Fatalf("assign %s to the bridge: %v", n, err)
			}
		}
		// The partial unique index holds one default per bridge and type.
		if err := db.Model(&PhoneNumber{}).Where("number = ?", nums[1]).Update("service_default", true).Error; err == nil {
			t.Fatal("the store accepted a second default toll number on one bridge")
		}
	})
}
