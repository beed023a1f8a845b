package bytecache

import "sync"

// guardStripes is how many keys' writes a Guard tells apart; a power of two.
const guardStripes = 256

// Guard keeps a cache from holding what a read found when a write to the
// same key committed while the read ran. A reader takes a Mark before it
// reads the store and puts what it read with PutIf; a writer, after its
// commit, forgets the key with Wrote. Keys are told apart by their hash in
// stripes, so a write to one phone does not keep other phones' reads from
// being held (with one counter for all, a busy enrolment or rollout kept
// nearly every read out of the cache).
type Guard struct {
	st [guardStripes]struct {
		mu sync.Mutex
		n  uint64
		_  [48]byte // one stripe per cache line
	}
}

// Mark is taken before a read of the key with hash h.
func (g *Guard) Mark(h uint64) uint64 {
	s := &g.st[h&(guardStripes-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// PutIf runs put (which holds what the read found) unless a write to a key
// of h's stripe was recorded since mark; it reports whether it ran.
func (g *Guard) PutIf(h, mark uint64, put func()) bool {
	s := &g.st[h&(guardStripes-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n != mark {
		return false
	}
	put()
	return true
}

// Wrote records a write to the key with hash h and runs forget (which
// drops what the cache holds for it), so that no read taken before it is
// held afterwards.
func (g *Guard) Wrote(h uint64, forget func()) {
	s := &g.st[h&(guardStripes-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	forget()
}

// WroteAll records a write to every key and runs forget once.
func (g *Guard) WroteAll(forget func()) {
	for i := range g.st {
		g.st[i].mu.Lock()
		g.st[i].n++
	}
	forget()
	for i := range g.st {
		g.st[i].mu.Unlock()
	}
}
