package tenant

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/textfield"
)

// VoiceAuditEntry records one change to numbers, services or emergency
// addresses that moves something in place (a number to another service, a
// user's emergency address, a bridge's default number, an address edit): who,
// when, which object, and the object before and after. It is written in the
// change's own transaction, so a change is never without its record.
type VoiceAuditEntry struct {
	ID         uint            `gorm:"primaryKey" json:"id"`
	At         time.Time       `gorm:"not null;index" json:"at"`
	Actor      string          `gorm:"size:200;not null" json:"actor"`
	Object     string          `gorm:"size:200;not null;index" json:"object"`
	Action     string          `gorm:"size:40;not null" json:"action"`
	BeforeJSON string          `gorm:"column:before_json;type:text" json:"-"`
	AfterJSON  string          `gorm:"column:after_json;type:text" json:"-"`
	Before     json.RawMessage `gorm:"-" json:"before"`
	After      json.RawMessage `gorm:"-" json:"after"`
}

func (VoiceAuditEntry) TableName() string { return "voice_audit" }

func (s *Service) audit(tx *gorm.DB, actor, object, action string, before, after any) error {
	if actor = strings.TrimSpace(actor); actor == "" {
		actor = "unknown"
	}
	b, err := json.Marshal(before)
	if err != nil {
		return err
	}
	a, err := json.Marshal(after)
	if err != nil {
		return err
	}
	return tx.Create(&VoiceAuditEntry{At: s.Now().UTC(), Actor: actor, Object: object, Action: action,
		BeforeJSON: string(b), AfterJSON: string(a)}).Error
}

// MaxVoiceAudit caps one audit listing.
const MaxVoiceAudit = 1000

// VoiceAudit lists the records newest first: all, or those of one object
// ("number/+14255550100", "voiceservice/3", "emergencyaddress/2") or of a
// kind ("number"). limit ≤ 0 means MaxVoiceAudit.
func (s *Service) VoiceAudit(ctx context.Context, object string, limit int) ([]VoiceAuditEntry, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxVoiceAudit {
		limit = MaxVoiceAudit
	}
	object = strings.TrimRight(strings.TrimSpace(object), "/")
	if err := textfield.Line("object", object, 200); err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit)
	if object != "" {
		prefix := object + "/"
		q = q.Where("object = ? OR substr(object, 1, ?) = ?", object, len(prefix), prefix)
	}
	out := []VoiceAuditEntry{}
	if err := q.Find(&out).Error; err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Before = json.RawMessage(out[i].BeforeJSON)
		out[i].After = json.RawMessage(out[i].AfterJSON)
	}
	return out, nil
}
