package firmware

import (
	"hash/maphash"
	"sync/atomic"
	"time"
	"unique"

	"github.com/deskprov/deskprov/internal/bytecache"
)

// pollFacts are what one phone reported on a poll that changed nothing in
// the store (same facts as its stored row, and no outstanding download), as
// it reported them, and when; and what the phone's decision reads of that
// row (its loop flag and the image it was offered), so that a re-render of
// its file right after the poll reads nothing (decide). A million of them
// are held in the default --cache-size, so they are kept small: the report
// is interned (phones of a model on one version share it), the key is the
// MAC and the time a number. The serial number, which only a Lync Phone
// Edition reports and which is each phone's own, is held as a 64-bit digest
// beside the shared report: interned, every such phone would have had an
// entry of its own in the intern table (about 250 bytes, counted nowhere).
type pollFacts struct {
	report  unique.Handle[Device] // the report without its MAC and serial
	serial  uint64                // serialSum of the report's serial
	at      int64                 // UnixNano
	offered unique.Handle[string] // the row's offered_image
	flagged bool                  // the row's flagged
}

// noOffer is an offer of nothing, as pollFacts holds it.
var noOffer = unique.Make("")

// reportOf is the interned form of a report, without its MAC (the key) and
// its serial (serialSum).
func reportOf(dev Device) unique.Handle[Device] {
	dev.MAC, dev.Serial = "", ""
	return unique.Make(dev)
}

// serialSeed keys serialSum for this process.
var serialSeed = maphash.MakeSeed()

// serialSum stands for a reported serial number in a remembered poll. Two
// serials that differ give the same sum with a chance of 2^-64: a poll
// would then be taken as unchanged and its store write skipped, as for a
// phone that reported nothing new.
func serialSum(serial string) uint64 { return maphash.String(serialSeed, serial) }

// rowFacts is what decide reads of a phone's row, as held beside the report.
type rowFacts struct {
	offered string
	flagged bool
}

// canonicalMAC tells whether s is already 12 lower-case hex digits.
func canonicalMAC(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// pollCache lets Poll skip its store read when a phone reports exactly what
// it reported on a recent poll that needed no write. Every write this
// process makes to a phone's row that could change that outcome (a recorded
// download, Poll's own update) forgets the phone first, so on one server
// (SQLite) the cache is exact. Across several servers sharing PostgreSQL,
// each write is announced through the store hub (Service.UseHub) and every
// other server forgets the phone on hearing it, within moments; while the
// hub is down the cache is off. Without a hub, another server's write is
// seen once the entry is older than pollCacheTTL (exact false):
// a phone polls hourly and takes minutes to install an image, so a poll
// skipped inside that window loses nothing the loop guard or a rollout
// counts on.
type pollCache struct {
	// m maps a MAC to its pollFacts, within its bytes (SetCacheSize).
	m atomic.Pointer[bytecache.Cache[uint64, pollFacts]]
	// writes orders remember against forget: a poll remembers what it
	// read only when the phone was not forgotten since before its read, so
	// a write racing the read cannot hide behind a stale entry.
	writes bytecache.Guard
	// off stops the cache while another server's writes cannot be heard
	// (UseHub: the hub is not live), so every poll reads the store.
	off atomic.Bool
	// exact is set when every write that matters is seen here (a store
	// this process alone writes, or a hub): then a remembered poll stands
	// until it is forgotten or evicted, with no TTL, so a fleet polled less
	// often than the TTL (any large one) is still answered from memory.
	exact atomic.Bool
}

// pollCacheTTL bounds how long a remembered poll stands in for a read.
const pollCacheTTL = 30 * time.Second

// DefaultPollCacheSize is the poll cache's bound in bytes unless
// SetCacheSize says otherwise.
const DefaultPollCacheSize = 24 << 20

// SetCacheSize bounds the poll cache to about n bytes; past it the phones
// remembered least recently used are evicted (CLOCK), and their next poll
// reads the store. Call before serving: it empties the cache.
func (s *Service) SetCacheSize(n int64) {
	s.polls.writes.WroteAll(func() { s.polls.m.Store(newPollMap(n)) })
}

// PollCacheBytes is what the poll cache holds, as its entries are sized.
func (s *Service) PollCacheBytes() int64 { return s.polls.load().Bytes() }

func newPollMap(n int64) *bytecache.Cache[uint64, pollFacts] {
	// Nothing beyond the entry (bytecache counts it): an interned report
	// and offered image are shared by the phones of a model and version.
	return bytecache.New(n, bytecache.Uint64, func(uint64, pollFacts) int64 { return 0 })
}

func (c *pollCache) load() *bytecache.Cache[uint64, pollFacts] {
	if m := c.m.Load(); m != nil {
		return m
	}
	c.m.CompareAndSwap(nil, newPollMap(DefaultPollCacheSize))
	return c.m.Load()
}

func (c *pollCache) unchanged(mac string, dev Device, now time.Time) bool {
	old, ok := c.get(mac, now)
	if !ok {
		return false
	}
	// Compared field by field, not interned first: interning hashes every
	// field on every poll, and a remembered phone's strings are the ones
	// its User-Agent's cached reading holds, equal at a glance.
	serial := dev.Serial
	dev.MAC, dev.Serial = "", ""
	return old.report.Value() == dev && old.serial == serialSum(serial)
}

// get is what is remembered of mac, while it may stand in for a read.
func (c *pollCache) get(mac string, now time.Time) (pollFacts, bool) {
	if c.off.Load() {
		return pollFacts{}, false
	}
	key, ok := bytecache.MACKey(mac)
	if !ok {
		return pollFacts{}, false
	}
	old, ok := c.load().Get(key)
	if !ok {
		return pollFacts{}, false
	}
	if at := time.Unix(0, old.at); !c.exact.Load() && (now.Sub(at) > pollCacheTTL || now.Before(at)) {
		return pollFacts{}, false
	}
	return old, true
}

// row is what decide reads of mac's row, when a poll remembered it and
// every write to the row is heard here (exact): a poll's own write forgets
// the phone, decide's write of the offer and ClearLoop's of the flag do too,
// here and, through the hub, on every other server. Without a hub (exact
// false) decide reads the row, as an offer written elsewhere may be newer.
func (c *pollCache) row(mac string) (rowFacts, bool) {
	if !c.exact.Load() || c.off.Load() {
		return rowFacts{}, false
	}
	key, ok := bytecache.MACKey(mac)
	if !ok {
		return rowFacts{}, false
	}
	f, ok := c.load().Get(key)
	if !ok {
		return rowFacts{}, false
	}
	return rowFacts{offered: f.offered.Value(), flagged: f.flagged}, true
}

// mark is taken before a read of mac's row whose result may be remembered.
func (c *pollCache) mark(mac string) uint64 {
	key, ok := bytecache.MACKey(mac)
	if !ok {
		return 0
	}
	return c.writes.Mark(bytecache.Uint64(key))
}

func (c *pollCache) remember(mac string, f pollFacts, mark uint64) {
	key, ok := bytecache.MACKey(mac)
	if !ok {
		return
	}
	c.writes.PutIf(bytecache.Uint64(key), mark, func() {
		if !c.off.Load() {
			c.load().Put(key, f)
		}
	})
}

func (c *pollCache) forget(mac string) {
	if key, ok := bytecache.MACKey(mac); ok {
		c.writes.Wrote(bytecache.Uint64(key), func() { c.load().Delete(key) })
	}
}

// heard empties the cache and turns it on or off: on while other servers'
// writes are heard (each forgets its phone), off while they may go unheard.
// Either way what it held may be stale.
func (c *pollCache) heard(live bool) {
	c.writes.WroteAll(func() {
		c.off.Store(!live)
		c.load().Clear()
	})
}

// has tells whether mac is remembered (tests).
func (c *pollCache) has(mac string) bool {
	key, _ := bytecache.MACKey(mac)
	_, ok := c.load().Get(key)
	return ok
}
