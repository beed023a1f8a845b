package audit

import (
	"net/url"
	"strconv"
	"time"

	"github.com/deskprov/deskprov/fault"
)

// ParseFilter reads a listing's query (GET /api/v1/audit, the console's
// Audit log page): kind, object (kind/id or a
// prefix), actor, since and until (RFC 3339), before (the page cursor)
// and limit.
func ParseFilter(q url.Values, defaultLimit int) (Filter, error) {
	f := Filter{Kind: q.Get("kind"), Object: q.Get("object"), Actor: q.Get("actor"), Limit: defaultLimit}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(t.name)
		if v == "" {
			continue
		}
		at, err := parseTime(v)
		if err != nil {
			return f, fault.FieldInvalid(t.name, "%s %q is not a time: give RFC 3339 (2026-05-01T09:00:00Z) or a date (2026-05-01)", t.name, v)
		}
		*t.to = at
	}
	for _, n := range []struct {
		name string
		to   *int
	}{{"limit", &f.Limit}} {
		if v := q.Get(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 || i > MaxPage {
				return f, fault.FieldInvalid(n.name, "%s must be a whole number from 1 to %d, not %q", n.name, MaxPage, v)
			}
			*n.to = i
		}
	}
	if v := q.Get("before"); v != "" {
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil || id == 0 {
			return f, fault.FieldInvalid("before", "before must be an entry id (the next page's cursor), not %q", v)
		}
		f.Before = uint(id)
	}
	return f, nil
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}
