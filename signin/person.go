package signin

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
)

// People sign in to their own page (/my) with the same checks as web
// sign-in on a phone: the password and, for MFA users, the authenticator
// code, counted against the same budgets (PasswordBudget), so the page is no
// cheaper way to guess a password. The session they get is kept in the store
// (only an HMAC of its token) and, like a phone session, lasts only while
// the account it signed in still exists with the same credential version.

// PersonSessionTTL is how long a /my session lasts at most.
const PersonSessionTTL = 12 * time.Hour

// personSession is a person signed in to /my.
type personSession struct {
	// Hash is the HMAC of the session's token; the token itself is only in
	// the person's cookie.
	Hash        string    `gorm:"primaryKey;size:64"`
	UserID      uint      `gorm:"not null;index"`
	UPN         string    `gorm:"size:256;not null"`
	CredVersion int64     `gorm:"not null"`
	CreatedAt   time.Time `gorm:"not null"`
	ExpiresAt   time.Time `gorm:"not null;index"`
}

func (personSession) TableName() string { return "signin_person_sessions" }

// Person is a person signed in to /my.
type Person struct {
	UPN       string
	UserID    uint
	SignedIn  time.Time
	ExpiresAt time.Time
}

// PersonStep is what follows a right password on /my: a session (Token), or
// the authenticator code of an MFA user, to be sent with Stamp.
type PersonStep struct {
	Token string
	// NeedTOTP: the user has MFA; PersonTOTP finishes the sign-in.
	NeedTOTP bool
	UPN      string
	// Stamp is the credential version the password was right for: the code
	// step is refused if it moved on in between.
	Stamp int64
}

func personKey(token string) string { return "person-session\x00" + token }

// PersonPassword checks a person's password for /my, from address addr.
func (s *Service) PersonPassword(ctx context.Context, upn, password, addr string) (PersonStep, error) {
	key, ok := normalizeUPN(upn)
	if !ok || password == "" {
		return PersonStep{}, fault.FieldInvalid("username", "Type your username as your email address, for example amosm@contoso.com, and your password.")
	}
	u, err := s.checkPassword(ctx, key, password, addr, false)
	if err != nil {
		if fault.KindOf(err) == fault.Unauthorized {
			return PersonStep{}, fault.New(fault.Unauthorized, "Your account or password is incorrect. Type them again.").WithCode("invalid_credentials")
		}
		return PersonStep{}, err
	}
	if u.MFA {
		if u.TOTPSecret == "" {
			return PersonStep{}, fault.Conflictf("Your account needs an authenticator app, and none is set up yet. Set it up the first time you sign in on a desk phone (the phone's web sign-in shows the QR code), then sign in here.").WithCode("mfa_not_enrolled")
		}
		return PersonStep{NeedTOTP: true, UPN: u.UPN, Stamp: u.CredentialVersion}, nil
	}
	tok, err := s.startPersonSession(ctx, u)
	return PersonStep{Token: tok, UPN: u.UPN}, err
}

// PersonTOTP finishes an MFA user's /my sign-in with their authenticator
// code. A code spends the account's password budget, and each code is
// accepted once, as in web sign-in.
func (s *Service) PersonTOTP(ctx context.Context, upn string, stamp int64, code, addr string) (string, error) {
	key, ok := normalizeUPN(upn)
	if !ok {
		return "", fault.Conflictf("Sign in with your password first.")
	}
	att, err := s.limiter.Reserve(ctx, s.PasswordBudget, key, addr)
	if err != nil {
		return "", err
	}
	u, err := s.dir.User(ctx, key)
	if err != nil || !u.MFA || u.TOTPSecret == "" || u.CredentialVersion != stamp {
		if err != nil && !fault.Is(err, fault.NotFound) {
			return "", joinRelease(ctx, att, err)
		}
		return "", joinRelease(ctx, att, fault.Conflictf("Your account changed since you typed your password: sign in again.").WithCode("credentials_changed"))
	}
	secret, err := s.dir.TOTPSecret(u)
	if err != nil {
		return "", joinRelease(ctx, att, fault.Forbiddenf("Your authenticator app cannot be checked: this server can no longer read your enrollment. Ask your admin to turn MFA off and on again for your account.").WithCode("mfa_unreadable"))
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	step, ok := matchTOTP(code, secret, s.now())
	wrong := fault.FieldInvalid("otp", "That code is wrong. Type the 6-digit code your authenticator app shows now.").WithCode("invalid_otp")
	if ok {
		fresh, err := s.spendTOTPStep(ctx, u.ID, step)
		if err != nil {
			return "", joinRelease(ctx, att, err)
		}
		if !fresh {
			ok = false
			wrong = fault.FieldInvalid("otp", "That code has already been used. Wait for your authenticator app to show a new code, then type the new one.").WithCode("otp_used")
		}
	}
	if !ok {
		att.Failed()
		return "", wrong
	}
	if err := att.Succeeded(ctx); err != nil {
		return "", err
	}
	return s.startPersonSession(ctx, u)
}

func (s *Service) startPersonSession(ctx context.Context, u tenant.User) (string, error) {
	tok := randomToken(32)
	h, err := s.digest(ctx, personKey(tok), "")
	if err != nil {
		return "", err
	}
	now := s.now()
	// Expired sessions of anyone go with each new one: the table stays small
	// without a sweeper.
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now).Delete(&personSession{}).Error; err != nil {
			return err
		}
		return tx.Create(&personSession{Hash: h, UserID: u.ID, UPN: u.UPN, CredVersion: u.CredentialVersion,
			CreatedAt: now, ExpiresAt: now.Add(PersonSessionTTL)}).Error
	})
	return tok, err
}

func errNoPerson() error {
	return fault.New(fault.Unauthorized, "Sign in to see your phones.").WithCode("not_signed_in")
}

// Person returns who holds the /my session token: Unauthorized when the
// token is unknown, expired or signed out, or when its account was deleted
// or its credentials changed since (the session then ends).
func (s *Service) Person(ctx context.Context, token string) (Person, error) {
	if token == "" {
		return Person{}, errNoPerson()
	}
	h, err := s.digest(ctx, personKey(token), "")
	if err != nil {
		return Person{}, err
	}
	var ps personSession
	if err := s.db.WithContext(ctx).Where("hash = ?", h).Limit(1).Find(&ps).Error; err != nil {
		return Person{}, err
	}
	if ps.Hash == "" || !ps.ExpiresAt.After(s.now()) {
		return Person{}, errNoPerson()
	}
	stamps, err := s.dir.CredentialStamps(ctx, ps.UserID)
	if err != nil {
		return Person{}, err
	}
	if st, ok := stamps[ps.UserID]; !ok || st.Credentials != ps.CredVersion {
		if err := s.db.WithContext(ctx).Where("hash = ?", h).Delete(&personSession{}).Error; err != nil {
			return Person{}, err
		}
		return Person{}, fault.New(fault.Unauthorized, "You were signed out because your account changed (its password, multi-factor setting or licenses). Sign in again.").WithCode(ReasonCredentialsChanged)
	}
	return Person{UPN: ps.UPN, UserID: ps.UserID, SignedIn: ps.CreatedAt, ExpiresAt: ps.ExpiresAt}, nil
}

// EndPerson signs a /my session out, on every instance at once.
func (s *Service) EndPerson(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	h, err := s.digest(ctx, personKey(token), "")
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Where("hash = ?", h).Delete(&personSession{}).Error
}

// ownSession returns upn's live session on phone mac. Another person's
// phone, or a phone nobody is signed in on, is the same NotFound, so the
// answer tells nothing about phones that are not theirs.
func (s *Service) ownSession(ctx context.Context, upn, mac string) (Session, error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return Session{}, err
	}
	mine, err := s.Sessions(ctx, upn)
	if err != nil {
		return Session{}, err
	}
	for _, x := range mine {
		if x.MAC == m {
			return x, nil
		}
	}
	return Session{}, fault.NotFoundf("you are not signed in on phone %s", m).WithCode("not_your_phone")
}

// PersonSignOutPhone signs upn out of their phone mac.
func (s *Service) PersonSignOutPhone(ctx context.Context, upn, mac string) error {
	sess, err := s.ownSession(ctx, upn, mac)
	if err != nil {
		return err
	}
	// By the session's ID: if the phone changed hands in between, the new
	// session is not theirs to end.
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return endSessions(tx, "id = ?", sess.ID) })
}

// PersonResetLockPIN clears the phone-lock PIN of upn's session on phone
// mac and unlocks it; the phone asks for a new PIN (phone_lock mustSetPin).
func (s *Service) PersonResetLockPIN(ctx context.Context, upn, mac string) error {
	sess, err := s.ownSession(ctx, upn, mac)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{
			"lock_pin_hash": "", "pin_retries": 0, "locked": false, "needs_unlock_code": false,
			"unlock_code_hash": "", "unlock_code_expires_at": nil}).Error
	})
}

// OwnsPhone reports whether upn has a live session on phone mac (NotFound
// otherwise), for the other areas /my acts through.
func (s *Service) OwnsPhone(ctx context.Context, upn, mac string) (Session, error) {
	return s.ownSession(ctx, upn, mac)
}
