package provisioning

import "sync/atomic"

// A phone polls its file once an interval, every phone at the same pace: no
// phone's file is asked for more often than another's. While the answer
// cache has room, every phone's answer is kept. Past it, keeping each new
// one evicts another that will be asked for again just as soon, so at a
// fleet larger than the cache the answers were replaced at every poll (the
// file rendered, put, and evicted unused: CLOCK, like LRU, keeps nothing
// of a cycle longer than itself) — at a fleet 20% larger than the cache
// about no poll found its file. A doorkeeper admits a new answer into a full
// cache (its shard: bytecache.Cache.Room) only when the same request missed
// once already within about a quarter as many misses as the cache holds
// answers: a fleet larger than the cache then keeps the files it holds (in
// TestAFleetLargerThanTheCacheKeepsWhatItHolds 78% of a fleet 25% larger
// finds its file, against 13%), the polls that miss skip the put, the
// eviction and the garbage, and a request asked for again and again (a
// new phone polling at boot) still gets in.

// doorBits is the doorkeeper's size in bits (128 KiB a server, outside
// --cache-size): at the window of a 256MiB cache at a million phones (about
// 10,000 misses) about one miss in a hundred is let in by a false positive.
const doorBits = 1 << 20

// doorkeeper remembers, one bit per request hash, which requests missed
// since it was last cleared; it is cleared after window misses.
type doorkeeper struct {
	bits [doorBits / 64]atomic.Uint64
	sets atomic.Int64
}

// again reports whether the request with hash h missed since the door was
// last cleared, and marks it; window is how many marks clear it.
func (d *doorkeeper) again(h uint64, window int64) bool {
	i := h & (doorBits - 1)
	w, m := &d.bits[i/64], uint64(1)<<(i%64)
	if w.Load()&m != 0 {
		return true
	}
	w.Or(m)
	if d.sets.Add(1) >= window {
		// Another miss may mark a bit while this clears: it is then
		// forgotten a window early, which only delays its admission.
		d.sets.Store(0)
		for j := range d.bits {
			d.bits[j].Store(0)
		}
	}
	return false
}

// answerPerEntry is about what a held answer with a phone's own file costs
// (the file with its answer, bench/README.md): the doorkeeper's window is a
// quarter of the answer cache's size over it.
const answerPerEntry = 2 << 10

// keepAnswer tells whether the answer for key (a phone's own file, just
// rendered) is put in the answer cache: always when it replaces one held
// (a new generation's file) or fits without evicting another, and past
// that only when the doorkeeper says the same request missed recently.
func (s *Service) keepAnswer(key answerKey, a answerSeen, held bool) bool {
	if held || s.answers.Room(key, a) {
		return true
	}
	return s.door.again(key.hash(), max(s.answers.Max()/answerPerEntry/4, 256))
}
