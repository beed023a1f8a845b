package provisioning_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deskprov/deskprov/internal/phonesim"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store/storetest"
)

// BenchmarkFetchEvictedFile is a poll whose file the caches no longer hold
// (a fleet far larger than --cache-size): 20,000 phones of the three
// families that poll files, in turn, with the smallest cache.
func BenchmarkFetchEvictedFile(b *testing.B) {
	db := storetest.SQLite(b)
	if err := provisioning.Migrate(db); err != nil {
		b.Fatal(err)
	}
	s := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	s.SetCacheSize(64 << 10)
	var reqs []provisioning.Request
	for _, p := range phonesim.Phones(20000) {
		if p.Dev.Vendor == "" || p.Dev.Vendor == "lpe" {
			continue
		}
		reqs = append(reqs, provisioning.Request{Method: "GET", Name: p.MainFile(), UserAgent: p.UA, IP: fmt.Sprintf("10.0.%d.%d", len(reqs)/250, len(reqs)%250)})
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Fetch(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
