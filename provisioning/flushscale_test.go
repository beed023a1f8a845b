package provisioning

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/store"
)

// TestFlushAtScale measures (it asserts nothing) what a flush costs per
// sighting against a copy of a large fleet's SQLite store:
// DESKPROV_FLUSH_DB=/path/copy.db go test -run FlushAtScale -v ./provisioning
// Each round buffers 20,000 sightings of random phones twice and times the
// second flush (the first sets what their phones said). Skipped without it.
func TestFlushAtScale(t *testing.T) {
	path := os.Getenv("DESKPROV_FLUSH_DB")
	if path == "" {
		t.Skip()
	}
	db, err := store.OpenSQLiteFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("DESKPROV_FLUSH_PRAGMA"); p != "" {
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(1)
		for _, q := range strings.Split(p, ";") {
			if err := db.Exec("PRAGMA " + q).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	s := New(db)
	now := time.Now().UTC()
	s.Now = func() time.Time { return now }
	var rs []DeviceRecord
	if err := db.Raw("SELECT * FROM devices WHERE rowid IN (SELECT abs(random()) % 1000000 FROM devices LIMIT 130000)").Scan(&rs).Error; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records", len(rs))
	var total time.Duration
	n := 0
	for round := 0; round+20000 <= len(rs); round += 20000 {
		for pass := 0; pass < 2; pass++ {
			now = now.Add(time.Second)
			for _, r := range rs[round : round+20000] {
				s.inventory.record(Device{Vendor: r.Vendor, Model: r.Model, MAC: r.MAC, Version: r.Firmware, Serial: r.Serial}, r.IP,
					strings.Split(r.Files, "\n")[0], "etag", "", false)
			}
			if pass == 1 {
				break
			}
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if round > 0 {
			total += time.Since(start)
			n += 20000
		}
	}
	t.Logf("flush: %.1f µs per sighting over %d", float64(total.Microseconds())/float64(n), n)
}
