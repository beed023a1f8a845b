// Package blobtest is the conformance suite every blob backend runs: the
// same behaviour whatever keeps the bytes.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/deskprov/deskprov/blob"
)

// Backend makes fresh stores of one kind for the suite.
type Backend struct {
	// New returns an empty store. Two calls in one test (Second) are two
	// instances on the same shared storage, each with its own local state.
	New func(t *testing.T) blob.Store
	// Second, when set, returns another instance on the storage of the
	// last store New returned (a second server).
	Second func(t *testing.T) blob.Store
	// OnRoundTrip, when set, registers fn to run after each round trip to
	// the shared storage, so the suite can watch memory while a blob is
	// written or fetched chunk by chunk.
	OnRoundTrip func(t *testing.T, fn func())
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	ctx := context.Background()
	t.Run("a put blob reads back whole and by range, and is listed", func(t *testing.T) {
		s := b.New(t)
		data := []byte("firmware image bytes, say")
		info, err := s.Put(ctx, bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := sum(data); info.SHA256 != want || info.Size != int64(len(data)) {
			t.Fatalf("put gave %+v, want %s/%d", info, want, len(data))
		}
		f, err := s.Open(ctx, info.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, _ := io.ReadAll(f)
		if !bytes.Equal(got, data) {
			t.Fatalf("read %q", got)
		}
		part := make([]byte, 5)
		if _, err := f.ReadAt(part, 9); err != nil || string(part) != "image" {
			t.Fatalf("range read %q, %v", part, err)
		}
		if st, err := s.Stat(ctx, info.SHA256); err != nil || st != info {
			t.Fatalf("stat %+v, %v", st, err)
		}
		if l := list(t, s); len(l) != 1 || l[0] != info {
			t.Fatalf("list %+v", l)
		}
	})
	t.Run("the same bytes put twice are one blob", func(t *testing.T) {
		s := b.New(t)
		a, err := s.Put(ctx, strings.NewReader("same"), 0)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Put(ctx, strings.NewReader("same"), 0)
		if err != nil || c != a {
			t.Fatalf("second put %+v, %v; first %+v", c, err, a)
		}
		if l := list(t, s); len(l) != 1 {
			t.Fatalf("list %+v", l)
		}
	})
	t.Run("concurrent puts of the same bytes give one blob", func(t *testing.T) {
		s := b.New(t)
		data := bytes.Repeat([]byte("concurrent"), 300_000) // 3 MB: several chunks
		var wg sync.WaitGroup
		infos := make([]blob.Info, 6)
		errs := make([]error, len(infos))
		for i := range infos {
			wg.Add(1)
			go func() {
				defer wg.Done()
				infos[i], errs[i] = s.Put(ctx, bytes.NewReader(data), 0)
			}()
		}
		wg.Wait()
		for i := range infos {
			if errs[i] != nil || infos[i].SHA256 != sum(data) {
				t.Fatalf("put %d: %+v, %v", i, infos[i], errs[i])
			}
		}
		if l := list(t, s); len(l) != 1 || l[0].Size != int64(len(data)) {
			t.Fatalf("list %+v", l)
		}
		readBack(t, s, sum(data), data)
	})
	t.Run("a put over its limit or from a failing reader stores nothing", func(t *testing.T) {
		s := b.New(t)
		if _, err := s.Put(ctx, strings.NewReader("12345678901"), 10); !errors.Is(err, blob.ErrTooLarge) {
			t.Fatalf("over the limit: %v", err)
		}
		if _, err := s.Put(ctx, io.MultiReader(strings.NewReader("partial"), failing{}), 0); !errors.Is(err, blob.ErrRead) {
			t.Fatalf("failing reader: %v", err)
		}
		if info, err := s.Put(ctx, strings.NewReader("1234567890"), 10); err != nil || info.Size != 10 {
			t.Fatalf("at the limit: %+v, %v", info, err)
		}
		if l := list(t, s); len(l) != 1 {
			t.Fatalf("list %+v", l)
		}
	})
	t.Run("a blob not stored, or deleted, does not exist", func(t *testing.T) {
		s := b.New(t)
		missing := sum([]byte("never put"))
		if _, err := s.Open(ctx, missing); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("open missing: %v", err)
		}
		if _, err := s.Stat(ctx, missing); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("stat missing: %v", err)
		}
		if _, err := s.Open(ctx, "../../etc/passwd"); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("a path is no name: %v", err)
		}
		info, _ := s.Put(ctx, strings.NewReader("gone soon"), 0)
		if err := s.Delete(ctx, info.SHA256); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, info.SHA256); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
		if _, err := s.Open(ctx, info.SHA256); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("open deleted: %v", err)
		}
		if l := list(t, s); len(l) != 0 {
			t.Fatalf("list %+v", l)
		}
	})
	t.Run("a 64 MiB blob streams in and out without being held whole in memory", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short")
		}
		s := b.New(t)
		const size = 64 << 20
		var w heapWatch
		if b.OnRoundTrip != nil {
			b.OnRoundTrip(t, w.sample)
		}
		defer debug.SetGCPercent(debug.SetGCPercent(25))
		w.start()
		h := sha256.New()
		info, err := s.Put(ctx, io.TeeReader(&sampling{r: io.LimitReader(newPattern(), size), w: &w}, h), 0)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != size || info.SHA256 != hex.EncodeToString(h.Sum(nil)) {
			t.Fatalf("put %+v", info)
		}
		reader := s
		if b.Second != nil {
			reader = b.Second(t) // an empty cache: the blob comes from the store
		}
		f, err := reader.Open(ctx, info.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		h2 := sha256.New()
		n, err := io.Copy(&sampling{wr: h2, w: &w}, f)
		f.Close()
		if err != nil || n != size || hex.EncodeToString(h2.Sum(nil)) != info.SHA256 {
			t.Fatalf("read back %d bytes, %v", n, err)
		}
		if w.samples < 64 {
			t.Fatalf("only %d memory samples", w.samples)
		}
		// Holding the blob whole would put 64 MiB on the heap at once.
		if grew := w.peak - w.base; grew > 24<<20 {
			t.Fatalf("the heap grew by %d MiB while streaming a 64 MiB blob", grew>>20)
		}
		t.Logf("heap grew by at most %.1f MiB over %d samples", float64(w.peak-w.base)/(1<<20), w.samples)
	})
	if b.Second == nil {
		return
	}
	t.Run("a blob put on one instance reads on another, and a delete there reaches the first", func(t *testing.T) {
		a := b.New(t)
		other := b.Second(t)
		data := []byte("uploaded on A")
		info, err := a.Put(ctx, bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		readBack(t, other, info.SHA256, data)
		readBack(t, a, info.SHA256, data)
		if err := other.Delete(ctx, info.SHA256); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Open(ctx, info.SHA256); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("A still opens a blob deleted through B: %v", err)
		}
		if _, err := a.Stat(ctx, info.SHA256); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("A still stats a blob deleted through B: %v", err)
		}
	})
}

func readBack(t *testing.T, s blob.Store, sha string, want []byte) {
	t.Helper()
	f, err := s.Open(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(want))
	}
}

func list(t *testing.T, s blob.Store) []blob.Info {
	t.Helper()
	var out []blob.Info
	if err := s.List(context.Background(), func(i blob.Info) error { out = append(out, i); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("the phone hung up") }

// newPattern is an endless stream of pseudo-random bytes, made as read.
func newPattern() io.Reader { return &pattern{r: rand.New(rand.NewPCG(1, 2))} }

type pattern struct{ r *rand.Rand }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.r.Uint32())
	}
	return len(b), nil
}

// heapWatch keeps the largest heap seen at its samples.
type heapWatch struct {
	mu         sync.Mutex
	base, peak uint64
	samples    int
}

func (w *heapWatch) start() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.base, w.peak = m.HeapAlloc, m.HeapAlloc
}

func (w *heapWatch) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	if m.HeapAlloc > w.peak {
		w.peak = m.HeapAlloc
	}
}

// sampling samples the heap once per MiB passing through.
type sampling struct {
	r  io.Reader
	wr io.Writer
	w  *heapWatch
	n  int64
}

func (s *sampling) tick(n int) {
	s.n += int64(n)
	for s.n >= 1<<20 {
		s.n -= 1 << 20
		s.w.sample()
	}
}

func (s *sampling) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.tick(n)
	return n, err
}

func (s *sampling) Write(p []byte) (int, error) {
	n, err := s.wr.Write(p)
	s.tick(n)
	return n, err
}
