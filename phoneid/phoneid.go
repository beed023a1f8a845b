// Package phoneid answers "which phone is this": each phone (by canonical
// MAC) is given its own provisioning credentials on first contact (trust on
// first use, within the enrol networks and, when an admin asks for it, only
// after approval), and from then on its own files, uploads and firmware
// reports need HTTP Digest (RFC 7616) or Basic authentication with them.
//
// The HTTP checks (auth.go) are pure functions over strings, so gin and
// tests run the same code. Nothing here knows HTTP types.
package phoneid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/store"
)

// State is where a phone is in enrolment.
type State string

const (
	// AwaitingApproval: the phone asked for its credentials while approval
	// of new phones is required; an admin has not approved it yet.
	AwaitingApproval State = "awaiting_approval"
	// Approved: an admin approved the phone; its next fetch of the file that
	// carries credentials issues them.
	Approved State = "approved"
	// Issued: credentials were handed out and never yet used.
	Issued State = "issued"
	// Enrolled: the phone has authenticated with its credentials.
	Enrolled State = "enrolled"
	// Revoked: an admin revoked the phone; it gets none of its own files.
	Revoked State = "revoked"
)

// States lists every state, for filters.
var States = []State{AwaitingApproval, Approved, Issued, Enrolled, Revoked}

// hasCredential is true for the states in which a phone must authenticate.
func (st State) hasCredential() bool { return st == Issued || st == Enrolled }

// Phone is an admin's view of one phone's enrolment.
type Phone struct {
	MAC   string `json:"mac"`
	State State  `json:"state"`
	// User is the phone's provisioning user name ("" before issuance).
	User           string     `json:"user,omitempty"`
	FirstIP        string     `json:"firstIp,omitempty"`
	FirstUserAgent string     `json:"firstUserAgent,omitempty"`
	FirstSeen      *time.Time `json:"firstSeen,omitempty"`
	ApprovedBy     string     `json:"approvedBy,omitempty"`
	ApprovedAt     *time.Time `json:"approvedAt,omitempty"`
	IssuedAt       *time.Time `json:"issuedAt,omitempty"`
	IssuedTo       string     `json:"issuedTo,omitempty"`
	EnrolledAt     *time.Time `json:"enrolledAt,omitempty"`
	RevokedAt      *time.Time `json:"revokedAt,omitempty"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// enrolment is the stored row. The HA1 columns are sealed (internal/sealbox)
// and bound to the MAC, like the other secrets at rest.
type enrolment struct {
	MAC            string `gorm:"primaryKey;size:12"`
	State          State  `gorm:"size:24;not null;index"`
	User           string `gorm:"size:64;not null;default:''"`
	HA1MD5         string `gorm:"size:200;not null;default:''"`
	HA1SHA256      string `gorm:"size:200;not null;default:''"`
	FirstIP        string `gorm:"size:64;not null;default:''"`
	FirstUserAgent string `gorm:"size:256;not null;default:''"`
	FirstSeen      *time.Time
	ApprovedBy     string `gorm:"size:200;not null;default:''"`
	ApprovedAt     *time.Time
	IssuedAt       *time.Time
	IssuedTo       string `gorm:"size:64;not null;default:''"`
	EnrolledAt     *time.Time
	RevokedAt      *time.Time
	UpdatedAt      time.Time `gorm:"not null"`
}

func (enrolment) TableName() string { return "phone_enrolments" }

func (e enrolment) view() Phone {
	return Phone{MAC: e.MAC, State: e.State, User: e.User, FirstIP: e.FirstIP, FirstUserAgent: e.FirstUserAgent,
		FirstSeen: e.FirstSeen, ApprovedBy: e.ApprovedBy, ApprovedAt: e.ApprovedAt, IssuedAt: e.IssuedAt, IssuedTo: e.IssuedTo,
		EnrolledAt: e.EnrolledAt, RevokedAt: e.RevokedAt, UpdatedAt: e.UpdatedAt}
}

// setting is one server-wide enrolment setting, kept in the store so every
// instance agrees.
type setting struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value string `gorm:"size:200;not null"`
}

func (setting) TableName() string { return "phone_enrolment_settings" }

const settingRequireApproval = "require_approval"

// AuditEntry is one recorded change of a phone's enrolment, as the
// enrolment audit's API path shows it: a filtered view of the one audit log
// (package audit, kind "enrolment").
type AuditEntry struct {
	ID     uint      `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	MAC    string    `json:"mac"`
	Detail string    `json:"detail"`
}

// Migrate creates the package's tables; the old enrolment audit's rows
// move into the one audit log first.
func Migrate(db *gorm.DB) error {
	if err := audit.Migrate(db); err != nil {
		return err
	}
	return db.AutoMigrate(&enrolment{}, &setting{})
}

// Service keeps enrolments and checks phones' credentials.
type Service struct {
	db *gorm.DB
	// Secrets seals the stored HA1 values; nil keeps them in clear (tests
	// only: serve always has a key).
	Secrets *sealbox.Box
	// Now is the clock; tests move it.
	Now func() time.Time
	// EnrolNetworks bounds trust on first use: a phone is issued credentials
	// only from an address in one of them. Empty allows any address.
	EnrolNetworks []netip.Prefix

	key  *store.Key
	rows rowCache

	// replays remembers Digest answers (nonce, nc, cnonce) this instance has
	// accepted while their nonce lives, so a captured one is refused here.
	mu      sync.Mutex
	replays map[string]time.Time
}

// NonceKeyName is the server secret (store.Secret) the nonces are signed
// with: every instance on one store signs and checks with the same key.
const NonceKeyName = "phoneid-nonce"

// New builds the service.
func New(db *gorm.DB) *Service {
	s := &Service{db: db, Now: time.Now, key: store.NewKey(db, NonceKeyName), replays: map[string]time.Time{}}
	s.rows.on = store.Owned(db)
	s.SetCacheSize(DefaultCacheSize)
	return s
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// ParseNetworks reads a comma-separated list of CIDRs or single addresses
// (--enroll-networks). An empty list allows any address.
func ParseNetworks(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fault.FieldInvalid("enroll-networks", "%q is not a network: give CIDRs such as 10.20.0.0/16 or single addresses, separated by commas", clip(f))
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// InEnrolNetworks reports whether ip may be issued credentials.
func (s *Service) InEnrolNetworks(ip string) bool {
	if len(s.EnrolNetworks) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.EnrolNetworks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CanonicalMAC accepts 12 hex digits, bare or with ':', '-' or '.'
// separators, in either case, and returns 12 lower-case hex digits.
func CanonicalMAC(mac string) (string, error) {
	m := strings.ToLower(strings.NewReplacer(":", "", "-", "", ".", "").Replace(strings.TrimSpace(mac)))
	if len(m) != 12 {
		return "", badMAC(mac)
	}
	for _, c := range m {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", badMAC(mac)
		}
	}
	return m, nil
}

func badMAC(mac string) error {
	return fault.FieldInvalid("mac", "%q is not a MAC address: use 12 hex digits, for example 0004f2a1b2c3", clip(mac))
}

// List returns the enrolments, optionally of one state, by MAC.
func (s *Service) List(ctx context.Context, state State) ([]Phone, error) {
	q := s.db.WithContext(ctx).Order("mac")
	if state != "" {
		if !slices.Contains(States, state) {
			return nil, fault.FieldInvalid("state", "unknown state %q: use one of %s", clip(string(state)), StateNames())
		}
		q = q.Where("state = ?", state)
	}
	var rows []enrolment
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Phone, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.view())
	}
	return out, nil
}

// StateNames lists States for messages and help texts: "a, b, c".
func StateNames() string {
	var n []string
	for _, x := range States {
		n = append(n, string(x))
	}
	return strings.Join(n, ", ")
}

// Get returns one phone's enrolment; a phone deskprov has no record of is
// fault.NotFound.
func (s *Service) Get(ctx context.Context, mac string) (Phone, error) {
	m, err := CanonicalMAC(mac)
	if err != nil {
		return Phone{}, err
	}
	e, found, err := s.load(s.db.WithContext(ctx), m)
	if err != nil {
		return Phone{}, err
	}
	if !found {
		return Phone{}, fault.NotFoundf("deskprov has no enrolment for phone %s", m)
	}
	return e.view(), nil
}

func (s *Service) load(db *gorm.DB, mac string) (enrolment, bool, error) {
	var e enrolment
	if err := db.Where("mac = ?", mac).Limit(1).Find(&e).Error; err != nil {
		return e, false, err
	}
	return e, e.MAC != "", nil
}

// Approve lets a phone be issued credentials at its next fetch (also before
// it has asked, and after a revocation). A phone that holds credentials is
// a fault.Conflict: there is nothing to approve.
func (s *Service) Approve(ctx context.Context, mac, actor string) (Phone, error) {
	return s.change(ctx, mac, actor, "approve", func(e *enrolment, found bool) (map[string]any, error) {
		if found && e.State.hasCredential() {
			return nil, fault.Conflictf("phone %s already holds its credentials (%s): nothing to approve", e.MAC, e.State)
		}
		now := s.now()
		return map[string]any{"state": Approved, "approved_by": actor, "approved_at": &now, "revoked_at": nil}, nil
	})
}

// Revoke forgets a phone's credentials and refuses it every file of its own
// until an admin approves or re-enrols it. A MAC deskprov has not seen yet
// is recorded as revoked, so it is refused from its first request.
func (s *Service) Revoke(ctx context.Context, mac, actor string) (Phone, error) {
	return s.change(ctx, mac, actor, "revoke", func(e *enrolment, found bool) (map[string]any, error) {
		if found && e.State == Revoked {
			return nil, fault.Conflictf("phone %s is already revoked", e.MAC)
		}
		now := s.now()
		return map[string]any{"state": Revoked, "user": "", "ha1_md5": "", "ha1_sha256": "", "revoked_at": &now}, nil
	})
}

// Reenrol forgets a phone's enrolment and credentials (a factory-reset or
// replaced phone): its next fetch is a first contact again, issued new
// credentials within the enrol networks and, when approval is required,
// after an admin approves it.
func (s *Service) Reenrol(ctx context.Context, mac, actor string) error {
	m, err := CanonicalMAC(mac)
	if err != nil {
		return err
	}
	defer s.wrote(m)
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		e, found, err := s.load(store.ForUpdate(tx), m)
		if err != nil {
			return err
		}
		if !found {
			return fault.NotFoundf("deskprov has no enrolment for phone %s: it will be enrolled at its first request", m)
		}
		if err := tx.Where("mac = ?", m).Delete(&enrolment{}).Error; err != nil {
			return err
		}
		return s.record(tx, actor, "reenrol", m, &enrolmentAudit{State: e.State}, enrolmentAudit{Detail: "was " + string(e.State)})
	})
}

// change runs an admin change of one enrolment in a transaction, creating
// the row when the phone was never seen, and audits it.
func (s *Service) change(ctx context.Context, mac, actor, action string, fn func(e *enrolment, found bool) (map[string]any, error)) (Phone, error) {
	m, err := CanonicalMAC(mac)
	if err != nil {
		return Phone{}, err
	}
	if actor == "" {
		return Phone{}, fault.Invalidf("an admin change needs the admin's name")
	}
	var out enrolment
	defer s.wrote(m)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		e, found, err := s.load(store.ForUpdate(tx), m)
		if err != nil {
			return err
		}
		up, err := fn(&e, found)
		if err != nil {
			return err
		}
		up["updated_at"] = s.now()
		if !found {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&enrolment{MAC: m, State: AwaitingApproval, UpdatedAt: s.now()}).Error; err != nil {
				return err
			}
		}
		if err := tx.Model(&enrolment{}).Where("mac = ?", m).Updates(up).Error; err != nil {
			return err
		}
		if out, _, err = s.load(tx, m); err != nil {
			return err
		}
		var before *enrolmentAudit
		if found {
			before = &enrolmentAudit{State: e.State}
		}
		return s.record(tx, actor, action, m, before, enrolmentAudit{State: out.State, Detail: "was " + string(orNone(e.State, found))})
	})
	return out.view(), err
}

func orNone(st State, found bool) State {
	if !found {
		return "unknown"
	}
	return st
}

// RequireApproval reports whether new phones wait for an admin's approval
// before they are issued credentials.
func (s *Service) RequireApproval(ctx context.Context) (bool, error) {
	var st setting
	if err := s.db.WithContext(ctx).Where("name = ?", settingRequireApproval).Limit(1).Find(&st).Error; err != nil {
		return false, err
	}
	return st.Value == "true", nil
}

// SetRequireApproval turns approval of new phones on or off for every
// instance. Phones already waiting stay waiting until approved (or until
// they ask again with approval off).
func (s *Service) SetRequireApproval(ctx context.Context, on bool, actor string) error {
	if actor == "" {
		return fault.Invalidf("an admin change needs the admin's name")
	}
	v := fmt.Sprint(on)
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"value"})}).
			Create(&setting{Name: settingRequireApproval, Value: v}).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "require_approval", "", v)
	})
}

// Audit lists the newest enrolment audit entries first (at most limit,
// 200 when limit is out of 1..1000); mac, when set, keeps one phone's.
func (s *Service) Audit(ctx context.Context, mac string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	f := audit.Filter{Kind: audit.KindEnrolment, Limit: limit}
	if mac != "" {
		m, err := CanonicalMAC(mac)
		if err != nil {
			return nil, err
		}
		f.Object = audit.KindEnrolment + "/" + m
	}
	p, err := audit.List(ctx, s.db, f)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, len(p.Entries))
	for i, e := range p.Entries {
		var d audit.FirmwareDetail
		_ = json.Unmarshal(e.After, &d) // an entry without a detail shows none
		out[i] = AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, MAC: e.ObjectID, Detail: d.Detail}
	}
	return out, nil
}

// enrolmentAudit is an enrolment entry's before and after in the one
// audit log: the state (never the credentials) and what happened in words.
type enrolmentAudit struct {
	State  State  `json:"state,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// audit records a change of mac's enrolment (or of a setting, mac "") in
// the one audit log, in tx, the change's own transaction.
func (s *Service) audit(tx *gorm.DB, actor, action, mac, detail string) error {
	return s.record(tx, actor, action, mac, nil, enrolmentAudit{Detail: detail})
}

// record is audit with the enrolment's state before and after.
func (s *Service) record(tx *gorm.DB, actor, action, mac string, before *enrolmentAudit, after enrolmentAudit) error {
	if actor == "" {
		actor = "system"
	}
	obj := mac
	if obj == "" {
		obj = "settings"
	}
	var b any
	if before != nil {
		b = before
	}
	err := audit.Record(tx.Statement.Context, tx, audit.Change{At: s.now(), Actor: actor, Kind: audit.KindEnrolment, ObjectID: obj,
		Action: action, Before: b, After: after, Logged: true})
	if err != nil {
		return err
	}
	// Every step of an enrolment — a phone awaiting approval, credentials
	// issued, the first authenticated request, an admin's approval or
	// revocation — is an operator's event; the credential never is.
	slog.Default().Info("phone enrolment", "event", "enrolment."+action, "mac", mac, "actor", actor, "detail", after.Detail)
	return nil
}

// credential opens a row's stored credential.
func (s *Service) credential(e enrolment) (Credential, error) {
	md, err := s.Secrets.Open(e.HA1MD5, bindMD5(e.MAC))
	if err != nil {
		return Credential{}, fmt.Errorf("open the credential of %s: %w", e.MAC, err)
	}
	sh, err := s.Secrets.Open(e.HA1SHA256, bindSHA256(e.MAC))
	if err != nil {
		return Credential{}, fmt.Errorf("open the credential of %s: %w", e.MAC, err)
	}
	return Credential{User: e.User, HA1MD5: md, HA1SHA256: sh}, nil
}

func bindMD5(mac string) string    { return "phone_enrolments.ha1_md5:" + mac }
func bindSHA256(mac string) string { return "phone_enrolments.ha1_sha256:" + mac }

// seal stores a credential sealed; without a key (tests) it is kept as is.
func (s *Service) seal(mac string, c Credential) (md, sh string, err error) {
	if s.Secrets == nil {
		return c.HA1MD5, c.HA1SHA256, nil
	}
	if md, err = s.Secrets.Seal(c.HA1MD5, bindMD5(mac)); err != nil {
		return "", "", err
	}
	sh, err = s.Secrets.Seal(c.HA1SHA256, bindSHA256(mac))
	return md, sh, err
}

// UserFor is the provisioning user name of a phone.
func UserFor(mac string) string { return "phone-" + mac }

// newPassword is 128 random bits in hex: only characters every vendor's
// config format carries unescaped, and enough entropy that the stored HA1
// needs no slow hash.
func newPassword() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// EnrolledMACs is a subquery of the MACs deskprov holds an enrolment for,
// of one state ("" for any), for other packages' lists to filter by
// enrolment in the store (provisioning's device list).
func EnrolledMACs(db *gorm.DB, state State) *gorm.DB {
	q := db.Model(&enrolment{}).Select("mac")
	if state != "" {
		q = q.Where("state = ?", state)
	}
	return q
}
