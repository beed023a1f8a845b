package provisioning_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestAFlushWritesSettledPhonesWithoutReadingThem: a sighting that says
// exactly what the sighting that last set its phone's facts said is written
// without its record being read (at a million phones that read and the
// write of the wide devices row were most of a flush): its times only, in
// device_seen. Every sighting below that says something else (a fact, a
// file, the user, the IP; or nothing new but less than before) is merged
// with its record as before, and so is one whose record another instance
// has moved later or whose facts another instance has set since. All go in
// one flush, so the settled statement and the full merges share chunks;
// a third flush then finds every phone settled.
func TestAFlushWritesSettledPhonesWithoutReadingThem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := provTestService(t, db)
		t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
		now := t0
		s.Now = func() time.Time { return now }
		t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)

		type sight struct {
			firmware, serial, ip, config, user string
			knownUser                          bool
			files                              []string
		}
		base := sight{firmware: "5.9.7.1", serial: "S1", ip: "10.0.0.1", config: "v1", user: "alice@contoso.com", knownUser: true}
		type want struct {
			firmware, serial, ip, config, user string
			last, configAt                     time.Time
			files                              int
		}
		settledWant := want{firmware: "5.9.7.1", serial: "S1", ip: "10.0.0.1", config: "v1", user: "alice@contoso.com", last: t1, configAt: t1, files: 1}
		cases := []struct {
			name    string
			again   func(*sight)
			other   string // written to the record by "another instance" before the flush
			settled bool
			want    func(*want)
		}{
			{name: "nothing new", again: func(*sight) {}, settled: true, want: func(*want) {}},
			{name: "no serial this time", again: func(s *sight) { s.serial = "" }, want: func(*want) {}},
			{name: "user not known this time", again: func(s *sight) { s.user, s.knownUser = "", false }, want: func(*want) {}},
			{name: "no config fetch", again: func(s *sight) { s.config = "" }, settled: true, want: func(w *want) { w.configAt = t0 }},
			{name: "config fetched later elsewhere", again: func(*sight) {}, other: "config_later", settled: true,
				want: func(w *want) { w.config, w.configAt = "v9", t2 }},
			{name: "new firmware", again: func(s *sight) { s.firmware = "5.9.7.2" }, want: func(w *want) { w.firmware = "5.9.7.2" }},
			{name: "new serial", again: func(s *sight) { s.serial = "S2" }, want: func(w *want) { w.serial = "S2" }},
			{name: "new IP", again: func(s *sight) { s.ip = "10.0.0.2" }, want: func(w *want) { w.ip = "10.0.0.2" }},
			{name: "another user", again: func(s *sight) { s.user = "bob@contoso.com" }, want: func(w *want) { w.user = "bob@contoso.com" }},
			{name: "signed out", again: func(s *sight) { s.user = "" }, want: func(w *want) { w.user = "" }},
			{name: "a new file", again: func(s *sight) { s.files = []string{"extra.cfg"} }, want: func(w *want) { w.files = 2 }},
			{name: "many files", again: func(s *sight) { s.files = []string{"a.cfg", "b.cfg", "c.cfg", "d.cfg", "e.cfg"} },
				want: func(w *want) { w.files = 6 }},
			{name: "older firmware, seen later elsewhere", again: func(s *sight) { s.firmware = "5.9.7.0" }, other: "seen_later",
				want: func(w *want) { w.last = t2 }},
			{name: "nothing new, seen later elsewhere", again: func(*sight) {}, other: "seen_later", want: func(w *want) { w.last = t2 }},
			{name: "nothing new, facts set elsewhere since", again: func(*sight) {}, other: "facts_elsewhere", want: func(*want) {}},
		}
		macOf := func(i int) string { return fmt.Sprintf("0004f2c0%04x", i) }
		see := func(i int, x sight) {
			mac := macOf(i)
			dev := provisioning.Device{Vendor: "polycom", Model: "VVX_500", MAC: mac, Version: x.firmware, Serial: x.serial}
			s.Sight(dev, x.ip, mac+".cfg", x.config, x.user, x.knownUser)
			for _, f := range x.files {
				s.Sight(dev, x.ip, f, "", x.user, x.knownUser)
			}
		}
		for i := range cases {
			see(i, base)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			switch c.other {
			case "config_later":
				err := db.Table("device_seen").Where("mac = ?", macOf(i)).
					Updates(map[string]any{"config_etag": "v9", "config_us": t2.UnixMicro()}).Error
				if err != nil {
					t.Fatal(err)
				}
			case "seen_later":
				if err := db.Table("device_seen").Where("mac = ?", macOf(i)).Update("seen_us", t2.UnixMicro()).Error; err != nil {
					t.Fatal(err)
				}
			case "facts_elsewhere":
				// Another instance saw the phone with other firmware,
				// before this one's next sighting.
				b := provTestService(t, db)
				b.Now = func() time.Time { return t0.Add(time.Minute) }
				b.Sight(provisioning.Device{Vendor: "polycom", Model: "VVX_500", MAC: macOf(i), Version: "5.9.8.0", Serial: "S1"},
					base.ip, macOf(i)+".cfg", "", base.user, true)
				if err := b.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}

		now = t1
		for i, c := range cases {
			x := base
			c.again(&x)
			see(i, x)
		}
		var rowsRead atomic.Int64
		if err := db.Callback().Query().After("gorm:query").Register("test:rows_read", func(tx *gorm.DB) {
			if sql := tx.Statement.SQL.String(); strings.Contains(sql, "devices.*") {
				rowsRead.Add(tx.Statement.RowsAffected)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		flushRead := rowsRead.Load()
		unsettled := 0
		for i, c := range cases {
			if !c.settled {
				unsettled++
			}
			w := settledWant
			c.want(&w)
			r, err := s.Device(ctx, macOf(i))
			if err != nil {
				t.Fatal(err)
			}
			got := want{firmware: r.Firmware, serial: r.Serial, ip: r.IP, config: r.ConfigVersion, user: r.User,
				last: r.LastSeen.UTC(), configAt: r.ConfigAt.UTC(), files: len(r.FileList)}
			if got != w || !r.FirstSeen.Equal(t0) || !slices.Contains(r.FileList, macOf(i)+".cfg") {
				t.Errorf("%s: got %+v (first seen %v), want %+v", c.name, got, r.FirstSeen, w)
			}
		}
		if n := flushRead; n != int64(unsettled) {
			t.Errorf("the flush read %d records, want %d (only the phones whose sighting said something new)", n, unsettled)
		}

		// Each phone says again what it said last: none is read but the
		// one whose sighting was older than its record, so did not set its
		// facts; it does now.
		now = t2.Add(time.Hour)
		for i, c := range cases {
			x := base
			c.again(&x)
			see(i, x)
		}
		rowsRead.Store(0)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		db.Callback().Query().Remove("test:rows_read")
		if n := rowsRead.Load(); n != 1 {
			t.Errorf("a flush of phones that each said what they said last read %d records, want 1", n)
		}
		for i, c := range cases {
			r, err := s.Device(ctx, macOf(i))
			if err != nil || !r.LastSeen.Equal(now) {
				t.Errorf("%s: lastSeen %v (%v), want %v", c.name, r.LastSeen, err, now)
			}
			if c.name == "older firmware, seen later elsewhere" && r.Firmware != "5.9.7.0" {
				t.Errorf("%s: firmware %s once its sighting is the newest, want 5.9.7.0", c.name, r.Firmware)
			}
		}
	})
}
