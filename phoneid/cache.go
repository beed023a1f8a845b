package phoneid

import (
	"context"
	"fmt"
	"slices"

	"github.com/deskprov/deskprov/internal/bytecache"
)

// rowCache keeps enrolments (and their opened credentials) in memory when
// this process alone writes the store (a SQLite file: store.Owned), so a
// poll does not read and unseal a row each time. Every write in this package
// goes through wrote, after its commit. With a shared store (PostgreSQL,
// several instances) there is no cache: a revocation on one instance must
// hold on the next request to any other.
type rowCache struct {
	on bool
	m  *bytecache.Cache[uint64, cachedRow]
	// writes keeps a read that a write to its phone overtook out of m.
	writes bytecache.Guard
}

// DefaultCacheSize is what New gives the row cache (SetCacheSize).
const DefaultCacheSize = 48 << 20

// SetCacheSize bounds the row cache to about n bytes; past it the rows used
// least recently are evicted (CLOCK). Call before serving: it empties it.
func (s *Service) SetCacheSize(n int64) {
	s.rows.m = bytecache.New(n, bytecache.Uint64, rowSize)
}

// CacheBytes is what the row cache holds, as its entries are sized.
func (s *Service) CacheBytes() int64 { return s.rows.m.Bytes() }

// rowSize is what a cached row holds beyond its struct: a user name other
// than the phone's usual one (none is).
func rowSize(_ uint64, r cachedRow) int64 { return int64(len(r.user)) }

// cachedRow is what admitting a phone's request reads of its enrolment: its
// state and, while it holds credentials, its HA1 digests in binary and its
// user name when it is not the usual phone-<mac> (UserFor). It is one of up
// to a million in the default --cache-size, so it is kept to about a
// hundred bytes with its key (the full row with its sealed and hex digests
// was about six hundred).
type cachedRow struct {
	user   string // "" for UserFor(mac)
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
		r.secret = sec
		if cred.User != UserFor(e.MAC) {
			r.user = cred.User
		}
	}
	return r, nil
}

// userOf is the user name of row, mac's. The usual one is made on the
// caller's stack (it does not escape check), so a poll allocates nothing.
func (r *cachedRow) userOf(mac string) string {
	if r.user != "" {
		return r.user
	}
	return "phone-" + mac
}

// row returns what admitting reads of mac's enrolment.
func (s *Service) row(ctx context.Context, mac string) (cachedRow, error) {
	key, keyed := bytecache.MACKey(mac)
	if s.rows.on && keyed {
		if r, ok := s.rows.m.Get(key); ok {
			return r, nil
		}
	}
	var mark uint64
	if keyed {
		mark = s.rows.writes.Mark(bytecache.Uint64(key))
	}
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
	// A write to this phone since the read began may have made it stale:
	// keep it only when none happened (wrote records it after its commit).
	if s.rows.on && keyed {
		s.rows.writes.PutIf(bytecache.Uint64(key), mark, func() { s.rows.m.Put(key, r) })
	}
	return r, nil
}

// wrote forgets mac's cached row after a committed write.
func (s *Service) wrote(mac string) {
	if key, ok := bytecache.MACKey(mac); ok {
		s.rows.writes.Wrote(bytecache.Uint64(key), func() { s.rows.m.Delete(key) })
	}
}
