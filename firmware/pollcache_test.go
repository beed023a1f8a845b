package firmware

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestPollCache checks that skipping the store read for a repeated poll never
// hides a write: one made here is seen on the next poll, one made by another
// server (straight to the store) on a shared store without a hub once the
// remembered poll is older than pollCacheTTL. On a store this process alone
// writes (SQLite, store.Owned) nobody else writes, so the remembered poll
// stands past the TTL: before, a fleet polled less often than every 30 s
// (any large one) read the store on every poll.
func TestPollCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, now := firmwareTestService(t, db)
		img := firmwareTestImport(t, s, "T46-28.83.0.130.rom", "new", ImageMeta{})
		dev := Device{Vendor: "yealink", Model: "T46G", MAC: "001565aabbcc", Version: "28.83.0.120"}
		row := func() deviceState {
			t.Helper()
			var st deviceState
			if err := db.Where("mac = ?", dev.MAC).Take(&st).Error; err != nil {
				t.Fatal(err)
			}
			return st
		}
		poll := func() {
			t.Helper()
			if err := s.Poll(ctx, dev); err != nil {
				t.Fatal(err)
			}
		}
		poll() // creates the row, which holds exactly this report
		if !s.polls.has(dev.MAC) {
			t.Fatal("the poll that created the row was not remembered: the next would read it back")
		}
		poll() // changes nothing: still remembered
		if !s.polls.has(dev.MAC) {
			t.Fatal("an unchanged poll was not remembered")
		}

		t.Run("a download recorded here is counted on the very next poll", func(t *testing.T) {
			if err := s.RecordDownload(ctx, dev.MAC, img); err != nil {
				t.Fatal(err)
			}
			poll()
			if st := row(); st.DownloadedImage != img.ID || st.PollsSinceDownload != 1 {
				t.Fatalf("%+v", st)
			}
			dev.Version = img.Version
			poll() // the phone installed it
			if st := row(); st.DownloadedImage != "" || st.Version != img.Version {
				t.Fatalf("%+v", st)
			}
			poll()
		})

		t.Run("another server's write is seen once the remembered poll is older than the TTL", func(t *testing.T) {
			poll()
			if !s.polls.has(dev.MAC) {
				t.Fatal("not remembered")
			}
			// Another server records a download straight in the store.
			if err := db.Model(&deviceState{}).Where("mac = ?", dev.MAC).
				Updates(map[string]any{"downloaded_image": "other", "downloaded_version": "28.83.0.140"}).Error; err != nil {
				t.Fatal(err)
			}
			poll()
			if st := row(); st.PollsSinceDownload != 0 {
				t.Fatalf("inside the TTL the remembered poll stands: %+v", st)
			}
			*now = now.Add(pollCacheTTL + time.Second)
			poll()
			if store.Owned(db) {
				if st := row(); st.PollsSinceDownload != 0 {
					t.Fatalf("on a store only this process writes, the remembered poll must stand past the TTL: %+v", st)
				}
				// Put the row back as this process knows it.
				if err := db.Model(&deviceState{}).Where("mac = ?", dev.MAC).
					Updates(map[string]any{"downloaded_image": "", "downloaded_version": ""}).Error; err != nil {
					t.Fatal(err)
				}
				return
			}
			if st := row(); st.PollsSinceDownload != 1 {
				t.Fatalf("past the TTL the poll must read the store: %+v", st)
			}
		})

		t.Run("a different report is never answered from the cache", func(t *testing.T) {
			dev.Version = "28.83.0.150"
			poll()
			if st := row(); st.Version != "28.83.0.150" {
				t.Fatalf("%+v", st)
			}
		})

		t.Run("a forget racing a read keeps that read from being remembered", func(t *testing.T) {
			c := &pollCache{}
			mark := c.mark("001565aabbcc")
			c.forget("001565aabbcc")
			c.remember("001565aabbcc", pollFacts{report: reportOf(Device{Vendor: "yealink"}), offered: noOffer}, mark)
			if c.has("001565aabbcc") {
				t.Fatal("remembered a read older than a forget")
			}
		})
	})
}

// TestPollSerialIsNotInterned checks that Lync Phone Edition phones, each
// reporting its own serial number, share one interned report (before, every
// such phone had an intern-table entry of its own, counted by no cache),
// and that a serial that changes is still not taken as an unchanged poll.
func TestPollSerialIsNotInterned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, now := firmwareTestService(t, db)
		lpe := func(i int, serial string) Device {
			return Device{Vendor: LPE, Model: "CX600", MAC: fmt.Sprintf("0004f3%06x", i), Serial: serial, Version: "4.0.7577.4366"}
		}
		for i := range 3 {
			if err := s.Poll(ctx, lpe(i, fmt.Sprintf("SN%04d", i))); err != nil {
				t.Fatal(err)
			}
		}
		var reports []Device
		for i := range 3 {
			f, ok := s.polls.get(lpe(i, "").MAC, *now)
			if !ok {
				t.Fatalf("phone %d's poll was not remembered", i)
			}
			reports = append(reports, f.report.Value())
		}
		a, _ := s.polls.get(lpe(0, "").MAC, *now)
		b, _ := s.polls.get(lpe(1, "").MAC, *now)
		if a.report != b.report || reports[0].Serial != "" || reports[0].MAC != "" {
			t.Fatalf("phones of one model and version must share one interned report without MAC or serial: %+v", reports)
		}
		if !s.polls.unchanged(lpe(0, "").MAC, lpe(0, "SN0000"), *now) {
			t.Fatal("the same report again must be answered from memory")
		}
		if s.polls.unchanged(lpe(0, "").MAC, lpe(0, "SN9999"), *now) {
			t.Fatal("a new serial was taken as an unchanged poll")
		}
		if err := s.Poll(ctx, lpe(0, "sn9999")); err != nil {
			t.Fatal(err)
		}
		var st deviceState
		if err := db.Where("mac = ?", lpe(0, "").MAC).Take(&st).Error; err != nil {
			t.Fatal(err)
		}
		if st.Serial != "SN9999" {
			t.Fatalf("the new serial was not written: %+v", st)
		}
	})
}
