package site_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/store/storetest"
)

// BenchmarkFetchCachedConfigInASite is provisioning's
// BenchmarkFetchCachedConfig for a phone in one of 50 sites: what finding
// the site adds to a poll of an unchanged config.
func BenchmarkFetchCachedConfigInASite(b *testing.B) {
	db := storetest.SQLite(b)
	if err := provisioning.Migrate(db); err != nil {
		b.Fatal(err)
	}
	if err := site.Migrate(db); err != nil {
		b.Fatal(err)
	}
	sites := site.New(db)
	ctx := context.Background()
	for i := range 50 {
		name, nets, tz := fmt.Sprintf("Building %d", i), []string{fmt.Sprintf("10.%d.0.0/16", i), fmt.Sprintf("10.%d.7.0/24", i+100)}, "Europe/Stockholm"
		if _, err := sites.Create(ctx, site.Input{Name: &name, Subnets: &nets, TimeZone: &tz}); err != nil {
			b.Fatal(err)
		}
	}
	s := provisioning.New(db, polycom.New(), yealink.New(), audiocodes.New())
	s.Sites = sites
	req := provisioning.Request{Method: "GET", Name: "0015654c4c26.cfg", UserAgent: "Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26", IP: "10.7.3.9"}
	if _, err := s.Fetch(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Fetch(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
