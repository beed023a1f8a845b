package phoneid

import (
	"context"
	"fmt"
	"slices"
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

// rowSize is about what a cached row holds: the row, its user name, and the
// key where it is not a piece of the user name (row).
func rowSize(mac string, r cachedRow) int64 {
	n := int64(len(r.user)) + int64(unsafe.Sizeof(r))
	if !strings.HasSuffix(r.user, mac) {
		n += int64(len(mac))
	}
	return n
}

// cachedRow is what admitting a phone's request reads of its enrolment: its
// state and, while it holds credentials, its user name and HA1 digests in
// binary. It is one of up to a million in the default --cache-size, so it is
// kept to about a hundred bytes (the full row with its sealed and hex
// digests was about five hundred).
type cachedRow struct {
	user   string
	secret secret
	// state is the index of the row's state in States plus one; 0: no row.
	state uint8
}

func (r cachedRow) found() bool { return r.state != 0 }

// State is the row's state ("" when there is no row).
func (r cachedRow) State() State {
	if r.state == 0 {
		return ""
	}
	return States[r.state-1]
}

// compact keeps what admitting reads of a row and its opened credential.
func compact(e enrolment, found bool, cred Credential) (cachedRow, error) {
	if !found {
		return cachedRow{}, nil
	}
	i := slices.Index(States, e.State)
	if i < 0 {
		return cachedRow{}, fmt.Errorf("phone %s is in an unknown enrolment state %q", e.MAC, e.State)
	}
	r := cachedRow{state: uint8(i + 1)}
	if e.State.hasCredential() {
		sec, err := secretOf(cred)
		if err != nil {
			return cachedRow{}, fmt.Errorf("the credential of %s: %w", e.MAC, err)
		}
		r.user, r.secret = cred.User, sec
	}
	return r, nil
}

// row returns what admitting reads of mac's enrolment.
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
	var cred Credential
	if found && e.State.hasCredential() {
		if cred, err = s.credential(e); err != nil {
			return cachedRow{}, err
		}
	}
	r, err := compact(e, found, cred)
	if err != nil {
		return cachedRow{}, err
	}
	// A write since the read began may have made it stale: keep it only
	// when none happened (wrote moves the epoch after its commit).
	if s.rows.on && s.rows.epoch.Load() == ep {
		// The key is a copy, or the end of the user name (phone-<mac>),
		// which the entry holds anyway: the request's MAC may be a piece
		// of a longer string the cache would keep alive.
		key := strings.Clone(mac)
		if strings.HasSuffix(r.user, mac) {
			key = r.user[len(r.user)-len(mac):]
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
