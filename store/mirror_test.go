package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

func mirrorTestReader(t *testing.T, db *gorm.DB) *store.GenerationReader {
	t.Helper()
	r, err := store.NewGenerationReader(db, "config")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func mirrorTestRead(t *testing.T, r *store.GenerationReader) int64 {
	t.Helper()
	g, err := r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGenerationReaderNeverLagsACommit checks the reader (in memory on
// SQLite, a store read on PostgreSQL) against the store: a bump shows once
// its transaction has committed and not before, a rolled-back one never.
func TestGenerationReaderNeverLagsACommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		r := mirrorTestReader(t, db)
		if store.EngineOf(db) == store.SQLite && !r.InMemory() {
			t.Fatal("a SQLite store opened by this process should be read from memory")
		}
		if store.EngineOf(db) == store.Postgres && r.InMemory() {
			t.Fatal("a PostgreSQL store is shared: it must be read from the store")
		}
		if g := mirrorTestRead(t, r); g != 0 {
			t.Fatalf("fresh = %d", g)
		}
		if err := store.Bump(db, "config"); err != nil {
			t.Fatal(err)
		}
		if g := mirrorTestRead(t, r); g != 1 {
			t.Fatalf("after a bump outside a transaction = %d, want 1", g)
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := store.Bump(tx, "config"); err != nil {
				return err
			}
			if g := mirrorTestRead(t, r); g != 1 {
				t.Errorf("before commit the reader shows %d, want 1", g)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if g := mirrorTestRead(t, r); g != 2 {
			t.Fatalf("right after commit = %d, want 2", g)
		}
		// Nested: the bump is in a savepoint of an outer transaction.
		err = db.Transaction(func(tx *gorm.DB) error {
			return tx.Transaction(func(tx2 *gorm.DB) error { return store.Bump(tx2, "config") })
		})
		if err != nil {
			t.Fatal(err)
		}
		if g := mirrorTestRead(t, r); g != 3 {
			t.Fatalf("after a nested bump = %d, want 3", g)
		}
		boom := errors.New("boom")
		if err := db.Transaction(func(tx *gorm.DB) error {
			if err := store.Bump(tx, "config"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if g := mirrorTestRead(t, r); g != 3 {
			t.Fatalf("after a rolled-back bump = %d, want 3", g)
		}
		if g, _ := store.Generation(ctx, db, "config"); g != 3 {
			t.Fatalf("store = %d", g)
		}
	})
}

// TestGenerationReaderUnderConcurrentBumps: readers never see the counter
// go back, and once the writers are done they see exactly the store's value.
func TestGenerationReaderUnderConcurrentBumps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		r := mirrorTestReader(t, db)
		const writers, bumps = 4, 25
		var wg sync.WaitGroup
		var done atomic.Bool
		var bad atomic.Value
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var last int64
				for !done.Load() {
					g, err := r.Read(context.Background())
					if err != nil {
						bad.Store(err.Error())
						return
					}
					if g < last {
						bad.Store("the counter went back")
						return
					}
					last = g
				}
			}()
		}
		var ww sync.WaitGroup
		for i := 0; i < writers; i++ {
			ww.Add(1)
			go func() {
				defer ww.Done()
				for j := 0; j < bumps; j++ {
					if err := db.Transaction(func(tx *gorm.DB) error { return store.Bump(tx, "config") }); err != nil {
						bad.Store(err.Error())
						return
					}
				}
			}()
		}
		ww.Wait()
		done.Store(true)
		wg.Wait()
		if b := bad.Load(); b != nil {
			t.Fatal(b)
		}
		if g := mirrorTestRead(t, r); g != writers*bumps {
			t.Fatalf("reader = %d, want %d", g, writers*bumps)
		}
	})
}

// TestReopenedSQLiteFileIsReadAgain: a file written while this process had
// no pool on it is read afresh when opened again.
func TestReopenedSQLiteFileIsReadAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "re.db")
	open := func() *gorm.DB {
		db, err := store.OpenSQLiteFile(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Migrate(db); err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	r := mirrorTestReader(t, db)
	store.Bump(db, "config")
	if g := mirrorTestRead(t, r); g != 1 {
		t.Fatalf("= %d", g)
	}
	r.Close()
	sqlDB, _ := db.DB()
	sqlDB.Close()

	// Another program writes the file meanwhile.
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("UPDATE generations SET value = 41 WHERE name = 'config'"); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db2 := open()
	t.Cleanup(func() {
		if s, err := db2.DB(); err == nil {
			s.Close()
		}
	})
	if g := mirrorTestRead(t, mirrorTestReader(t, db2)); g != 41 {
		t.Fatalf("after reopening = %d, want 41", g)
	}
}
