// Package bytecache is a concurrent cache bounded by an approximate byte
// size, evicting by CLOCK (second chance). It holds what deskprov keeps per
// phone (rendered files, answers, enrolments, polls), so that what a server
// holds in memory is set by --cache-size and not by the size of the fleet.
//
// A hit takes a shard's read lock and sets one flag: no allocation, and the
// cores answering polls contend only when they hit the same shard while it
// is being written. Evicting never touches the read path: a put over the
// shard's budget sweeps the hand under the shard's write lock.
package bytecache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"
)

// shards spreads keys so that writers (a miss, an eviction) hold one lock of
// many; a power of two.
const shards = 64

// Overhead is about what an entry with a string key and a small value costs
// beyond the bytes its sizer counts; each cache adds its own (Cache.Overhead).
const Overhead = 96

// Cache maps K to V within about Max bytes, as sized by the size function.
type Cache[K comparable, V any] struct {
	hash     func(K) uint64
	size     func(K, V) int64
	budget   int64 // per shard, when limit is nil
	overhead int64
	// limit, when set (NewWithin), is the whole cache's bound now, read on
	// each Put: what a Budget leaves to it.
	limit func() int64
	// held is what every shard holds together, kept in step with the
	// shards' bytes under their locks, so that Bytes (what a Budget reads
	// on other caches' puts) is one atomic load and no lock.
	held atomic.Int64
	// sweep picks the next shard a put trims besides its own while the
	// cache holds more than its limit (the limit shrank).
	sweep atomic.Uint32
	sh    [shards]shard[K, V]
}

type shard[K comparable, V any] struct {
	mu sync.RWMutex
	// m maps a key to its entry's index in ring. Entries are held in the
	// ring by value, not each in an object of its own: with a million
	// phones' enrolments and remembered polls that was two million objects
	// for the collector to mark, and a map of pointers for it to scan (a
	// map of a number key to an index holds none).
	m     map[K]int32
	ring  []entry[K, V]
	hand  int
	bytes int64
	_     [32]byte // keep shards' locks on separate cache lines
}

type entry[K comparable, V any] struct {
	k    K
	v    V
	size int32
	// ref is the second-chance flag, set by Get under the shard's read
	// lock (atomically: readers set it together) and cleared by the hand
	// under its write lock.
	ref uint32
}

// New makes a cache of about max bytes. hash spreads keys over shards; size
// is an entry's approximate cost in bytes beyond its key and value structs
// (the bytes their strings and pointers hold); the cache adds what the key
// and value take in the entry, the map and the ring (Cache.Overhead). A max
// of 0 or less caches nothing.
func New[K comparable, V any](max int64, hash func(K) uint64, size func(K, V) int64) *Cache[K, V] {
	c := &Cache[K, V]{hash: hash, size: size, budget: max / shards, overhead: overheadOf[K, V]()}
	for i := range c.sh {
		c.sh[i].m = map[K]int32{}
	}
	return c
}

// NewWithin makes a cache bounded by what limit returns at each Put, not by
// a fixed size: a cache that shares a Budget with others (Budget.Free). As
// the limit shrinks the cache evicts down to it as it is written: each Put
// trims its own shard and, while the whole holds more than the limit, one
// other shard in turn, so it is back within the limit after at most 64
// puts (see Budget for how far over that lets the total be).
func NewWithin[K comparable, V any](limit func() int64, hash func(K) uint64, size func(K, V) int64) *Cache[K, V] {
	c := New(0, hash, size)
	c.limit = limit
	return c
}

// overheadOf is what an entry of K and V costs beyond the bytes its sizer
// counts: the entry in the ring (with an eighth for the room a growing ring
// keeps spare) and its map slot (key and index, the map kept at most 7/8
// full, and a control byte). With a million phones' entries in a cache, a
// key of 8 bytes rather than a string's 16 (and its bytes) is worth
// counting.
func overheadOf[K comparable, V any]() int64 {
	var e entry[K, V]
	var slot struct {
		k K
		i int32
	}
	return int64(unsafe.Sizeof(e))*9/8 + int64(unsafe.Sizeof(slot))*8/7 + 1
}

// Overhead is what each entry costs beyond what the sizer counts.
func (c *Cache[K, V]) Overhead() int64 { return c.overhead }

func (c *Cache[K, V]) shard(k K) *shard[K, V] {
	return &c.sh[c.hash(k)&(shards-1)]
}

// Get returns the value held for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	s := c.shard(k)
	var v V
	s.mu.RLock()
	i, ok := s.m[k]
	if ok {
		// Read under the lock: Put replaces an entry's value in place,
		// and a put or an eviction may move the ring.
		e := &s.ring[i]
		v = e.v
		if atomic.LoadUint32(&e.ref) == 0 {
			atomic.StoreUint32(&e.ref, 1) // a second chance; written only when not yet set
		}
	}
	s.mu.RUnlock()
	return v, ok
}

// Put holds v for k, evicting entries not used since the hand last passed
// them while the shard is over its budget. An entry larger than a shard's
// budget is not held.
func (c *Cache[K, V]) Put(k K, v V) {
	n := c.size(k, v) + c.overhead
	budget := c.shardBudget()
	if n > budget || n > 1<<30 {
		// Larger than a shard's budget: not held (one held before under k
		// is dropped, as it no longer says what k is).
		c.Delete(k)
		c.trimOther(budget, nil)
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	if i, ok := s.m[k]; ok {
		e := &s.ring[i]
		s.add(c, n-int64(e.size))
		e.v, e.size, e.ref = v, int32(n), 1
	} else {
		// A new entry starts as used: were it not, a shard whose entries
		// are all in use would clear them all and then evict the new one,
		// the last the hand reaches, at once, on every put.
		s.m[k] = int32(len(s.ring))
		s.ring = append(s.ring, entry[K, V]{k: k, v: v, size: int32(n), ref: 1})
		s.add(c, n)
	}
	for s.bytes > budget && len(s.ring) > 0 {
		s.evict(c)
	}
	s.mu.Unlock()
	c.trimOther(budget, s)
}

// shardBudget is what one shard may hold now: its fixed share, or a share
// of what the limit of a cache made by NewWithin returns.
func (c *Cache[K, V]) shardBudget() int64 {
	if c.limit != nil {
		return max(c.limit(), 0) / shards
	}
	return c.budget
}

// Room tells whether Put(k, v) would hold v without evicting anything
// (the shard k falls in has room for it now).
func (c *Cache[K, V]) Room(k K, v V) bool {
	n := c.size(k, v) + c.overhead
	budget := c.shardBudget()
	s := c.shard(k)
	s.mu.RLock()
	room := s.bytes+n <= budget
	s.mu.RUnlock()
	return room
}

// trimOther, when the cache's limit shrank below what it holds, trims one
// shard other than done (just trimmed), the next in turn, down to the
// shard budget, so that shards this cache's keys seldom reach do not stay
// over it: within 64 such puts every shard has been trimmed.
func (c *Cache[K, V]) trimOther(budget int64, done *shard[K, V]) {
	if c.limit == nil || c.held.Load() <= budget*shards {
		return
	}
	o := &c.sh[c.sweep.Add(1)&(shards-1)]
	if o == done {
		return
	}
	o.mu.Lock()
	for o.bytes > budget && len(o.ring) > 0 {
		o.evict(c)
	}
	o.mu.Unlock()
}

// add counts n more bytes in the shard (under its write lock) and in the
// cache's total.
func (s *shard[K, V]) add(c *Cache[K, V], n int64) {
	s.bytes += n
	c.held.Add(n)
}

// evict sweeps the hand to the first entry not used since its last pass and
// removes it; the ring's last entry takes its slot.
func (s *shard[K, V]) evict(c *Cache[K, V]) {
	for {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		e := &s.ring[s.hand]
		if e.ref != 0 {
			e.ref = 0 // under the write lock: no reader sets it now
			s.hand++
			continue
		}
		s.remove(c, s.hand)
		return
	}
}

// remove takes the entry at i out of the ring (under the write lock); the
// ring's last entry takes its slot, and a ring left mostly empty is copied
// into a smaller one.
func (s *shard[K, V]) remove(c *Cache[K, V], i int) {
	last := len(s.ring) - 1
	delete(s.m, s.ring[i].k)
	s.add(c, -int64(s.ring[i].size))
	if i != last {
		s.ring[i] = s.ring[last]
		s.m[s.ring[i].k] = int32(i)
	}
	s.ring[last] = entry[K, V]{} // let go of what it held
	s.ring = s.ring[:last]
	if cap(s.ring) >= 64 && len(s.ring) < cap(s.ring)/4 {
		s.ring = append(make([]entry[K, V], 0, 2*len(s.ring)), s.ring...)
	}
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	s := c.shard(k)
	s.mu.Lock()
	if i, ok := s.m[k]; ok {
		s.remove(c, int(i))
	}
	s.mu.Unlock()
}

// Clear forgets everything.
func (c *Cache[K, V]) Clear() {
	for i := range c.sh {
		s := &c.sh[i]
		s.mu.Lock()
		c.held.Add(-s.bytes)
		s.m, s.ring, s.hand, s.bytes = map[K]int32{}, nil, 0, 0
		s.mu.Unlock()
	}
}

// Bytes is what the cache holds, as its sizer counts it with Overhead: one
// atomic load, cheap enough for a Budget to read on every put of another
// cache.
func (c *Cache[K, V]) Bytes() int64 { return c.held.Load() }

// Len is how many entries the cache holds.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.sh {
		s := &c.sh[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Max is the cache's bound in bytes (now, for a cache made by NewWithin).
func (c *Cache[K, V]) Max() int64 { return c.shardBudget() * shards }

var seed = maphash.MakeSeed()

// String hashes s for New's hash, without allocating; combine several with
// Mix.
func String(s string) uint64 { return maphash.String(seed, s) }

// Uint64 hashes a number key (a MAC as a number) for New's hash: the
// shards are picked by its low bits, so they must depend on every bit.
func Uint64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	return k ^ k>>33
}

// MACKey is a canonical MAC (12 lower-case hex digits) as a number: the
// cache's key, 8 bytes and no string.
func MACKey(mac string) (uint64, bool) {
	if len(mac) != 12 {
		return 0, false
	}
	var k uint64
	for i := 0; i < len(mac); i++ {
		c := mac[i]
		switch {
		case c >= '0' && c <= '9':
			k = k<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			k = k<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return k, true
}

// Mix combines two hashes.
func Mix(a, b uint64) uint64 { return a*0x9e3779b97f4a7c15 ^ b }
