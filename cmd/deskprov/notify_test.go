package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/notify"
)

// TestHubMetricSaysWhetherTheInstanceHearsTheOthers: 1 for a hub that is
// live (a SQLite store's always is), 0 without one.
func TestHubMetricSaysWhetherTheInstanceHearsTheOthers(t *testing.T) {
	db, err := store.OpenSQLiteFile(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := notify.New(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := gauge(t, hubMetric(h)); v != 1 {
		t.Fatalf("live hub: %v", v)
	}
	if v := gauge(t, hubMetric(nil)); v != 0 {
		t.Fatalf("no hub: %v", v)
	}
}

func gauge(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "deskprov_store_hub_live" {
		t.Fatalf("gathered %v %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}
