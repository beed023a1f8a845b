package provisioning_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// oldDevice is the devices table as builds before device_seen wrote it:
// the times in the row, lastSeen indexed.
type oldDevice struct {
	MAC           string `gorm:"primaryKey;size:12"`
	Vendor        string `gorm:"size:16;index"`
	Model         string `gorm:"size:64"`
	Firmware      string `gorm:"size:64"`
	IP            string `gorm:"size:64"`
	FirstSeen     time.Time
	LastSeen      time.Time `gorm:"index"`
	Files         string    `gorm:"size:4000"`
	ConfigVersion string    `gorm:"size:64"`
	ConfigAt      time.Time
	User          string `gorm:"size:320"`
}

func (oldDevice) TableName() string { return "devices" }

// TestTheInventorysTimesMoveToDeviceSeen: a store written by a build that
// kept the times in devices keeps every phone's times, to the microsecond,
// after the migration moves them to device_seen (lastSeen indexed there);
// the old columns are gone, and a second migration changes nothing.
func TestTheInventorysTimesMoveToDeviceSeen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		if err := db.AutoMigrate(&oldDevice{}); err != nil {
			t.Fatal(err)
		}
		first := time.Date(2026, 11, 1, 8, 0, 0, 123456000, time.UTC)
		var old []oldDevice
		for i, mac := range []string{"0004f2000001", "0004f2000002", "805ec0000003"} {
			d := time.Duration(i) * time.Hour
			old = append(old, oldDevice{MAC: mac, Vendor: "polycom", Model: "VVX500", Firmware: "6.4.0.1", IP: "10.0.0.1",
				FirstSeen: first.Add(d), LastSeen: first.Add(d + 24*time.Hour + 7*time.Microsecond), Files: mac + ".cfg",
				ConfigVersion: `"v` + mac + `"`, ConfigAt: first.Add(d + time.Minute)})
		}
		old[2].ConfigVersion, old[2].ConfigAt = "", time.Time{} // never fetched its config
		if err := db.Create(&old).Error; err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := provisioning.Migrate(db); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []string{"first_seen", "last_seen", "config_version", "config_at"} {
			if db.Migrator().HasColumn("devices", c) {
				t.Errorf("devices.%s is still there", c)
			}
		}
		// The device list (newest first) and the dashboard's recent counts
		// read lastSeen's index: without it a million phones' first page
		// sorted the whole table (0.4 s).
		if !db.Migrator().HasIndex("device_seen", "idx_device_seen_seen_us") {
			t.Error("device_seen.seen_us has no index")
		}
		s := provTestService(t, db)
		ds, err := s.Devices(ctx, provisioning.DeviceFilter{})
		if err != nil || len(ds) != 3 {
			t.Fatalf("devices: %v %d", err, len(ds))
		}
		for i, o := range old {
			r := ds[len(ds)-1-i] // most recently seen first
			if r.MAC != o.MAC || !r.FirstSeen.Equal(o.FirstSeen) || !r.LastSeen.Equal(o.LastSeen) ||
				r.ConfigVersion != o.ConfigVersion || !r.ConfigAt.Equal(o.ConfigAt) || r.Firmware != o.Firmware {
				t.Errorf("after the migration: %+v, want the times of %+v", r, o)
			}
		}
	})
}
