package policy

import (
	"context"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
)

// Assignment is the policy granted to a user; PolicyName nil means none, so
// Global applies (as Grant-CsIPPhonePolicy -PolicyName $null).
type Assignment struct {
	UPN        string  `json:"upn"`
	PolicyName *string `json:"PolicyName"`
}

type grantView = Assignment

// Grant gives a user a named policy, or with policyName nil (or "Global")
// takes their grant away so that Global applies.
func (s *Service) Grant(ctx context.Context, actor, upn string, policyName *string) (Assignment, error) {
	u, err := s.Users.User(ctx, upn)
	if err != nil {
		return Assignment{}, err
	}
	var target string
	if policyName != nil {
		if target, err = NormalizeIdentity(*policyName); err != nil {
			return Assignment{}, fault.FieldInvalid("PolicyName", "%s", strings.Replace(err.Error(), "Identity", "PolicyName", 1))
		}
	}
	var out Assignment
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		out, _, err = s.grantIn(tx, actor, u, target)
		return err
	})
	if err != nil {
		return Assignment{}, err
	}
	return out, nil
}

// Granter checks policyName (nil or "Global": no grant) once and returns
// what grants it to one user inside a caller's transaction, reporting
// whether that changed their grant: bulk license assignment uses it so that
// a row's license and policy commit together.
func (s *Service) Granter(ctx context.Context, actor string, policyName *string) (func(tx *gorm.DB, u tenant.User) (bool, error), error) {
	var target string
	if policyName != nil {
		var err error
		if target, err = NormalizeIdentity(*policyName); err != nil {
			return nil, fault.FieldInvalid("PolicyName", "%s", strings.Replace(err.Error(), "Identity", "PolicyName", 1))
		}
		if target != GlobalIdentity {
			if _, err := find(s.db.WithContext(ctx), target, false); err != nil {
				return nil, err
			}
		}
	}
	return func(tx *gorm.DB, u tenant.User) (bool, error) {
		_, changed, err := s.grantIn(tx, actor, u, target)
		return changed, err
	}, nil
}

// grantIn gives u the policy target ("" or Global: none) in tx.
func (s *Service) grantIn(tx *gorm.DB, actor string, u tenant.User, target string) (Assignment, bool, error) {
	out := Assignment{UPN: u.UPN}
	before, err := currentGrant(tx, u.ID)
	if err != nil {
		return out, false, err
	}
	beforeView := Assignment{UPN: u.UPN, PolicyName: before}
	if target == "" || target == GlobalIdentity {
		if before == nil {
			return out, false, nil
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&grant{}).Error; err != nil {
			return out, false, err
		}
	} else {
		r, err := find(tx, target, true)
		if err != nil {
			return out, false, err
		}
		name := r.Identity
		out.PolicyName = &name
		if before != nil && *before == name {
			return out, false, nil
		}
		g := grant{UserID: u.ID, PolicyID: r.ID, UPN: u.UPN, CreatedAt: s.now()}
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"policy_id", "upn", "created_at"}),
		}).Create(&g).Error; err != nil {
			return out, false, err
		}
	}
	if err := store.Bump(tx, store.ConfigGeneration); err != nil {
		return out, false, err
	}
	return out, true, s.audit(tx, actor, userObject(u.UPN), "grant", beforeView, out)
}

// currentGrant returns the name of the policy a user holds, nil for none.
func currentGrant(tx *gorm.DB, userID uint) (*string, error) {
	r, err := grantedRecord(tx, userID)
	if err != nil || r.ID == 0 {
		return nil, err
	}
	return &r.Identity, nil
}

// grantedRecord reads the policy a user holds (ID 0 when none).
func grantedRecord(tx *gorm.DB, userID uint) (record, error) {
	var r record
	err := tx.Model(&record{}).Joins("JOIN ipphone_policy_grants g ON g.policy_id = ipphone_policies.id").
		Where("g.user_id = ?", userID).Limit(1).Find(&r).Error
	return r, err
}

// GrantOf returns the policy granted to a user (PolicyName nil: Global).
func (s *Service) GrantOf(ctx context.Context, upn string) (Assignment, error) {
	u, err := s.Users.User(ctx, upn)
	if err != nil {
		return Assignment{}, err
	}
	name, err := currentGrant(s.db.WithContext(ctx), u.ID)
	if err != nil {
		return Assignment{}, err
	}
	return Assignment{UPN: u.UPN, PolicyName: name}, nil
}

// EffectiveForUser returns the policy that applies to a user: the one
// granted to them, or Global. upn "" is a phone nobody is signed in on,
// which gets Global. So does a user who no longer exists (a phone still
// signed in as a removed account): a phone must always get a config.
func (s *Service) EffectiveForUser(ctx context.Context, upn string) (Effective, error) {
	return s.effective(ctx, upn, false)
}

// UserEffective is EffectiveForUser for admins: an unknown user is a
// NotFound fault (code unknown_user) instead of Global.
func (s *Service) UserEffective(ctx context.Context, upn string) (Effective, error) {
	return s.effective(ctx, upn, true)
}

func (s *Service) effective(ctx context.Context, upn string, strict bool) (Effective, error) {
	if strings.TrimSpace(upn) != "" {
		u, err := s.Users.User(ctx, upn)
		switch {
		case err == nil:
			r, err := grantedRecord(s.db.WithContext(ctx), u.ID)
			if err != nil {
				return Effective{}, err
			}
			if r.ID != 0 {
				return s.recordEffective(r)
			}
		case strict || !fault.Is(err, fault.NotFound):
			return Effective{}, err
		}
	}
	p, err := s.Get(ctx, GlobalIdentity)
	if err != nil {
		return Effective{}, err
	}
	return Effective{Identity: p.Identity, Version: p.Version, Settings: p.Settings}, nil
}

func (s *Service) recordEffective(r record) (Effective, error) {
	p, err := s.policy(r)
	if err != nil {
		return Effective{}, err
	}
	return Effective{Identity: p.Identity, Version: p.Version, Settings: p.Settings}, nil
}

// Masked returns the effective policy with the provisioning server password
// hidden, for showing to admins.
func (e Effective) Masked() Effective {
	e.Settings = masked(e.Settings)
	return e
}

// AssignMany assigns the license sku to the users upns in tn, and with
// policyName given also grants each that policy in the row's transaction
// ("Global" takes their grant away, as Grant does; nil leaves grants
// alone). It is the one bulk call of the API and the console.
func (s *Service) AssignMany(ctx context.Context, tn *tenant.Service, actor, sku string, upns []string, policyName *string) (tenant.BulkResult, error) {
	if _, err := tenant.ParseSKU(sku); err != nil {
		return tenant.BulkResult{}, err
	}
	var also tenant.AlsoFunc
	if policyName != nil {
		grant, err := s.Granter(ctx, actor, policyName)
		if err != nil {
			return tenant.BulkResult{}, err
		}
		also = grant
	}
	res, err := tn.AssignMany(ctx, sku, upns, also)
	if err == nil && policyName != nil {
		name := *policyName
		res.PolicyName = &name
	}
	return res, err
}
