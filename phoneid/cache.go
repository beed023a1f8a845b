package phoneid

import (
	"context"
	"sync"
	"sync/atomic"
)

// rowCache keeps enrolments (and their opened credentials) in memory when
// this process alone writes the store (a SQLite file: store.Owned), so a
// poll does not read and unseal a row each time. Every write in this package
// goes through wrote, after its commit. With a shared store (PostgreSQL,
// several instances) there is no cache: a revocation on one instance must
// hold on the next request to any other.
type rowCache struct {
	on    bool
	m     sync.Map // mac → cachedRow
	n     atomic.Int64
	epoch atomic.Int64
}

type cachedRow struct {
	e     enrolment
	found bool
	cred  Credential
}

// maxCachedRows bounds the cache (a stranger can ask for any MAC); it
// starts over empty when full.
const maxCachedRows = 200_000

// row returns mac's enrolment and, when it holds one, its opened credential.
func (s *Service) row(ctx context.Context, mac string) (cachedRow, error) {
	if s.rows.on {
		if v, ok := s.rows.m.Load(mac); ok {
			return v.(cachedRow), nil
		}
	}
	ep := s.rows.epoch.Load()
	e, found, err := s.load(s.db.WithContext(ctx), mac)
	if err != nil {
		return cachedRow{}, err
	}
	r := cachedRow{e: e, found: found}
	if found && e.State.hasCredential() {
		if r.cred, err = s.credential(e); err != nil {
			return cachedRow{}, err
		}
	}
	// A write since the read began may have made it stale: keep it only
	// when none happened (wrote moves the epoch after its commit).
	if s.rows.on && s.rows.epoch.Load() == ep {
		if s.rows.n.Add(1) > maxCachedRows {
			s.rows.m.Clear()
			s.rows.n.Store(0)
		}
		s.rows.m.Store(mac, r)
	}
	return r, nil
}

// wrote forgets mac's cached row after a committed write.
func (s *Service) wrote(mac string) {
	s.rows.epoch.Add(1)
	s.rows.m.Delete(mac)
}
