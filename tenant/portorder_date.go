package tenant

import (
	"strings"
	"time"

	"github.com/deskprov/deskprov/fault"
)

// ParseFirmOrderDate reads a firm order date: RFC 3339, or a plain date
// (midnight UTC), as the API and the console's port-order form take it.
func ParseFirmOrderDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.Parse(time.RFC3339, s); err == nil {
		return d, nil
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d, nil
	}
	return time.Time{}, fault.FieldInvalid("firmOrderDate", "firmOrderDate %q is not a date: use RFC 3339 (2026-12-15T09:00:00Z) or 2026-12-15", s)
}
