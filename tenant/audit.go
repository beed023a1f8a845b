package tenant

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/internal/textfield"
)

// VoiceAuditEntry is an entry of the one audit log (package audit) about
// numbers, voice services, emergency addresses, reservations, port orders or
// number requests, in the shape the separate voice audit had before it moved
// into that log: object is kind/id.
type VoiceAuditEntry struct {
	ID     uint            `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Object string          `json:"object"`
	Action string          `json:"action"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// voiceKinds are the audit kinds the voice view shows.
var voiceKinds = []string{audit.KindNumber, audit.KindVoiceService, audit.KindEmergencyAddress,
	audit.KindReservation, audit.KindPortOrder, audit.KindNumberRequest}

// audit records a voice change in the one log, in tx, the change's own
// transaction, so a change is never without its record nor a refused one
// with one. object is kind/id ("number/+14255550100"); actor "" is the admin
// of the request (audit.WithActor on tx's context).
func (s *Service) audit(tx *gorm.DB, actor, object, action string, before, after any) error {
	kind, id, _ := strings.Cut(object, "/")
	return audit.Record(tx.Statement.Context, tx, audit.Change{At: s.Now(), Actor: strings.TrimSpace(actor),
		Kind: kind, ObjectID: id, Action: action, Before: before, After: after})
}

// MaxVoiceAudit caps one audit listing.
const MaxVoiceAudit = 1000

// VoiceAudit lists the voice entries of the one log newest first: all, or
// those of one object ("number/+14255550100", "voiceservice/3",
// "emergencyaddress/2") or of a kind ("number"). limit ≤ 0 means
// MaxVoiceAudit.
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
	q := s.db.WithContext(ctx).Model(&audit.Entry{}).Order("id DESC").Limit(limit).Where("kind IN ?", voiceKinds)
	if object != "" {
		kind, id, hasID := strings.Cut(object, "/")
		q = q.Where("kind = ?", kind)
		if hasID {
			prefix := id + "/"
			q = q.Where("(object_id = ? OR substr(object_id, 1, ?) = ?)", id, len(prefix), prefix)
		}
	}
	var rows []audit.Entry
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]VoiceAuditEntry, 0, len(rows))
	for _, e := range rows {
		v := VoiceAuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Object: e.Kind, Action: e.Action,
			Before: rawOrNull(e.BeforeJSON), After: rawOrNull(e.AfterJSON)}
		if e.ObjectID != "" {
			v.Object += "/" + e.ObjectID
		}
		out = append(out, v)
	}
	return out, nil
}

func rawOrNull(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}
