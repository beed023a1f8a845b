package bytecache

import (
	"fmt"
	"strings"
	"testing"
)

// A cache sharing a Budget grows into what the kept caches leave free, far
// past the fixed share it would have had, and shrinks, as it is written,
// when they grow: the kept caches are never squeezed out, and the total
// comes back within the budget.
func TestSharedAllowanceGrowsAndShrinks(t *testing.T) {
	const total = 4 << 20
	b := NewBudget(total)
	// The state: bounded by its own ceiling, 80% of the total.
	state := New[uint64, [64]byte](total*80/100, Uint64, func(uint64, [64]byte) int64 { return 0 })
	b.Keep(state.Bytes)
	files := NewWithin[string, string](b.Part(100), String, func(k, v string) int64 { return int64(len(k) + len(v)) })
	body := strings.Repeat("x", 1200)
	putFiles := func(from, n int) {
		for i := from; i < from+n; i++ {
			k := fmt.Sprintf("%012x.cfg", i)
			files.Put(k, body)
		}
	}

	// Few phones: a little state, and files fill nearly all the rest.
	for i := range 2000 {
		state.Put(uint64(i), [64]byte{})
	}
	putFiles(0, 4000)
	if f, s := files.Bytes(), state.Bytes(); f < total*80/100 || f+s > total {
		t.Fatalf("files hold %d bytes beside %d of state in %d: want over the fixed 20%% (%d) and within the total", f, s, total, total*20/100)
	}
	held := files.Len()

	// The state grows to its ceiling; the next files written bring the
	// whole back within the total.
	for i := 2000; i < 200000; i++ {
		state.Put(uint64(i), [64]byte{})
	}
	s := state.Bytes()
	if s < total*80/100*9/10 {
		t.Fatalf("state holds %d bytes; the test did not fill its ceiling", s)
	}
	if files.Bytes()+s <= total {
		t.Fatalf("files %d + state %d within %d before any file was written: the test shows nothing", files.Bytes(), s, total)
	}
	putFiles(4000, 2*shards)
	if f := files.Bytes(); f+s > total || f > total-s {
		t.Fatalf("files hold %d bytes beside %d of state after %d puts: over the total %d", f, s, 2*shards, total)
	}
	if files.Len() >= held {
		t.Fatalf("files hold %d entries, %d before the state grew: they did not shrink", files.Len(), held)
	}
	if got := state.Bytes(); got != s {
		t.Fatalf("state holds %d bytes, %d before: squeezed by the files", got, s)
	}

	// The state emptied (a restart of its cache): files grow again.
	state.Clear()
	if state.Bytes() != 0 {
		t.Fatalf("a cleared cache counts %d bytes", state.Bytes())
	}
	putFiles(10000, 4000)
	if f := files.Bytes(); f < total*80/100 {
		t.Fatalf("files hold %d bytes of a free %d after the state was cleared", f, total)
	}
}

// Bytes, now kept as an atomic total, agrees with what the shards hold
// through puts, replacements, evictions, deletes and Clear.
func TestBytesIsTheShardsSum(t *testing.T) {
	c := sized(64 << 10)
	for i := range 3000 {
		k := fmt.Sprintf("k%d", i%700)
		c.Put(k, strings.Repeat("y", i%300))
		if i%7 == 0 {
			c.Delete(fmt.Sprintf("k%d", (i+3)%700))
		}
	}
	var sum int64
	for i := range c.sh {
		sum += c.sh[i].bytes
	}
	if c.Bytes() != sum || sum == 0 {
		t.Fatalf("Bytes %d, shards hold %d", c.Bytes(), sum)
	}
	c.Clear()
	if c.Bytes() != 0 {
		t.Fatalf("Bytes %d after Clear", c.Bytes())
	}
}
