// Package signin is the authorization server desk phones sign in with: web
// sign-in with device codes (RFC 8628), password, PIN and PC (BToE) sign-in,
// access and refresh tokens, the phones a user is signed in on, and the
// phone-lock PIN. It knows nothing of HTTP: web/signin.go adapts it.
package signin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
)

// Directory is what sign-in asks of the organisation (tenant.Service).
type Directory interface {
	User(ctx context.Context, upn string) (tenant.User, error)
	CheckPassword(ctx context.Context, upn, password string) (tenant.User, error)
	CheckPIN(ctx context.Context, ext, pin string) (tenant.User, error)
	// UserByExtension finds the user with a sign-in extension (NotFound if none).
	UserByExtension(ctx context.Context, ext string) (tenant.User, error)
	CanSignIn(ctx context.Context, upn string) error
	// CredentialStamps returns the current stamps of these users (none for
	// a deleted one): a phone session lasts while its own still matches.
	CredentialStamps(ctx context.Context, ids ...uint) (map[uint]tenant.CredentialStamp, error)
	SetTOTPSecret(ctx context.Context, upn, secret string) error
	// TOTPSecret opens the user's stored (sealed) authenticator secret.
	TOTPSecret(u tenant.User) (string, error)
}

// Lockout is what happens when a phone-lock PIN is wrong too often.
type Lockout string

const (
	// LockoutSignOut signs the user out of the phone.
	LockoutSignOut Lockout = "sign_out"
	// LockoutAdminCode keeps the phone locked until an admin unlock code is entered.
	LockoutAdminCode Lockout = "admin_unlock_code"
)

// Clients are the OAuth client_ids, one per phone family, with the
// manufacturer the browser pages name.
var Clients = map[string]string{
	"polycom":    "Polycom",
	"yealink":    "Yealink",
	"audiocodes": "AudioCodes",
	"lpe":        "Microsoft Lync Phone Edition",
}

// DeviceCodeLimit device authorization requests (POST /oauth2/devicecode)
// are allowed per client address in each DeviceCodeWindow: generous, so that
// an office of phones behind one NAT address restarting at once gets through.
const (
	DeviceCodeLimit  = 300
	DeviceCodeWindow = 10 * time.Minute
)

// Service is the authorization server.
type Service struct {
	// parsedKeys holds opened signing keys by kid (see parseKey).
	parsedKeys sync.Map
	// heldSessions is which phones have a session, per config generation
	// (deviceset.go).
	heldSessions heldSessionsPtr

	db       *gorm.DB
	dir      Directory
	policies policy.Source
	limiter  *throttle.Limiter

	// Issuer is the public base URL, the "iss" of every token.
	Issuer string
	// Now is the clock; tests move it.
	Now func() time.Time
	// Interval is the device-code polling interval in seconds (RFC 8628 "interval").
	Interval int
	// DeviceCodeTTL is how long a device code lives (15 minutes).
	DeviceCodeTTL time.Duration
	// AccessTTL and RefreshTTL are the lifetimes of the two tokens.
	AccessTTL, RefreshTTL time.Duration
	// PCCodeTTL is how long a BToE sign-in code lives.
	PCCodeTTL time.Duration
	// UnlockCodeTTL is how long an admin phone unlock code lives.
	UnlockCodeTTL time.Duration
	// MaxPhones is how many phones one user may be signed in on at once.
	MaxPhones int
	// MaxCodeFailures is how many wrong passwords or TOTP codes one device
	// code takes before it is spent.
	MaxCodeFailures int
	// Lockouts says, per client_id, what too many wrong phone-lock PINs do.
	Lockouts map[string]Lockout
	// HashCost is the bcrypt cost for phone-lock PINs. Tests lower it.
	HashCost int
	// CodeGuessRule limits wrong user codes per client address; generous,
	// so that an office behind one NAT address is not locked out.
	CodeGuessRule throttle.Rule
	// CodeGuessPersonRule limits wrong user codes per username and client
	// address, so one person cannot use up the address's allowance.
	CodeGuessPersonRule throttle.Rule
	// PasswordBudget limits password and TOTP guessing (DefaultPasswordBudget),
	// PINBudget PIN guessing (DefaultPINBudget).
	PasswordBudget, PINBudget throttle.Budget
	// DeviceCodeRule limits device authorization requests per client address.
	DeviceCodeRule throttle.Rule
	// Secrets seals the authenticator secret being enrolled in a sign-in
	// (signin_device_codes.pending_totp). Without it MFA users cannot enroll;
	// serve always sets it.
	Secrets *sealbox.Box

	hmacKey *store.Key
	// isReady: the HMAC secret and a signing key exist (see ready).
	isReady atomic.Bool
}

// New returns the service. Call Migrate first. policies may be nil, in which
// case everyone gets policy.Defaults().
func New(db *gorm.DB, dir Directory, policies policy.Source, issuer string) *Service {
	s := &Service{
		db: db, dir: dir, policies: policies, hmacKey: store.NewKey(db, "signin-hmac"),
		Issuer:          strings.TrimRight(issuer, "/"),
		Now:             time.Now,
		Interval:        5,
		DeviceCodeTTL:   15 * time.Minute,
		AccessTTL:       time.Hour,
		RefreshTTL:      90 * 24 * time.Hour,
		PCCodeTTL:       2 * time.Minute,
		UnlockCodeTTL:   24 * time.Hour,
		MaxPhones:       8,
		MaxCodeFailures: 5,
		Lockouts: map[string]Lockout{
			"polycom": LockoutSignOut, "yealink": LockoutSignOut,
			"audiocodes": LockoutAdminCode, "lpe": LockoutAdminCode,
		},
		HashCost:            bcrypt.DefaultCost,
		CodeGuessRule:       throttle.Rule{Max: 100, Window: 15 * time.Minute},
		CodeGuessPersonRule: throttle.Rule{Max: 10, Window: 15 * time.Minute},
		PasswordBudget:      DefaultPasswordBudget,
		PINBudget:           DefaultPINBudget,
		DeviceCodeRule:      throttle.Rule{Max: DeviceCodeLimit, Window: DeviceCodeWindow},
	}
	s.limiter = throttle.New(db)
	s.limiter.Now = func() time.Time { return s.Now() }
	return s
}

// Migrate creates sign-in's tables.
func Migrate(db *gorm.DB) error {
	if err := throttle.Migrate(db); err != nil {
		return err
	}
	if err := audit.Migrate(db); err != nil {
		return err
	}
	if err := db.AutoMigrate(&signingKey{}, &deviceCode{}, &Session{}, &refreshToken{}, &pcCode{}, &totpStep{}, &personSession{}); err != nil {
		return err
	}
	// The order of the session list's pages (SessionsPage).
	return db.Exec("CREATE INDEX IF NOT EXISTS idx_signin_sessions_upn_mac ON signin_sessions (upn_key, mac)").Error
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// effective returns the policy for upn, Defaults when no policy service is wired.
func (s *Service) effective(ctx context.Context, upn string) (policy.Settings, error) {
	if s.policies == nil {
		return policy.Defaults(), nil
	}
	e, err := s.policies.EffectiveForUser(ctx, upn)
	return e.Settings, err
}

// digest is the at-rest form of a high-entropy code or token: an HMAC under
// a server secret, so a copy of the table is useless without the secret.
func (s *Service) digest(ctx context.Context, kind, value string) (string, error) {
	return s.hmacKey.HMAC(ctx, kind+"\x00"+value)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// NormalizeMAC accepts a MAC in the spellings phones use (00:04:f2:aa:bb:cc,
// 00-04-F2-AA-BB-CC, 0004.f2aa.bbcc, 0004f2aabbcc; provisioning.ParseMAC)
// and returns 12 lower-case hex digits.
func NormalizeMAC(mac string) (string, error) {
	m, err := provisioning.ParseMAC(strings.TrimSpace(mac))
	if err != nil {
		return "", fault.FieldInvalid("device_id", "device_id %q is not a MAC address: use 12 hex digits such as 0004f2aabbcc", mac)
	}
	return m, nil
}

// CheckClient returns the manufacturer a client_id names, or an OAuth
// invalid_client error.
func CheckClient(clientID string) (string, error) {
	m, ok := Clients[clientID]
	if !ok {
		if clientID == "" {
			return "", oauthErr(ErrInvalidRequest, "client_id is required: polycom, yealink, audiocodes or lpe")
		}
		return "", oauthErr(ErrInvalidClient, "unknown client_id %q: use polycom, yealink, audiocodes or lpe", clientID)
	}
	return m, nil
}
