package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/blob/blobtest"
	"github.com/deskprov/deskprov/store/storetest"
)

func TestDir(t *testing.T) {
	blobtest.Run(t, blobtest.Backend{New: func(t *testing.T) blob.Store {
		d, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}})
}

// dbBackend runs the suite on the store engine open returns.
func dbBackend(open func(testing.TB) *gorm.DB) blobtest.Backend {
	var last *gorm.DB
	newOn := func(t *testing.T, db *gorm.DB) blob.Store {
		d, err := blob.NewDB(db, filepath.Join(t.TempDir(), "cache"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return blobtest.Backend{
		New: func(t *testing.T) blob.Store {
			last = open(t)
			if err := blob.Migrate(last); err != nil {
				t.Fatal(err)
			}
			return newOn(t, last)
		},
		Second: func(t *testing.T) blob.Store { return newOn(t, last) },
		OnRoundTrip: func(t *testing.T, fn func()) {
			name := "blobtest:" + t.Name()
			after := func(*gorm.DB) { fn() }
			if err := last.Callback().Raw().After("gorm:raw").Register(name, after); err != nil {
				t.Fatal(err)
			}
			if err := last.Callback().Row().After("gorm:row").Register(name, after); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func TestDBOnSQLite(t *testing.T) { blobtest.Run(t, dbBackend(storetest.SQLite)) }

func TestDBOnPostgres(t *testing.T) {
	if os.Getenv(storetest.EnvPostgres) == "" && os.Getenv("CI") == "" {
		t.Skip(storetest.EnvPostgres + " is not set")
	}
	blobtest.Run(t, dbBackend(storetest.Postgres))
}

// Each engine the DB backend runs on, with a fresh migrated store.
func eachDB(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		if err := blob.Migrate(db); err != nil {
			t.Fatal(err)
		}
		fn(t, db)
	})
}

func TestADamagedCachedCopyIsFetchedAgain(t *testing.T) {
	eachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		cache := t.TempDir()
		a, err := blob.NewDB(db, cache)
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("image"), 500_000)
		info, err := a.Put(ctx, bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		// Damage the copy in place, keeping its size, then open it from a
		// server started afterwards on the same data directory.
		damaged := bytes.Clone(data)
		damaged[1234] ^= 0xff
		if err := os.WriteFile(filepath.Join(cache, info.SHA256), damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*blob.DB{a, mustDB(t, db, cache)} {
			f, err := s.Open(ctx, info.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(f)
			f.Close()
			if !bytes.Equal(got, data) {
				t.Fatal("the damaged cached copy was served")
			}
			if err := os.WriteFile(filepath.Join(cache, info.SHA256), damaged, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestAMissingCachedCopyIsFetchedAndAStaleOneDropped(t *testing.T) {
	eachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		a, b := mustDB(t, db, t.TempDir()), mustDB(t, db, t.TempDir())
		info, err := a.Put(ctx, bytes.NewReader([]byte("log file")), 0)
		if err != nil {
			t.Fatal(err)
		}
		f, err := b.Open(ctx, info.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if _, err := os.Stat(filepath.Join(b.CacheDir(), info.SHA256)); err != nil {
			t.Fatalf("B kept no copy: %v", err)
		}
		if err := a.Delete(ctx, info.SHA256); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Open(ctx, info.SHA256); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("B opened a deleted blob: %v", err)
		}
		if _, err := os.Stat(filepath.Join(b.CacheDir(), info.SHA256)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("B kept its copy of a deleted blob: %v", err)
		}
	})
}

func TestAFailedWriteLeavesNoBlob(t *testing.T) {
	eachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := mustDB(t, db, t.TempDir())
		// The third chunk's insert fails: the transaction takes the blob
		// row and the two chunks before it back with it.
		inserts := 0
		boom := errors.New("the store went away")
		if err := db.Callback().Raw().Before("gorm:raw").Register("failthird", func(tx *gorm.DB) {
			if bytes.Contains([]byte(tx.Statement.SQL.String()), []byte("blob_chunks")) {
				if inserts++; inserts == 3 {
					tx.AddError(boom)
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte{7}, 4*blob.ChunkSize)
		if _, err := s.Put(ctx, bytes.NewReader(data), 0); !errors.Is(err, boom) {
			t.Fatalf("put: %v", err)
		}
		db.Callback().Raw().Remove("failthird")
		var blobs, chunks int64
		db.Table("blobs").Count(&blobs)
		db.Table("blob_chunks").Count(&chunks)
		if blobs != 0 || chunks != 0 {
			t.Fatalf("%d blobs and %d chunks left by a failed put", blobs, chunks)
		}
		if ents, _ := os.ReadDir(s.CacheDir()); len(ents) != 0 {
			t.Fatalf("the cache kept %v", ents)
		}
		if _, err := s.Put(ctx, bytes.NewReader(data), 0); err != nil {
			t.Fatalf("put again: %v", err)
		}
	})
}

func mustDB(t *testing.T, db *gorm.DB, cache string) *blob.DB {
	t.Helper()
	d, err := blob.NewDB(db, cache)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Every Yealink phone uploads the same -local.cfg, so the same bytes are put
// again and again while other requests open them. A put of bytes the cache
// already holds must leave the trusted copy where it is: a 100,000-phone
// boot storm on PostgreSQL answered 500 "the cached copy of blob … keeps
// changing" when each put renamed a fresh copy over the one being opened.
func TestPutsOfTheSameBytesNeverFailAnOpen(t *testing.T) {
	eachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := mustDB(t, db, t.TempDir())
		data := bytes.Repeat([]byte("local.cfg\n"), 400)
		info, err := s.Put(ctx, bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		const workers, rounds = 6, 150
		errs := make(chan error, 2*workers)
		done := make(chan struct{})
		for w := 0; w < workers; w++ {
			go func() {
				var first error
				for i := 0; i < rounds; i++ {
					if _, err := s.Put(ctx, bytes.NewReader(data), 0); err != nil && first == nil {
						first = err
					}
				}
				errs <- first
			}()
			go func() {
				var first error
				for {
					select {
					case <-done:
						errs <- first
						return
					default:
					}
					f, err := s.Open(ctx, info.SHA256)
					if err != nil {
						if first == nil {
							first = err
						}
						continue
					}
					got, _ := io.ReadAll(f)
					f.Close()
					if !bytes.Equal(got, data) && first == nil {
						first = errors.New("an open read other bytes")
					}
				}
			}()
		}
		for w := 0; w < workers; w++ { // the putters
			if err := <-errs; err != nil {
				close(done)
				t.Fatal(err)
			}
		}
		close(done)
		for w := 0; w < workers; w++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})
}
