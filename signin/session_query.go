package signin

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
)

// ParseSessionFilter reads a page's query (GET /api/v1/phonesessions,
// the console's Sign-in page): upn, q, limit and after (UPN,MAC: the next page's
// mark, split at its last comma since a MAC has none).
func ParseSessionFilter(q url.Values, defaultLimit int) (SessionFilter, error) {
	f := SessionFilter{UPN: q.Get("upn"), Search: q.Get("q"), Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxSessionPage {
			return f, fault.FieldInvalid("limit", "limit must be a whole number from 1 to %d, not %q", MaxSessionPage, textfield.Clip(v, 40))
		}
		f.Limit = n
	}
	if v := q.Get("after"); v != "" {
		i := strings.LastIndex(v, ",")
		if i < 0 {
			return f, fault.FieldInvalid("after", "after %q is not a page mark: pass on the after= of the Link header's next page", textfield.Clip(v, 80))
		}
		f.After = SessionMark{UPN: v[:i], MAC: v[i+1:]}
	}
	return f, nil
}

// NextSessionsQuery is the query of the page after one that ended at next.
func NextSessionsQuery(q url.Values, next SessionMark) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("after", next.UPN+","+next.MAC)
	return out
}
