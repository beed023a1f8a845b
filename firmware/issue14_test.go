package firmware

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/store/storetest"
)

func approvePending(t *testing.T, s *Service) {
	t.Helper()
	rules, err := s.Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Pending != nil {
			if _, err := s.Act(context.Background(), r.ID, ActionApprove, nil, "alice"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestEditionsKeepTheirOwnImages: a Skype T46S on 66.9.0.63 is never offered
// the open-SIP 66.86 ROM, nor a generic AudioCodes 440HD on 2.2.16 the 3.4.6
// Skype image (issue 14, item 4); each is offered its own edition's.
func TestEditionsKeepTheirOwnImages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		pol := policy.Defaults()
		sip := firmwareTestImport(t, s, "T46S(T48S,T42S,T41S)-66.86.0.15.rom", "open sip", ImageMeta{})
		acSkype := firmwareTestImport(t, s, "440HD.img", "skype 440", ImageMeta{Version: "3.4.6.604"})
		approvePending(t, s)
		skypeT46S := Device{Vendor: Yealink, Model: "SIP-T46S", MAC: "001565aa0001", Version: "66.9.0.63"}
		sipT46S := Device{Vendor: Yealink, Model: "SIP-T46S", MAC: "001565aa0002", Version: "66.86.0.10"}
		genericAC := Device{Vendor: AudioCodes, Model: "440HDG-Rev0", MAC: "00908faa0001", Version: "2.2.16.372"}
		skypeAC := Device{Vendor: AudioCodes, Model: "C440HD_UC", MAC: "00908faa0002", Version: "3.4.6.500"}
		for _, c := range []struct {
			name string
			dev  Device
			want string
		}{
			{"a Skype T46S is not offered the open-SIP ROM", skypeT46S, ""},
			{"an open-SIP T46S is offered it", sipT46S, sip.ID},
			{"a generic AudioCodes is not offered the Skype image", genericAC, ""},
			{"a Skype AudioCodes is offered it", skypeAC, acSkype.ID},
		} {
			t.Run(c.name, func(t *testing.T) {
				d, err := s.Decide(ctx, c.dev, pol)
				if err != nil || d.SHA256 != c.want || d.Offer != (c.want != "") {
					t.Fatalf("%+v %v", d, err)
				}
			})
		}
		t.Run("each edition gets its own rule, and its own image once imported", func(t *testing.T) {
			skype := firmwareTestImport(t, s, "T46S(T48S,T42S,T41S)-66.9.0.70.rom", "skype", ImageMeta{})
			approvePending(t, s)
			rules, _ := s.Rules(ctx)
			var t46s []RuleView
			for _, r := range rules {
				if r.Model == "T46S" {
					t46s = append(t46s, r)
				}
			}
			if len(t46s) != 2 || t46s[0].Edition == t46s[1].Edition {
				t.Fatalf("T46S rules %+v", t46s)
			}
			if d, _ := s.Decide(ctx, skypeT46S, pol); d.SHA256 != skype.ID {
				t.Fatalf("the Skype phone: %+v", d)
			}
			if d, _ := s.Decide(ctx, sipT46S, pol); d.SHA256 != sip.ID {
				t.Fatalf("the open-SIP phone: %+v", d)
			}
		})
	})
}

// TestUpdaterVersionIsNotTheRunningOne: the Polycom Updater reports no
// version (provisioning/polycom Identify); its polls neither flip the loop
// guard nor make the decision forget what the Application runs (items 3, 14).
func TestUpdaterVersionIsNotTheRunningOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, now := firmwareTestService(t, db)
		pol := policy.Defaults()
		firmwareTestImport(t, s, "3111-44500-001.sip.ld", "5.9.7", ImageMeta{Version: "5.9.7.4477"})
		approvePending(t, s)
		app := Device{Vendor: Polycom, Model: "VVX500", MAC: "0004f2aa0001", Version: "5.9.7.4477"}
		updater := app
		updater.Version = ""
		for boot := 0; boot < 4; boot++ {
			for _, d := range []Device{updater, app} {
				if err := s.Poll(ctx, d); err != nil {
					t.Fatal(err)
				}
				*now = now.Add(time.Minute)
			}
		}
		if loops, _ := s.Loops(ctx); len(loops) != 0 {
			t.Fatalf("four boots flagged the phone: %+v", loops)
		}
		if d, err := s.Decide(ctx, updater, pol); err != nil || d.Offer {
			t.Fatalf("the Updater of a phone running the approved version was offered %+v %v", d, err)
		}
		old := app
		old.MAC, old.Version = "0004f2aa0002", "5.8.0.1000"
		if err := s.Poll(ctx, old); err != nil {
			t.Fatal(err)
		}
		old.Version = ""
		if d, _ := s.Decide(ctx, old, pol); !d.Offer || d.Version != "5.9.7.4477" {
			t.Fatalf("the Updater of a phone on an older Application was not offered the approved one: %+v", d)
		}
	})
}

// TestAutoApprove: a rule created by a --certified import approves each
// newer version as it is imported, in the default staged rollout; an older
// one stays pending; the flag can be turned off, and then imports wait for
// an admin as on-premises.
func TestAutoApprove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		v1 := firmwareTestImport(t, s, "420HD.img", "v1", ImageMeta{Version: "3.4.6.600", Certified: true})
		rules, _ := s.Rules(ctx)
		if len(rules) != 1 || !rules[0].AutoApprove || rules[0].Approved == nil || rules[0].Approved.SHA256 != v1.ID || rules[0].Rollout == nil {
			t.Fatalf("a certified import did not approve itself in a rollout: %+v", rules)
		}
		ro, err := s.RolloutByID(ctx, *rules[0].Rollout)
		if err != nil || len(ro.Waves) != 4 || ro.Waves[0].Percent != 1 {
			t.Fatalf("not the default waves: %+v %v", ro, err)
		}
		if _, err := s.SetRolloutState(ctx, ro.ID, "abort", "alice"); err != nil {
			t.Fatal(err)
		}
		// Aborted: v1 is pending again. Approve it plainly to go on.
		if _, err := s.Act(ctx, rules[0].ID, ActionApprove, nil, "alice"); err != nil {
			t.Fatal(err)
		}
		v2 := firmwareTestImport(t, s, "420HD.img", "v2", ImageMeta{Version: "3.4.6.700"})
		r, _ := s.RuleByID(ctx, rules[0].ID)
		if r.Approved == nil || r.Approved.SHA256 != v2.ID || r.Restore == nil || r.Restore.SHA256 != v1.ID {
			t.Fatalf("a newer import into an autoApprove rule was not approved: %+v", r)
		}
		if _, err := s.SetRolloutState(ctx, *r.Rollout, "abort", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Act(ctx, r.ID, ActionApprove, nil, "alice"); err != nil {
			t.Fatal(err)
		}
		older := firmwareTestImport(t, s, "420HD.img", "older", ImageMeta{Version: "3.4.6.650"})
		if r, _ = s.RuleByID(ctx, r.ID); r.Approved.SHA256 != v2.ID || r.Pending == nil || r.Pending.SHA256 != older.ID {
			t.Fatalf("an older import was approved: %+v", r)
		}
		if r, err = s.SetAutoApprove(ctx, r.ID, false, "alice"); err != nil || r.AutoApprove {
			t.Fatalf("%+v %v", r, err)
		}
		firmwareTestImport(t, s, "420HD.img", "v3", ImageMeta{Version: "3.4.6.800", Certified: true})
		if r, _ = s.RuleByID(ctx, r.ID); r.Approved.SHA256 != v2.ID || r.Pending.Version != "3.4.6.800" {
			t.Fatalf("with autoApprove off an import was approved: %+v", r)
		}
		t.Run("a rule created without --certified waits for an admin", func(t *testing.T) {
			firmwareTestImport(t, s, "T46-28.83.0.120.rom", "yealink", ImageMeta{})
			rules, _ := s.Rules(ctx)
			for _, r := range rules {
				if r.Vendor == Yealink && (r.AutoApprove || r.Approved != nil) {
					t.Fatalf("%+v", r)
				}
			}
		})
	})
}

// TestMigrateSplitsMixedEditions: a store from before editions, whose T46S
// rule approved an open-SIP ROM and holds a Skype one pending, comes out
// with one rule per edition.
func TestMigrateSplitsMixedEditions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, _ := firmwareTestService(t, db)
		sip := firmwareTestImport(t, s, "T46S(T48S,T42S,T41S)-66.86.0.15.rom", "open sip", ImageMeta{})
		skype := firmwareTestImport(t, s, "T46S(T48S,T42S,T41S)-66.9.0.63.rom", "skype", ImageMeta{})
		// Back to the old shape: no editions, one rule per model holding both.
		if err := db.Exec("UPDATE firmware_images SET edition = ''").Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("DELETE FROM firmware_rules WHERE edition = ?", EditionSkype).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("UPDATE firmware_rules SET edition = '', approved_image = ?, pending_image = ?", sip.ID, skype.ID).Error; err != nil {
			t.Fatal(err)
		}
		// The old rule key, without the edition: it must go, or the Skype
		// rules could not be made.
		if err := db.Exec("CREATE UNIQUE INDEX idx_fw_rule_key ON firmware_rules (vendor, model, revision, locale)").Error; err != nil {
			t.Fatal(err)
		}
		if err := Migrate(db); err != nil {
			t.Fatal(err)
		}
		rules, _ := s.Rules(ctx)
		if len(rules) != 8 {
			t.Fatalf("want a rule per model and edition, got %d: %+v", len(rules), rules)
		}
		for _, r := range rules {
			switch r.Edition {
			case EditionSIP:
				if r.Approved == nil || r.Approved.SHA256 != sip.ID || r.Pending != nil {
					t.Fatalf("%+v", r)
				}
			case EditionSkype:
				if r.Pending == nil || r.Pending.SHA256 != skype.ID || r.Approved != nil {
					t.Fatalf("%+v", r)
				}
			default:
				t.Fatalf("a rule without an edition: %+v", r)
			}
		}
		img, _ := s.Image(ctx, skype.ID)
		if img.Edition != EditionSkype {
			t.Fatalf("the image's edition was not filled in: %+v", img)
		}
		if err := Migrate(db); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.Rules(ctx); len(again) != 8 {
			t.Fatalf("a second migration changed the rules: %+v", again)
		}
	})
}
