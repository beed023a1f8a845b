package policy

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/textfield"
)

// AuditEntry records one change: who made it, when, to which object, and the
// object before and after (null when it did not exist). Secrets are masked.
type AuditEntry struct {
	ID         uint            `gorm:"primaryKey" json:"id"`
	At         time.Time       `gorm:"not null;index" json:"at"`
	Actor      string          `gorm:"size:100;not null" json:"actor"`
	Object     string          `gorm:"size:400;not null;index" json:"object"`
	Action     string          `gorm:"size:40;not null" json:"action"`
	BeforeJSON string          `gorm:"column:before_json;type:text" json:"-"`
	AfterJSON  string          `gorm:"column:after_json;type:text" json:"-"`
	Before     json.RawMessage `gorm:"-" json:"before"`
	After      json.RawMessage `gorm:"-" json:"after"`
}

func (AuditEntry) TableName() string { return "audit_entries" }

func (s *Service) audit(tx *gorm.DB, actor, object, action string, before, after any) error {
	if actor == "" {
		actor = "unknown"
	}
	// nil is "null"; a Policy's MarshalJSON masks the password.
	b, err := json.Marshal(before)
	if err != nil {
		return err
	}
	a, err := json.Marshal(after)
	if err != nil {
		return err
	}
	return tx.Create(&AuditEntry{At: s.now(), Actor: actor, Object: object, Action: action, BeforeJSON: string(b), AfterJSON: string(a)}).Error
}

// MaxAudit caps one audit listing.
const MaxAudit = 1000

// Audit lists changes, newest first. object filters to one object
// ("ipphonepolicy/Sales") or everything under a prefix ("ipphonepolicy",
// "user/amosm@contoso.com"); "" lists all. limit ≤ 0 means MaxAudit.
func (s *Service) Audit(ctx context.Context, object string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > MaxAudit {
		limit = MaxAudit
	}
	object = strings.TrimRight(strings.TrimSpace(object), "/")
	if err := textfield.Line("object", object, 400); err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit)
	if object != "" {
		if strings.HasPrefix(object, "user/") {
			object = strings.ToLower(object)
		}
		prefix := object + "/"
		q = q.Where("object = ? OR substr(object, 1, ?) = ?", object, len(prefix), prefix)
	}
	var out []AuditEntry
	if err := q.Find(&out).Error; err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Before = json.RawMessage(out[i].BeforeJSON)
		out[i].After = json.RawMessage(out[i].AfterJSON)
	}
	return out, nil
}
