// Package btoe is Better Together over Ethernet (SPEC §5): deskprov brokers
// between a desk phone and the PC app on the phone's PC port. The phone
// registers, proving it is that phone, the PC app pairs with it (in Auto mode
// the phone confirms the request on its screen, in Manual mode the user types
// the code the phone shows), and from then on the PC app's
// sign-in, lock, unlock and click-to-call reach the phone as events. Events
// wait in the store, numbered per mailbox, until their receiver acknowledges
// them, so a receiver that reconnects misses nothing and, acknowledging as it
// goes, never sees one twice.
package btoe

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/notify"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/throttle"
)

// SignIns is what btoe asks of sign-in: who is on a phone, and a one-time
// code that lets the phone sign a user in at the token endpoint.
// signin.Service satisfies it.
type SignIns interface {
	UserOnDevice(ctx context.Context, mac string) (string, error)
	IssuePCSignInCode(ctx context.Context, mac, upn string) (code string, expiresAt time.Time, err error)
}

// Credentials checks the password the PC app's user signs in with.
// tenant.Service satisfies it.
type Credentials interface {
	CheckPassword(ctx context.Context, upn, password string) (tenant.User, error)
}

// Pairing modes, as the policy setting BetterTogetherOverEthernetPairingMode names them.
const (
	ModeAuto   = "Auto"
	ModeManual = "Manual"
)

// Operating systems a PC app may declare. Only Windows is supported (SPEC §5).
const (
	OSWindows = "Windows"
	OSMac     = "Mac"
	OSVDI     = "VDI"
)

// Event types.
const (
	EventPaired = "paired"
	// EventPairingRequest asks the phone to confirm an Auto pairing.
	EventPairingRequest = "pairing_request"
	EventSignIn         = "signin"
	EventLock           = "lock"
	EventUnlock         = "unlock"
	EventDial           = "dial"
	EventUnpaired       = "unpaired"
)

// Limits. Variables so that an operator's build or a test can change them.
var (
	// CodeTTL is how long a Manual pairing code is good for.
	CodeTTL = 5 * time.Minute
	// CodeRule limits wrong pairing codes per phone.
	CodeRule = throttle.Rule{Max: 5, Window: 5 * time.Minute}
	// PasswordRule limits wrong PC sign-in passwords per pairing.
	PasswordRule = throttle.Rule{Max: 5, Window: 5 * time.Minute}
	// ConfirmTTL is how long an Auto pairing request waits for the phone's
	// confirmation.
	ConfirmTTL = 2 * time.Minute
	// RequestRule limits Auto pairing requests per phone and PC address, so
	// that nobody can keep a phone's screen full of requests.
	RequestRule = throttle.Rule{Max: 5, Window: 5 * time.Minute}
	// MaxPending is how many unacknowledged events a mailbox may hold; past it
	// new events are refused until the receiver catches up.
	MaxPending int64 = 1000
	// MaxWait bounds a long poll.
	MaxWait = 60 * time.Second
)

// How a phone proved, when it registered, that it is the phone with its MAC.
const (
	// ProofCredentials is the phone's own provisioning credentials.
	ProofCredentials = "credentials"
	// ProofSession is the access token of the session signed in on the
	// phone. It is the weaker proof (anyone who can sign in on a phone that
	// has no session gets one), so it never replaces a registration proved
	// with credentials.
	ProofSession = "session"
)

// Proof is how a request proved that it comes from a phone.
type Proof struct {
	// Via is ProofCredentials or ProofSession.
	Via string
	// Session is the id of the sign-in session whose access token was the
	// proof (ProofSession).
	Session string
}

// Phone is a registered phone.
type Phone struct {
	MAC           string     `gorm:"primaryKey;size:12" json:"mac"`
	TokenHash     string     `gorm:"size:64;uniqueIndex;not null" json:"-"`
	CodeHash      string     `gorm:"size:64" json:"-"`
	CodeExpiresAt *time.Time `json:"-"`
	RegisteredAt  time.Time  `gorm:"not null" json:"registeredAt"`
	// Proof is how the phone proved itself; empty on a registration made
	// before registering needed proof, which no longer counts.
	Proof string `gorm:"size:16;not null;default:''" json:"proof"`
	// ProofSession is the session that proved a ProofSession registration.
	ProofSession string `gorm:"size:32;not null;default:''" json:"-"`
}

func (Phone) TableName() string { return "btoe_phones" }

// Pairing links a PC app to a phone. A phone has at most one active pairing;
// an ended one stays so its PC app can still read the "unpaired" event. An
// Auto pairing starts as a request that the phone confirms (ConfirmedAt) or
// lets lapse (ConfirmBy); a pairing that was never confirmed is not active.
type Pairing struct {
	ID        string     `gorm:"primaryKey;size:32" json:"id"`
	PhoneMAC  string     `gorm:"size:12;index;not null" json:"phoneMac"`
	ClientID  string     `gorm:"size:200;not null" json:"clientId"`
	OS        string     `gorm:"size:16;not null" json:"os"`
	Mode      string     `gorm:"size:16;not null" json:"mode"`
	TokenHash string     `gorm:"size:64;uniqueIndex;not null" json:"-"`
	CreatedAt time.Time  `gorm:"not null" json:"createdAt"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	EndedBy   string     `gorm:"size:16" json:"endedBy,omitempty"`
	// SignedInUPN is the user the PC app last signed the phone in as.
	SignedInUPN string `gorm:"size:320" json:"signedInUpn,omitempty"`
	// ConfirmBy is when an Auto pairing request lapses unless the phone
	// confirms it; ConfirmedAt is when the phone did, or when the right
	// Manual code was typed.
	ConfirmBy   *time.Time `json:"confirmBy,omitempty"`
	ConfirmedAt *time.Time `json:"confirmedAt,omitempty"`
	// Status is pending, active, expired or ended, filled on reads.
	Status string `gorm:"-" json:"status"`
}

func (Pairing) TableName() string { return "btoe_pairings" }

// Pairing states (Pairing.Status).
const (
	StatusPending = "pending"
	StatusActive  = "active"
	StatusExpired = "expired"
	StatusEnded   = "ended"
)

// Active reports whether the pairing was confirmed and has not ended: only
// then may its PC app act on the phone.
func (p Pairing) Active() bool { return p.EndedAt == nil && p.ConfirmedAt != nil }

// StatusAt is the pairing's state at now. A pairing that was never confirmed
// and has no ConfirmBy was made before pairing needed the phone's proof: it
// counts as expired.
func (p Pairing) StatusAt(now time.Time) string {
	switch {
	case p.EndedAt != nil:
		return StatusEnded
	case p.ConfirmedAt != nil:
		return StatusActive
	case p.ConfirmBy != nil && now.Before(*p.ConfirmBy):
		return StatusPending
	}
	return StatusExpired
}

// Migrate creates btoe's tables (and the throttle's, which it uses).
func Migrate(db *gorm.DB) error {
	if err := throttle.Migrate(db); err != nil {
		return err
	}
	if err := audit.Migrate(db); err != nil {
		return err
	}
	return db.AutoMigrate(&Phone{}, &Pairing{}, &mailbox{}, &eventRow{})
}

// Service is BToE.
type Service struct {
	db       *gorm.DB
	policies policy.Source
	signins  SignIns
	creds    Credentials
	throttle *throttle.Limiter
	notify   *notifier
	// Now is the clock; tests move it.
	Now func() time.Time
	// PollInterval is how often a waiting receiver looks in the store for
	// events written by another deskprov instance while no Hub tells it of
	// them (events written by this one wake it at once): every second on a
	// shared (PostgreSQL) store; on a store this process alone writes
	// (SQLite) every event wakes its receiver, so the look is only a rare
	// safety net, as it is while a live Hub wakes receivers.
	PollInterval time.Duration

	hub *notify.Hub

	// codeKey keys the hashes of pairing codes; sealKey seals the PC
	// sign-in codes that wait in a phone's mailbox.
	codeKey *store.Key
	sealKey *store.Key

	stopOnce sync.Once
	stopped  chan struct{}
}

// ownedPollInterval is PollInterval on a store only this process writes.
const ownedPollInterval = 30 * time.Second

// New returns the service.
func New(db *gorm.DB, p policy.Source, si SignIns, cr Credentials) *Service {
	t := throttle.New(db)
	s := &Service{db: db, policies: p, signins: si, creds: cr, throttle: t, codeKey: store.NewKey(db, "btoe-pairing-code"), sealKey: store.NewKey(db, "btoe-event-seal"), notify: newNotifier(), Now: time.Now, PollInterval: time.Second, stopped: make(chan struct{})}
	if store.Owned(db) {
		s.PollInterval = ownedPollInterval
	}
	t.Now = func() time.Time { return s.Now() }
	return s
}

// UseHub makes events written by other instances on the same store wake
// this one's receivers at once (store/notify). While the hub is not live,
// receivers look in the store every PollInterval, as without one. Call it
// before serving.
func (s *Service) UseHub(h *notify.Hub) {
	if h == nil {
		return // as before: no other instance's write is heard
	}
	s.hub = h
	h.Subscribe(hubTopic, func(box string) { s.notify.wake(box) },
		// Either way every waiter looks again: events sent while the hub
		// was down were not heard, and a waiter that relied on the hub
		// must now poll.
		func(bool) { s.notify.wakeAll() })
}

// hubTopic is the topic BToE's messages go under: the data is a mailbox.
const hubTopic = "btoe"

// pollEvery is how long a waiter sleeps before looking in the store again.
func (s *Service) pollEvery() time.Duration {
	if s.hub.Live() && s.PollInterval < ownedPollInterval {
		return ownedPollInterval
	}
	return s.PollInterval
}

// Stop ends every wait in progress and makes later ones return at once, so
// that long polls and event streams let the server shut down. Register it
// with http.Server.RegisterOnShutdown.
func (s *Service) Stop() { s.stopOnce.Do(func() { close(s.stopped) }) }

// Stopping reports whether Stop was called.
func (s *Service) Stopping() bool {
	select {
	case <-s.stopped:
		return true
	default:
		return false
	}
}

// CanonicalMAC returns mac as 12 lower-case hex digits, accepting the
// spellings phones use (provisioning.ParseMAC).
func CanonicalMAC(mac string) (string, error) {
	return provisioning.ParseMAC(strings.TrimSpace(mac))
}

// settingsFor returns the BToE settings that apply to the phone: those of the
// effective policy of whoever is signed in on it, or Global.
func (s *Service) settingsFor(ctx context.Context, mac string) (upn string, enabled bool, mode string, err error) {
	upn, err = s.signins.UserOnDevice(ctx, mac)
	if err != nil {
		return "", false, "", err
	}
	return s.settingsForUser(ctx, upn)
}

func (s *Service) settingsForUser(ctx context.Context, upn string) (string, bool, string, error) {
	eff, err := s.policies.EffectiveForUser(ctx, upn)
	if err != nil {
		return "", false, "", err
	}
	mode := eff.Settings.BetterTogetherOverEthernetPairingMode
	if mode != ModeManual {
		mode = ModeAuto
	}
	return upn, eff.Settings.EnableBetterTogetherOverEthernet, mode, nil
}

func disabledFault(upn, identity string) error {
	who := "phones with nobody signed in"
	if upn != "" {
		who = upn
	}
	return fault.Forbiddenf("Better Together over Ethernet is disabled for %s by IP phone policy %q: ask your admin to set EnableBetterTogetherOverEthernet", who, identity).WithCode("btoe_disabled")
}

// newToken returns a random bearer token with a readable prefix, and its hash.
func newToken(prefix string) (string, string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok), nil
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// newCode returns a 6-digit pairing code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// hashCode keys the hash of a pairing code with a server secret: a six-digit
// code has too few values for a plain hash to hide it.
func (s *Service) hashCode(ctx context.Context, mac, code string) (string, error) {
	return s.codeKey.HMAC(ctx, mac+":"+code)
}
