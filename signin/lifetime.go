package signin

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
)

// A phone session lasts only while its reason does: the account it signed in
// (by ID, which a re-created UPN does not share) still exists with the same
// credential versions (tenant.CredentialStamp: password, MFA, the license that
// lets it use a desk phone, and for PIN sessions the extension and PIN). The
// versions live in the store, so every instance ends a session the moment any
// instance changed the account. Access tokens, refreshes, the phone's config
// and the admin's list all ask live.

// ReasonCredentialsChanged is the refusal reason of a session that ended
// because its account was deleted or its credentials changed.
const ReasonCredentialsChanged = "credentials_changed"

const endedMessage = "this phone was signed out because the account was deleted or its password, PIN, multi-factor setting or licenses changed: sign in again"

// stale returns the IDs of those of ss whose account is gone, whose
// credentials moved on since they signed in, or whose account no longer holds
// the licenses a desk phone needs (the refresh grant's gate). It reads the
// directory, so call it outside a write transaction.
func (s *Service) stale(ctx context.Context, ss ...Session) (map[string]bool, error) {
	out := map[string]bool{}
	var ids []uint
	for _, x := range ss {
		if x.UserID != 0 {
			ids = append(ids, x.UserID)
		}
	}
	stamps, err := s.dir.CredentialStamps(ctx, ids...)
	if err != nil {
		return nil, err
	}
	for _, x := range ss {
		if x.UserID == 0 {
			ok, err := s.adopt(ctx, x)
			if err != nil {
				return nil, err
			}
			if !ok {
				out[x.ID] = true
			}
			continue
		}
		st, ok := stamps[x.UserID]
		if !ok || !st.MaySignIn || st.Credentials != x.CredVersion || (x.Method == MethodPIN && st.PIN != x.PINVersion) {
			out[x.ID] = true
		}
	}
	return out, nil
}

// adopt binds a session made before sessions recorded their account to the
// account that holds its UPN now, unless that account was created after the
// session (a re-created UPN): then, like a deleted account, it is not live.
func (s *Service) adopt(ctx context.Context, x Session) (bool, error) {
	u, err := s.dir.User(ctx, x.UPN)
	if fault.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if u.CreatedAt.After(x.CreatedAt) {
		return false, nil
	}
	return true, s.db.WithContext(ctx).Model(&Session{}).Where("id = ? AND user_id = 0", x.ID).
		Updates(map[string]any{"user_id": u.ID, "cred_version": u.CredentialVersion, "pin_version": u.PINVersion}).Error
}

// live returns those of ss that still hold, and signs out the rest.
func (s *Service) live(ctx context.Context, ss []Session) ([]Session, error) {
	if len(ss) == 0 {
		return ss, nil
	}
	gone, err := s.stale(ctx, ss...)
	if err != nil || len(gone) == 0 {
		return ss, err
	}
	out := make([]Session, 0, len(ss))
	ids := make([]string, 0, len(gone))
	for _, x := range ss {
		if gone[x.ID] {
			ids = append(ids, x.ID)
		} else {
			out = append(out, x)
		}
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return endSessions(tx, "id IN ?", ids) })
	return out, err
}

// PhoneProof is what a token request shows to sign in on a phone that holds
// someone else's live session: that the request comes from that phone. The
// web layer fills it (WithPhoneProof); without it such a sign-in is refused.
type PhoneProof struct {
	// Provisioned reports whether the request carries the provisioning
	// credentials of the phone with this MAC (12 lower-case hex digits).
	Provisioned func(mac string) bool
	// Token is the phone's own current access or refresh token (form field
	// phone_token).
	Token string
}

type proofKey struct{}

// WithPhoneProof attaches what the request proves about its phone to ctx,
// for the grants that sign in on a phone.
func WithPhoneProof(ctx context.Context, p PhoneProof) context.Context {
	return context.WithValue(ctx, proofKey{}, p)
}

// ReasonPhoneInUse is the refusal reason of a sign-in on a phone where
// someone else is signed in, without proof that the request is that phone's.
const ReasonPhoneInUse = "phone_in_use"

func phoneInUse() *OAuthError {
	return &OAuthError{Code: ErrAccessDenied, Reason: ReasonPhoneInUse, Status: 409,
		Description: "this phone already has a session for another user; sign out on the phone first (or send the phone's own current token as phone_token, or its provisioning credentials)"}
}

// mayReplace decides, before the sign-in's transaction, whether signing u
// in on phone mac may end the session on it: it returns that session's ID
// when it may ("" when there is none, or it is the same account's), or the
// phone_in_use refusal. Another account's session may be ended when it is
// no longer live, or when the request proves it comes from that phone.
func (s *Service) mayReplace(ctx context.Context, u tenant.User, mac string) (string, error) {
	var on Session
	if err := s.db.WithContext(ctx).Where("mac = ?", mac).Limit(1).Find(&on).Error; err != nil {
		return "", err
	}
	if on.ID == "" || isAccount(on, u) {
		return "", nil
	}
	gone, err := s.stale(ctx, on)
	if err != nil {
		return "", err
	}
	if gone[on.ID] {
		return on.ID, nil
	}
	ok, err := s.proves(ctx, on)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", phoneInUse()
	}
	return on.ID, nil
}

// checkReplace repeats mayReplace's decision inside the transaction: the
// session on the phone must be the one decided on, or the account's own.
func (s *Service) checkReplace(tx *gorm.DB, u tenant.User, mac, replace string) (*OAuthError, error) {
	var on Session
	if err := tx.Where("mac = ?", mac).Limit(1).Find(&on).Error; err != nil {
		return nil, err
	}
	if on.ID == "" || on.ID == replace || isAccount(on, u) {
		return nil, nil
	}
	return phoneInUse(), nil
}

// isAccount: x is a session of u's account (for a session from before
// accounts were recorded, of u's UPN).
func isAccount(x Session, u tenant.User) bool {
	if x.UserID == 0 {
		return x.UPNKey == strings.ToLower(u.UPN)
	}
	return x.UserID == u.ID
}

// proves reports whether the request (its PhoneProof in ctx) comes from the
// phone that holds session on: its provisioning credentials, or a current
// access or refresh token of that very session.
func (s *Service) proves(ctx context.Context, on Session) (bool, error) {
	p, _ := ctx.Value(proofKey{}).(PhoneProof)
	if p.Provisioned != nil && p.Provisioned(on.MAC) {
		return true, nil
	}
	if p.Token == "" {
		return false, nil
	}
	h, err := s.digest(ctx, "refresh", p.Token)
	if err != nil {
		return false, err
	}
	var rt refreshToken
	if err := s.db.WithContext(ctx).Where("hash = ?", h).Limit(1).Find(&rt).Error; err != nil {
		return false, err
	}
	if rt.Hash != "" {
		return rt.SessionID == on.ID && rt.UsedAt == nil && s.now().Before(rt.ExpiresAt), nil
	}
	c, _, err := s.VerifyAccessToken(ctx, p.Token)
	if err != nil {
		if _, ok := AsOAuth(err); ok {
			return false, nil
		}
		return false, err
	}
	return c.SID == on.ID, nil
}
