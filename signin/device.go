package signin

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
)

// UserCodeAlphabet is RFC 8628 §6.1's: no vowels (no words), no look-alikes.
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// Device code states.
const (
	statePending  = "pending"
	stateApproved = "approved"
	stateDenied   = "denied"
	stateUsed     = "used"
)

// deviceCode is one web sign-in in progress. Both codes are stored only as
// HMACs.
type deviceCode struct {
	ID             string    `gorm:"primaryKey;size:32"`
	DeviceCodeHash string    `gorm:"size:64;uniqueIndex;not null"`
	UserCodeHash   string    `gorm:"size:64;uniqueIndex;not null"`
	ClientID       string    `gorm:"size:20;not null"`
	MAC            string    `gorm:"size:12;not null"`
	Scope          string    `gorm:"size:200"`
	State          string    `gorm:"size:10;not null"`
	ExpiresAt      time.Time `gorm:"not null;index"`
	Interval       int       `gorm:"not null"`
	LastPollAt     *time.Time
	// UPN is the user who approved (or was refused).
	UPN string `gorm:"size:256"`
	// PasswordUPN is set once a user's password was right, while a TOTP code
	// is still to come.
	PasswordUPN string `gorm:"size:256"`
	// PendingTOTP is an authenticator secret being enrolled in this sign-in,
	// sealed ("v1:…") with Service.Secrets and bound to this row's ID.
	PendingTOTP string `gorm:"size:100"`
	// EnrollCodeOK is set once the user gave the admin-issued enrolment
	// code, when the organisation requires one for a first MFA enrolment.
	EnrollCodeOK bool   `gorm:"not null;default:false"`
	Failures     int    `gorm:"not null"`
	DenyCode     string `gorm:"size:40"`
	DenyMessage  string `gorm:"size:500"`
	CreatedAt    time.Time

	// UserID and CredVersion are the approving account's when it approved:
	// a password or MFA change before the phone's poll voids the approval.
	UserID      uint  `gorm:"not null;default:0"`
	CredVersion int64 `gorm:"not null;default:0"`
}

func (deviceCode) TableName() string { return "signin_device_codes" }

// DeviceAuthorization is the answer of the device authorization endpoint.
type DeviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// AllowDeviceAuthorization counts one device authorization request from the
// client address addr and refuses it beyond DeviceCodeRule (DeviceCodeLimit
// per DeviceCodeWindow) with temporarily_unavailable and a Retry-After.
func (s *Service) AllowDeviceAuthorization(ctx context.Context, addr string) error {
	over, wait, err := s.limiter.Strike(ctx, "signin:devicecode:"+addr, s.DeviceCodeRule)
	if err != nil {
		return err
	}
	if !over {
		return nil
	}
	e := oauthErr(ErrTemporarilyUnavailable, "too many sign-in codes were requested from your network address (at most %d every %s): wait %s and try again",
		s.DeviceCodeRule.Max, s.DeviceCodeRule.Window, wait.Round(time.Second))
	e.RetryAfter = int(wait/time.Second) + 1
	return e
}

// StartDeviceAuthorization begins a web sign-in for the phone mac of family clientID.
func (s *Service) StartDeviceAuthorization(ctx context.Context, clientID, mac, scope string) (DeviceAuthorization, error) {
	if _, err := CheckClient(clientID); err != nil {
		return DeviceAuthorization{}, err
	}
	m, err := s.phoneMAC(mac)
	if err != nil {
		return DeviceAuthorization{}, err
	}
	deviceCodeValue := randomToken(32)
	dh, err := s.digest(ctx, "device", deviceCodeValue)
	if err != nil {
		return DeviceAuthorization{}, err
	}
	now := s.now()
	for attempt := 0; attempt < 5; attempt++ {
		uc := newUserCode()
		uh, err := s.digest(ctx, "user", uc)
		if err != nil {
			return DeviceAuthorization{}, err
		}
		row := deviceCode{ID: randomID(), DeviceCodeHash: dh, UserCodeHash: uh, ClientID: clientID, MAC: m,
			Scope: scope, State: statePending, ExpiresAt: now.Add(s.DeviceCodeTTL), Interval: s.Interval, CreatedAt: now}
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			// A user code may be reused once its sign-in is long over.
			if err := tx.Where("expires_at < ?", now.Add(-time.Hour)).Delete(&deviceCode{}).Error; err != nil {
				return err
			}
			return tx.Create(&row).Error
		})
		if store.IsUniqueViolation(err) {
			continue
		}
		if err != nil {
			return DeviceAuthorization{}, err
		}
		shown := FormatUserCode(uc)
		return DeviceAuthorization{
			DeviceCode:              deviceCodeValue,
			UserCode:                shown,
			VerificationURI:         s.Issuer + "/devicelogin",
			VerificationURIComplete: s.Issuer + "/devicelogin?user_code=" + url.QueryEscape(shown),
			ExpiresIn:               int(s.DeviceCodeTTL / time.Second),
			Interval:                s.Interval,
		}, nil
	}
	return DeviceAuthorization{}, fmt.Errorf("could not draw a free user code in 5 attempts")
}

func newUserCode() string {
	b := make([]byte, 8)
	n := big.NewInt(int64(len(UserCodeAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		b[i] = UserCodeAlphabet[v.Int64()]
	}
	return string(b)
}

// FormatUserCode shows a canonical user code as XXXX-XXXX.
func FormatUserCode(uc string) string { return uc[:4] + "-" + uc[4:] }

// NormalizeUserCode drops dashes and spaces and upper-cases a typed user code,
// and reports whether the result can be one.
func NormalizeUserCode(typed string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		if r == '-' || r == ' ' {
			continue
		}
		if !strings.ContainsRune(UserCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == 8
}

// PendingCode is a web sign-in found by its user code, as the browser sees it.
type PendingCode struct {
	ID           string
	ClientID     string
	Manufacturer string
	ExpiresAt    time.Time
}

func codeGuessKey(addr string) string { return "signin:usercode:addr:" + addr }

func codeGuessPersonKey(username, addr string) string {
	return "signin:usercode:user:" + strings.ToLower(strings.TrimSpace(username)) + ":" + addr
}

// LookupUserCode finds the pending sign-in of a user code typed in a
// browser at client address addr by the person who gave username on the
// first page ("" when unknown). Wrong codes count against the address
// (CodeGuessRule) and against the person at that address
// (CodeGuessPersonRule), so one person or script typing wrong codes is
// stopped long before the office behind the same NAT address is.
func (s *Service) LookupUserCode(ctx context.Context, typed, username, addr string) (PendingCode, error) {
	if blocked, wait, err := s.limiter.Blocked(ctx, codeGuessKey(addr), s.CodeGuessRule); err != nil {
		return PendingCode{}, err
	} else if blocked {
		return PendingCode{}, tooMany("Too many wrong codes were tried from your network. Wait %s and try again.", wait)
	}
	if username != "" {
		if blocked, wait, err := s.limiter.Blocked(ctx, codeGuessPersonKey(username, addr), s.CodeGuessPersonRule); err != nil {
			return PendingCode{}, err
		} else if blocked {
			return PendingCode{}, tooMany("You have typed too many wrong codes. Wait %s, then type the code the phone shows now.", wait)
		}
	}
	uc, ok := NormalizeUserCode(typed)
	if !ok {
		return PendingCode{}, s.wrongCode(ctx, username, addr, fault.FieldInvalid("user_code", "That is not a code from a phone: codes have 8 letters, like BCDF-GHJK.").WithCode("malformed_code"))
	}
	uh, err := s.digest(ctx, "user", uc)
	if err != nil {
		return PendingCode{}, err
	}
	var dc deviceCode
	if err := s.db.WithContext(ctx).Where("user_code_hash = ?", uh).Limit(1).Find(&dc).Error; err != nil {
		return PendingCode{}, err
	}
	if dc.ID == "" {
		return PendingCode{}, s.wrongCode(ctx, username, addr, fault.FieldInvalid("user_code", "That code is wrong. Check the code on the phone's screen and type it again.").WithCode("wrong_code"))
	}
	if err := s.checkBrowsable(dc); err != nil {
		return PendingCode{}, err
	}
	return PendingCode{ID: dc.ID, ClientID: dc.ClientID, Manufacturer: Clients[dc.ClientID], ExpiresAt: dc.ExpiresAt}, nil
}

func (s *Service) wrongCode(ctx context.Context, username, addr string, e error) error {
	over, wait, err := s.limiter.Strike(ctx, codeGuessKey(addr), s.CodeGuessRule)
	if err != nil {
		return err
	}
	if username != "" {
		pover, pwait, err := s.limiter.Strike(ctx, codeGuessPersonKey(username, addr), s.CodeGuessPersonRule)
		if err != nil {
			return err
		}
		if pover && !over {
			return tooMany("You have typed too many wrong codes. Wait %s, then type the code the phone shows now.", pwait)
		}
	}
	if over {
		return tooMany("Too many wrong codes were tried from your network. Wait %s and try again.", wait)
	}
	return e
}

func tooMany(format string, wait time.Duration) error {
	e := fault.New(fault.RateLimited, format, wait.Round(time.Second))
	e.RetryAfter = int(wait/time.Second) + 1
	return e
}

// checkBrowsable says why a device code can no longer be completed in a browser.
func (s *Service) checkBrowsable(dc deviceCode) error {
	switch {
	case dc.State == stateApproved || dc.State == stateUsed:
		return fault.Conflictf("This code has already been used to sign in. If the phone is not signed in, press Retry on the phone for a new code.").WithCode("code_used")
	case dc.Failures >= s.MaxCodeFailures:
		return fault.Forbiddenf("%s", tooManyAttempts).WithCode("too_many_attempts")
	case dc.State == stateDenied:
		return fault.Forbiddenf("%s", dc.DenyMessage).WithCode(dc.DenyCode)
	case !s.now().Before(dc.ExpiresAt):
		return fault.New(fault.Invalid, "This code has expired: codes last 15 minutes. Press Retry on the phone for a new code.").WithCode("code_expired")
	}
	return nil
}

// Pending returns a pending sign-in by its ID (from the browser's session),
// with the reason it can no longer be completed, if any.
func (s *Service) Pending(ctx context.Context, id string) (PendingCode, error) {
	dc, err := s.browsable(ctx, id)
	if err != nil {
		return PendingCode{}, err
	}
	return PendingCode{ID: dc.ID, ClientID: dc.ClientID, Manufacturer: Clients[dc.ClientID], ExpiresAt: dc.ExpiresAt}, nil
}

// browsable reads pending sign-in id and checks that it can still be
// completed in a browser (checkBrowsable).
func (s *Service) browsable(ctx context.Context, id string) (deviceCode, error) {
	dc, err := s.deviceCodeByID(s.db.WithContext(ctx), id)
	if err != nil {
		return deviceCode{}, err
	}
	return dc, s.checkBrowsable(dc)
}

func (s *Service) deviceCodeByID(tx *gorm.DB, id string) (deviceCode, error) {
	var dc deviceCode
	if err := tx.Where("id = ?", id).Limit(1).Find(&dc).Error; err != nil {
		return deviceCode{}, err
	}
	if dc.ID == "" {
		return deviceCode{}, fault.NotFoundf("This sign-in is no longer known. Press Retry on the phone for a new code and start again.").WithCode("code_unknown")
	}
	return dc, nil
}

// Decline ends a pending sign-in that the person in the browser did not
// start: on the confirm page they said the phone is not theirs. The phone's
// next poll gets access_denied (reason user_declined), which is RFC 8628
// §5.4's defence against a code someone else sent them.
func (s *Service) Decline(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		dc, err := s.deviceCodeByID(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		if err := s.checkBrowsable(dc); err != nil {
			return err
		}
		return tx.Model(&deviceCode{}).Where("id = ?", id).Updates(map[string]any{
			"state": stateDenied, "deny_code": "user_declined", "deny_message": declinedMessage}).Error
	})
}

// RefuseBeforePassword ends pending sign-in id at the confirm step when
// its phone can never sign username in on the web, so that the person is
// told before they type a password: Lync Phone Edition signs online users
// in only through the paired PC. It returns nil when nothing is known
// against the sign-in (an unknown username is left to the password step,
// which does not say whether a user exists). A refusal is recorded for the
// phone's next poll, as the password step records one.
func (s *Service) RefuseBeforePassword(ctx context.Context, id, username string) error {
	dc, err := s.browsable(ctx, id)
	if err != nil {
		return err
	}
	if dc.ClientID != "lpe" || username == "" {
		return nil
	}
	u, err := s.dir.User(ctx, username)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil
		}
		return err
	}
	refusal := methodForClient(u, MethodWeb, dc.ClientID)
	if refusal == nil {
		return nil
	}
	fe, ok := fault.As(refusal)
	if !ok {
		return refusal
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		dc, err := s.deviceCodeByID(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		if err := s.checkBrowsable(dc); err != nil {
			return err
		}
		return tx.Model(&deviceCode{}).Where("id = ?", id).Updates(map[string]any{
			"state": stateDenied, "deny_code": fe.Code, "deny_message": fe.Message}).Error
	})
	if err != nil {
		return err
	}
	return refusal
}

const declinedMessage = "The sign-in was cancelled in the browser because the phone was not recognised. Press Retry on the phone to start again."

// Next tells the browser what a sign-in step leads to.
type Next struct {
	// Done: the phone is signed in (it finds out at its next poll).
	Done bool
	// TOTP: the user must type the code from their authenticator app.
	TOTP bool
	// Enroll: the user must first add deskprov to an authenticator app by
	// scanning EnrollURL (an otpauth:// URL), then type a code from it.
	Enroll    bool
	EnrollURL string
	Secret    string
	// EnrollCode: before enrolling, the user must type the enrolment code
	// their admin issued (the organisation requires one).
	EnrollCode bool
}

// EnrollmentGate is what web sign-in asks of the organisation about a
// user's first MFA enrolment. *tenant.Service satisfies it; a Directory
// without it never requires a code.
type EnrollmentGate interface {
	MFAEnrollmentCodeRequired(ctx context.Context) (bool, error)
	RedeemMFAEnrollmentCode(ctx context.Context, upn, code string) error
}

// enrollCodeRequired reports whether a first enrolment in sign-in dc still
// needs the admin-issued code.
func (s *Service) enrollCodeRequired(ctx context.Context, dc deviceCode) (bool, error) {
	g, ok := s.dir.(EnrollmentGate)
	if !ok || dc.EnrollCodeOK {
		return false, nil
	}
	return g.MFAEnrollmentCodeRequired(ctx)
}

// Authenticate checks the password of upn for the pending sign-in id, typed
// in a browser at address addr, and approves it or asks for a TOTP code.
// Wrong passwords count against the same budgets as the password grant's.
func (s *Service) Authenticate(ctx context.Context, id, upn, password, addr string) (Next, error) {
	if _, err := s.Pending(ctx, id); err != nil {
		return Next{}, err
	}
	key, ok := normalizeUPN(upn)
	if !ok {
		return Next{}, fault.FieldInvalid("username", "Type your username as your email address, for example amosm@contoso.com.")
	}
	u, err := s.checkPassword(ctx, key, password, addr, false)
	if err != nil {
		if fault.KindOf(err) == fault.Unauthorized {
			if ferr := s.countFailure(ctx, id); ferr != nil {
				return Next{}, ferr
			}
			return Next{}, fault.New(fault.Unauthorized, "Your account or password is incorrect. Type them again.").WithCode("invalid_credentials")
		}
		return Next{}, err
	}
	if !u.MFA {
		return Next{Done: true}, s.approve(ctx, id, u)
	}
	return s.startSecondFactor(ctx, id, u)
}

// startSecondFactor records that u's password was right in sign-in id and
// says what comes next: their TOTP code, the admin's enrolment code, or
// setting up an authenticator app.
func (s *Service) startSecondFactor(ctx context.Context, id string, u tenant.User) (Next, error) {
	needCode := false
	if u.TOTPSecret == "" {
		dc, err := s.deviceCodeByID(s.db.WithContext(ctx), id)
		if err != nil {
			return Next{}, err
		}
		if needCode, err = s.enrollCodeRequired(ctx, dc); err != nil {
			return Next{}, err
		}
	}
	var next Next
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		dc, err := s.deviceCodeByID(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		dc.PasswordUPN = u.UPN
		if u.TOTPSecret != "" {
			next = Next{TOTP: true}
		} else if needCode {
			next = Next{EnrollCode: true}
		} else {
			// A pending secret that does not open (the server's key changed
			// during this sign-in) is replaced: nothing was enrolled yet.
			secret, err := s.Secrets.Open(dc.PendingTOTP, pendingBinding(dc.ID))
			if err != nil || secret == "" {
				key, err := totp.Generate(totp.GenerateOpts{Issuer: "deskprov", AccountName: u.UPN})
				if err != nil {
					return err
				}
				secret = key.Secret()
			}
			if dc.PendingTOTP, err = s.Secrets.Seal(secret, pendingBinding(dc.ID)); err != nil {
				return fmt.Errorf("seal the authenticator secret being enrolled: %w", err)
			}
			next = Next{Enroll: true, Secret: secret, EnrollURL: otpauthURL(u.UPN, secret)}
		}
		return tx.Model(&deviceCode{}).Where("id = ?", id).Updates(map[string]any{"password_upn": dc.PasswordUPN, "pending_totp": dc.PendingTOTP}).Error
	})
	return next, err
}

func otpauthURL(upn, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", "deskprov")
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	return "otpauth://totp/" + url.PathEscape("deskprov:"+upn) + "?" + v.Encode()
}

// EnrollmentURL returns the otpauth:// URL being enrolled in a pending sign-in.
func (s *Service) EnrollmentURL(ctx context.Context, id string) (string, string, error) {
	dc, err := s.deviceCodeByID(s.db.WithContext(ctx), id)
	if err != nil {
		return "", "", err
	}
	if dc.PendingTOTP == "" || dc.PasswordUPN == "" {
		return "", "", fault.Conflictf("No authenticator app is being set up in this sign-in: sign in with your password first.")
	}
	secret, err := s.Secrets.Open(dc.PendingTOTP, pendingBinding(dc.ID))
	if err != nil {
		slog.Error("open the authenticator secret being enrolled", "err", err)
		return "", "", fault.Conflictf("The authenticator app set-up of this sign-in can no longer be read. Sign in with your password again for a new QR code.")
	}
	return otpauthURL(dc.PasswordUPN, secret), secret, nil
}

// pendingBinding ties a sealed pending_totp to its device code row.
func pendingBinding(id string) string { return "signin_device_codes.pending_totp:" + id }

// SealClearSecrets seals pending_totp values and signing keys stored in
// clear by versions before they were sealed, and returns how many it sealed. serve runs it at
// every start.
func (s *Service) SealClearSecrets(ctx context.Context) (int, error) {
	var rows []deviceCode
	if err := s.db.WithContext(ctx).Select("id", "pending_totp").
		Where("pending_totp <> '' AND pending_totp NOT LIKE ?", sealbox.Prefix+"%").Find(&rows).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, dc := range rows {
		sealed, err := s.Secrets.Seal(dc.PendingTOTP, pendingBinding(dc.ID))
		if err != nil {
			return n, fmt.Errorf("seal the authenticator secret being enrolled: %w", err)
		}
		res := s.db.WithContext(ctx).Model(&deviceCode{}).Where("id = ? AND pending_totp = ?", dc.ID, dc.PendingTOTP).Update("pending_totp", sealed)
		if res.Error != nil {
			return n, res.Error
		}
		n += int(res.RowsAffected)
	}
	// Signing keys made before keys were sealed.
	var keys []signingKey
	if err := s.db.WithContext(ctx).Where("private_pem NOT LIKE ?", sealbox.Prefix+"%").Find(&keys).Error; err != nil {
		return n, err
	}
	for _, k := range keys {
		sealed, err := s.Secrets.Seal(k.PrivatePEM, keyBinding(k.KID))
		if err != nil {
			return n, fmt.Errorf("seal signing key %s: %w", k.KID, err)
		}
		res := s.db.WithContext(ctx).Model(&signingKey{}).Where("k_id = ? AND private_pem = ?", k.KID, k.PrivatePEM).Update("private_pem", sealed)
		if res.Error != nil {
			return n, res.Error
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// VerifyTOTP checks the authenticator code for a pending sign-in whose
// password was already right, enrolling the app on its first code.
func (s *Service) VerifyTOTP(ctx context.Context, id, code, addr string) error {
	dc, err := s.browsable(ctx, id)
	if err != nil {
		return err
	}
	if dc.PasswordUPN == "" {
		return fault.Conflictf("Sign in with your password first.")
	}
	u, err := s.dir.User(ctx, dc.PasswordUPN)
	if err != nil {
		return err
	}
	secret, err := s.dir.TOTPSecret(u)
	if err != nil {
		slog.Error("open an enrolled authenticator secret", "upn", u.UPN, "err", err)
		return fault.Forbiddenf("Your authenticator app cannot be checked: this server can no longer read your enrollment (its secret key changed). Ask your admin to turn MFA off and on again for your account, then sign in again to set up your authenticator app.").WithCode("mfa_unreadable")
	}
	if u.TOTPSecret == "" {
		// A first enrolment that skipped the enrolment code step (a form
		// posted straight to the TOTP step) is refused.
		if need, err := s.enrollCodeRequired(ctx, dc); err != nil {
			return err
		} else if need {
			return fault.Conflictf("Type the enrolment code from your admin first.").WithCode("enrollment_code_required")
		}
		if secret, err = s.Secrets.Open(dc.PendingTOTP, pendingBinding(dc.ID)); err != nil {
			slog.Error("open the authenticator secret being enrolled", "err", err)
			return fault.Conflictf("The authenticator app set-up of this sign-in can no longer be read. Sign in with your password again for a new QR code.")
		}
	}
	// A code is a guess at the account like a password, so it spends the
	// account's password budget.
	key, _ := normalizeUPN(u.UPN)
	att, err := s.limiter.Reserve(ctx, s.PasswordBudget, key, addr)
	if err != nil {
		return err
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	step, ok := matchTOTP(code, secret, s.now())
	wrong := fault.FieldInvalid("otp", "That code is wrong. Type the 6-digit code your authenticator app shows now.").WithCode("invalid_otp")
	if ok {
		fresh, err := s.spendTOTPStep(ctx, u.ID, step)
		if err != nil {
			return joinRelease(ctx, att, err)
		}
		if !fresh {
			// A code seen before (RFC 6238 §5.2): someone may have watched it typed.
			ok = false
			wrong = fault.FieldInvalid("otp", "That code has already been used. Wait for your authenticator app to show a new code, then type the new one.").WithCode("otp_used")
		}
	}
	if !ok {
		att.Failed()
		if err := s.countFailure(ctx, id); err != nil {
			return err
		}
		return wrong
	}
	if err := att.Succeeded(ctx); err != nil {
		return err
	}
	if u.TOTPSecret == "" {
		if err := s.dir.SetTOTPSecret(ctx, u.UPN, secret); err != nil {
			return err
		}
	}
	return s.approve(ctx, id, u)
}

// VerifyEnrollmentCode checks the admin-issued enrolment code typed in
// sign-in id (whose password was right) and, when it is the user's, spends
// it and starts setting up the authenticator app. A wrong code counts
// against the sign-in like a wrong password, and against the code itself.
func (s *Service) VerifyEnrollmentCode(ctx context.Context, id, code, addr string) (Next, error) {
	dc, err := s.browsable(ctx, id)
	if err != nil {
		return Next{}, err
	}
	if dc.PasswordUPN == "" {
		return Next{}, fault.Conflictf("Sign in with your password first.")
	}
	g, ok := s.dir.(EnrollmentGate)
	if !ok {
		return Next{}, fault.Conflictf("No enrolment code is needed: sign in with your password again.")
	}
	// A code is a guess at the account like a password: it is reserved from
	// the account's password budget before it is checked.
	key, _ := normalizeUPN(dc.PasswordUPN)
	att, err := s.limiter.Reserve(ctx, s.PasswordBudget, key, addr)
	if err != nil {
		return Next{}, err
	}
	u, err := s.dir.User(ctx, dc.PasswordUPN)
	if err != nil {
		return Next{}, joinRelease(ctx, att, err)
	}
	if u.TOTPSecret != "" {
		return Next{}, joinRelease(ctx, att, fault.Conflictf("Your authenticator app is already set up: sign in with your password again."))
	}
	if err := g.RedeemMFAEnrollmentCode(ctx, u.UPN, code); err != nil {
		if fault.KindOf(err) != fault.Invalid {
			return Next{}, joinRelease(ctx, att, err)
		}
		att.Failed()
		if ferr := s.countFailure(ctx, id); ferr != nil {
			return Next{}, ferr
		}
		return Next{}, err
	}
	if err := att.Succeeded(ctx); err != nil {
		return Next{}, err
	}
	if err := s.db.WithContext(ctx).Model(&deviceCode{}).Where("id = ?", id).Update("enroll_code_ok", true).Error; err != nil {
		return Next{}, err
	}
	return s.startSecondFactor(ctx, id, u)
}

// countFailure counts a wrong password or TOTP code against a pending
// sign-in. At MaxCodeFailures the code is spent: the browser is told so, and
// the phone's next poll gets access_denied (reason too_many_attempts), so it
// can ask the user to press Retry instead of polling until the code expires.
func (s *Service) countFailure(ctx context.Context, id string) error {
	spent := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		dc, err := s.deviceCodeByID(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		upd := map[string]any{"failures": dc.Failures + 1}
		if dc.Failures+1 >= s.MaxCodeFailures {
			spent = true
			if dc.State == statePending {
				upd["state"] = stateDenied
				upd["deny_code"] = "too_many_attempts"
				upd["deny_message"] = tooManyAttempts
			}
		}
		return tx.Model(&deviceCode{}).Where("id = ?", id).Updates(upd).Error
	})
	if err != nil {
		return err
	}
	if spent {
		return fault.Forbiddenf("%s", tooManyAttempts).WithCode("too_many_attempts")
	}
	return nil
}

const tooManyAttempts = "Too many wrong attempts were made with this code. Press Retry on the phone for a new code."

// approve ends a browser sign-in: the user may sign in on this phone, or the
// sign-in is refused, the refusal recorded for the phone's next poll, and the
// same reason returned for the browser.
func (s *Service) approve(ctx context.Context, id string, u tenant.User) error {
	refusal := s.mayUseMethod(ctx, u, MethodWeb)
	var denied error
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		dc, err := s.deviceCodeByID(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		if err := s.checkBrowsable(dc); err != nil {
			return err
		}
		if refusal == nil {
			refusal = methodForClient(u, MethodWeb, dc.ClientID)
		}
		if refusal == nil {
			refusal = s.checkPhoneLimit(tx, u.UPN, dc.MAC)
		}
		if refusal != nil {
			fe, ok := fault.As(refusal)
			if !ok {
				return refusal
			}
			denied = refusal
			return tx.Model(&deviceCode{}).Where("id = ?", id).Updates(map[string]any{
				"state": stateDenied, "upn": u.UPN, "deny_code": fe.Code, "deny_message": fe.Message}).Error
		}
		return tx.Model(&deviceCode{}).Where("id = ?", id).Updates(map[string]any{"state": stateApproved, "upn": u.UPN,
			"user_id": u.ID, "cred_version": u.CredentialVersion}).Error
	})
	if err != nil {
		return err
	}
	return denied
}

// PollDeviceCode is the device_code grant (RFC 8628 §3.4–3.5).
func (s *Service) PollDeviceCode(ctx context.Context, clientID, code string) (Tokens, error) {
	if _, err := CheckClient(clientID); err != nil {
		return Tokens{}, err
	}
	if code == "" {
		return Tokens{}, oauthErr(ErrInvalidRequest, "device_code is required")
	}
	if err := s.ready(ctx); err != nil {
		return Tokens{}, err
	}
	dh, err := s.digest(ctx, "device", code)
	if err != nil {
		return Tokens{}, err
	}
	// The approving user is read from the directory before the write
	// transaction, on a first unlocked read of the code: the directory has
	// its own connection, and on SQLite a second connection inside the
	// transaction can wait for the busy timeout while other polls hold the
	// pool. A code's user never changes once approved.
	var pre deviceCode
	if err := s.db.WithContext(ctx).Where("device_code_hash = ?", dh).Limit(1).Find(&pre).Error; err != nil {
		return Tokens{}, err
	}
	var approver tenant.User
	var approverErr error
	var replace string
	if pre.State == stateApproved && pre.ClientID == clientID {
		approver, approverErr = s.dir.User(ctx, pre.UPN)
		if approverErr == nil && pre.UserID != 0 && (approver.ID != pre.UserID || approver.CredentialVersion != pre.CredVersion) {
			approverErr = fault.New(fault.Unauthorized, "the account's password or multi-factor setting changed after this sign-in was approved: sign in again").WithCode(ReasonCredentialsChanged)
		}
		if approverErr == nil {
			// Refused before the code is spent: once the phone is signed
			// out, its next poll signs in.
			if replace, err = s.mayReplace(ctx, approver, pre.MAC); err != nil {
				return Tokens{}, err
			}
		}
	}
	var out Tokens
	var oerr *OAuthError
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var dc deviceCode
		if err := store.ForUpdate(tx).Where("device_code_hash = ?", dh).Limit(1).Find(&dc).Error; err != nil {
			return err
		}
		now := s.now()
		switch {
		case dc.ID == "":
			oerr = oauthErr(ErrInvalidGrant, "unknown device_code: start the sign-in again")
			return nil
		case dc.ClientID != clientID:
			oerr = oauthErr(ErrInvalidGrant, "this device_code was issued to another client_id")
			return nil
		case dc.State == stateUsed:
			oerr = oauthErr(ErrInvalidGrant, "this device_code has already been used")
			return nil
		case !now.Before(dc.ExpiresAt):
			oerr = oauthErr(ErrExpiredToken, "the code expired after 15 minutes: ask the user to press Retry for a new code")
			return nil
		}
		if dc.LastPollAt != nil && now.Sub(*dc.LastPollAt) < time.Duration(dc.Interval)*time.Second {
			// RFC 8628 §3.5: slow_down adds 5 seconds to the interval for good.
			oerr = oauthErr(ErrSlowDown, "polling too fast: wait %d seconds between requests", dc.Interval+5)
			return tx.Model(&deviceCode{}).Where("id = ?", dc.ID).Updates(map[string]any{"interval": dc.Interval + 5, "last_poll_at": now}).Error
		}
		if err := tx.Model(&deviceCode{}).Where("id = ?", dc.ID).Update("last_poll_at", now).Error; err != nil {
			return err
		}
		switch dc.State {
		case statePending:
			oerr = oauthErr(ErrAuthorizationPending, "the user has not finished signing in yet")
			return nil
		case stateDenied:
			oerr = &OAuthError{Code: ErrAccessDenied, Description: dc.DenyMessage, Reason: dc.DenyCode}
			return nil
		}
		if pre.State != stateApproved || pre.UPN != dc.UPN {
			// Approved between the two reads: the next poll gets the tokens.
			oerr = oauthErr(ErrAuthorizationPending, "the user has just finished signing in: poll again after the interval")
			return nil
		}
		// Approved: the one poll that gets here spends the code.
		if err := tx.Model(&deviceCode{}).Where("id = ?", dc.ID).Update("state", stateUsed).Error; err != nil {
			return err
		}
		u, err := approver, approverErr
		if err != nil {
			// The user was deleted since approving: tell the phone why.
			oe, ierr := refusalOf(err)
			if ierr != nil {
				return ierr
			}
			oerr = oe
			return nil
		}
		t, refusal, err := s.signIn(ctx, tx, u, dc.ClientID, dc.MAC, MethodWeb, replace)
		if err != nil {
			return err
		}
		if refusal != nil {
			oerr = refusal
			return nil
		}
		out = t
		return nil
	})
	if err != nil {
		return Tokens{}, err
	}
	if oerr != nil {
		return Tokens{}, oerr
	}
	return s.finish(ctx, out)
}
