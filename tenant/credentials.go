package tenant

import (
	"context"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
)

// CredentialStamp is what a phone session records of the account it signed
// in: the account (its ID, never reused) and the versions of its credentials
// at that moment. The session lasts only while they still match.
type CredentialStamp struct {
	UserID      uint
	Credentials int64
	PIN         int64
	// MaySignIn: the user holds, now, the licenses a desk phone needs (the
	// sign-in gate). Only CredentialStamps fills it.
	MaySignIn bool
}

// Stamp is u's current credential stamp.
func (u User) Stamp() CredentialStamp {
	return CredentialStamp{UserID: u.ID, Credentials: u.CredentialVersion, PIN: u.PINVersion}
}

// CredentialStamps returns the current stamps of the users with these IDs;
// a deleted user has none in the map.
func (s *Service) CredentialStamps(ctx context.Context, ids ...uint) (map[uint]CredentialStamp, error) {
	out := make(map[uint]CredentialStamp, len(ids))
	// In chunks: a list of every phone session can name more users than
	// one statement may carry parameters (SQLite 32766, PostgreSQL 65535).
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		// The gate is read with the versions, in the same statement, so a
		// session ends when its licenses go even if no version moved (the
		// refresh grant's own gate check and the session list then agree).
		var rows []struct {
			ID                uint
			CredentialVersion int64
			PinVersion        int64
			Phone, Plan       bool
		}
		if err := s.db.WithContext(ctx).Model(&User{}).Select("id, credential_version, pin_version, "+
			"EXISTS (SELECT 1 FROM user_licenses ul WHERE ul.user_id = users.id AND ul.sku IN ?) AS phone, "+
			"EXISTS (SELECT 1 FROM user_licenses ul WHERE ul.user_id = users.id AND ul.sku IN ?) AS plan",
			[]SKU{PhoneSystem, EnterpriseE5}, []SKU{CallingPlanDomestic, CallingPlanInternational}).
			Where("id IN ?", ids[:n]).Scan(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = CredentialStamp{UserID: r.ID, Credentials: r.CredentialVersion, PIN: r.PinVersion, MaySignIn: r.Phone && r.Plan}
		}
		ids = ids[n:]
	}
	return out, nil
}

// noteCredentialChanges moves u's credential versions on for what changed
// since before, and bumps the config generation so that a phone whose
// session this ends is rendered again without its user.
func noteCredentialChanges(tx *gorm.DB, before User, u *User) error {
	// The locations decide which methods and scopes a sign-in gets (SPEC
	// §7), so a session made under the old ones no longer holds either.
	cred := before.PasswordHash != u.PasswordHash || before.MFA != u.MFA ||
		before.SkypeLocation != u.SkypeLocation || before.ExchangeLocation != u.ExchangeLocation
	pin := before.PINHash != u.PINHash || deref(before.Extension) != deref(u.Extension)
	if cred {
		u.CredentialVersion++
	}
	if pin {
		u.PINVersion++
	}
	if !cred && !pin {
		return nil
	}
	return store.Bump(tx, store.ConfigGeneration)
}

// noteLicenseLoss ends u's phone sessions (a new credential version) when
// losing sku leaves licenses (after) that no longer let them sign in on a
// desk phone, where those held with it did.
func noteLicenseLoss(tx *gorm.DB, u User, lost SKU, after map[SKU]bool) error {
	before := map[SKU]bool{lost: true}
	for k := range after {
		before[k] = true
	}
	if gateRefusal(u, before) != nil || gateRefusal(u, after) == nil {
		return nil
	}
	if err := tx.Model(&User{}).Where("id = ?", u.ID).
		Update("credential_version", gorm.Expr("credential_version + 1")).Error; err != nil {
		return err
	}
	return store.Bump(tx, store.ConfigGeneration)
}
