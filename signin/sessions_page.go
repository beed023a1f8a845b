package signin

import (
	"context"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
)

// SessionFilter narrows and pages the list of phone sessions. The console's
// Sign-in page and GET /api/v1/phonesessions read it page by page in the
// store, so that a fleet of 100,000 phones is never read whole.
type SessionFilter struct {
	// UPN keeps one user's sessions (the whole UPN, any case).
	UPN string
	// Search matches part of the UPN or of the MAC (in any spelling),
	// without regard to case.
	Search string
	// Limit is the most sessions returned (0 or over MaxSessionPage:
	// MaxSessionPage). After continues after the last session of the page
	// before: its UPN and MAC, the order of the listing.
	Limit int
	After SessionMark
}

// SessionMark is where a page of sessions ended.
type SessionMark struct{ UPN, MAC string }

// MaxSessionPage bounds one page of sessions.
const MaxSessionPage = 1000

// macSpelling is what a MAC search ignores: the separators people write.
var macSpelling = strings.NewReplacer(":", "", "-", "", ".", "", " ", "")

// SessionsPage lists the live phone sessions f selects, by UPN then MAC,
// and the mark of the next page (zero when this page is the last). Sessions
// that ended (their account's credentials moved on) are dropped as they are
// met, as Sessions does, and the page is filled from the rows after them.
func (s *Service) SessionsPage(ctx context.Context, f SessionFilter) ([]Session, SessionMark, error) {
	search := strings.ToLower(strings.TrimSpace(f.Search))
	if err := textfield.Line("search", search, 256); err != nil {
		return nil, SessionMark{}, err
	}
	if f.After.MAC != "" {
		m, err := NormalizeMAC(f.After.MAC)
		if err != nil {
			return nil, SessionMark{}, fault.FieldInvalid("after", "after does not end in a MAC: pass on the after= of the Link header's next page")
		}
		f.After.MAC = m
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxSessionPage {
		limit = MaxSessionPage
	}
	after := SessionMark{UPN: strings.ToLower(f.After.UPN), MAC: f.After.MAC}
	out := make([]Session, 0, min(limit, 64))
	for len(out) < limit {
		q := s.db.WithContext(ctx).Order("upn_key, mac").Limit(limit - len(out))
		if upn := strings.ToLower(strings.TrimSpace(f.UPN)); upn != "" {
			q = q.Where("upn_key = ?", upn)
		}
		if search != "" {
			like := "%" + likeEscaper.Replace(search) + "%"
			cond := "upn_key LIKE ? ESCAPE '!'"
			args := []any{like}
			if m := macSpelling.Replace(search); m != "" && strings.Trim(m, "0123456789abcdef") == "" {
				cond += " OR mac LIKE ? ESCAPE '!'"
				args = append(args, "%"+likeEscaper.Replace(m)+"%")
			}
			q = q.Where("("+cond+")", args...)
		}
		if after.MAC != "" {
			q = q.Where("(upn_key > ? OR (upn_key = ? AND mac > ?))", after.UPN, after.UPN, after.MAC)
		}
		var rows []Session
		if err := q.Find(&rows).Error; err != nil {
			return nil, SessionMark{}, err
		}
		if len(rows) == 0 {
			break
		}
		want := limit - len(out)
		last := rows[len(rows)-1]
		after = SessionMark{UPN: last.UPNKey, MAC: last.MAC}
		live, err := s.live(ctx, rows)
		if err != nil {
			return nil, SessionMark{}, err
		}
		out = append(out, live...)
		if len(rows) < want {
			break
		}
	}
	for i := range out {
		out[i].PINSet = out[i].LockPINHash != ""
	}
	var next SessionMark
	if len(out) == limit {
		l := out[len(out)-1]
		next = SessionMark{UPN: l.UPNKey, MAC: l.MAC}
	}
	return out, next, nil
}

var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
