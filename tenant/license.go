package tenant

import (
	"context"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// SKU names a license kind.
type SKU string

const (
	PhoneSystem              SKU = "PhoneSystem"
	CallingPlanDomestic      SKU = "CallingPlanDomestic"
	CallingPlanInternational SKU = "CallingPlanInternational"
	AudioConferencing        SKU = "AudioConferencing"
	CommunicationsCredits    SKU = "CommunicationsCredits"
	EnterpriseE5             SKU = "EnterpriseE5"
)

// SKUs lists every license kind in a stable order.
var SKUs = []SKU{PhoneSystem, CallingPlanDomestic, CallingPlanInternational, AudioConferencing, CommunicationsCredits, EnterpriseE5}

// ParseSKU accepts a SKU name in any case, and refuses unknown ones by listing
// the valid names.
func ParseSKU(s string) (SKU, error) {
	for _, k := range SKUs {
		if strings.EqualFold(string(k), strings.TrimSpace(s)) {
			return k, nil
		}
	}
	names := make([]string, len(SKUs))
	for i, k := range SKUs {
		names[i] = string(k)
	}
	return "", fault.FieldInvalid("sku", "unknown license SKU %q: use one of %s", s, strings.Join(names, ", "))
}

func (k SKU) isCallingPlan() bool { return k == CallingPlanDomestic || k == CallingPlanInternational }

// bringsPhoneSystem: E5 includes Phone System (SPEC §1).
func (k SKU) bringsPhoneSystem() bool { return k == PhoneSystem || k == EnterpriseE5 }

// MaxPurchased is the most licenses of one SKU an organisation may hold:
// far above any real tenant, and low enough that no sum of counts in the
// quota arithmetic can overflow (2^63−1 once gave a toll quota of 0).
const MaxPurchased = 1_000_000

// License is a count of licenses of one SKU bought by the organisation.
type License struct {
	SKU       SKU `gorm:"primaryKey;size:40"`
	Purchased int `gorm:"not null"`
}

// UserLicense is one license assigned to one user.
type UserLicense struct {
	UserID uint `gorm:"primaryKey"`
	SKU    SKU  `gorm:"primaryKey;size:40"`
	User   User `gorm:"constraint:OnDelete:CASCADE"`
}

// LicenseCount is what GET /licenses shows for one SKU.
type LicenseCount struct {
	SKU       SKU `json:"sku"`
	Purchased int `json:"purchased"`
	Assigned  int `json:"assigned"`
}

// Licenses lists every SKU with its purchased and assigned counts.
func (s *Service) Licenses(ctx context.Context) ([]LicenseCount, error) {
	purchased, err := s.purchased(s.db.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	var rows []struct {
		SKU SKU
		N   int
	}
	if err := s.db.WithContext(ctx).Model(&UserLicense{}).Select("sku, count(*) as n").Group("sku").Scan(&rows).Error; err != nil {
		return nil, err
	}
	assigned := map[SKU]int{}
	for _, r := range rows {
		assigned[r.SKU] = r.N
	}
	out := make([]LicenseCount, 0, len(SKUs))
	for _, k := range SKUs {
		out = append(out, LicenseCount{SKU: k, Purchased: purchased[k], Assigned: assigned[k]})
	}
	return out, nil
}

// Purchased returns how many licenses of each SKU the organisation bought
// (quotas are counted on these, not on assignments).
func (s *Service) Purchased(ctx context.Context) (map[SKU]int, error) {
	return s.purchased(s.db.WithContext(ctx))
}

func (s *Service) purchased(tx *gorm.DB) (map[SKU]int, error) {
	var ls []License
	if err := tx.Find(&ls).Error; err != nil {
		return nil, err
	}
	m := map[SKU]int{}
	for _, l := range ls {
		m[l.SKU] = l.Purchased
	}
	return m, nil
}

// SetPurchased sets how many licenses of sku the organisation holds.
func (s *Service) SetPurchased(ctx context.Context, skuName string, n int) (LicenseCount, error) {
	sku, err := ParseSKU(skuName)
	if err != nil {
		return LicenseCount{}, err
	}
	if err := textfield.Count("purchased", int64(n), 0, MaxPurchased); err != nil {
		return LicenseCount{}, err
	}
	var out LicenseCount
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockLicenses(tx); err != nil {
			return err
		}
		p, err := s.purchased(tx)
		if err != nil {
			return err
		}
		var assigned int64
		if err := tx.Model(&UserLicense{}).Where("sku = ?", sku).Count(&assigned).Error; err != nil {
			return err
		}
		if int64(n) < assigned {
			return fault.Conflictf("%d %s licenses are assigned to users: unassign %d before lowering the count to %d", assigned, sku, assigned-int64(n), n)
		}
		if err := refuseCreditsDrop(tx, sku, n); err != nil {
			return err
		}
		before := p[sku]
		p[sku] = n
		phone := p[PhoneSystem] + p[EnterpriseE5]
		plans := p[CallingPlanDomestic] + p[CallingPlanInternational]
		if sku.isCallingPlan() && n > 0 && phone == 0 {
			return fault.Conflictf("a Calling Plan needs Phone System: buy Phone System (or Enterprise E5) licenses first").WithCode("phone_system_required")
		}
		if sku.bringsPhoneSystem() && phone == 0 && plans > 0 {
			return fault.Conflictf("the organisation holds %d Calling Plan licenses, which need Phone System: lower the Calling Plans to 0 first", plans).WithCode("calling_plan_depends")
		}
		if err := tx.Save(&License{SKU: sku, Purchased: n}).Error; err != nil {
			return err
		}
		out = LicenseCount{SKU: sku, Purchased: n, Assigned: int(assigned)}
		return audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindLicense, ObjectID: string(sku), Action: "set-purchased",
			Before: map[string]int{"purchased": before}, After: map[string]int{"purchased": n}})
	})
	return out, err
}

// lockLicenses serialises license changes: on PostgreSQL by locking every
// license row (and a sentinel so the lock holds on an empty table); SQLite's
// immediate transactions already serialise writers.
func lockLicenses(tx *gorm.DB) error {
	if store.EngineOf(tx) != store.Postgres {
		return nil
	}
	return tx.Exec("LOCK TABLE licenses IN SHARE ROW EXCLUSIVE MODE").Error
}

// Assign gives user upn one license of sku. Assigning what the user already
// holds changes nothing.
func (s *Service) Assign(ctx context.Context, upn, skuName string) error {
	sku, err := ParseSKU(skuName)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		_, _, err := s.assignIn(ctx, tx, upn, sku)
		return err
	})
}

// assignIn assigns sku to upn in tx, and reports whether it was not held
// already.
func (s *Service) assignIn(ctx context.Context, tx *gorm.DB, upn string, sku SKU) (User, bool, error) {
	if err := lockLicenses(tx); err != nil {
		return User{}, false, err
	}
	u, err := findUser(tx, upn)
	if err != nil {
		return User{}, false, err
	}
	held, err := heldSKUs(tx, u.ID)
	if err != nil {
		return User{}, false, err
	}
	if held[sku] {
		return u, false, nil
	}
	if sku.isCallingPlan() && !held[PhoneSystem] && !held[EnterpriseE5] {
		return User{}, false, fault.Conflictf("%s has no Phone System license: assign PhoneSystem (or EnterpriseE5) before a Calling Plan", u.UPN).WithCode("phone_system_required")
	}
	var l License
	if err := tx.Where("sku = ?", sku).Limit(1).Find(&l).Error; err != nil {
		return User{}, false, err
	}
	var assigned int64
	if err := tx.Model(&UserLicense{}).Where("sku = ?", sku).Count(&assigned).Error; err != nil {
		return User{}, false, err
	}
	if assigned >= int64(l.Purchased) {
		return User{}, false, fault.Conflictf("all %d purchased %s licenses are assigned: buy more or unassign one first", l.Purchased, sku).WithCode("no_license_available")
	}
	if err := tx.Create(&UserLicense{UserID: u.ID, SKU: sku}).Error; err != nil {
		return User{}, false, err
	}
	return u, true, audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindUser, ObjectID: u.UPNKey + "/licenses/" + string(sku), Action: "assign"})
}

// Unassign takes sku away from user upn.
func (s *Service) Unassign(ctx context.Context, upn, skuName string) error {
	sku, err := ParseSKU(skuName)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The user's row lock serialises their license changes and number
		// assignments, so two unassigns at once each see the other's effect
		// (and the last one ends the phone sessions).
		u, err := findUser(store.ForUpdate(tx), upn)
		if err != nil {
			return err
		}
		held, err := heldSKUs(tx, u.ID)
		if err != nil {
			return err
		}
		if !held[sku] {
			return fault.NotFoundf("%s does not hold a %s license", u.UPN, sku)
		}
		delete(held, sku)
		if sku.bringsPhoneSystem() && !held[PhoneSystem] && !held[EnterpriseE5] && (held[CallingPlanDomestic] || held[CallingPlanInternational]) {
			return fault.Conflictf("%s holds a Calling Plan, which needs Phone System: unassign the Calling Plan first", u.UPN).WithCode("calling_plan_depends")
		}
		if err := refuseNumberedLoss(tx, u, sku, held); err != nil {
			return err
		}
		if err := tx.Where("user_id = ? AND sku = ?", u.ID, sku).Delete(&UserLicense{}).Error; err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Change{At: s.Now(), Kind: audit.KindUser, ObjectID: u.UPNKey + "/licenses/" + string(sku), Action: "unassign"}); err != nil {
			return err
		}
		return noteLicenseLoss(tx, u, sku, held)
	})
}

// UserLicenses lists the SKUs user upn holds.
func (s *Service) UserLicenses(ctx context.Context, upn string) ([]SKU, error) {
	u, err := findUser(s.db.WithContext(ctx), upn)
	if err != nil {
		return nil, err
	}
	held, err := heldSKUs(s.db.WithContext(ctx), u.ID)
	if err != nil {
		return nil, err
	}
	return sortedSKUs(held), nil
}

func heldSKUs(tx *gorm.DB, userID uint) (map[SKU]bool, error) {
	var uls []UserLicense
	if err := tx.Where("user_id = ?", userID).Find(&uls).Error; err != nil {
		return nil, err
	}
	m := map[SKU]bool{}
	for _, ul := range uls {
		m[ul.SKU] = true
	}
	return m, nil
}

func sortedSKUs(m map[SKU]bool) []SKU {
	out := []SKU{}
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// VoiceEnabled reports whether the voice admin features (numbers, voice users,
// emergency addresses) exist for the organisation: only with at least one E5,
// Phone System or Audio Conferencing license (SPEC §1).
func (s *Service) VoiceEnabled(ctx context.Context) (bool, error) {
	p, err := s.Purchased(ctx)
	if err != nil {
		return false, err
	}
	return p[EnterpriseE5]+p[PhoneSystem]+p[AudioConferencing] > 0, nil
}

// RequireVoice returns a Forbidden error saying what to buy when the voice
// admin features are not available.
func (s *Service) RequireVoice(ctx context.Context) error {
	ok, err := s.VoiceEnabled(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fault.Forbiddenf("phone numbers and emergency addresses need at least one Enterprise E5, Phone System or Audio Conferencing license: buy one first").WithCode("voice_not_licensed")
	}
	return nil
}
