package firmware

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"

	"github.com/deskprov/deskprov/store"
)

// migrateEditions brings catalog entries, rules and followed phones from
// before editions to their edition, as Edition tells it from each version.
// A rule whose versions mix editions (the defect of issue 14: a Skype
// T46S rule holding an open-SIP ROM) keeps the edition of its approved
// version (else pending, else restore), and each version of another
// edition moves to the same slot of that edition's rule (created when
// missing) where that slot is free; otherwise it is dropped from the rule
// and stays in the catalog. Every move is audited. It changes nothing on a
// store already migrated, so it runs at every start.
func migrateEditions(db *gorm.DB) error {
	vendors := []string{}
	for v := range editionRules {
		vendors = append(vendors, v)
	}
	return db.Transaction(func(tx *gorm.DB) error {
		var imgs []Image
		if err := tx.Where("vendor IN ? AND edition = ?", vendors, "").Find(&imgs).Error; err != nil {
			return err
		}
		changed := false
		for _, img := range imgs {
			if e := Edition(img.Vendor, img.Version); e != "" {
				if err := tx.Model(&Image{}).Where("id = ?", img.ID).Update("edition", e).Error; err != nil {
					return err
				}
				changed = true
			}
		}
		var sts []deviceState
		if err := tx.Select("mac", "vendor", "version").Where("vendor IN ? AND edition = ?", vendors, "").Find(&sts).Error; err != nil {
			return err
		}
		for _, st := range sts {
			if e := Edition(st.Vendor, st.Version); e != "" {
				if err := tx.Model(&deviceState{}).Where("mac = ?", st.MAC).Update("edition", e).Error; err != nil {
					return err
				}
			}
		}
		var rules []Rule
		if err := tx.Where("vendor IN ? AND edition = ?", vendors, "").Order("id").Find(&rules).Error; err != nil {
			return err
		}
		for _, r := range rules {
			moved, err := migrateRule(tx, r)
			if err != nil {
				return err
			}
			changed = changed || moved
		}
		if changed {
			return store.Bump(tx, store.ConfigGeneration)
		}
		return nil
	})
}

func migrateRule(tx *gorm.DB, r Rule) (bool, error) {
	slots := []struct {
		col string
		id  string
	}{{"approved_image", r.ApprovedImage}, {"pending_image", r.PendingImage}, {"restore_image", r.RestoreImage}}
	editionOf := map[string]string{}
	keep := ""
	for _, sl := range slots {
		if sl.id == "" {
			continue
		}
		var img Image
		if err := tx.Where("id = ?", sl.id).Limit(1).Find(&img).Error; err != nil {
			return false, err
		}
		editionOf[sl.id] = img.Edition
		if keep == "" {
			keep = img.Edition
		}
	}
	if keep == "" {
		return false, nil // nothing tells this rule's edition
	}
	if err := tx.Model(&Rule{}).Where("id = ?", r.ID).Update("edition", keep).Error; err != nil {
		return false, err
	}
	for _, sl := range slots {
		e, ok := editionOf[sl.id]
		if !ok || e == keep {
			continue
		}
		if err := tx.Model(&Rule{}).Where("id = ?", r.ID).Update(sl.col, "").Error; err != nil {
			return false, err
		}
		var other Rule
		if err := tx.Where("vendor = ? AND model = ? AND revision = ? AND locale = ? AND edition = ?", r.Vendor, r.Model, r.Revision, r.Locale, e).
			Limit(1).Find(&other).Error; err != nil {
			return false, err
		}
		if other.ID == 0 {
			other = Rule{Vendor: r.Vendor, Model: r.Model, Revision: r.Revision, Locale: r.Locale, Edition: e, UpdatedAt: r.UpdatedAt}
			if err := tx.Create(&other).Error; err != nil {
				return false, err
			}
		}
		detail := fmt.Sprintf("%s %s: %s version %s is %s firmware, the rule is now %s", r.Vendor, r.Model, sl.col, short(sl.id), EditionName(e), EditionName(keep))
		var free int64
		if err := tx.Model(&Rule{}).Where("id = ? AND "+sl.col+" = ?", other.ID, "").Count(&free).Error; err != nil {
			return false, err
		}
		if free == 1 {
			if err := tx.Model(&Rule{}).Where("id = ?", other.ID).Update(sl.col, sl.id).Error; err != nil {
				return false, err
			}
			detail += fmt.Sprintf("; moved to rule %d", other.ID)
		} else {
			detail += fmt.Sprintf("; rule %d of that edition holds another, so it stays in the catalog only", other.ID)
		}
		if err := audit.Record(context.Background(), tx, audit.Change{At: time.Now().UTC(), Actor: "system", Kind: audit.KindFirmware,
			ObjectID: fmt.Sprintf("rule %d", r.ID), Action: "migrate.edition", After: audit.FirmwareDetail{Detail: detail}}); err != nil {
			return false, err
		}
	}
	return true, nil
}
