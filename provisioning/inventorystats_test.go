package provisioning_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestInventoryStatsCountWhatTheBufferDid: polls past the buffer's share of
// the cache are counted as dropped (and their phones are not recorded), a
// flush counts the sightings it wrote, and a phone dropped once is recorded
// at its next poll once there is room.
func TestInventoryStatsCountWhatTheBufferDid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := provTestService(t, db)
		s.SetCacheSize(1 << 20) // the buffer's share: about 100 KB, some 200 sightings
		const phones = 600
		for i := range phones {
			if _, err := s.Fetch(ctx, cacheTestPoll(i)); err != nil {
				t.Fatal(err)
			}
		}
		st := s.InventoryStats()
		if st.Dropped == 0 || st.Pending == 0 || st.Pending+st.Dropped != phones || st.PendingBytes <= 0 || st.Written != 0 || st.Flushes != 0 {
			t.Fatalf("after %d polls into a small buffer, nothing flushed: %+v", phones, st)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		after := s.InventoryStats()
		if after.Written != st.Pending || after.Flushes != 1 || after.Pending != 0 || after.PendingBytes != 0 || after.FlushSeconds <= 0 || after.Failed != 0 {
			t.Fatalf("after a flush of %d sightings: %+v", st.Pending, after)
		}
		// The last phone polled was dropped: it is recorded when it polls again.
		last := cacheTestPoll(phones - 1)
		if _, err := s.Device(ctx, last.Name[:12]); err == nil {
			t.Fatalf("phone %s is in the inventory though its poll was dropped", last.Name[:12])
		}
		if _, err := s.Fetch(ctx, last); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Device(ctx, last.Name[:12]); err != nil {
			t.Fatalf("phone %s polled again with room in the buffer: %v", last.Name[:12], err)
		}
	})
}

// TestAFullBufferIsWrittenAsOftenAsItFills: Run writes a full buffer at
// once each time it fills, not at most once a second (that throttle is for
// a store that refuses the writes): with a flush interval of a minute,
// three fills one after the other are three flushes.
func TestAFullBufferIsWrittenAsOftenAsItFills(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		s := provTestService(t, db)
		s.SetCacheSize(1 << 20)
		s.FlushInterval = time.Minute
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(ctx, func(err error) {
				if ctx.Err() == nil {
					t.Error(err)
				}
			})
		}()
		defer func() { cancel(); <-done }()
		next := 0
		for fill := int64(1); fill <= 3; fill++ {
			// Poll new phones until the buffer is written or turns one away,
			// then poll no more until it is written: Run must write it at
			// once, not after the minute's tick (nor wait a second since the
			// last fill's flush, as it did: then the second fill stayed
			// full and every new phone was turned away).
			dropped := s.InventoryStats().Dropped
			for s.InventoryStats().Flushes < fill && s.InventoryStats().Dropped == dropped {
				if _, err := s.Fetch(ctx, cacheTestPoll(next)); err != nil {
					t.Fatal(err)
				}
				next++
			}
			deadline := time.Now().Add(20 * time.Second)
			for s.InventoryStats().Flushes < fill {
				if time.Now().After(deadline) {
					t.Fatalf("a full buffer (fill %d) was not written: %+v", fill, s.InventoryStats())
				}
				time.Sleep(time.Millisecond)
			}
		}
	})
}
