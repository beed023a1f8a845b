package store

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"
)

// ConfigGeneration names the counter that every change able to alter a
// rendered phone file bumps (policy edits and grants, firmware rules and
// rollouts, sign-in and sign-out, server settings). Provisioning reads it
// once per poll: while it is unchanged, a cached file is still right, on
// every instance sharing the store.
const ConfigGeneration = "config"

type generation struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value int64  `gorm:"not null"`
}

func (generation) TableName() string { return "generations" }

// Bump increments the named counter, inside tx when tx is a transaction, so
// the bump commits (or rolls back) with the change it announces.
func Bump(tx *gorm.DB, name string) error {
	if err := tx.Exec(`INSERT INTO generations (name, value) VALUES (?, 1)
ON CONFLICT (name) DO UPDATE SET value = generations.value + 1`, name).Error; err != nil {
		return err
	}
	noteBump(tx, name)
	return nil
}

// InMemory tells whether a GenerationReader answers without touching the
// store (a SQLite store this process owns).
func (r *GenerationReader) InMemory() bool { return r.owned != nil }

// Generation reads the named counter (0 before its first bump).
func Generation(ctx context.Context, db *gorm.DB, name string) (int64, error) {
	var g generation
	err := db.WithContext(ctx).Where("name = ?", name).Limit(1).Find(&g).Error
	return g.Value, err
}

// GenerationReader reads one counter through a prepared statement, without
// gorm's per-query work: the fast path for a read made on every phone poll.
// It reads the same row Generation does.
//
// On a SQLite store, which one server owns, it answers from memory (see
// mirror.go) and touches the store only for its first read.
type GenerationReader struct {
	stmt  *sql.Stmt
	name  string
	owned *ownedPool
}

// NewGenerationReader prepares the read of the named counter.
func NewGenerationReader(db *gorm.DB, name string) (*GenerationReader, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	q := "SELECT value FROM generations WHERE name = ?"
	if EngineOf(db) == Postgres {
		q = "SELECT value FROM generations WHERE name = $1"
	}
	stmt, err := sqlDB.Prepare(q)
	if err != nil {
		return nil, err
	}
	return &GenerationReader{stmt: stmt, name: name, owned: mirrorOf(db)}, nil
}

// Read returns the counter (0 before its first bump).
func (r *GenerationReader) Read(ctx context.Context) (int64, error) {
	if r.owned != nil {
		return r.owned.mirror.get(ctx, r.owned.DB, r.name)
	}
	var v int64
	err := r.stmt.QueryRowContext(ctx, r.name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// Close releases the statement.
func (r *GenerationReader) Close() error { return r.stmt.Close() }
