package signin

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// LockStatus is what a signed-in phone needs to know about its phone lock.
type LockStatus struct {
	Enabled              bool   `json:"enabled"`
	PINSet               bool   `json:"pinSet"`
	MustSetPIN           bool   `json:"mustSetPin"`
	Locked               bool   `json:"locked"`
	NeedsUnlockCode      bool   `json:"needsUnlockCode"`
	MinPINLength         int    `json:"minPinLength"`
	MaxPINRetry          int    `json:"maxPinRetry"`
	RetriesLeft          int    `json:"retriesLeft"`
	Timeout              string `json:"timeout"`
	AllowCallsWhenLocked bool   `json:"allowCallsWhenLocked"`
	OnTooManyWrongPINs   string `json:"onTooManyWrongPins"`
}

// lockRules reads the phone-lock settings of a session's user, clamped to
// the ranges SPEC §3 allows.
func (s *Service) lockRules(ctx context.Context, sess Session) (LockStatus, error) {
	pol, err := s.effective(ctx, sess.UPN)
	if err != nil {
		return LockStatus{}, err
	}
	minLen := min(max(pol.MinPhonePinLength, 6), 15)
	retry := pol.KeyboardLockMaxPinRetry
	if retry < 1 {
		retry = 5
	}
	act := s.Lockouts[sess.ClientID]
	if act == "" {
		act = LockoutSignOut
	}
	st := LockStatus{
		Enabled: pol.EnablePhoneLock, PINSet: sess.LockPINHash != "", Locked: sess.Locked, NeedsUnlockCode: sess.NeedsUnlockCode,
		MinPINLength: minLen, MaxPINRetry: retry, RetriesLeft: retry - sess.PINRetries, Timeout: pol.PhoneLockTimeout,
		AllowCallsWhenLocked: pol.AllowCallsWhenLocked, OnTooManyWrongPINs: string(act),
	}
	st.MustSetPIN = st.Enabled && !st.PINSet
	return st, nil
}

// PhoneLock returns the phone-lock status of a signed-in phone.
func (s *Service) PhoneLock(ctx context.Context, sessionID string) (LockStatus, error) {
	sess, err := s.liveSession(ctx, s.db.WithContext(ctx), sessionID)
	if err != nil {
		return LockStatus{}, err
	}
	return s.lockRules(ctx, sess)
}

func (s *Service) liveSession(ctx context.Context, tx *gorm.DB, id string) (Session, error) {
	var sess Session
	if err := tx.Where("id = ?", id).Limit(1).Find(&sess).Error; err != nil {
		return Session{}, err
	}
	if sess.ID == "" {
		return Session{}, fault.New(fault.Unauthorized, "this phone has been signed out: sign in again").WithCode("signed_out")
	}
	return sess, nil
}

// ValidateLockPIN applies SPEC §3's rules to a new phone-lock PIN: 6 to 15
// digits, at least minLen, and not trivial.
func ValidateLockPIN(pin string, minLen int) error {
	minLen = min(max(minLen, 6), 15)
	for _, r := range pin {
		if r < '0' || r > '9' {
			return fault.FieldInvalid("pin", "the phone-lock PIN must be digits only")
		}
	}
	if len(pin) < minLen || len(pin) > 15 {
		return fault.FieldInvalid("pin", "the phone-lock PIN must be %d to 15 digits, not %d", minLen, len(pin))
	}
	if trivialPIN(pin) {
		return fault.FieldInvalid("pin", "that PIN is too easy to guess (one digit repeated, or digits in a straight run like 123456 or 987654): choose another").WithCode("trivial_pin")
	}
	return nil
}

// trivialPIN reports a PIN of one repeated digit, a straight run up or down
// (wrapping 9→0 counts), or one short block repeated (121212, 123123).
func trivialPIN(pin string) bool {
	up, down := true, true
	for i := 1; i < len(pin); i++ {
		d := (int(pin[i]) - int(pin[i-1]) + 10) % 10
		up = up && d == 1
		down = down && d == 9
	}
	if up || down {
		return true
	}
	for block := 1; block <= len(pin)/2; block++ {
		if len(pin)%block == 0 && strings.Repeat(pin[:block], len(pin)/block) == pin {
			return true
		}
	}
	return false
}

// SetLockPIN sets the phone-lock PIN of a signed-in phone. A PIN already set
// can only be replaced while the phone is unlocked.
func (s *Service) SetLockPIN(ctx context.Context, sessionID, pin string) error {
	sess, err := s.liveSession(ctx, s.db.WithContext(ctx), sessionID)
	if err != nil {
		return err
	}
	st, err := s.lockRules(ctx, sess)
	if err != nil {
		return err
	}
	if !st.Enabled {
		return fault.Conflictf("phone lock is turned off by the IP phone policy that applies to %s", sess.UPN).WithCode("phone_lock_disabled")
	}
	if st.Locked || st.NeedsUnlockCode {
		return fault.Conflictf("the phone is locked: unlock it before changing the PIN").WithCode("locked")
	}
	if err := ValidateLockPIN(pin, st.MinPINLength); err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pin), s.HashCost)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).
		Updates(map[string]any{"lock_pin_hash": string(h), "pin_retries": 0}).Error
}

// Lock records that the phone locked itself (idle timeout, the user, or the paired PC).
func (s *Service) Lock(ctx context.Context, sessionID string) error {
	sess, err := s.liveSession(ctx, s.db.WithContext(ctx), sessionID)
	if err != nil {
		return err
	}
	if sess.LockPINHash == "" {
		return fault.Conflictf("set a phone-lock PIN before locking the phone").WithCode("no_pin")
	}
	return s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).Update("locked", true).Error
}

// UnlockResult says how an unlock attempt ended.
type UnlockResult struct {
	Unlocked    bool `json:"unlocked"`
	RetriesLeft int  `json:"retriesLeft"`
	// SignedOut: too many wrong PINs signed the user out of this phone.
	SignedOut bool `json:"signedOut"`
	// NeedsUnlockCode: too many wrong PINs; only an admin unlock code opens it now.
	NeedsUnlockCode bool `json:"needsUnlockCode"`
}

// Unlock checks the phone-lock PIN. After KeyboardLockMaxPinRetry wrong
// PINs the phone is signed out or needs an admin unlock code, per family.
func (s *Service) Unlock(ctx context.Context, sessionID, pin string) (UnlockResult, error) {
	// The policy is read before the write transaction: the policy service
	// reads on its own connection.
	first, err := s.liveSession(ctx, s.db.WithContext(ctx), sessionID)
	if err != nil {
		return UnlockResult{}, err
	}
	st, err := s.lockRules(ctx, first)
	if err != nil {
		return UnlockResult{}, err
	}
	var res UnlockResult
	var refusal error
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sess, err := s.liveSession(ctx, store.ForUpdate(tx), sessionID)
		if err != nil {
			return err
		}
		if sess.NeedsUnlockCode {
			refusal = fault.Forbiddenf("too many wrong PINs: this phone needs an unlock code from your admin").WithCode("needs_unlock_code")
			res.NeedsUnlockCode = true
			return nil
		}
		if sess.LockPINHash == "" {
			refusal = fault.Conflictf("no phone-lock PIN is set on this phone: set one first").WithCode("no_pin")
			return nil
		}
		if bcrypt.CompareHashAndPassword([]byte(sess.LockPINHash), []byte(pin)) == nil {
			res = UnlockResult{Unlocked: true, RetriesLeft: st.MaxPINRetry}
			return tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{"locked": false, "pin_retries": 0}).Error
		}
		retries := sess.PINRetries + 1
		res.RetriesLeft = st.MaxPINRetry - retries
		if res.RetriesLeft > 0 {
			refusal = fault.New(fault.Unauthorized, "wrong PIN: %d tries left", res.RetriesLeft).WithCode("wrong_pin")
			return tx.Model(&Session{}).Where("id = ?", sess.ID).Update("pin_retries", retries).Error
		}
		res.RetriesLeft = 0
		if Lockout(st.OnTooManyWrongPINs) == LockoutAdminCode {
			res.NeedsUnlockCode = true
			refusal = fault.Forbiddenf("wrong PIN %d times: this phone now needs an unlock code from your admin", retries).WithCode("needs_unlock_code")
			return tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{"pin_retries": retries, "locked": true, "needs_unlock_code": true}).Error
		}
		res.SignedOut = true
		refusal = fault.Forbiddenf("wrong PIN %d times: %s has been signed out of this phone; sign in again", retries, sess.UPN).WithCode("signed_out")
		return endSessions(tx, "id = ?", sess.ID)
	})
	if err != nil {
		return UnlockResult{}, err
	}
	return res, refusal
}

func unlockCodeKey(sessionID string) string { return "unlock:" + sessionID }

// UnlockWithCode opens a phone with an admin's one-time unlock code.
func (s *Service) UnlockWithCode(ctx context.Context, sessionID, code string) error {
	code = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(code), "-", ""), " ", "")
	h, err := s.digest(ctx, unlockCodeKey(sessionID), code)
	if err != nil {
		return err
	}
	var refusal error
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sess, err := s.liveSession(ctx, store.ForUpdate(tx), sessionID)
		if err != nil {
			return err
		}
		if sess.UnlockCodeHash == "" || sess.UnlockCodeExpiresAt == nil || !s.now().Before(*sess.UnlockCodeExpiresAt) {
			refusal = fault.Forbiddenf("no unlock code is valid for this phone: ask your admin for a new one").WithCode("no_unlock_code")
			return nil
		}
		if sess.UnlockCodeHash != h {
			// Each wrong code costs a retry, so the 10-digit code cannot be walked.
			refusal = fault.New(fault.Unauthorized, "wrong unlock code: type the 10 digits your admin gave you").WithCode("wrong_unlock_code")
			if sess.PINRetries+1 >= maxUnlockCodeTries {
				return tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{"unlock_code_hash": "", "unlock_code_expires_at": nil, "pin_retries": 0}).Error
			}
			return tx.Model(&Session{}).Where("id = ?", sess.ID).Update("pin_retries", sess.PINRetries+1).Error
		}
		return tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{
			"locked": false, "needs_unlock_code": false, "pin_retries": 0, "unlock_code_hash": "", "unlock_code_expires_at": nil}).Error
	})
	if err != nil {
		return err
	}
	return refusal
}

// maxUnlockCodeTries wrong unlock codes void the code; the admin issues another.
const maxUnlockCodeTries = 10

func (s *Service) sessionOnPhone(tx *gorm.DB, mac string) (Session, error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return Session{}, err
	}
	var sess Session
	if err := tx.Where("mac = ?", m).Limit(1).Find(&sess).Error; err != nil {
		return Session{}, err
	}
	if sess.ID == "" {
		return Session{}, fault.NotFoundf("nobody is signed in on phone %s", m)
	}
	return sess, nil
}

// ResetLockPIN (admin) clears a phone's lock PIN and unlocks it; the user
// must set a new PIN.
func (s *Service) ResetLockPIN(ctx context.Context, mac string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sess, err := s.sessionOnPhone(store.ForUpdate(tx), mac)
		if err != nil {
			return err
		}
		if err := tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{
			"lock_pin_hash": "", "pin_retries": 0, "locked": false, "needs_unlock_code": false,
			"unlock_code_hash": "", "unlock_code_expires_at": nil}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Kind: audit.KindPhone, ObjectID: sess.MAC, Action: "resetpin",
			Before: map[string]any{"upn": sess.UPN, "locked": sess.Locked}})
	})
}

// IssueUnlockCode (admin) makes a one-time 10-digit code that unlocks phone
// mac once, valid for UnlockCodeTTL. Issuing a new one voids the previous.
func (s *Service) IssueUnlockCode(ctx context.Context, mac string) (string, time.Time, error) {
	if err := s.ready(ctx); err != nil {
		return "", time.Time{}, err
	}
	var code string
	var exp time.Time
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sess, err := s.sessionOnPhone(store.ForUpdate(tx), mac)
		if err != nil {
			return err
		}
		n, err := rand.Int(rand.Reader, big.NewInt(10_000_000_000))
		if err != nil {
			return err
		}
		code = fmt.Sprintf("%010d", n.Int64())
		h, err := s.digest(ctx, unlockCodeKey(sess.ID), code)
		if err != nil {
			return err
		}
		exp = s.now().Add(s.UnlockCodeTTL)
		if err := tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{
			"unlock_code_hash": h, "unlock_code_expires_at": exp, "pin_retries": 0}).Error; err != nil {
			return err
		}
		// The code itself is never in the log.
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Kind: audit.KindPhone, ObjectID: sess.MAC, Action: "unlockcode",
			After: map[string]any{"upn": sess.UPN, "expiresAt": exp}})
	})
	return code, exp, err
}
