package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
)

// GlobalIdentity names the policy that applies to everyone without a grant.
const GlobalIdentity = "Global"

// PasswordMask stands for a LocalProvisioningServerPassword in API answers
// and the audit log. Sending it back in a PATCH keeps the stored password.
const PasswordMask = "********"

// Directory is what policy asks of the organisation: whether a user exists,
// and their internal ID (grants follow the account, not the name, so a user
// deleted and created again starts on Global). *tenant.Service satisfies it.
type Directory interface {
	User(ctx context.Context, upn string) (tenant.User, error)
}

// Service keeps the Global and named IP phone policies and who holds which.
type Service struct {
	db *gorm.DB
	// Users checks the users that grants name. New uses a tenant.Service on
	// the same store; cmd/deskprov sets the shared one.
	Users Directory
	// Now is the clock; tests move it.
	Now func() time.Time
	// Secrets seals LocalProvisioningServerPassword in the stored settings.
	// Without it no password can be stored; serve always sets it.
	Secrets *sealbox.Box
}

// New returns the policy service on db. Call Migrate first.
func New(db *gorm.DB) *Service {
	return &Service{db: db, Users: tenant.New(db), Now: time.Now}
}

// Policy is one IP phone policy as admins see it.
type Policy struct {
	Identity  string
	Version   int64
	Settings  Settings
	UpdatedAt time.Time
	// Users is how many users hold the policy (filled by List).
	Users int64
}

// MarshalJSON writes the policy the way Get-CsIPPhonePolicy shows it: the
// identity, the version and every setting side by side, the provisioning
// server password masked.
func (p Policy) MarshalJSON() ([]byte, error) {
	type flat struct {
		Identity string `json:"Identity"`
		Version  int64  `json:"Version"`
		Settings
	}
	return json.Marshal(flat{Identity: p.Identity, Version: p.Version, Settings: masked(p.Settings)})
}

func masked(s Settings) Settings {
	if s.LocalProvisioningServerPassword != "" {
		s.LocalProvisioningServerPassword = PasswordMask
	}
	return s
}

// record is a policy's row. Settings are kept as JSON, read over Defaults(),
// so a setting added in a later release takes its default in old rows.
type record struct {
	ID          uint   `gorm:"primaryKey"`
	Identity    string `gorm:"size:64;not null"`
	IdentityKey string `gorm:"size:64;uniqueIndex;not null"`
	Settings    string `gorm:"type:text;not null"`
	Version     int64  `gorm:"not null"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (record) TableName() string { return "ipphone_policies" }

// policy decodes a row, opening its sealed provisioning server password. A
// password stored in clear by an earlier version is returned as it is
// (SealClearSecrets seals it at the next start).
func (s *Service) policy(r record) (Policy, error) {
	st := Defaults()
	if err := json.Unmarshal([]byte(r.Settings), &st); err != nil {
		return Policy{}, err
	}
	pw, err := s.Secrets.Open(st.LocalProvisioningServerPassword, passwordBinding(r.IdentityKey))
	if err != nil {
		return Policy{}, fmt.Errorf("open the LocalProvisioningServerPassword of policy %s: %w", r.Identity, err)
	}
	st.LocalProvisioningServerPassword = pw
	return Policy{Identity: r.Identity, Version: r.Version, Settings: st, UpdatedAt: r.UpdatedAt}, nil
}

// encode is the stored form of a policy's settings: JSON with the
// provisioning server password sealed to the policy's row, so a copy of the
// database (or its backups) does not hand out the password of the
// organisation's own provisioning server.
func (s *Service) encode(identityKey string, st Settings) (string, error) {
	if st.LocalProvisioningServerPassword != "" {
		sealed, err := s.Secrets.Seal(st.LocalProvisioningServerPassword, passwordBinding(identityKey))
		if err != nil {
			return "", fmt.Errorf("seal the LocalProvisioningServerPassword: %w", err)
		}
		st.LocalProvisioningServerPassword = sealed
	}
	b, err := json.Marshal(st)
	return string(b), err
}

// passwordBinding ties a sealed password to its policy: copied into another
// policy's row, it does not open.
func passwordBinding(identityKey string) string {
	return "ipphone_policies.settings.LocalProvisioningServerPassword:" + identityKey
}

// SealClearSecrets seals the provisioning server passwords that versions
// before sealing stored in clear, and returns how many it sealed. serve runs
// it at every start. The policy's version does not change: what phones get
// is the same.
func (s *Service) SealClearSecrets(ctx context.Context) (int, error) {
	var rs []record
	if err := s.db.WithContext(ctx).Find(&rs).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rs {
		st := Defaults()
		if err := json.Unmarshal([]byte(r.Settings), &st); err != nil {
			return n, fmt.Errorf("policy %s: %w", r.Identity, err)
		}
		if st.LocalProvisioningServerPassword == "" || sealbox.Sealed(st.LocalProvisioningServerPassword) {
			continue
		}
		enc, err := s.encode(r.IdentityKey, st)
		if err != nil {
			return n, fmt.Errorf("policy %s: %w", r.Identity, err)
		}
		// Only the row as read: a policy edited meanwhile was sealed by its edit.
		res := s.db.WithContext(ctx).Model(&record{}).Where("id = ? AND settings = ?", r.ID, r.Settings).Update("settings", enc)
		if res.Error != nil {
			return n, res.Error
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// grant says that a user holds a named policy. No row means Global.
type grant struct {
	UserID    uint `gorm:"primaryKey;autoIncrement:false"`
	PolicyID  uint `gorm:"not null;index"`
	UPN       string
	CreatedAt time.Time
}

func (grant) TableName() string { return "ipphone_policy_grants" }

// Migrate creates the policy tables and the Global policy with the defaults.
func Migrate(db *gorm.DB) error {
	if err := store.Migrate(db); err != nil { // the generation counter policy writes bump
		return err
	}
	if err := audit.Migrate(db); err != nil {
		return err
	}
	if err := db.AutoMigrate(&record{}, &grant{}); err != nil {
		return err
	}
	return db.Transaction(func(tx *gorm.DB) error {
		_, err := ensureGlobal(tx, time.Now().UTC())
		return err
	})
}

// ensureGlobal creates Global with the defaults unless it exists, and
// returns its row.
func ensureGlobal(tx *gorm.DB, now time.Time) (record, error) {
	var r record
	if err := store.ForUpdate(tx).Where("identity_key = ?", strings.ToLower(GlobalIdentity)).Limit(1).Find(&r).Error; err != nil {
		return record{}, err
	}
	if r.ID != 0 {
		return r, nil
	}
	b, _ := json.Marshal(Defaults())
	r = record{Identity: GlobalIdentity, IdentityKey: strings.ToLower(GlobalIdentity), Settings: string(b), CreatedAt: now, UpdatedAt: now}
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
	if res.Error != nil {
		return record{}, res.Error
	}
	if res.RowsAffected == 1 {
		v, err := bumpVersion(tx)
		if err != nil {
			return record{}, err
		}
		if err := tx.Model(&record{}).Where("id = ?", r.ID).Update("version", v).Error; err != nil {
			return record{}, err
		}
	}
	r = record{}
	err := tx.Where("identity_key = ?", strings.ToLower(GlobalIdentity)).First(&r).Error
	return r, err
}

// bumpVersion bumps the config generation and returns its new value, which
// becomes the edited policy's version: unique across every policy, so a
// phone whose user moved from one policy to another sees a new version too.
func bumpVersion(tx *gorm.DB) (int64, error) {
	if err := store.Bump(tx, store.ConfigGeneration); err != nil {
		return 0, err
	}
	return store.Generation(tx.Statement.Context, tx, store.ConfigGeneration)
}

var identityPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$`)

// NormalizeIdentity checks a policy name. "Tag:Sales" (the original
// cmdlets' spelling) means "Sales"; any case of "global" means Global.
func NormalizeIdentity(identity string) (string, error) {
	id := strings.TrimSpace(identity)
	if len(id) >= 4 && strings.EqualFold(id[:4], "tag:") {
		id = strings.TrimSpace(id[4:])
	}
	if strings.EqualFold(id, GlobalIdentity) {
		return GlobalIdentity, nil
	}
	if !identityPattern.MatchString(id) || strings.HasSuffix(id, " ") {
		return "", fault.FieldInvalid("Identity", "Identity %.64q is not a policy name: use 1 to 64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit", identity)
	}
	return id, nil
}

// find reads a policy row (locked for update on PostgreSQL when tx is a
// write transaction that asks for it).
func find(tx *gorm.DB, identity string, lock bool) (record, error) {
	id, err := NormalizeIdentity(identity)
	if err != nil {
		return record{}, err
	}
	q := tx
	if lock {
		q = store.ForUpdate(tx)
	}
	var r record
	if err := q.Where("identity_key = ?", strings.ToLower(id)).Limit(1).Find(&r).Error; err != nil {
		return record{}, err
	}
	if r.ID == 0 {
		if id == GlobalIdentity && lock {
			return ensureGlobal(tx, time.Now().UTC())
		}
		return record{}, fault.Hintf(fault.NotFound, "no IP phone policy %q: the list is on {fix}", id).WithFix("policy.list")
	}
	return r, nil
}

// Get returns one policy.
func (s *Service) Get(ctx context.Context, identity string) (Policy, error) {
	r, err := find(s.db.WithContext(ctx), identity, false)
	if err != nil {
		if id, _ := NormalizeIdentity(identity); id == GlobalIdentity && fault.Is(err, fault.NotFound) {
			return Policy{Identity: GlobalIdentity, Settings: Defaults()}, nil
		}
		return Policy{}, err
	}
	return s.policy(r)
}

// List returns every policy, Global first, then by name, each with how many
// users hold it.
func (s *Service) List(ctx context.Context) ([]Policy, error) {
	db := s.db.WithContext(ctx)
	var rs []record
	if err := db.Order("identity_key").Find(&rs).Error; err != nil {
		return nil, err
	}
	type count struct {
		PolicyID uint
		N        int64
	}
	var counts []count
	if err := heldGrants(db).Select("policy_id, count(*) AS n").Group("policy_id").Scan(&counts).Error; err != nil {
		return nil, err
	}
	byID := map[uint]int64{}
	for _, c := range counts {
		byID[c.PolicyID] = c.N
	}
	out := make([]Policy, 0, len(rs)+1)
	hasGlobal := false
	for _, r := range rs {
		p, err := s.policy(r)
		if err != nil {
			return nil, err
		}
		p.Users = byID[r.ID]
		if p.Identity == GlobalIdentity {
			hasGlobal = true
			out = append([]Policy{p}, out...)
			continue
		}
		out = append(out, p)
	}
	if !hasGlobal {
		out = append([]Policy{{Identity: GlobalIdentity, Settings: Defaults()}}, out...)
	}
	return out, nil
}

// heldGrants selects the grants of users who still exist (a deleted user's
// grant holds nothing).
func heldGrants(db *gorm.DB) *gorm.DB {
	return db.Model(&grant{}).Where("user_id IN (?)", db.Session(&gorm.Session{NewDB: true}).Model(&tenant.User{}).Select("id"))
}

// Create adds a named policy: the defaults, changed by patch.
func (s *Service) Create(ctx context.Context, actor, identity string, patch Patch) (Policy, error) {
	id, err := NormalizeIdentity(identity)
	if err != nil {
		return Policy{}, err
	}
	if id == GlobalIdentity {
		return Policy{}, fault.Hintf(fault.Conflict, "Global always exists: change it with {fix}").WithFix("policy.set", "identity", "Global")
	}
	settings, err := patch.Apply(Defaults())
	if err != nil {
		return Policy{}, err
	}
	var out Policy
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		v, err := bumpVersion(tx)
		if err != nil {
			return err
		}
		enc, err := s.encode(strings.ToLower(id), settings)
		if err != nil {
			return err
		}
		now := s.now()
		r := record{Identity: id, IdentityKey: strings.ToLower(id), Settings: enc, Version: v, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&r).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("an IP phone policy %q already exists", id)
			}
			return err
		}
		if out, err = s.policy(r); err != nil {
			return err
		}
		return s.audit(tx, actor, policyObject(id), "create", nil, out)
	})
	return out, err
}

// Update changes the settings patch names and no others. When ifVersion is
// not 0 it must be the policy's current version, so that an admin never
// overwrites a change made since they read the policy. A patch that changes
// nothing writes nothing.
func (s *Service) Update(ctx context.Context, actor, identity string, patch Patch, ifVersion int64) (Policy, error) {
	return s.edit(ctx, actor, identity, "update", ifVersion, func(cur Settings) (Settings, error) {
		p := patch
		if v, ok := patch["LocalProvisioningServerPassword"]; ok && string(v) == `"`+PasswordMask+`"` {
			p = Patch{}
			for k, raw := range patch {
				if k != "LocalProvisioningServerPassword" {
					p[k] = raw
				}
			}
		}
		return p.Apply(cur)
	})
}

// Reset puts a policy (Global included) back to the defaults.
func (s *Service) Reset(ctx context.Context, actor, identity string) (Policy, error) {
	return s.edit(ctx, actor, identity, "reset", 0, func(Settings) (Settings, error) { return Defaults(), nil })
}

func (s *Service) edit(ctx context.Context, actor, identity, action string, ifVersion int64, change func(Settings) (Settings, error)) (Policy, error) {
	var out Policy
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := find(tx, identity, true)
		if err != nil {
			return err
		}
		before, err := s.policy(r)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != r.Version {
			return fault.Conflictf("the policy %q changed since you read it (version %d, now %d): read it again and redo your change", r.Identity, ifVersion, r.Version).WithCode("version_mismatch")
		}
		next, err := change(before.Settings)
		if err != nil {
			return err
		}
		if len(changes(before.Settings, next)) == 0 {
			out = before
			return nil
		}
		v, err := bumpVersion(tx)
		if err != nil {
			return err
		}
		enc, err := s.encode(r.IdentityKey, next)
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.Model(&record{}).Where("id = ?", r.ID).Updates(map[string]any{"settings": enc, "version": v, "updated_at": now}).Error; err != nil {
			return err
		}
		out = Policy{Identity: r.Identity, Version: v, Settings: next, UpdatedAt: now}
		return s.audit(tx, actor, policyObject(r.Identity), action, before, out)
	})
	return out, err
}

// Delete removes a named policy. When users hold it, it refuses with a
// conflict saying how many, unless force is set: then they fall back to
// Global. It returns how many users moved.
func (s *Service) Delete(ctx context.Context, actor, identity string, force bool) (int64, error) {
	var moved int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		id, err := NormalizeIdentity(identity)
		if err != nil {
			return err
		}
		if id == GlobalIdentity {
			return fault.Hintf(fault.Conflict, "Global cannot be removed; put it back to the defaults with {fix}").WithFix("policy.reset", "identity", "Global").WithCode("global_policy")
		}
		r, err := find(tx, id, true)
		if err != nil {
			return err
		}
		before, err := s.policy(r)
		if err != nil {
			return err
		}
		var holders []grant
		if err := heldGrants(tx).Where("policy_id = ?", r.ID).Order("upn").Find(&holders).Error; err != nil {
			return err
		}
		if len(holders) > 0 && !force {
			return fault.Hintf(fault.Conflict, "%d user(s) hold the policy %q: grant them another policy first, or remove it with {set:force}, which moves them to Global", len(holders), r.Identity).WithCode("policy_in_use")
		}
		if err := tx.Where("policy_id = ?", r.ID).Delete(&grant{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&record{}, r.ID).Error; err != nil {
			return err
		}
		if err := store.Bump(tx, store.ConfigGeneration); err != nil {
			return err
		}
		for _, g := range holders {
			if err := s.audit(tx, actor, userObject(g.UPN), "grant", grantView{UPN: g.UPN, PolicyName: &r.Identity}, grantView{UPN: g.UPN}); err != nil {
				return err
			}
		}
		moved = int64(len(holders))
		return s.audit(tx, actor, policyObject(r.Identity), "delete", before, nil)
	})
	return moved, err
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func policyObject(identity string) string { return "ipphonepolicy/" + identity }
func userObject(upn string) string        { return "user/" + strings.ToLower(upn) + "/ipphonepolicy" }
