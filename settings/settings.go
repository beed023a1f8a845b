// Package settings keeps the service-wide settings every deskprov instance on
// one database must agree on (the public URL that is every token's issuer,
// the poll interval and the other flags that shape phone files and sign-in)
// in the database, so that instances cannot quietly disagree.
//
// The first instance records its values; an instance started later takes
// the recorded ones, and is refused when a flag it was given explicitly
// differs from the record (Reconcile). An admin changes a value
// deliberately with Set (deskprov settings set), then restarts the servers.
package settings

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
)

// The settings' names, as serve's flags spell them.
const (
	PublicURL        = "public-url"
	PollInterval     = "poll-interval"
	PhoneLockLockout = "phone-lock-lockout"
	PhoneCredentials = "phone-credentials"
	EnrollNetworks   = "enroll-networks"
)

// Names lists every service-wide setting, in the order they are shown.
var Names = []string{PublicURL, PollInterval, PhoneLockLockout, PhoneCredentials, EnrollNetworks}

// record is one recorded setting.
type record struct {
	Name      string `gorm:"primaryKey;size:64"`
	Value     string `gorm:"size:2048;not null"`
	SetBy     string `gorm:"size:256;not null"`
	UpdatedAt time.Time
}

func (record) TableName() string { return "service_settings" }

// Migrate creates the settings table.
func Migrate(db *gorm.DB) error { return db.AutoMigrate(&record{}) }

// Setting is a recorded setting and the value this instance runs with
// (they differ on an instance started before a Set, until it restarts).
type Setting struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	InEffect  string    `json:"inEffect"`
	SetBy     string    `json:"setBy"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Canon checks a setting's value and returns it in the one form that is
// compared and recorded (a trailing slash trimmed, a duration normalised).
type Canon func(value string) (string, error)

// Service reads and changes the recorded settings.
type Service struct {
	db *gorm.DB
	// Canon checks and normalises each setting; a name without one is not
	// a setting. cmd/deskprov fills it with the flags' own checks.
	Canon map[string]Canon
	// InEffect are the values this instance runs with, set by Reconcile.
	InEffect map[string]string
	Now      func() time.Time
}

// New builds the service.
func New(db *gorm.DB, canon map[string]Canon) *Service {
	return &Service{db: db, Canon: canon, InEffect: map[string]string{}, Now: time.Now}
}

// Reconcile records this instance's values where nothing is recorded yet and
// returns the values it must run with. mine holds its values (canonical),
// explicit the names whose flag was given (on the command line or in the
// environment). When shared is false (a SQLite store, which one server owns),
// the instance's values win and are recorded. When shared is true, a value
// not given explicitly is taken from the record, and an explicit one that
// differs from it refuses the start, naming every difference.
func (s *Service) Reconcile(ctx context.Context, mine map[string]string, explicit map[string]bool, shared bool, by string) (map[string]string, error) {
	db := s.db.WithContext(ctx)
	out := map[string]string{}
	var diffs []string
	for _, name := range Names {
		v, ok := mine[name]
		if !ok {
			continue
		}
		now := s.Now().UTC()
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&record{Name: name, Value: v, SetBy: by, UpdatedAt: now}).Error; err != nil {
			return nil, fmt.Errorf("record the service settings: %w", err)
		}
		var r record
		if err := db.First(&r, "name = ?", name).Error; err != nil {
			return nil, fmt.Errorf("read the service settings: %w", err)
		}
		switch {
		case r.Value == v:
			out[name] = v
		case !shared:
			if err := db.Model(&record{}).Where("name = ?", name).Updates(map[string]any{"value": v, "set_by": by, "updated_at": now}).Error; err != nil {
				return nil, fmt.Errorf("record the service settings: %w", err)
			}
			out[name] = v
		case explicit[name]:
			diffs = append(diffs, fmt.Sprintf("--%s %s differs from the value recorded in the database, %s (set by %s at %s)",
				name, show(v), show(r.Value), r.SetBy, r.UpdatedAt.UTC().Format(time.RFC3339)))
		default:
			out[name] = r.Value
		}
	}
	if len(diffs) > 0 {
		return nil, fmt.Errorf("every deskprov on one database must run with the same service-wide settings, and this one's differ: %s. "+
			"Start it without those flags (it then takes the recorded values) or with the recorded values, "+
			"or change a value for every server deliberately with deskprov settings set NAME VALUE and then restart each server (docs/deploy.md)",
			strings.Join(diffs, "; "))
	}
	for k, v := range out {
		s.InEffect[k] = v
	}
	return out, nil
}

func show(v string) string {
	if v == "" {
		return `"" (empty)`
	}
	return v
}

// List returns every recorded setting with the value this instance runs with.
func (s *Service) List(ctx context.Context) ([]Setting, error) {
	var rs []record
	if err := s.db.WithContext(ctx).Find(&rs).Error; err != nil {
		return nil, err
	}
	out := make([]Setting, 0, len(Names))
	for _, name := range Names {
		i := slices.IndexFunc(rs, func(r record) bool { return r.Name == name })
		st := Setting{Name: name, InEffect: s.InEffect[name]}
		if i >= 0 {
			st.Value, st.SetBy, st.UpdatedAt = rs[i].Value, rs[i].SetBy, rs[i].UpdatedAt.UTC()
		}
		out = append(out, st)
	}
	return out, nil
}

// Set records a new value for a setting. Servers already running keep the
// value they started with until they are restarted (List shows both).
func (s *Service) Set(ctx context.Context, name, value, by string) (Setting, error) {
	canon, ok := s.Canon[name]
	if !ok || !slices.Contains(Names, name) {
		return Setting{}, fault.NotFoundf("no service-wide setting is named %q: use one of %s", clip(name), strings.Join(Names, ", "))
	}
	v, err := canon(value)
	if err != nil {
		if _, ok := fault.As(err); ok {
			return Setting{}, err
		}
		return Setting{}, fault.FieldInvalid("value", "%s: %v", name, err)
	}
	r := record{Name: name, Value: v, SetBy: by, UpdatedAt: s.Now().UTC()}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&r).Error; err != nil {
		return Setting{}, err
	}
	return Setting{Name: name, Value: v, InEffect: s.InEffect[name], SetBy: by, UpdatedAt: r.UpdatedAt}, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
