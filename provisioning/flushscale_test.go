package provisioning

import (
	"context"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/store"
)

// BenchmarkFlushAtScale measures what a flush of settled sightings costs a
// sighting against a copy of a large fleet's SQLite store (bench/million.sh
// SAVE= keeps one; the copy is written to):
//
//	DESKPROV_FLUSH_DB=/path/copy.db [DESKPROV_FLUSH_BATCH=40000] \
//	  go test -run '^$' -bench FlushAtScale -benchtime 4x ./provisioning
//
// It samples 200,000 phones of the store (spread over all its pages, as a
// large fleet's polls are), writes one sighting of each once untimed (so
// that each record says what its phone says), and then each iteration
// buffers a batch of polls of phones drawn at random from the sample
// and flushes it: a million phones polled at random, as in
// bench/million.sh, where nearly every poll is a phone the buffer does not
// hold yet. Skipped without DESKPROV_FLUSH_DB.
func BenchmarkFlushAtScale(b *testing.B) {
	path := os.Getenv("DESKPROV_FLUSH_DB")
	if path == "" {
		b.Skip("DESKPROV_FLUSH_DB names a copy of a large fleet's store")
	}
	batch := 40000
	if v := os.Getenv("DESKPROV_FLUSH_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("DESKPROV_FLUSH_BATCH=%q: give a number of sightings", v)
		}
		batch = n
	}
	db, err := store.OpenSQLiteFile(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := Migrate(db); err != nil {
		b.Fatal(err)
	}
	s := New(db)
	s.inventory.budget = func() int64 { return 1 << 40 } // the batch decides
	now := time.Now().UTC()
	s.Now = func() time.Time { return now }
	var rs []DeviceRecord
	if err := withSeen(db).Order("RANDOM()").Limit(200000).Find(&rs).Error; err != nil {
		b.Fatal(err)
	}
	if len(rs) == 0 {
		b.Fatal("the store has no phones")
	}
	record := func(r DeviceRecord) {
		s.inventory.record(Device{Vendor: r.Vendor, Model: r.Model, MAC: r.MAC, Version: r.Firmware, Serial: r.Serial,
			Revision: r.Revision, Locale: r.Locale}, r.IP, strings.Split(r.Files, "\n")[0], r.ConfigVersion, r.User, r.User != "")
	}
	ctx := context.Background()
	for _, r := range rs {
		record(r)
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewSource(1))
	written := s.InventoryStats().Written
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		now = now.Add(time.Second)
		for range batch {
			record(rs[rnd.Intn(len(rs))])
		}
		b.StartTimer()
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// A phone drawn twice in a batch is one sighting: what was written.
	written = s.InventoryStats().Written - written
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(written), "µs/sighting")
}
