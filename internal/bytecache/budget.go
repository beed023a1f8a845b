package bytecache

import "sync/atomic"

// Budget is one byte total shared by caches. Some keep ceilings of their
// own (Keep: a phone's state, which files must never squeeze out); the
// others (NewWithin(b.Part(…))) share whatever those do not hold now, so a
// fleet whose state fills little of its ceilings leaves the rest to files.
//
// Free is computed on each put of a sharing cache from the kept caches'
// totals (an atomic load each), so when state grows the sharing caches
// shrink as they are written, not at once. Memory is then over the total
// by at most what the kept caches grew since the sharing caches' last 64
// puts (each put trims its own shard and one other in turn, NewWithin), and
// never by more than the kept ceilings: a sharing cache's shard holds at
// most what its limit allowed when it was last written, and no limit is
// over the total. While phones register, a phone's first poll adds its
// state and writes its answer, so that is then the state of the last few
// dozen new phones, a few kilobytes.
type Budget struct {
	total int64
	kept  atomic.Pointer[[]func() int64]
}

// NewBudget shares total bytes.
func NewBudget(total int64) *Budget { return &Budget{total: total} }

// Keep counts what held returns (a kept cache's Bytes, which should be
// cheap: it is read on every put of a sharing cache) against the total.
// The kept cache bounds itself by its own ceiling. Call before the caches
// are used.
func (b *Budget) Keep(held func() int64) {
	for {
		old := b.kept.Load()
		var next []func() int64
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, held)
		if b.kept.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Total is the bytes shared.
func (b *Budget) Total() int64 { return b.total }

// Free is what the kept caches do not hold now: the sharing caches'
// allowance together.
func (b *Budget) Free() int64 {
	n := b.total
	if kept := b.kept.Load(); kept != nil {
		for _, held := range *kept {
			n -= held()
		}
	}
	return max(n, 0)
}

// Part is a limit for NewWithin: percent of Free.
func (b *Budget) Part(percent int64) func() int64 {
	return func() int64 { return b.Free() * percent / 100 }
}
