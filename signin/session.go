package signin

import (
	"context"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
)

// Method is how a user signed in on a phone.
type Method string

const (
	MethodWeb      Method = "web"
	MethodPassword Method = "password"
	MethodPIN      Method = "pin"
	MethodBToE     Method = "btoe"
)

// Session is one user signed in on one phone. A phone has at most one.
type Session struct {
	ID        string    `gorm:"primaryKey;size:32" json:"id"`
	MAC       string    `gorm:"size:12;uniqueIndex;not null" json:"mac"`
	UPN       string    `gorm:"size:256;not null" json:"upn"`
	UPNKey    string    `gorm:"size:256;index;not null" json:"-"`
	ClientID  string    `gorm:"size:20;not null" json:"clientId"`
	Method    Method    `gorm:"size:10;not null" json:"method"`
	Scope     string    `gorm:"size:200;not null" json:"scope"`
	CreatedAt time.Time `json:"signedInAt"`

	// The account signed in and the versions of its credentials then
	// (tenant.CredentialStamp): the session ends when they move on. UserID 0
	// marks a session from before they were recorded (see adopt).
	UserID      uint  `gorm:"not null;default:0;index" json:"-"`
	CredVersion int64 `gorm:"not null;default:0" json:"-"`
	PINVersion  int64 `gorm:"not null;default:0" json:"-"`

	// Phone lock.
	LockPINHash         string     `gorm:"size:100" json:"-"`
	PINRetries          int        `gorm:"not null" json:"-"`
	Locked              bool       `gorm:"not null" json:"locked"`
	NeedsUnlockCode     bool       `gorm:"not null" json:"needsUnlockCode"`
	UnlockCodeHash      string     `gorm:"size:64" json:"-"`
	UnlockCodeExpiresAt *time.Time `json:"-"`
	// PINSet is filled on reads.
	PINSet bool `gorm:"-" json:"phoneLockPinSet"`
}

func (Session) TableName() string { return "signin_sessions" }

// refreshToken is stored only as an HMAC. Each use spends it and issues the next.
type refreshToken struct {
	Hash      string    `gorm:"primaryKey;size:64"`
	SessionID string    `gorm:"size:32;index;not null"`
	ExpiresAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
}

func (refreshToken) TableName() string { return "signin_refresh_tokens" }

// Tokens is a successful token endpoint answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	// PhoneLockRequired tells the phone to make the user set a phone-lock
	// PIN before anything else (SPEC §3).
	PhoneLockRequired bool `json:"phone_lock_required"`

	// upn and pinSet let finish fill PhoneLockRequired once the
	// transaction that issued the tokens is over.
	upn    string
	pinSet bool
}

// finish fills PhoneLockRequired from the user's effective policy. It runs
// after the issuing transaction: the policy service reads on its own
// connection.
func (s *Service) finish(ctx context.Context, t Tokens) (Tokens, error) {
	pol, err := s.effective(ctx, t.upn)
	if err != nil {
		return Tokens{}, err
	}
	t.PhoneLockRequired = pol.EnablePhoneLock && !t.pinSet
	return t, nil
}

// Scopes are the accesses a sign-in grants, from the deployment table of
// SPEC §7: Skype always; Exchange only where the table says yes.
func Scopes(skype, exchange tenant.Location, mfa bool, m Method) []string {
	out := []string{"skype"}
	ex := false
	switch m {
	case MethodWeb:
		// Web sign-in is modern auth: Exchange only when it is online too.
		ex = skype == tenant.Online && exchange == tenant.Online
	case MethodPassword:
		// Basic credentials reach Exchange unless MFA is on (modern auth + MFA).
		ex = !mfa
	case MethodPIN:
		ex = false
	case MethodBToE:
		ex = true
	}
	if ex {
		out = append(out, "exchange")
	}
	return out
}

// mayUseMethod applies the organisation's rules for a user and a method:
// the license gate, MFA, and PIN sign-in for on-premises users only.
func (s *Service) mayUseMethod(ctx context.Context, u tenant.User, m Method) error {
	if err := s.dir.CanSignIn(ctx, u.UPN); err != nil {
		return err
	}
	// SPEC §2 and the deployment table (docs/signin.md): only web sign-in
	// works for MFA users.
	if u.MFA {
		switch m {
		case MethodPassword:
			return useWebSignIn(u, "password")
		case MethodBToE:
			return useWebSignIn(u, "PC")
		case MethodPIN:
			return useWebSignIn(u, "PIN")
		}
	}
	if m == MethodPIN && u.SkypeLocation != tenant.OnPremises {
		return fault.Forbiddenf("PIN sign-in is for on-premises users only; %s is an online user: use web sign-in or the password", u.UPN).WithCode("pin_online_user")
	}
	return nil
}

// methodForClient applies the phone family's limits: Lync Phone Edition signs
// online users in only through the paired PC (BToE/USB).
func methodForClient(u tenant.User, m Method, clientID string) error {
	if clientID == "lpe" && u.SkypeLocation == tenant.Online && m != MethodBToE {
		return fault.Forbiddenf("Lync Phone Edition signs in online users only through the paired PC (USB or Better Together): sign in on the PC").WithCode("lpe_pc_only")
	}
	return nil
}

// checkPhoneLimit refuses a sign-in on a user's phone beyond MaxPhones; the
// phone mac itself does not count (signing in there again replaces it).
func (s *Service) checkPhoneLimit(tx *gorm.DB, upn, mac string) error {
	var n int64
	if err := tx.Model(&Session{}).Where("upn_key = ? AND mac <> ?", strings.ToLower(upn), mac).Count(&n).Error; err != nil {
		return err
	}
	if int(n) >= s.MaxPhones {
		return fault.Forbiddenf("%s is already signed in on %d phones, the most allowed: sign out of one of them first", upn, n).WithCode("too_many_phones")
	}
	return nil
}

// refusalOf turns a rule's refusal into what the phone is told.
func refusalOf(err error) (*OAuthError, error) {
	if err == nil {
		return nil, nil
	}
	if oe, ok := AsOAuth(err); ok {
		return oe, nil
	}
	fe, ok := fault.As(err)
	if !ok {
		return nil, err
	}
	switch fe.Kind {
	case fault.Unauthorized:
		return &OAuthError{Code: ErrInvalidGrant, Description: fe.Message, Reason: fe.Code}, nil
	case fault.RateLimited:
		return &OAuthError{Code: ErrTemporarilyUnavailable, Description: fe.Message, Reason: fe.Code, RetryAfter: fe.RetryAfter}, nil
	case fault.Invalid:
		return &OAuthError{Code: ErrInvalidRequest, Description: fe.Message, Reason: fe.Code}, nil
	}
	return &OAuthError{Code: ErrAccessDenied, Description: fe.Message, Reason: fe.Code}, nil
}

// refusal is refusalOf as one error: what the phone is told, or err itself
// when it is no refusal; nil for nil.
func refusal(err error) error {
	oe, ferr := refusalOf(err)
	if ferr != nil {
		return ferr
	}
	if oe == nil {
		return nil
	}
	return oe
}

// signIn makes u the user of phone mac inside tx and issues its tokens.
// Someone else's session on the phone is ended only when it is replace
// (mayReplace decided so before the transaction).
func (s *Service) signIn(ctx context.Context, tx *gorm.DB, u tenant.User, clientID, mac string, m Method, replace string) (Tokens, *OAuthError, error) {
	key := strings.ToLower(u.UPN)
	if store.EngineOf(tx) == store.Postgres {
		// Serialise sign-ins of one user so two phones cannot both be the 8th.
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "signin:"+key).Error; err != nil {
			return Tokens{}, nil, err
		}
	}
	if err := s.checkPhoneLimit(tx, u.UPN, mac); err != nil {
		oe, err := refusalOf(err)
		return Tokens{}, oe, err
	}
	if oe, err := s.checkReplace(tx, u, mac, replace); oe != nil || err != nil {
		return Tokens{}, oe, err
	}
	if err := endSessions(tx, "mac = ?", mac); err != nil {
		return Tokens{}, nil, err
	}
	sess := Session{ID: randomID(), MAC: mac, UPN: u.UPN, UPNKey: key, ClientID: clientID, Method: m,
		Scope: strings.Join(Scopes(u.SkypeLocation, u.ExchangeLocation, u.MFA, m), " "), CreatedAt: s.now(),
		UserID: u.ID, CredVersion: u.CredentialVersion, PINVersion: u.PINVersion}
	if err := tx.Create(&sess).Error; err != nil {
		return Tokens{}, nil, err
	}
	if err := store.Bump(tx, store.ConfigGeneration); err != nil {
		return Tokens{}, nil, err
	}
	t, err := s.issue(ctx, tx, sess)
	return t, nil, err
}

// issue writes a new refresh token for sess and signs an access token.
func (s *Service) issue(ctx context.Context, tx *gorm.DB, sess Session) (Tokens, error) {
	now := s.now()
	raw := randomToken(32)
	h, err := s.digest(ctx, "refresh", raw)
	if err != nil {
		return Tokens{}, err
	}
	if err := tx.Create(&refreshToken{Hash: h, SessionID: sess.ID, ExpiresAt: now.Add(s.RefreshTTL)}).Error; err != nil {
		return Tokens{}, err
	}
	at, err := s.signAccess(ctx, tx, AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.Issuer, Subject: sess.UPN, Audience: jwt.ClaimStrings{sess.ClientID},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.AccessTTL)), ID: randomID(),
		},
		Scope: sess.Scope, ClientID: sess.ClientID, DeviceID: sess.MAC, SID: sess.ID,
	})
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(s.AccessTTL / time.Second), RefreshToken: raw,
		Scope: sess.Scope, upn: sess.UPN, pinSet: sess.LockPINHash != ""}, nil
}

// endSessions signs out the sessions matching where, with their refresh tokens.
func endSessions(tx *gorm.DB, where string, args ...any) error {
	var ids []string
	if err := tx.Model(&Session{}).Where(where, args...).Pluck("id", &ids).Error; err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	if err := tx.Where("session_id IN ?", ids).Delete(&refreshToken{}).Error; err != nil {
		return err
	}
	if err := tx.Where("id IN ?", ids).Delete(&Session{}).Error; err != nil {
		return err
	}
	return store.Bump(tx, store.ConfigGeneration)
}

// PasswordGrant signs a user in on phone mac with UPN and password, typed
// at client address addr. MFA users are refused (use_web_sign_in) whatever
// the password.
func (s *Service) PasswordGrant(ctx context.Context, clientID, mac, upn, password, addr string) (Tokens, error) {
	if _, err := CheckClient(clientID); err != nil {
		return Tokens{}, err
	}
	m, err := s.phoneMAC(mac)
	if err != nil {
		return Tokens{}, err
	}
	if strings.TrimSpace(upn) == "" || password == "" {
		return Tokens{}, oauthErr(ErrInvalidRequest, "username and password are required")
	}
	key, ok := normalizeUPN(upn)
	if !ok {
		return Tokens{}, oauthErr(ErrInvalidRequest, "username must be a UPN such as amosm@contoso.com")
	}
	u, err := s.checkPassword(ctx, key, password, addr, true)
	if err != nil {
		return Tokens{}, refusal(err)
	}
	return s.grant(ctx, u, clientID, m, MethodPassword)
}

// PINGrant signs an on-premises user in on phone mac with extension and PIN.
func (s *Service) PINGrant(ctx context.Context, clientID, mac, ext, pin, addr string) (Tokens, error) {
	if _, err := CheckClient(clientID); err != nil {
		return Tokens{}, err
	}
	m, err := s.phoneMAC(mac)
	if err != nil {
		return Tokens{}, err
	}
	if strings.TrimSpace(ext) == "" || pin == "" {
		return Tokens{}, oauthErr(ErrInvalidRequest, "extension and pin are required")
	}
	key, ok := normalizeExtension(ext)
	if !ok {
		return Tokens{}, oauthErr(ErrInvalidRequest, "extension must be 1 to 15 digits")
	}
	u, err := s.checkPIN(ctx, key, pin, addr)
	if err != nil {
		return Tokens{}, refusal(err)
	}
	return s.grant(ctx, u, clientID, m, MethodPIN)
}

// grant applies the rules for u, method and phone family, then signs in.
func (s *Service) grant(ctx context.Context, u tenant.User, clientID, mac string, m Method) (Tokens, error) {
	rule := s.mayUseMethod(ctx, u, m)
	if rule == nil {
		rule = methodForClient(u, m, clientID)
	}
	if err := refusal(rule); err != nil {
		return Tokens{}, err
	}
	if err := s.ready(ctx); err != nil {
		return Tokens{}, err
	}
	replace, err := s.mayReplace(ctx, u, mac)
	if err != nil {
		return Tokens{}, err
	}
	var out Tokens
	var refusal *OAuthError
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		out, refusal, err = s.signIn(ctx, tx, u, clientID, mac, m, replace)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	if refusal != nil {
		return Tokens{}, refusal
	}
	return s.finish(ctx, out)
}

func (s *Service) phoneMAC(mac string) (string, error) {
	if mac == "" {
		return "", oauthErr(ErrInvalidRequest, "device_id is required: the phone's MAC address, 12 hex digits")
	}
	m, err := NormalizeMAC(mac)
	if err != nil {
		return "", oauthErr(ErrInvalidRequest, "%s", err.Error())
	}
	return m, nil
}

// Refresh is the refresh_token grant: it spends the refresh token and issues
// the next. A spent token presented again means it was copied: the phone is
// signed out.
func (s *Service) Refresh(ctx context.Context, clientID, raw string) (Tokens, error) {
	if _, err := CheckClient(clientID); err != nil {
		return Tokens{}, err
	}
	if raw == "" {
		return Tokens{}, oauthErr(ErrInvalidRequest, "refresh_token is required")
	}
	if err := s.ready(ctx); err != nil {
		return Tokens{}, err
	}
	h, err := s.digest(ctx, "refresh", raw)
	if err != nil {
		return Tokens{}, err
	}
	// The license check reads the directory on its own connection, so it
	// runs before the write transaction, on a first unlocked read of the
	// token's phone session (a session's user never changes).
	var pre refreshToken
	var preSess Session
	if err := s.db.WithContext(ctx).Where("hash = ?", h).Limit(1).Find(&pre).Error; err != nil {
		return Tokens{}, err
	}
	if pre.Hash != "" {
		if err := s.db.WithContext(ctx).Where("id = ?", pre.SessionID).Limit(1).Find(&preSess).Error; err != nil {
			return Tokens{}, err
		}
	}
	var gate error
	var ended bool
	if preSess.ID != "" {
		gate = s.dir.CanSignIn(ctx, preSess.UPN)
		gone, err := s.stale(ctx, preSess)
		if err != nil {
			return Tokens{}, err
		}
		ended = gone[preSess.ID]
	}
	var out Tokens
	var oerr *OAuthError
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rt refreshToken
		if err := store.ForUpdate(tx).Where("hash = ?", h).Limit(1).Find(&rt).Error; err != nil {
			return err
		}
		if rt.Hash == "" {
			oerr = oauthErr(ErrInvalidGrant, "unknown or revoked refresh token: sign in again")
			return nil
		}
		var sess Session
		if err := tx.Where("id = ?", rt.SessionID).Limit(1).Find(&sess).Error; err != nil {
			return err
		}
		if sess.ID == "" {
			oerr = oauthErr(ErrInvalidGrant, "this phone has been signed out: sign in again")
			return nil
		}
		if sess.ClientID != clientID {
			oerr = oauthErr(ErrInvalidGrant, "this refresh token was issued to another client_id")
			return nil
		}
		now := s.now()
		if rt.UsedAt != nil {
			oerr = oauthErr(ErrInvalidGrant, "this refresh token was already used once; the phone has been signed out for safety: sign in again")
			return endSessions(tx, "id = ?", sess.ID)
		}
		if !now.Before(rt.ExpiresAt) {
			oerr = oauthErr(ErrInvalidGrant, "the refresh token has expired: sign in again")
			return nil
		}
		if sess.ID != preSess.ID {
			oerr = oauthErr(ErrInvalidGrant, "this phone was signed out while the refresh token was in use: sign in again")
			return nil
		}
		if ended {
			oerr = oauthErr(ErrInvalidGrant, "%s", endedMessage)
			oerr.Reason = ReasonCredentialsChanged
			return endSessions(tx, "id = ?", sess.ID)
		}
		if err := gate; err != nil {
			oe, err := refusalOf(err)
			if err != nil {
				return err
			}
			oerr = oe
			return endSessions(tx, "id = ?", sess.ID)
		}
		if err := tx.Model(&refreshToken{}).Where("hash = ?", h).Update("used_at", now).Error; err != nil {
			return err
		}
		out, err = s.issue(ctx, tx, sess)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	if oerr != nil {
		return Tokens{}, oerr
	}
	return s.finish(ctx, out)
}

// Revoke is RFC 7009 revocation: revoking a phone's refresh or access token
// signs that phone out. Unknown tokens are not an error.
func (s *Service) Revoke(ctx context.Context, token string) error {
	if token == "" {
		return oauthErr(ErrInvalidRequest, "token is required")
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	h, err := s.digest(ctx, "refresh", token)
	if err != nil {
		return err
	}
	var rt refreshToken
	if err := s.db.WithContext(ctx).Where("hash = ?", h).Limit(1).Find(&rt).Error; err != nil {
		return err
	}
	sid := rt.SessionID
	if rt.Hash == "" {
		c, _, err := s.VerifyAccessToken(ctx, token)
		if err != nil {
			if _, ok := AsOAuth(err); ok {
				return nil
			}
			return err
		}
		sid = c.SID
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return endSessions(tx, "id = ?", sid) })
}

// SignOut signs out the phone session id (the phone's own sign-out).
func (s *Service) SignOut(ctx context.Context, sessionID string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return endSessions(tx, "id = ?", sessionID) })
}

// SignOutPhone signs out whoever is signed in on phone mac.
func (s *Service) SignOutPhone(ctx context.Context, mac string) error {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ss []Session
		if err := tx.Where("mac = ?", m).Find(&ss).Error; err != nil {
			return err
		}
		if n = int64(len(ss)); n == 0 {
			return nil
		}
		if err := endSessions(tx, "mac = ?", m); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Kind: audit.KindPhone, ObjectID: m, Action: "signout", Before: ss})
	})
	if err == nil && n == 0 {
		return fault.NotFoundf("nobody is signed in on phone %s", m)
	}
	return err
}

// SignOutUser signs upn out of every phone and says how many.
func (s *Service) SignOutUser(ctx context.Context, upn string) (int, error) {
	u, err := s.dir.User(ctx, upn)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		key := strings.ToLower(u.UPN)
		if err := tx.Model(&Session{}).Where("upn_key = ?", key).Count(&n).Error; err != nil {
			return err
		}
		if err := endSessions(tx, "upn_key = ?", key); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Kind: audit.KindUser, ObjectID: key, Action: "signout",
			After: map[string]int64{"endedSessions": n}})
	})
	return int(n), err
}

// UserOnDevice returns the UPN signed in on phone mac, "" when nobody is.
func (s *Service) UserOnDevice(ctx context.Context, mac string) (string, error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return "", err
	}
	var sess Session
	if err := s.db.WithContext(ctx).Where("mac = ?", m).Limit(1).Find(&sess).Error; err != nil {
		return "", err
	}
	if sess.ID == "" {
		return "", nil
	}
	live, err := s.live(ctx, []Session{sess})
	if err != nil || len(live) == 0 {
		return "", err
	}
	return sess.UPN, nil
}

// Sessions lists the phones signed in, all or only upn's ("" for all).
func (s *Service) Sessions(ctx context.Context, upn string) ([]Session, error) {
	q := s.db.WithContext(ctx).Order("upn_key, mac")
	if upn != "" {
		q = q.Where("upn_key = ?", strings.ToLower(strings.TrimSpace(upn)))
	}
	var all []Session
	if err := q.Find(&all).Error; err != nil {
		return nil, err
	}
	out, err := s.live(ctx, all)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].PINSet = out[i].LockPINHash != ""
	}
	return out, nil
}

func (s *Service) sessionByID(ctx context.Context, id string) (Session, error) {
	var sess Session
	err := s.db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&sess).Error
	sess.PINSet = sess.LockPINHash != ""
	return sess, err
}

// pcCode is a one-time BToE sign-in code, stored as an HMAC.
type pcCode struct {
	Hash      string    `gorm:"primaryKey;size:64"`
	MAC       string    `gorm:"size:12;not null"`
	UPN       string    `gorm:"size:256;not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	UsedAt    *time.Time
}

func (pcCode) TableName() string { return "signin_pc_codes" }

// IssuePCSignInCode gives the paired PC app a one-time code, valid for
// PCCodeTTL, that phone mac redeems at the token endpoint with the grant
// urn:deskprov:params:oauth:grant-type:btoe to sign upn in.
func (s *Service) IssuePCSignInCode(ctx context.Context, mac, upn string) (string, time.Time, error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return "", time.Time{}, err
	}
	u, err := s.dir.User(ctx, upn)
	if err != nil {
		return "", time.Time{}, err
	}
	if u.MFA {
		return "", time.Time{}, useWebSignIn(u, "PC")
	}
	code := randomToken(24)
	h, err := s.digest(ctx, "pc", code)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	exp := now.Add(s.PCCodeTTL)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now.Add(-time.Hour)).Delete(&pcCode{}).Error; err != nil {
			return err
		}
		return tx.Create(&pcCode{Hash: h, MAC: m, UPN: u.UPN, ExpiresAt: exp}).Error
	})
	return code, exp, err
}

// RedeemPCCode is the BToE grant.
func (s *Service) RedeemPCCode(ctx context.Context, clientID, mac, code string) (Tokens, error) {
	if _, err := CheckClient(clientID); err != nil {
		return Tokens{}, err
	}
	m, err := s.phoneMAC(mac)
	if err != nil {
		return Tokens{}, err
	}
	if code == "" {
		return Tokens{}, oauthErr(ErrInvalidRequest, "code is required")
	}
	h, err := s.digest(ctx, "pc", code)
	if err != nil {
		return Tokens{}, err
	}
	var upn string
	var oerr *OAuthError
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var pc pcCode
		if err := store.ForUpdate(tx).Where("hash = ?", h).Limit(1).Find(&pc).Error; err != nil {
			return err
		}
		switch {
		case pc.Hash == "" || pc.MAC != m:
			oerr = oauthErr(ErrInvalidGrant, "unknown PC sign-in code for this phone: sign in from the PC again")
		case pc.UsedAt != nil:
			oerr = oauthErr(ErrInvalidGrant, "this PC sign-in code has already been used")
		case !s.now().Before(pc.ExpiresAt):
			oerr = oauthErr(ErrInvalidGrant, "the PC sign-in code has expired: sign in from the PC again")
		default:
			upn = pc.UPN
			return tx.Model(&pcCode{}).Where("hash = ?", h).Update("used_at", s.now()).Error
		}
		return nil
	})
	if err != nil {
		return Tokens{}, err
	}
	if oerr != nil {
		return Tokens{}, oerr
	}
	u, err := s.dir.User(ctx, upn)
	if err != nil {
		return Tokens{}, err
	}
	return s.grant(ctx, u, clientID, m, MethodBToE)
}
