package provisioning_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestAFlushOfSettledPhonesIsOneStatement: phones that poll again and tell
// nothing new but the time (a settled fleet, nearly every poll) have their
// lastSeen and config fetch written in one statement per chunk, not one per
// phone (at a fleet whose phones each poll once between flushes, a
// statement per poll was a fourteenth of a server's CPU); one whose record
// another instance has since moved later keeps the later time.
func TestAFlushOfSettledPhonesIsOneStatement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		s := provTestService(t, db)
		now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return now }
		ctx := context.Background()
		const phones = 20
		poll := func() {
			t.Helper()
			for i := range phones {
				mac := fmt.Sprintf("0004f2a1%04x", i)
				ua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
				if _, err := s.Fetch(ctx, provisioning.Request{Method: "GET", Name: mac + ".cfg", UserAgent: ua, IP: "10.0.0.9"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		poll() // creates the records
		var writes atomic.Int64
		count := func(tx *gorm.DB) {
			if sql := tx.Statement.SQL.String(); strings.Contains(sql, "device") && strings.Contains(strings.ToUpper(sql), "UPDATE") {
				writes.Add(1)
			}
		}
		for _, cb := range []func() error{
			func() error { return db.Callback().Update().After("gorm:update").Register("test:count_updates", count) },
			func() error { return db.Callback().Raw().After("gorm:raw").Register("test:count_raw", count) },
			func() error { return db.Callback().Row().After("gorm:row").Register("test:count_row", count) },
		} {
			if err := cb(); err != nil {
				t.Fatal(err)
			}
		}
		// Another instance saw phone 0 later than this one will.
		later := now.Add(2 * time.Hour)
		if err := db.Table("device_seen").Where("mac = ?", "0004f2a10000").Update("seen_us", later.UnixMicro()).Error; err != nil {
			t.Fatal(err)
		}
		writes.Store(0)
		now = now.Add(time.Hour)
		poll()
		// One statement for the settled phones; phone 0, overtaken, merged
		// on its own (its files and config fetch, not its time).
		if n := writes.Load(); n > 2 {
			t.Fatalf("a flush of %d settled phones made %d UPDATE statements, want at most 2", phones, n)
		}
		ds, err := s.Devices(ctx, provisioning.DeviceFilter{Vendor: "polycom"})
		if err != nil || len(ds) != phones {
			t.Fatalf("devices: %v %d", err, len(ds))
		}
		for _, d := range ds {
			want := now
			if d.MAC == "0004f2a10000" {
				want = later
			}
			if !d.LastSeen.Equal(want) || !d.ConfigAt.Equal(now) || d.ConfigVersion == "" || d.Firmware != "5.9.7.4477" || len(d.FileList) != 1 {
				t.Fatalf("%s: lastSeen %v (want %v), config %q at %v (want %v), %+v", d.MAC, d.LastSeen, want, d.ConfigVersion, d.ConfigAt, now, d)
			}
		}
	})
}
