package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// A SQLite store belongs to one server process (serve locks its data
// directory), so that process sees every write to it and can keep the
// generation counters in memory instead of reading them on every phone
// poll. ownedPool is the connection pool gorm is given for such a store:
// transactions begun on it are trackedTx, which note a Bump and refresh the
// in-memory copy once the transaction has committed, so the copy moves only
// after the change it announces is visible to every reader. PostgreSQL
// stores are shared between servers and keep reading the store.

// mirror is the in-memory copy of one SQLite file's generation counters,
// shared by every pool this process opens on that file.
type mirror struct {
	mu sync.Mutex // serialises loads and refreshes
	m  sync.Map   // name → *mirrorValue
}

type mirrorValue struct {
	v      atomic.Int64
	loaded atomic.Bool
}

var (
	mirrorsMu sync.Mutex
	mirrors   = map[string]*mirror{}
)

// mirrorFor returns the mirror of the SQLite file at path. Opening the file
// again forgets what the mirror held, in case the file was written while no
// pool of ours had it open.
func mirrorFor(path string) *mirror {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	mirrorsMu.Lock()
	defer mirrorsMu.Unlock()
	if m, ok := mirrors[path]; ok {
		m.m.Range(func(_, v any) bool {
			v.(*mirrorValue).loaded.Store(false)
			return true
		})
		return m
	}
	m := &mirror{}
	mirrors[path] = m
	return m
}

func (m *mirror) value(name string) *mirrorValue {
	if v, ok := m.m.Load(name); ok {
		return v.(*mirrorValue)
	}
	v, _ := m.m.LoadOrStore(name, &mirrorValue{})
	return v.(*mirrorValue)
}

// get returns the counter, reading the store only when the copy is not
// loaded yet (or its last refresh failed).
func (m *mirror) get(ctx context.Context, db *sql.DB, name string) (int64, error) {
	mv := m.value(name)
	if mv.loaded.Load() {
		return mv.v.Load(), nil
	}
	if err := m.refresh(ctx, db, name); err != nil {
		return 0, err
	}
	return mv.v.Load(), nil
}

// refresh reads the counter from the store. It never moves the copy back,
// and a failed read leaves it unloaded so the next get reads the store.
func (m *mirror) refresh(ctx context.Context, db *sql.DB, name string) error {
	mv := m.value(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	var v int64
	err := db.QueryRowContext(ctx, "SELECT value FROM generations WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		mv.loaded.Store(false)
		return err
	}
	if v > mv.v.Load() {
		mv.v.Store(v)
	}
	mv.loaded.Store(true)
	return nil
}

// afterCommit refreshes names once their bump is committed. A refresh that
// fails leaves the name unloaded: the next read goes to the store, so
// nothing is stale.
func (m *mirror) afterCommit(db *sql.DB, names []string) {
	for _, n := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = m.refresh(ctx, db, n)
		cancel()
	}
}

// ownedPool is gorm's connection pool for a SQLite store this process owns.
type ownedPool struct {
	*sql.DB
	mirror *mirror
}

// BeginTx begins a transaction that tracks generation bumps (gorm's
// ConnPoolBeginner).
func (p *ownedPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &trackedTx{Tx: tx, pool: p}, nil
}

// GetDBConn gives gorm's DB() the underlying pool.
func (p *ownedPool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

// trackedTx is a transaction on an ownedPool.
type trackedTx struct {
	*sql.Tx
	pool   *ownedPool
	mu     sync.Mutex
	bumped []string
}

func (t *trackedTx) bump(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.bumped {
		if n == name {
			return
		}
	}
	t.bumped = append(t.bumped, name)
}

// Commit commits, then refreshes the counters the transaction bumped.
func (t *trackedTx) Commit() error {
	if err := t.Tx.Commit(); err != nil {
		return err
	}
	t.mu.Lock()
	names := t.bumped
	t.mu.Unlock()
	t.pool.mirror.afterCommit(t.pool.DB, names)
	return nil
}

// GetDBConn gives gorm's DB() the underlying pool.
func (t *trackedTx) GetDBConn() (*sql.DB, error) { return t.pool.DB, nil }

// noteBump tells the mirror of the store behind tx (if any) about a bump
// that just ran: inside a transaction it is refreshed after commit, outside
// one the bump is already committed and it is refreshed now.
func noteBump(tx *gorm.DB, name string) {
	switch p := tx.Statement.ConnPool.(type) {
	case *trackedTx:
		p.bump(name)
	case *ownedPool:
		p.mirror.afterCommit(p.DB, []string{name})
	}
}

// mirrorOf returns the owned pool behind db, nil for a store without one.
func mirrorOf(db *gorm.DB) *ownedPool {
	pool := db.ConnPool
	if db.Statement != nil && db.Statement.ConnPool != nil {
		pool = db.Statement.ConnPool
	}
	switch p := pool.(type) {
	case *ownedPool:
		return p
	case *trackedTx:
		return p.pool
	}
	return nil
}

// Owned tells whether db is a store this process alone writes (a SQLite file
// it opened; serve locks it against other servers), so that what this
// process did not write cannot change under it.
func Owned(db *gorm.DB) bool { return mirrorOf(db) != nil }
