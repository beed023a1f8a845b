package audit_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestTheOldAuditsMoveIntoTheOneLog: issue 15 item 7. A store with the
// policy audit (audit_entries) and the firmware audit (firmware_audit) of
// an earlier version: Migrate moves their rows into the one log, keeping
// who, when and what, and drops the old tables, so a second Migrate
// copies nothing twice.
func TestTheOldAuditsMoveIntoTheOneLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		for _, q := range []string{
			`CREATE TABLE audit_entries (id integer primary key, at timestamp not null, actor varchar(100) not null, object varchar(400) not null, action varchar(40) not null, before_json text, after_json text)`,
			`CREATE TABLE firmware_audit (id integer primary key, at timestamp not null, actor varchar(200) not null, action varchar(64) not null, target varchar(200) not null, detail varchar(1000))`,
			`CREATE TABLE phone_enrolment_audit (id integer primary key, at timestamp not null, actor varchar(200) not null, action varchar(64) not null, mac varchar(12) not null, detail varchar(1000))`,
		} {
			if err := db.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Exec(`INSERT INTO audit_entries VALUES (1, ?, 'alice', 'ipphonepolicy/Sales', 'create', 'null', '{"Identity":"Sales"}'), (2, ?, 'bob', 'user/amosm@contoso.com/ipphonepolicy', 'grant', '{"upn":"amosm@contoso.com","PolicyName":null}', '{"upn":"amosm@contoso.com","PolicyName":"Sales"}')`, at, at.Add(time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(`INSERT INTO firmware_audit VALUES (1, ?, 'carol', 'approve', 'rule 3', 'pending → approved')`, at.Add(2*time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(`INSERT INTO phone_enrolment_audit VALUES (1, ?, 'dave', 'approve', '0004f2000001', 'was awaiting_approval')`, at.Add(3*time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := audit.Migrate(db); err != nil {
				t.Fatalf("migrate %d: %v", i+1, err)
			}
		}
		for _, old := range []string{"audit_entries", "firmware_audit", "phone_enrolment_audit"} {
			if db.Migrator().HasTable(old) {
				t.Errorf("%s is still there", old)
			}
		}
		p, err := audit.List(context.Background(), db, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Entries {
			got = append(got, e.At.UTC().Format("15:04")+" "+e.Actor+" "+e.Kind+" "+e.ObjectID+" "+e.Action+" "+string(e.After))
		}
		want := []string{
			`09:03 dave enrolment 0004f2000001 approve {"detail":"was awaiting_approval"}`,
			`09:02 carol firmware rule 3 approve {"detail":"pending → approved"}`,
			`09:01 bob user amosm@contoso.com/ipphonepolicy grant {"upn":"amosm@contoso.com","PolicyName":"Sales"}`,
			`09:00 alice ipphonepolicy Sales create {"Identity":"Sales"}`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestTheLogFiltersPagesAndMasks: issue 15 item 7. Filters by kind,
// object, actor and time range; pages by a cursor in the store; masks
// secrets in before/after whatever value it is given; and an entry
// written in a transaction that rolls back is gone with the change.
func TestTheLogFiltersPagesAndMasks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		if err := audit.Migrate(db); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
		for i := 0; i < 10; i++ {
			actor := "alice"
			if i%2 == 1 {
				actor = "bob"
			}
			kind := audit.KindSite
			if i >= 5 {
				kind = audit.KindUser
			}
			if err := audit.Record(ctx, db, audit.Change{At: t0.Add(time.Duration(i) * time.Hour), Actor: actor, Kind: kind, ObjectID: "o" + string(rune('0'+i)), Action: "update",
				Before: map[string]any{"name": "x", "adminPassword": "hunter22", "nested": []any{map[string]any{"pin": "1234"}}},
				After:  struct{ Name, ClientSecret string }{"y", "s3cret"}}); err != nil {
				t.Fatal(err)
			}
		}
		count := func(f audit.Filter) int {
			t.Helper()
			p, err := audit.List(ctx, db, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Entries)
		}
		for name, c := range map[string]struct {
			f    audit.Filter
			want int
		}{
			"by kind":               {audit.Filter{Kind: audit.KindSite}, 5},
			"by actor":              {audit.Filter{Actor: "bob"}, 5},
			"by kind and actor":     {audit.Filter{Kind: audit.KindUser, Actor: "alice"}, 2},
			"by object":             {audit.Filter{Object: "site/o3"}, 1},
			"by object kind":        {audit.Filter{Object: "user"}, 5},
			"since":                 {audit.Filter{Since: t0.Add(7 * time.Hour)}, 3},
			"until":                 {audit.Filter{Until: t0.Add(2 * time.Hour)}, 2},
			"since and until":       {audit.Filter{Since: t0.Add(2 * time.Hour), Until: t0.Add(4 * time.Hour)}, 2},
			"nothing of a new kind": {audit.Filter{Kind: "portorder"}, 0},
		} {
			if got := count(c.f); got != c.want {
				t.Errorf("%s: %d entries, want %d", name, got, c.want)
			}
		}

		var seen []uint
		f := audit.Filter{Limit: 4}
		for pages := 0; ; pages++ {
			p, err := audit.List(ctx, db, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Entries {
				seen = append(seen, e.ID)
			}
			if p.NextBefore == 0 {
				if pages != 2 {
					t.Fatalf("%d pages of 4 for 10 entries", pages+1)
				}
				break
			}
			f.Before = p.NextBefore
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] >= seen[i-1] {
				t.Fatalf("pages overlap or go forward: %v", seen)
			}
		}
		if len(seen) != 10 {
			t.Fatalf("paged through %d entries, want 10", len(seen))
		}

		p, _ := audit.List(ctx, db, audit.Filter{Limit: 1})
		for _, raw := range []json.RawMessage{p.Entries[0].Before, p.Entries[0].After} {
			s := string(raw)
			if strings.Contains(s, "hunter22") || strings.Contains(s, "1234") || strings.Contains(s, "s3cret") || !strings.Contains(s, audit.Mask) {
				t.Errorf("a secret is in the log: %s", s)
			}
		}

		err := db.Transaction(func(tx *gorm.DB) error {
			if err := audit.Record(audit.WithActor(ctx, "mallory"), tx, audit.Change{Kind: audit.KindSite, ObjectID: "rolled", Action: "create"}); err != nil {
				return err
			}
			return fault.Conflictf("the change failed")
		})
		if err == nil || count(audit.Filter{Actor: "mallory"}) != 0 {
			t.Fatalf("an entry outlived its rolled-back change: %v", err)
		}
		if _, err := audit.List(ctx, db, audit.Filter{Since: t0, Until: t0}); !fault.Is(err, fault.Invalid) {
			t.Fatalf("an empty time range: %v", err)
		}
	})
}

// TestTheVoiceAuditMovesIntoTheOneLog: issue 15 item 7. A store with the
// voice audit (voice_audit: number moves, service defaults, address
// edits) of an earlier version: Migrate moves its rows into the one log as
// kind and id, keeping who, when, before and after, and drops the table.
func TestTheVoiceAuditMovesIntoTheOneLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
		if err := db.Exec(`CREATE TABLE voice_audit (id integer primary key, at timestamp not null, actor varchar(200) not null, object varchar(200) not null, action varchar(40) not null, before_json text, after_json text)`).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(`INSERT INTO voice_audit VALUES (1, ?, 'alice', 'number/+14255550100', 'move', '{"serviceId":null}', '{"serviceId":3}'), (2, ?, 'bob', 'emergencyaddress/2/location/5', 'delete', '{"name":"Floor 2"}', 'null')`, at, at.Add(time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := audit.Migrate(db); err != nil {
				t.Fatalf("migrate %d: %v", i+1, err)
			}
		}
		if db.Migrator().HasTable("voice_audit") {
			t.Error("voice_audit is still there")
		}
		p, err := audit.List(context.Background(), db, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Entries {
			got = append(got, e.At.UTC().Format("15:04")+" "+e.Actor+" "+e.Kind+" "+e.ObjectID+" "+e.Action+" "+string(e.Before)+" "+string(e.After))
		}
		want := []string{
			`09:01 bob emergencyaddress 2/location/5 delete {"name":"Floor 2"} null`,
			`09:00 alice number +14255550100 move {"serviceId":null} {"serviceId":3}`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
