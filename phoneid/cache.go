package phoneid

import (
	"context"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/deskprov/deskprov/internal/bytecache"
)

// rowCache keeps enrolments (and their opened credentials) in memory when
// this process alone writes the store (a SQLite file: store.Owned), so a
// poll does not read and unseal a row each time. Every write in this package
// goes through wrote, after its commit. With a shared store (PostgreSQL,
// several instances) there is no cache: a revocation on one instance must
// hold on the next request to any other.
type rowCache struct {
	on    bool
	m     *bytecache.Cache[string, cachedRow]
	epoch atomic.Int64
}

// DefaultCacheSize is what New gives the row cache (SetCacheSize).
const DefaultCacheSize = 48 << 20

// SetCacheSize bounds the row cache to about n bytes; past it the rows used
// least recently are evicted (CLOCK). Call before serving: it empties it.
func (s *Service) SetCacheSize(n int64) {
	s.rows.m = bytecache.New(n, bytecache.String, rowSize)
}

// CacheBytes is what the row cache holds, as its entries are sized.
func (s *Service) CacheBytes() int64 { return s.rows.m.Bytes() }

// rowSize is about what a cached row holds: the row and its strings (row
// keeps only those admitting reads).
func rowSize(mac string, r cachedRow) int64 {
	e, c := r.e, r.cred
	n := int64(len(mac)+len(e.MAC)+len(c.User)+len(c.HA1MD5)+len(c.HA1SHA256)) + int64(unsafe.Sizeof(r))
	if e.FirstSeen != nil {
		n += 24 // the time behind the pointer
	}
	return n
}

type cachedRow struct {
	e     enrolment
	found bool
	cred  Credential
}

// row returns mac's enrolment and, when it holds one, its opened credential.
func (s *Service) row(ctx context.Context, mac string) (cachedRow, error) {
	if s.rows.on {
		if r, ok := s.rows.m.Get(mac); ok {
			return r, nil
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
	// Keep only what admitting a request reads: a cached row is one of a
	// million, and its sealed HA1s, first User-Agent and the rest are
	// several times what is left.
	r.e = enrolment{MAC: e.MAC, State: e.State, FirstSeen: e.FirstSeen}
	// A write since the read began may have made it stale: keep it only
	// when none happened (wrote moves the epoch after its commit).
	if s.rows.on && s.rows.epoch.Load() == ep {
		// The key is the row's own MAC (or a copy): the request's may be a
		// piece of a longer string the cache would keep alive.
		key := e.MAC
		if !found {
			key = strings.Clone(mac)
		}
		s.rows.m.Put(key, r)
	}
	return r, nil
}

// wrote forgets mac's cached row after a committed write.
func (s *Service) wrote(mac string) {
	s.rows.epoch.Add(1)
	s.rows.m.Delete(mac)
}
