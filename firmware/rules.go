package firmware

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store"
)

// Rule is the update rule of one vendor + model + edition (+ revision and
// locale for Lync Phone Edition): the pending version only test devices
// install, the approved version every phone gets, and the restore version to
// roll back to. Each version is an image ID ("" for none).
type Rule struct {
	ID       uint   `gorm:"primaryKey"`
	Vendor   string `gorm:"size:16;not null;uniqueIndex:idx_fw_rule_ekey"`
	Model    string `gorm:"size:32;not null;uniqueIndex:idx_fw_rule_ekey"`
	Revision string `gorm:"size:64;not null;default:'';uniqueIndex:idx_fw_rule_ekey"`
	Locale   string `gorm:"size:32;not null;default:'';uniqueIndex:idx_fw_rule_ekey"`
	// Edition keeps Skype for Business and open-SIP images of one model
	// apart (see Edition); "" for a vendor with one edition.
	Edition string `gorm:"size:16;not null;default:'';uniqueIndex:idx_fw_rule_ekey"`
	// AutoApprove approves, when it is imported, an image newer than the
	// rule's approved version, in the default staged rollout (Skype for
	// Business Online's behaviour: phones take the newest certified version).
	AutoApprove   bool      `gorm:"not null;default:false"`
	PendingImage  string    `gorm:"size:64;not null;default:''"`
	ApprovedImage string    `gorm:"size:64;not null;default:''"`
	RestoreImage  string    `gorm:"size:64;not null;default:''"`
	UpdatedAt     time.Time `gorm:"not null"`
}

func (Rule) TableName() string { return "firmware_rules" }

// Versions are a rule's three slots.
type Versions struct{ Pending, Approved, Restore string }

// Rule actions.
const (
	ActionApprove = "approve"
	ActionRestore = "restore"
	ActionReset   = "reset"
)

// Transition is the rule state machine: approve moves approved → restore and
// pending → approved; restore makes the restore version the approved one;
// reset drops the pending version. An action with nothing to act on is a
// conflict.
func Transition(action string, v Versions) (Versions, error) {
	switch action {
	case ActionApprove:
		if v.Pending == "" {
			return v, fault.Conflictf("there is no pending version to approve: import an image first")
		}
		return Versions{Pending: "", Approved: v.Pending, Restore: v.Approved}, nil
	case ActionRestore:
		if v.Restore == "" {
			return v, fault.Conflictf("there is no restore version to roll back to")
		}
		return Versions{Pending: v.Pending, Approved: v.Restore, Restore: ""}, nil
	case ActionReset:
		if v.Pending == "" {
			return v, fault.Conflictf("there is no pending version to reset")
		}
		return Versions{Pending: "", Approved: v.Approved, Restore: v.Restore}, nil
	}
	return v, fault.Invalidf("unknown action %q: use approve, restore or reset", action)
}

// VersionRef names one version of a rule.
type VersionRef struct {
	SHA256   string `json:"sha256"`
	Version  string `json:"version"`
	FileName string `json:"fileName"`
}

// RuleView is a rule as the API shows it.
type RuleView struct {
	ID       uint   `json:"id"`
	Vendor   string `json:"vendor"`
	Model    string `json:"model"`
	Revision string `json:"revision,omitempty"`
	Locale   string `json:"locale,omitempty"`
	Edition  string `json:"edition,omitempty"`
	// AutoApprove: see Rule.AutoApprove.
	AutoApprove bool        `json:"autoApprove"`
	Pending     *VersionRef `json:"pending"`
	Approved    *VersionRef `json:"approved"`
	Restore     *VersionRef `json:"restore"`
	Rollout     *uint       `json:"rolloutId,omitempty"`
	UpdatedAt   time.Time   `json:"updatedAt"`
}

// Rules lists every rule.
func (s *Service) Rules(ctx context.Context) ([]RuleView, error) {
	var rs []Rule
	if err := s.db.WithContext(ctx).Order("vendor, model, edition, revision, locale").Find(&rs).Error; err != nil {
		return nil, err
	}
	return s.views(ctx, rs)
}

// RuleByID returns one rule.
func (s *Service) RuleByID(ctx context.Context, id uint) (RuleView, error) {
	var r Rule
	if err := s.db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&r).Error; err != nil {
		return RuleView{}, err
	}
	if r.ID == 0 {
		return RuleView{}, fault.NotFoundf("no device update rule %d", id)
	}
	vs, err := s.views(ctx, []Rule{r})
	if err != nil {
		return RuleView{}, err
	}
	return vs[0], nil
}

func (s *Service) views(ctx context.Context, rs []Rule) ([]RuleView, error) {
	var imgs []Image
	if err := s.db.WithContext(ctx).Find(&imgs).Error; err != nil {
		return nil, err
	}
	byID := map[string]Image{}
	for _, i := range imgs {
		byID[i.ID] = i
	}
	var ros []Rollout
	if err := s.db.WithContext(ctx).Where("state IN ?", activeStates).Find(&ros).Error; err != nil {
		return nil, err
	}
	active := map[uint]uint{}
	for _, ro := range ros {
		active[ro.RuleID] = ro.ID
	}
	ref := func(id string) *VersionRef {
		if id == "" {
			return nil
		}
		i := byID[id]
		return &VersionRef{SHA256: id, Version: i.Version, FileName: i.FileName}
	}
	out := make([]RuleView, len(rs))
	for i, r := range rs {
		out[i] = RuleView{ID: r.ID, Vendor: r.Vendor, Model: r.Model, Revision: r.Revision, Locale: r.Locale, Edition: r.Edition, AutoApprove: r.AutoApprove,
			Pending: ref(r.PendingImage), Approved: ref(r.ApprovedImage), Restore: ref(r.RestoreImage), UpdatedAt: r.UpdatedAt}
		if id, ok := active[r.ID]; ok {
			out[i].Rollout = &id
		}
	}
	return out, nil
}

// ruleFor finds (and with create, makes, auto-approving as autoApprove says)
// the rule for a key, locked for the rest of tx.
func (s *Service) ruleFor(tx *gorm.DB, vendor, model, revision, locale, edition string, create, autoApprove bool) (Rule, error) {
	var r Rule
	find := func() error {
		return store.ForUpdate(tx).Where("vendor = ? AND model = ? AND revision = ? AND locale = ? AND edition = ?", vendor, model, revision, locale, edition).Limit(1).Find(&r).Error
	}
	if err := find(); err != nil || r.ID != 0 || !create {
		return r, err
	}
	n := Rule{Vendor: vendor, Model: model, Revision: revision, Locale: locale, Edition: edition, AutoApprove: autoApprove, UpdatedAt: s.now()}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&n).Error; err != nil {
		return r, err
	}
	return r, find()
}

// Act applies approve, restore or reset to a rule. Approve may carry a
// rollout plan: the new version then goes out in waves. Restore aborts a
// rollout in progress; approve is refused while one is.
func (s *Service) Act(ctx context.Context, id uint, action string, plan *Plan, actor string) (RuleView, error) {
	if plan != nil && action != ActionApprove {
		return RuleView{}, fault.Invalidf("a rollout plan goes with approve only")
	}
	if plan != nil {
		if err := plan.validate(); err != nil {
			return RuleView{}, err
		}
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var r Rule
		if err := store.ForUpdate(tx).Where("id = ?", id).Limit(1).Find(&r).Error; err != nil {
			return err
		}
		if r.ID == 0 {
			return fault.NotFoundf("no device update rule %d", id)
		}
		return s.act(tx, r, action, plan, actor)
	})
	if err != nil {
		return RuleView{}, err
	}
	return s.RuleByID(ctx, id)
}

// act applies action to r (locked in tx); plan is validated.
func (s *Service) act(tx *gorm.DB, r Rule, action string, plan *Plan, actor string) error {
	from := Versions{Pending: r.PendingImage, Approved: r.ApprovedImage, Restore: r.RestoreImage}
	to, err := Transition(action, from)
	if err != nil {
		return err
	}
	var ro Rollout
	if err := tx.Where("rule_id = ? AND state IN ?", r.ID, activeStates).Limit(1).Find(&ro).Error; err != nil {
		return err
	}
	if ro.ID != 0 {
		switch action {
		case ActionApprove:
			return fault.Conflictf("rollout %d of this rule is still %s: abort it or let it finish first", ro.ID, ro.State)
		case ActionRestore:
			if err := tx.Model(&ro).Updates(map[string]any{"state": StateAborted, "updated_at": s.now()}).Error; err != nil {
				return err
			}
		}
	}
	if err := tx.Model(&r).Updates(map[string]any{"pending_image": to.Pending, "approved_image": to.Approved,
		"restore_image": to.Restore, "updated_at": s.now()}).Error; err != nil {
		return err
	}
	detail := fmt.Sprintf("%s %s: pending %s→%s, approved %s→%s, restore %s→%s", r.Vendor, r.Model,
		short(from.Pending), short(to.Pending), short(from.Approved), short(to.Approved), short(from.Restore), short(to.Restore))
	if plan != nil {
		ro := plan.rollout(r, from, to, s.now())
		if err := tx.Create(&ro).Error; err != nil {
			return err
		}
		if _, err := s.evaluate(tx, &ro); err != nil {
			return err
		}
		detail += fmt.Sprintf("; rollout %d in waves %s", ro.ID, ro.Waves)
	}
	return s.audit(tx, actor, action, fmt.Sprintf("rule %d", r.ID), detail)
}

// SetAutoApprove turns a rule's AutoApprove on or off.
func (s *Service) SetAutoApprove(ctx context.Context, id uint, on bool, actor string) (RuleView, error) {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var r Rule
		if err := store.ForUpdate(tx).Where("id = ?", id).Limit(1).Find(&r).Error; err != nil {
			return err
		}
		if r.ID == 0 {
			return fault.NotFoundf("no device update rule %d", id)
		}
		if r.AutoApprove == on {
			return nil
		}
		if err := tx.Model(&r).Updates(map[string]any{"auto_approve": on, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "autoapprove", fmt.Sprintf("rule %d", r.ID), fmt.Sprintf("%s %s: autoApprove %v", r.Vendor, r.Model, on))
	})
	if err != nil {
		return RuleView{}, err
	}
	return s.RuleByID(ctx, id)
}

// DefaultPlan is the staged rollout an automatic approval goes out in.
func DefaultPlan() Plan { return Plan{Waves: []int{1, 10, 50, 100}} }

func short(sha string) string {
	if sha == "" {
		return "none"
	}
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// TestDevice is a phone that installs pending versions.
type TestDevice struct {
	ID             uint      `gorm:"primaryKey" json:"id"`
	IdentifierType string    `gorm:"size:16;not null;uniqueIndex:idx_fw_testdev" json:"identifierType"`
	Identifier     string    `gorm:"size:64;not null;uniqueIndex:idx_fw_testdev" json:"identifier"`
	CreatedAt      time.Time `gorm:"not null" json:"createdAt"`
	CreatedBy      string    `gorm:"size:200" json:"createdBy,omitempty"`
}

func (TestDevice) TableName() string { return "firmware_test_devices" }

// Test device identifier types, as the original Device Update service names them.
const (
	ByMAC    = "MACAddress"
	BySerial = "SerialNumber"
)

// AddTestDevice lists a phone, by MAC or serial number, as a test device.
func (s *Service) AddTestDevice(ctx context.Context, idType, ident, actor string) (TestDevice, error) {
	var v string
	switch idType {
	case ByMAC:
		if v = NormalizeMAC(ident); v == "" {
			return TestDevice{}, fault.FieldInvalid("identifier", "%q is not a MAC address (12 hex digits)", ident)
		}
	case BySerial:
		v = strings.ToUpper(strings.TrimSpace(ident))
		if v == "" || len(v) > 64 {
			return TestDevice{}, fault.FieldInvalid("identifier", "a serial number is 1 to 64 characters")
		}
	default:
		return TestDevice{}, fault.FieldInvalid("identifierType", "identifierType %q is unknown: use MACAddress or SerialNumber", idType)
	}
	td := TestDevice{IdentifierType: idType, Identifier: v, CreatedAt: s.now(), CreatedBy: actor}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&td).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("%s %s is already a test device", idType, v)
			}
			return err
		}
		return s.audit(tx, actor, "testdevice.add", idType+" "+v, "")
	})
	return td, err
}

// RemoveTestDevice takes a phone off the test list.
func (s *Service) RemoveTestDevice(ctx context.Context, id uint, actor string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var td TestDevice
		if err := tx.Where("id = ?", id).Limit(1).Find(&td).Error; err != nil {
			return err
		}
		if td.ID == 0 {
			return fault.NotFoundf("no test device %d", id)
		}
		if err := tx.Delete(&td).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "testdevice.remove", td.IdentifierType+" "+td.Identifier, "")
	})
}

// TestDevices lists the test devices.
func (s *Service) TestDevices(ctx context.Context) ([]TestDevice, error) {
	out := []TestDevice{}
	return out, s.db.WithContext(ctx).Order("id").Find(&out).Error
}

func (s *Service) isTestDevice(tx *gorm.DB, mac, serial string) (bool, error) {
	q := tx.Model(&TestDevice{})
	switch {
	case mac != "" && serial != "":
		q = q.Where("(identifier_type = ? AND identifier = ?) OR (identifier_type = ? AND identifier = ?)", ByMAC, mac, BySerial, serial)
	case mac != "":
		q = q.Where("identifier_type = ? AND identifier = ?", ByMAC, mac)
	case serial != "":
		q = q.Where("identifier_type = ? AND identifier = ?", BySerial, serial)
	default:
		return false, nil
	}
	var n int64
	err := q.Count(&n).Error
	return n > 0, err
}

// autoApprove approves img, just made r's pending version, in the default
// staged rollout when it is newer than r's approved version. An older or
// equal version stays pending, as does one imported while a rollout of the
// rule is under way (the admin finishes or aborts that first); the audit
// says which.
func (s *Service) autoApprove(tx *gorm.DB, r Rule, img Image, actor string) error {
	target := fmt.Sprintf("rule %d", r.ID)
	if r.ApprovedImage != "" {
		var cur Image
		if err := tx.Where("id = ?", r.ApprovedImage).Limit(1).Find(&cur).Error; err != nil {
			return err
		}
		if cur.ID != "" && provisioning.CompareVersions(img.Version, cur.Version) <= 0 {
			return s.audit(tx, actor, "autoapprove.skip", target, fmt.Sprintf("%s is not newer than the approved %s: left pending", img.Version, cur.Version))
		}
	}
	var ro Rollout
	if err := tx.Where("rule_id = ? AND state IN ?", r.ID, activeStates).Limit(1).Find(&ro).Error; err != nil {
		return err
	}
	if ro.ID != 0 {
		return s.audit(tx, actor, "autoapprove.skip", target, fmt.Sprintf("rollout %d is %s: %s left pending", ro.ID, ro.State, img.Version))
	}
	plan := DefaultPlan()
	if err := plan.validate(); err != nil {
		return err
	}
	return s.act(tx, r, ActionApprove, &plan, actor+" (autoApprove)")
}
