package bytecache

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func sized(max int64) *Cache[string, string] {
	return New[string, string](max, String, func(k, v string) int64 { return int64(len(k) + len(v)) })
}

// The bound holds whatever many goroutines put and read at once, and what is
// read back is what was put for that key.
func TestBytesBoundUnderConcurrentUse(t *testing.T) {
	const max = 256 << 10
	c := sized(max)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 6000; i++ {
				k := fmt.Sprintf("phone-%d-%d", g, i%5000)
				v := strings.Repeat("x", 100+i%700)
				c.Put(k, k+v)
				if got, ok := c.Get(k); ok && !strings.HasPrefix(got, k) {
					t.Errorf("Get(%q) = %.30q…, another key's value", k, got)
					return
				}
				if i%97 == 0 {
					c.Delete(fmt.Sprintf("phone-%d-%d", g, (i+1)%5000))
				}
				if i%256 != 0 {
					continue
				}
				if b := c.Bytes(); b > max {
					t.Errorf("holds %d bytes, over its bound of %d", b, max)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if b := c.Bytes(); b > max || b < max/2 {
		t.Fatalf("holds %d bytes at the end; want close to and at most %d", b, max)
	}
}

// An entry read since the hand last passed survives the next eviction; one
// never read again goes first.
func TestSecondChance(t *testing.T) {
	// One shard's budget fits three entries of this size.
	per := overheadOf[string, string]() + 2 + 10
	c := New[string, string](3*per*shards, func(string) uint64 { return 0 }, func(k, v string) int64 { return int64(len(k) + len(v)) })
	c.Put("k1", "0123456789")
	c.Put("k2", "0123456789")
	c.Put("k3", "0123456789")
	// Clear the reference flags Put set: a full sweep over untouched entries.
	for i := range c.sh[0].ring {
		c.sh[0].ring[i].ref = 0
	}
	c.Get("k1")
	c.Get("k3")
	c.Put("k4", "0123456789")
	if _, ok := c.Get("k2"); ok {
		t.Fatal("k2, never read again, was kept and a used entry evicted")
	}
	for _, k := range []string{"k1", "k3", "k4"} {
		if _, ok := c.Get(k); !ok {
			t.Fatalf("%s was evicted; k2 should have gone", k)
		}
	}
	if c.Len() != 3 || c.Bytes() != 3*per {
		t.Fatalf("Len %d, Bytes %d; want 3, %d", c.Len(), c.Bytes(), 3*per)
	}
}

// Replacing an entry re-counts its size; one larger than a shard's budget is
// not held at all; a zero budget holds nothing.
func TestSizesAndEdges(t *testing.T) {
	c := sized(64 * 1000)
	c.Put("a", "1")
	c.Put("a", strings.Repeat("y", 500))
	if got, want := c.Bytes(), c.Overhead()+1+500; got != want {
		t.Fatalf("Bytes %d after replacing; want %d", got, want)
	}
	c.Put("big", strings.Repeat("z", 2000))
	if _, ok := c.Get("big"); ok {
		t.Fatal("an entry over a shard's budget was held")
	}
	c.Clear()
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatal("Clear left entries")
	}
	z := sized(0)
	z.Put("a", "b")
	if _, ok := z.Get("a"); ok {
		t.Fatal("a zero-sized cache held an entry")
	}
}

// What an entry is counted beyond its sizer's bytes follows its key and
// value: a number key and a small value cost less than a string key.
func TestOverheadFollowsTheEntry(t *testing.T) {
	str := New[string, string](1<<20, String, func(k, v string) int64 { return 0 }).Overhead()
	num := New[uint64, [8]byte](1<<20, Uint64, func(uint64, [8]byte) int64 { return 0 }).Overhead()
	if num >= str || num < 40 || str < 64 || str > 128 {
		t.Fatalf("overhead: string key and value %d, number key and 8 bytes %d", str, num)
	}
}

func TestGetAllocatesNothing(t *testing.T) {
	c := sized(1 << 20)
	c.Put("phone", "file")
	if n := testing.AllocsPerRun(1000, func() { c.Get("phone") }); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
}

func BenchmarkGetParallel(b *testing.B) {
	c := sized(64 << 20)
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%012x", i)
		c.Put(keys[i], "body")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Get(keys[i%len(keys)])
			i++
		}
	})
}

// When every entry is in use, a new one still takes an old one's place: it
// is not the one evicted at once, and the entries not read since go in turn.
func TestNewEntriesAreNotEvictedFirst(t *testing.T) {
	per := overheadOf[string, string]() + 2 + 10
	c := New[string, string](3*per*shards, func(string) uint64 { return 0 }, func(k, v string) int64 { return int64(len(k) + len(v)) })
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("%02d", i)
		c.Put(k, "0123456789")
		if _, ok := c.Get(k); !ok {
			t.Fatalf("%s, just put, was evicted at once", k)
		}
	}
	if _, ok := c.Get("00"); ok {
		t.Fatal("00, not read since 37 others came, is still held")
	}
}

// TestGetWhilePutReplaces: a Get of a key while a Put replaces its value is
// no data race (go test -race fails here on a Get that reads the value
// outside the shard's lock).
func TestGetWhilePutReplaces(t *testing.T) {
	c := New[string, []byte](1<<20, String, func(k string, v []byte) int64 { return int64(len(k) + len(v)) })
	c.Put("k", []byte("one"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			c.Put("k", []byte{byte(i)})
		}
	}()
	for i := 0; i < 2000; i++ {
		if _, ok := c.Get("k"); !ok {
			t.Fatal("the key went missing")
		}
	}
	<-done
}

// A write recorded after a read's mark keeps that read from being held; a
// write to another stripe's key does not.
func TestGuard(t *testing.T) {
	var g Guard
	c := New[uint64, int](1<<20, Uint64, func(uint64, int) int64 { return 0 })
	a, b := Uint64(1), Uint64(2)
	for b&(guardStripes-1) == a&(guardStripes-1) {
		b = Uint64(b)
	}
	ma, mb := g.Mark(a), g.Mark(b)
	g.Wrote(a, func() { c.Delete(1) })
	if g.PutIf(a, ma, func() { c.Put(1, 1) }) {
		t.Fatal("a read older than a write to its key was held")
	}
	if !g.PutIf(b, mb, func() { c.Put(2, 2) }) {
		t.Fatal("a write to another key kept a read from being held")
	}
	g.WroteAll(c.Clear)
	if g.PutIf(b, mb, func() {}) {
		t.Fatal("a read older than WroteAll was held")
	}
}

// TestBytesIsWhatTheHeapHolds holds the cache's count to the Go heap: a
// million phones' entries (here 200,000 of the size of a remembered poll)
// must cost about what Bytes says, or --cache-size would not bound memory;
// and be few objects for the collector to mark.
func TestBytesIsWhatTheHeapHolds(t *testing.T) {
	type facts struct {
		report *int
		serial uint64
		at     int64
		offer  *string
		flag   bool
	}
	shared := new(int)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := New(1<<30, Uint64, func(uint64, facts) int64 { return 0 })
	for i := range uint64(200_000) {
		c.Put(i<<8|0xab, facts{report: shared, serial: i, at: int64(i)})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if got := c.Bytes(); float64(heap) > 1.3*float64(got) || float64(heap) < 0.7*float64(got) {
		t.Fatalf("200,000 entries counted %d bytes; the heap grew %d (%.0f and %.0f bytes an entry)", got, heap, float64(got)/2e5, float64(heap)/2e5)
	}
	// Entries are held by value in a few large arrays, not one object
	// each: the collector marks far fewer objects than entries.
	if objs := int64(after.HeapObjects) - int64(before.HeapObjects); objs > 20_000 {
		t.Fatalf("200,000 entries are %d heap objects", objs)
	}
	t.Logf("200,000 entries: counted %.0f bytes an entry, heap %.0f, %d objects", float64(c.Bytes())/2e5, float64(heap)/2e5, int64(after.HeapObjects)-int64(before.HeapObjects))
	runtime.KeepAlive(c)
}

// Room says whether a put would evict: true while the key's shard has room
// for the entry, false once it would push another out.
func TestRoom(t *testing.T) {
	per := overheadOf[string, string]() + 2 + 10
	c := New[string, string](2*per*shards, func(string) uint64 { return 0 }, func(k, v string) int64 { return int64(len(k) + len(v)) })
	for _, k := range []string{"k1", "k2"} {
		if !c.Room(k, "0123456789") {
			t.Fatalf("no room for %s in a shard that holds two", k)
		}
		c.Put(k, "0123456789")
	}
	if c.Room("k3", "0123456789") {
		t.Fatal("room for a third in a shard that holds two")
	}
	if c.Room("k3", "0123456789") || c.Len() != 2 {
		t.Fatal("Room changed the cache")
	}
}
