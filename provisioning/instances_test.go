package provisioning_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestInterleavedSightingsNeverGoBackwards: two instances on one store, each
// buffering its own sightings, a phone polling them in turn while its
// firmware moves on. Before, an instance flushing an older sighting after
// the other had flushed a newer one overwrote it (the firmware went back
// from .130 to .120 while lastSeen stayed). Now the record always shows the
// newest sighting flushed by any instance, an older one adds only its files,
// first sighting and (only A fetched the main config file) config version,
// and either instance's lookup shows what the other flushed.
func TestInterleavedSightingsNeverGoBackwards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Date(2026, 11, 22, 8, 0, 0, 123456789, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		tick := func() { mu.Lock(); now = now.Add(1500 * time.Millisecond); mu.Unlock() }
		a, b := provTestService(t, db), provTestService(t, db)
		a.Now, b.Now = clock, clock
		poll := func(s *provisioning.Service, version, ip, name string) {
			t.Helper()
			ua := "FileTransport PolycomVVX-VVX_500-UA/" + version + " Type/Application"
			if _, err := s.Fetch(ctx, provisioning.Request{Method: "GET", Name: name, UserAgent: ua, IP: ip}); err != nil {
				t.Fatal(err)
			}
		}
		const mac = "0004f2a1b2c3"
		first := clock()

		// The reported case: A sees .120, then B sees .130; B flushes first.
		poll(a, "5.9.7.120", "10.0.0.1", mac+".cfg")
		tick()
		poll(b, "5.9.7.130", "10.0.0.2", "deskprov-"+mac+".cfg")
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		onA, err := a.Device(ctx, mac) // flushes A's older sighting first
		if err != nil {
			t.Fatal(err)
		}
		if onA.Firmware != "5.9.7.130" || onA.IP != "10.0.0.2" || !onA.LastSeen.Equal(clock().Truncate(time.Microsecond)) ||
			!onA.FirstSeen.Equal(first.Truncate(time.Microsecond)) || len(onA.FileList) != 2 ||
			onA.ConfigVersion == "" || !onA.ConfigAt.Equal(first.Truncate(time.Microsecond)) {
			t.Fatalf("after A flushed an older sighting than B's: %+v", onA)
		}

		// Then many rounds: the phone polls either instance, and the
		// instances flush in any order.
		rng := rand.New(rand.NewPCG(1, 2))
		newest := onA.LastSeen
		versionAt := map[time.Time]string{newest.UTC(): onA.Firmware}
		svcs := []*provisioning.Service{a, b}
		for i := range 40 {
			tick()
			v := fmt.Sprintf("5.9.7.%d", 200+i)
			poll(svcs[rng.IntN(2)], v, fmt.Sprintf("10.0.1.%d", i), mac+".cfg")
			pendingNewest := clock().Truncate(time.Microsecond)
			versionAt[pendingNewest] = v
			if rng.IntN(3) == 0 {
				continue // both keep it buffered a while
			}
			for _, k := range rng.Perm(2) {
				if err := svcs[k].Flush(ctx); err != nil {
					t.Fatal(err)
				}
				r, err := provisioning.StoredRecord(db, mac)
				if err != nil {
					t.Fatal(err)
				}
				if r.LastSeen.Before(newest) {
					t.Fatalf("round %d: lastSeen went back from %s to %s", i, newest, r.LastSeen)
				}
				if r.LastSeen.After(newest) {
					newest = r.LastSeen
				}
				if want := versionAt[r.LastSeen.UTC()]; r.Firmware != want {
					t.Fatalf("round %d: firmware %s at lastSeen %s, where the phone had %s", i, r.Firmware, r.LastSeen, want)
				}
			}
			if onB, err := b.Device(ctx, mac); err != nil || onB.Firmware != v || !onB.LastSeen.Equal(pendingNewest) {
				t.Fatalf("round %d: B's lookup after both flushed: %+v %v (want %s)", i, onB, err, v)
			}
		}
	})
}
