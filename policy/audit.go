package policy

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
)

// AuditEntry is one entry of the service's audit log (package audit), which
// the policy audit became part of.
type AuditEntry = audit.Entry

func (s *Service) audit(tx *gorm.DB, actor, object, action string, before, after any) error {
	kind, id, _ := strings.Cut(object, "/")
	// nil is "null"; a Policy's MarshalJSON masks the password.
	return audit.Record(tx.Statement.Context, tx, audit.Change{At: s.now(), Actor: actor, Kind: kind, ObjectID: id, Action: action, Before: before, After: after})
}

// MaxAudit caps one audit listing.
const MaxAudit = audit.MaxPage

// Audit lists changes, newest first. object filters to one object
// ("ipphonepolicy/Sales") or everything under a prefix ("ipphonepolicy",
// "user/amosm@contoso.com"); "" lists all. limit ≤ 0 means MaxAudit.
func (s *Service) Audit(ctx context.Context, object string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > MaxAudit {
		limit = MaxAudit
	}
	p, err := audit.List(ctx, s.db, audit.Filter{Object: object, Limit: limit})
	return p.Entries, err
}
