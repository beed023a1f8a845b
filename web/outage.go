package web

import (
	"sync"
	"time"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store"
)

// AsFault returns err's fault. An error that means the store does not answer
// (store.IsUnavailable) becomes fault.Unavailable with store.RetryAfter, so
// that during a database outage phones and admins get 503 with Retry-After,
// and back off, instead of a 500 that says the server is broken.
func (s *Server) AsFault(err error) (*fault.Error, bool) {
	if fe, ok := fault.As(err); ok {
		return fe, true
	}
	if !store.IsUnavailable(err) {
		return nil, false
	}
	s.outage.note(s, err)
	return &fault.Error{Kind: fault.Unavailable, Code: "store_unavailable", RetryAfter: store.RetryAfter,
		Message: "the database does not answer just now: try again in a few seconds"}, true
}

// outageLog keeps an outage to one log line a minute: every request fails
// alike, and a line per request would bury the one that says why.
type outageLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

const outageLogEvery = time.Minute

func (o *outageLog) note(s *Server, err error) {
	o.mu.Lock()
	now := time.Now()
	if !o.last.IsZero() && now.Sub(o.last) < outageLogEvery {
		o.suppressed++
		o.mu.Unlock()
		return
	}
	n := o.suppressed
	o.last, o.suppressed = now, 0
	o.mu.Unlock()
	s.Log.Warn("the store does not answer: answering 503 with Retry-After until it does", "err", err, "retry_after", store.RetryAfter, "requests_since_last_line", n)
}
