package provisioning

import (
	"sync"
	"sync/atomic"
)

// lookup is a bounded concurrent cache read on every poll: reads take no
// lock (sync.Map), so the cores answering polls do not contend on one.
// When it holds max entries it starts over empty.
type lookup[K comparable, V any] struct {
	m   atomic.Pointer[sync.Map]
	n   atomic.Int64
	max int64
}

func newLookup[K comparable, V any](max int64) *lookup[K, V] {
	l := &lookup[K, V]{max: max}
	l.m.Store(new(sync.Map))
	return l
}

func (l *lookup[K, V]) get(k K) (V, bool) {
	v, ok := l.m.Load().Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

func (l *lookup[K, V]) put(k K, v V) {
	m := l.m.Load()
	if _, loaded := m.Swap(k, v); !loaded && l.n.Add(1) > l.max {
		if l.m.CompareAndSwap(m, new(sync.Map)) {
			l.n.Store(0)
		}
	}
}
