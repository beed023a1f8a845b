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
)

// shards spreads keys so that writers (a miss, an eviction) hold one lock of
// many; a power of two.
const shards = 64

// Overhead is what an entry costs beyond its key and value bytes as sizers
// count them: the map slot, the entry, the ring slot.
const Overhead = 96

// Cache maps K to V within about Max bytes, as sized by the size function.
type Cache[K comparable, V any] struct {
	hash   func(K) uint64
	size   func(K, V) int64
	budget int64 // per shard
	sh     [shards]shard[K, V]
}

type shard[K comparable, V any] struct {
	mu    sync.RWMutex
	m     map[K]*entry[K, V]
	ring  []*entry[K, V]
	hand  int
	bytes int64
	_     [32]byte // keep shards' locks on separate cache lines
}

type entry[K comparable, V any] struct {
	k    K
	v    V
	size int64
	at   int // index in ring
	ref  atomic.Bool
}

// New makes a cache of about max bytes. hash spreads keys over shards; size
// is an entry's approximate cost in bytes (Overhead is added to it). A max
// of 0 or less caches nothing.
func New[K comparable, V any](max int64, hash func(K) uint64, size func(K, V) int64) *Cache[K, V] {
	c := &Cache[K, V]{hash: hash, size: size, budget: max / shards}
	for i := range c.sh {
		c.sh[i].m = map[K]*entry[K, V]{}
	}
	return c
}

func (c *Cache[K, V]) shard(k K) *shard[K, V] {
	return &c.sh[c.hash(k)&(shards-1)]
}

// Get returns the value held for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e := s.m[k]
	var v V
	if e != nil {
		// Read under the lock: Put replaces an entry's value in place.
		v = e.v
	}
	s.mu.RUnlock()
	if e == nil {
		return v, false
	}
	if !e.ref.Load() {
		e.ref.Store(true) // a second chance; written only when not yet set
	}
	return v, true
}

// Put holds v for k, evicting entries not used since the hand last passed
// them while the shard is over its budget. An entry larger than a shard's
// budget is not held.
func (c *Cache[K, V]) Put(k K, v V) {
	n := c.size(k, v) + Overhead
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[k]; e != nil {
		s.bytes += n - e.size
		e.v, e.size = v, n
		e.ref.Store(true)
	} else {
		if n > c.budget {
			return
		}
		e := &entry[K, V]{k: k, v: v, size: n, at: len(s.ring)}
		// A new entry starts as used: were it not, a shard whose entries
		// are all in use would clear them all and then evict the new one,
		// the last the hand reaches, at once, on every put.
		e.ref.Store(true)
		s.m[k] = e
		s.ring = append(s.ring, e)
		s.bytes += n
	}
	for s.bytes > c.budget && len(s.ring) > 0 {
		s.evict()
	}
}

// evict sweeps the hand to the first entry not used since its last pass and
// removes it; the ring's last entry takes its slot.
func (s *shard[K, V]) evict() {
	for {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		e := s.ring[s.hand]
		if e.ref.Load() {
			e.ref.Store(false)
			s.hand++
			continue
		}
		s.remove(e)
		return
	}
}

func (s *shard[K, V]) remove(e *entry[K, V]) {
	last := len(s.ring) - 1
	moved := s.ring[last]
	s.ring[e.at], moved.at = moved, e.at
	s.ring[last] = nil
	s.ring = s.ring[:last]
	delete(s.m, e.k)
	s.bytes -= e.size
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	s := c.shard(k)
	s.mu.Lock()
	if e := s.m[k]; e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
}

// Clear forgets everything.
func (c *Cache[K, V]) Clear() {
	for i := range c.sh {
		s := &c.sh[i]
		s.mu.Lock()
		s.m, s.ring, s.hand, s.bytes = map[K]*entry[K, V]{}, nil, 0, 0
		s.mu.Unlock()
	}
}

// Bytes is what the cache holds, as its sizer counts it with Overhead.
func (c *Cache[K, V]) Bytes() int64 {
	var n int64
	for i := range c.sh {
		s := &c.sh[i]
		s.mu.RLock()
		n += s.bytes
		s.mu.RUnlock()
	}
	return n
}

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

// Max is the cache's bound in bytes.
func (c *Cache[K, V]) Max() int64 { return c.budget * shards }

var seed = maphash.MakeSeed()

// String hashes s for New's hash, without allocating; combine several with
// Mix.
func String(s string) uint64 { return maphash.String(seed, s) }

// Mix combines two hashes.
func Mix(a, b uint64) uint64 { return a*0x9e3779b97f4a7c15 ^ b }
