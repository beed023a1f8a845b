package signin

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
)

// The budgets of credential guessing (throttle.Budget). Passwords and TOTP
// codes are counted per UPN whichever way they arrive (password grant, BToE
// PC sign-in, web sign-in), PINs per extension; both share the budget of
// the client address ("signin").
//
// Per account: 5 failures free, then each try waits 1 s, doubling, to at most
// a minute (passwords) or 5 minutes (PINs, only 10,000 four-digit ones).
// Per account and address: 10 failures per 15 minutes. Per address, across
// accounts: 50 failures per 15 minutes, room for an office behind one NAT
// address.
var (
	DefaultPasswordBudget = throttle.Budget{
		Scope: "signin", Kind: "user", What: "passwords",
		Free: 5, Base: time.Second, Cap: time.Minute, Forget: time.Hour,
		PerAccountAddress: throttle.Rule{Max: 10, Window: 15 * time.Minute},
		PerAddress:        throttle.Rule{Max: 50, Window: 15 * time.Minute},
	}
	DefaultPINBudget = throttle.Budget{
		Scope: "signin", Kind: "extension", What: "PINs",
		Free: 5, Base: time.Second, Cap: 5 * time.Minute, Forget: 24 * time.Hour,
		PerAccountAddress: throttle.Rule{Max: 10, Window: 15 * time.Minute},
		PerAddress:        throttle.Rule{Max: 50, Window: 15 * time.Minute},
	}
)

// normalizeUPN is the one form of a typed UPN that is both counted and
// checked: trimmed of white space (a trailing space or a tab made a fresh
// budget once) and lower-cased, as the directory compares UPNs. A value no
// UPN can have (textfield.Valid: control characters, line breaks, invalid
// UTF-8) is refused before it costs anything.
func normalizeUPN(raw string) (string, bool) {
	upn := strings.ToLower(strings.TrimSpace(raw))
	if upn == "" || len(upn) > 256 || !textfield.Valid(upn) {
		return "", false
	}
	return upn, true
}

// normalizeExtension: trimmed, and digits only, as extensions are stored.
func normalizeExtension(raw string) (string, bool) {
	ext := strings.TrimSpace(raw)
	if ext == "" || len(ext) > 15 {
		return "", false
	}
	for _, r := range ext {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return ext, true
}

func useWebSignIn(u tenant.User, what string) error {
	return fault.Forbiddenf("%s uses multi-factor authentication: use web sign-in on the phone instead of the %s", u.UPN, what).WithCode("use_web_sign_in")
}

// checkPassword is the one password check of sign-in. The attempt is
// reserved from PasswordBudget before anything is looked up or hashed.
// With refuseMFA (password grant, BToE PC sign-in) an MFA user is refused
// before the password is looked at, so the answer is the same whether the
// password is right or wrong. An unknown UPN costs a hash like a known one
// (tenant.CheckPassword).
func (s *Service) checkPassword(ctx context.Context, upn, password, addr string, refuseMFA bool) (tenant.User, error) {
	att, err := s.limiter.Reserve(ctx, s.PasswordBudget, upn, addr)
	if err != nil {
		return tenant.User{}, err
	}
	if refuseMFA {
		u, err := s.dir.User(ctx, upn)
		switch {
		case err == nil && u.MFA:
			// Nothing was guessed: the answer does not depend on the password.
			if err := att.Release(ctx); err != nil {
				return tenant.User{}, err
			}
			return tenant.User{}, useWebSignIn(u, "password")
		case err != nil && fault.KindOf(err) != fault.NotFound:
			return tenant.User{}, joinRelease(ctx, att, err)
		}
	}
	u, err := s.dir.CheckPassword(ctx, upn, password)
	return u, s.settle(ctx, att, err)
}

// checkPIN is checkPassword for an extension and PIN (PINBudget). An MFA
// user is refused whatever the PIN: see docs/signin.md for why.
func (s *Service) checkPIN(ctx context.Context, ext, pin, addr string) (tenant.User, error) {
	att, err := s.limiter.Reserve(ctx, s.PINBudget, ext, addr)
	if err != nil {
		return tenant.User{}, err
	}
	u, err := s.dir.UserByExtension(ctx, ext)
	switch {
	case err == nil && u.MFA:
		if err := att.Release(ctx); err != nil {
			return tenant.User{}, err
		}
		return tenant.User{}, useWebSignIn(u, "PIN")
	case err != nil && fault.KindOf(err) != fault.NotFound:
		return tenant.User{}, joinRelease(ctx, att, err)
	}
	u, err = s.dir.CheckPIN(ctx, ext, pin)
	return u, s.settle(ctx, att, err)
}

// settle ends a reserved attempt by the check's outcome: a wrong credential
// stays counted, a right one is forgotten, anything else (the store failed)
// guessed nothing.
func (s *Service) settle(ctx context.Context, att *throttle.Attempt, err error) error {
	switch {
	case err == nil:
		return att.Succeeded(ctx)
	case fault.KindOf(err) == fault.Unauthorized:
		att.Failed()
		return err
	}
	return joinRelease(ctx, att, err)
}

func joinRelease(ctx context.Context, att *throttle.Attempt, err error) error {
	if rerr := att.Release(ctx); rerr != nil {
		return rerr
	}
	return err
}

// PCPasswords is the password check of BToE PC sign-in (btoe.Credentials):
// the same budgets as the password grant and web sign-in, keyed by the UPN
// and the request's client address (throttle.WithClient), whatever pairing
// the attempt comes through; MFA users are refused with use_web_sign_in
// whatever the password.
type PCPasswords struct{ s *Service }

// PCPasswords returns the BToE password check; serve hands it to btoe.New.
func (s *Service) PCPasswords() PCPasswords { return PCPasswords{s} }

// CheckPassword checks the PC user's password.
func (p PCPasswords) CheckPassword(ctx context.Context, upn, password string) (tenant.User, error) {
	key, ok := normalizeUPN(upn)
	if !ok {
		return tenant.User{}, fault.FieldInvalid("upn", "the user's sign-in address must be a UPN such as amosm@contoso.com")
	}
	return p.s.checkPassword(ctx, key, password, throttle.ClientOf(ctx), true)
}

// totpStep records the last TOTP time step each user signed in with, so a
// code is accepted once (RFC 6238 §5.2).
type totpStep struct {
	UserID uint  `gorm:"primaryKey;autoIncrement:false"`
	Step   int64 `gorm:"not null"`
}

func (totpStep) TableName() string { return "signin_totp_steps" }

const totpPeriod = 30

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// matchTOTP returns the time step whose code code is, among the step of at
// and one either side (clock drift).
func matchTOTP(code, secret string, at time.Time) (int64, bool) {
	if len(code) != 6 || secret == "" {
		return 0, false
	}
	now := at.Unix() / totpPeriod
	for _, step := range []int64{now, now - 1, now + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// spendTOTPStep records step as used by user, or reports false when that
// step or a later one was used already. One conditional write, so of two
// sign-ins racing with the same code only one wins.
func (s *Service) spendTOTPStep(ctx context.Context, userID uint, step int64) (bool, error) {
	rows, err := s.db.WithContext(ctx).Raw(`INSERT INTO signin_totp_steps (user_id, step) VALUES (?, ?)
ON CONFLICT (user_id) DO UPDATE SET step = excluded.step WHERE signin_totp_steps.step < excluded.step
RETURNING step`, userID, step).Rows()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	ok := rows.Next()
	return ok, rows.Err()
}
