package firmware

import (
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestHeldRulesMatchAsTheQueryDoes: DecideAt matches a phone to its rule in
// memory (matchHeld); for every phone it picks the rule matchRule's query
// picks, on both stores: the locale's own rule over the model's, none across
// editions, revisions or models, none for an LPE phone without a revision.
func TestHeldRulesMatchAsTheQueryDoes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := Migrate(db); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		rules := []Rule{
			{Vendor: Yealink, Model: "T46G", UpdatedAt: now},
			{Vendor: Yealink, Model: "T46G", Locale: "de-DE", UpdatedAt: now},
			{Vendor: Yealink, Model: "T48G", Edition: "sip", UpdatedAt: now},
			{Vendor: Polycom, Model: "VVX500", Revision: "B", UpdatedAt: now},
			{Vendor: Polycom, Model: "VVX500", Revision: "B", Locale: "fr-FR", UpdatedAt: now},
			{Vendor: LPE, Model: "CX600", Revision: "3", UpdatedAt: now},
		}
		if err := db.Create(&rules).Error; err != nil {
			t.Fatal(err)
		}
		var held []Rule
		if err := db.Order("id").Find(&held).Error; err != nil {
			t.Fatal(err)
		}
		for _, vendor := range []string{Yealink, Polycom, LPE, AudioCodes} {
			for _, model := range []string{"T46G", "T48G", "VVX500", "CX600", "t46g"} {
				for _, rev := range []string{"", "B", "3"} {
					for _, loc := range []string{"", "de-DE", "fr-FR"} {
						for _, ed := range []string{"", "sip"} {
							want, err := matchRule(db, vendor, model, rev, loc, ed)
							if err != nil {
								t.Fatal(err)
							}
							if got := matchHeld(held, vendor, model, rev, loc, ed); got.ID != want.ID {
								t.Fatalf("%s %s rev %q locale %q edition %q: held rules give rule %d, the query %d", vendor, model, rev, loc, ed, got.ID, want.ID)
							}
						}
					}
				}
			}
		}
	})
}
