package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/yealink"
	"github.com/deskprov/deskprov/store"
)

func TestParseCacheSize(t *testing.T) {
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "512M": 512 << 20, "100MB": 100e6, "16777216": 16 << 20, " 2 GiB ": 2 << 30} {
		if got, err := parseCacheSize(in); err != nil || got != want {
			t.Errorf("parseCacheSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1GiB", "1MiB", "65GiB", "1.5GiB", "99999999999999999GiB"} {
		if _, err := parseCacheSize(in); err == nil {
			t.Errorf("parseCacheSize(%q) was accepted", in)
		}
	}
}

// cacheTestFirmware counts firmware decisions: one per file rendered.
type cacheTestFirmware struct {
	provisioning.Firmware
	decisions *atomic.Int64
}

func (f cacheTestFirmware) Decide(ctx context.Context, d provisioning.Device, p policy.Settings) (provisioning.Decision, error) {
	f.decisions.Add(1)
	return f.Firmware.Decide(ctx, d, p)
}

// TestFewPhonesKeepTheirFilesInTheSharedBudget: with a small --cache-size
// and few phones, whose state (remembered polls) fills little of its
// ceiling, provisioning keeps the files of far more phones than the fixed
// 20% share allowed, and their next polls render nothing. Before, the
// answers had 16% of the size whatever the state held: in 1MiB about 160
// KB, a hundred-odd Yealink files, so half of these 120 phones and more re-rendered
// on every poll.
func TestFewPhonesKeepTheirFilesInTheSharedBudget(t *testing.T) {
	ctx := context.Background()
	db, _, err := store.Open("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []func() error{func() error { return store.Migrate(db) }, func() error { return provisioning.Migrate(db) }, func() error { return phoneid.Migrate(db) }, func() error { return firmware.Migrate(db) }} {
		if err := m(); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := firmware.New(db, filepath.Join(t.TempDir(), "firmware"))
	if err != nil {
		t.Fatal(err)
	}
	phones := phoneid.New(db)
	prov := provisioning.New(db, yealink.New())
	prov.Server = provisioning.Server{PublicURL: "https://prov.example.com", PollInterval: time.Hour}
	decisions := &atomic.Int64{}
	prov.Firmware = cacheTestFirmware{firmwareForProvisioning{fw}, decisions}
	// Below --cache-size's 16MiB floor so that a few phones show it.
	const total = 1 << 20
	shareCaches(total, store.Owned(db), phones, fw, prov)

	const n = 120
	poll := func(i int) {
		t.Helper()
		mac := fmt.Sprintf("0015657%05x", i)
		ua := fmt.Sprintf("Yealink SIP-T46G 28.83.0.120 00:15:65:7%s:%s:%s", mac[7:8], mac[8:10], mac[10:12])
		a, err := prov.Fetch(ctx, provisioning.Request{Method: "GET", Name: mac + ".cfg", UserAgent: ua, IP: "10.0.0.7"})
		if err != nil || a.File == nil || a.Device.MAC != mac {
			t.Fatalf("phone %s: %+v %v", mac, a.Device, err)
		}
	}
	for i := range n {
		poll(i)
	}
	if d := decisions.Swap(0); d < n {
		t.Fatalf("%d decisions for %d phones' first polls: the counter counts nothing", d, n)
	}
	if fw.PollCacheBytes() == 0 {
		t.Fatal("firmware remembered no poll: the state the budget keeps is empty")
	}
	for i := range n {
		poll(i)
	}
	if d := decisions.Load(); d > n/10 {
		rendered, answers, _, _ := prov.CacheBytes()
		t.Fatalf("%d of %d phones' files re-rendered at their second poll in %d bytes (answers hold %d, shared files %d, firmware's polls %d): their files were not kept", d, n, total, answers, rendered, fw.PollCacheBytes())
	}
	if rendered, answers, agents, sightings := prov.CacheBytes(); rendered+answers+agents+sightings+fw.PollCacheBytes()+phones.CacheBytes() > total {
		t.Fatalf("the caches hold %d+%d+%d+%d (provisioning) + %d (polls) + %d (enrolments): over %d", rendered, answers, agents, sightings, fw.PollCacheBytes(), phones.CacheBytes(), total)
	}
}

// TestMemoryLimitFollowsTheCacheSize checks the soft memory limit serve sets:
// twice --cache-size and 256 MiB, unless GOMEMLIMIT is set, which wins.
func TestMemoryLimitFollowsTheCacheSize(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	t.Setenv("GOMEMLIMIT", "")
	limit, from := applyMemoryLimit(256 << 20)
	if limit != 768<<20 || from != "--cache-size" || debug.SetMemoryLimit(-1) != 768<<20 {
		t.Fatalf("default size: limit %d from %s, runtime %d; want 768 MiB from --cache-size", limit, from, debug.SetMemoryLimit(-1))
	}
	// The runtime reads GOMEMLIMIT when the process starts: stand in for it.
	t.Setenv("GOMEMLIMIT", "2GiB")
	debug.SetMemoryLimit(2 << 30)
	if limit, from := applyMemoryLimit(256 << 20); limit != 2<<30 || from != "GOMEMLIMIT" || debug.SetMemoryLimit(-1) != 2<<30 {
		t.Fatalf("with GOMEMLIMIT: limit %d from %s; want 2 GiB from GOMEMLIMIT, untouched", limit, from)
	}
}
