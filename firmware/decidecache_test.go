package firmware

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store/storetest"
)

// countRowReads counts the queries that read firmware_devices.
func countRowReads(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	err := db.Callback().Query().After("gorm:query").Register("test:count_device_rows", func(tx *gorm.DB) {
		if tx.Statement.Table == "firmware_devices" {
			n.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return &n
}

// TestDecisionReadsWhatThePollRemembered: a phone's decision right after
// its poll (a re-render of its file) reads the phone's row from what the
// poll remembered, not from the store; and every write that changes what it
// reads — the offer, the loop flag set by a poll or cleared by an admin, the
// offer withdrawn when the policy stops updates — is seen by the very next
// decision. Before, every decision read the row (one store read per
// re-render, a tenth of a poll's CPU at a fleet the caches do not hold).
func TestDecisionReadsWhatThePollRemembered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, now := firmwareTestService(t, db)
		v1 := firmwareTestImport(t, s, "T46-28.83.0.100.rom", "old", ImageMeta{})
		rules, _ := s.Rules(ctx)
		if _, err := s.Act(ctx, rules[0].ID, ActionApprove, nil, "alice"); err != nil {
			t.Fatal(err)
		}
		pol := policy.Defaults()
		reads := countRowReads(t, db)
		phone := Device{Vendor: "yealink", Model: "SIP-T46G", MAC: "0015654c4c26", Version: "28.83.0.90"}
		poll := func(p Device) {
			t.Helper()
			if err := s.Poll(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		decide := func(p Device, pol policy.Settings) Decision {
			t.Helper()
			d, err := s.Decide(ctx, p, pol)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		offered := func() string {
			t.Helper()
			var st deviceState
			if err := db.Where("mac = ?", phone.MAC).Take(&st).Error; err != nil {
				t.Fatal(err)
			}
			return st.OfferedImage
		}

		poll(phone) // creates the row: remembered, offered nothing
		if d := decide(phone, pol); !d.Offer || d.SHA256 != v1.ID {
			t.Fatalf("a phone on an older version: %+v", d)
		}
		if got := offered(); got != v1.ID {
			t.Fatalf("the offer was not recorded: %q", got)
		}
		poll(phone) // reads the row again (the offer forgot it) and remembers it
		before := reads.Load()
		for range 3 {
			poll(phone)
			if d := decide(phone, pol); !d.Offer || d.SHA256 != v1.ID {
				t.Fatalf("%+v", d)
			}
		}
		// Without a hub on a shared store another server's offer may be
		// newer than the remembered one: each decision reads the row.
		want := int64(0)
		if !s.polls.exact.Load() {
			want = 3
		}
		if n := reads.Load() - before; n != want {
			t.Fatalf("settled polls and their decisions read the phone's row %d times, want %d", n, want)
		}

		// The policy stops updates: the offer is withdrawn although the
		// remembered poll said it was made.
		off := pol
		off.EnableDeviceUpdate = false
		if d := decide(phone, off); d.Offer {
			t.Fatalf("offered with updates off: %+v", d)
		}
		if got := offered(); got != "" {
			t.Fatalf("the offer stayed recorded with updates off: %q", got)
		}
		poll(phone)
		if d := decide(phone, pol); !d.Offer {
			t.Fatalf("updates on again: %+v", d)
		}
		if got := offered(); got != v1.ID {
			t.Fatalf("the offer made again was not recorded (the remembered row said it was withdrawn): %q", got)
		}

		// Three flips flag the phone; its settled polls then remember the flag.
		p := phone
		for _, v := range []string{"28.83.0.80", "28.83.0.90", "28.83.0.80", "28.83.0.90"} {
			p.Version = v
			poll(p)
			*now = now.Add(time.Hour)
		}
		poll(p)
		poll(p)
		if !s.polls.has(p.MAC) {
			t.Fatal("the flagged phone's settled poll was not remembered")
		}
		if d := decide(p, pol); d.Offer {
			t.Fatalf("a flagged phone was offered %+v", d)
		}
		if err := s.ClearLoop(ctx, p.MAC, "alice"); err != nil {
			t.Fatal(err)
		}
		poll(p)
		if d := decide(p, pol); !d.Offer {
			t.Fatalf("a cleared phone was offered nothing (the remembered flag stood): %+v", d)
		}
	})
}

// TestDecisionSeesTheOtherInstancesWrites: two servers on one PostgreSQL.
// A remembers a phone's poll and decides from it; B clears the phone's loop
// flag and writes its offer. A forgets the phone within a second of each
// write, so its next decision reads the row B wrote.
func TestDecisionSeesTheOtherInstancesWrites(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	a, _ := liveHubInstance(t, db)
	b, _ := liveHubInstance(t, db)
	firmwareTestImport(t, a, "T46-28.83.0.100.rom", "old", ImageMeta{})
	rules, _ := a.Rules(ctx)
	if _, err := a.Act(ctx, rules[0].ID, ActionApprove, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	pol := policy.Defaults()
	p := Device{Vendor: "yealink", Model: "SIP-T46G", MAC: "0015654c4c26"}
	for _, v := range []string{"28.83.0.80", "28.83.0.90", "28.83.0.80", "28.83.0.90"} {
		p.Version = v
		if err := a.Poll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := a.Poll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if !a.polls.has(p.MAC) {
		t.Fatal("A did not remember the flagged phone's settled poll")
	}
	waitForget := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(time.Second); a.polls.has(p.MAC); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("A still trusts its memory of the phone a second after B %s", what)
			}
		}
	}
	if err := b.ClearLoop(ctx, p.MAC, "alice"); err != nil {
		t.Fatal(err)
	}
	waitForget("cleared its loop flag")
	if err := a.Poll(ctx, p); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Decide(ctx, p, pol); err != nil || !d.Offer {
		t.Fatalf("A after B cleared the flag: %+v %v", d, err)
	}
	// B withdraws the offer A just made; A's memory says it was made.
	if err := b.Poll(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := a.Poll(ctx, p); err != nil {
		t.Fatal(err)
	}
	off := pol
	off.EnableDeviceUpdate = false
	if _, err := b.Decide(ctx, p, off); err != nil {
		t.Fatal(err)
	}
	waitForget("withdrew its offer")
	if err := a.Poll(ctx, p); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Decide(ctx, p, pol); err != nil || !d.Offer {
		t.Fatalf("A after B withdrew the offer: %+v %v", d, err)
	}
	var st deviceState
	if err := db.Where("mac = ?", p.MAC).Take(&st).Error; err != nil || st.OfferedImage == "" {
		t.Fatalf("A offered the image without recording the offer B had withdrawn (the phone's download would be refused): %+v %v", st, err)
	}
}
