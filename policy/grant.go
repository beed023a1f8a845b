package policy

import (
	"context"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
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
	out := Assignment{UPN: u.UPN}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		before, err := currentGrant(tx, u.ID)
		if err != nil {
			return err
		}
		beforeView := Assignment{UPN: u.UPN, PolicyName: before}
		if target == "" || target == GlobalIdentity {
			if before == nil {
				return nil
			}
			if err := tx.Where("user_id = ?", u.ID).Delete(&grant{}).Error; err != nil {
				return err
			}
		} else {
			r, err := find(tx, target, true)
			if err != nil {
				return err
			}
			name := r.Identity
			out.PolicyName = &name
			if before != nil && *before == name {
				return nil
			}
			g := grant{UserID: u.ID, PolicyID: r.ID, UPN: u.UPN, CreatedAt: s.now()}
			if err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "user_id"}},
				DoUpdates: clause.AssignmentColumns([]string{"policy_id", "upn", "created_at"}),
			}).Create(&g).Error; err != nil {
				return err
			}
		}
		if err := store.Bump(tx, store.ConfigGeneration); err != nil {
			return err
		}
		return s.audit(tx, actor, userObject(u.UPN), "grant", beforeView, out)
	})
	if err != nil {
		return Assignment{}, err
	}
	return out, nil
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
