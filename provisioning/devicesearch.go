package provisioning

import (
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phoneid"
)

// EnrolmentNone is DeviceFilter.Enrolment for phones deskprov holds no
// enrolment for (never asked for credentials, or re-enrolled since).
const EnrolmentNone = "none"

// narrow adds the filter's search and enrolment state to q. They are
// conditions in the store, so a search of a large fleet still reads one
// page, not every phone.
func (f DeviceFilter) narrow(q *gorm.DB) (*gorm.DB, error) {
	if t := strings.ToLower(strings.TrimSpace(f.Search)); t != "" {
		if len(t) > 320 {
			return nil, fault.FieldInvalid("q", "the search is %d characters long; a MAC, model or user name is at most 320", len(t))
		}
		like := "%" + likeEscaper.Replace(t) + "%"
		// A MAC matches in any spelling: 00:04:F2-A1 finds 0004f2a1….
		mac := "%" + likeEscaper.Replace(macSeparators.Replace(t)) + "%"
		// "user" is a reserved word in PostgreSQL, so it is quoted; LIKE's
		// escape is spelled out because SQLite has no default one.
		q = q.Where(`devices.mac LIKE ? ESCAPE '\' OR LOWER(model) LIKE ? ESCAPE '\' OR LOWER("user") LIKE ? ESCAPE '\'`, mac, like, like)
	}
	switch st := f.Enrolment; {
	case st == "":
	case st == EnrolmentNone:
		q = q.Where("devices.mac NOT IN (?)", phoneid.EnrolledMACs(q.Session(&gorm.Session{NewDB: true}), ""))
	case slices.Contains(phoneid.States, phoneid.State(st)):
		q = q.Where("devices.mac IN (?)", phoneid.EnrolledMACs(q.Session(&gorm.Session{NewDB: true}), phoneid.State(st)))
	default:
		return nil, fault.FieldInvalid("enrolment", "unknown enrolment state %q: use %s or %s", clip(st), phoneid.StateNames(), EnrolmentNone)
	}
	return q, nil
}

var (
	likeEscaper   = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	macSeparators = strings.NewReplacer(":", "", "-", "", ".", "")
)
