// Package store opens the database deskprov keeps its state in: an embedded
// SQLite file by default, PostgreSQL when the DSN says postgres://.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Engine names the database in use.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Open opens dsn, or the SQLite file deskprov.db in dataDir when dsn is empty.
// A SQLite DSN may also be given as sqlite://path or a plain file path.
func Open(dsn, dataDir string) (*gorm.DB, Engine, error) {
	cfg := &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			return nil, "", fmt.Errorf("open PostgreSQL: %w", err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			return nil, "", err
		}
		sqlDB.SetMaxOpenConns(40)
		sqlDB.SetMaxIdleConns(20)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		return db, Postgres, nil
	}
	path := strings.TrimPrefix(dsn, "sqlite://")
	if path == "" {
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, "", fmt.Errorf("create data directory %s: %w", dataDir, err)
		}
		path = filepath.Join(dataDir, "deskprov.db")
	}
	db, err := OpenSQLiteFile(path, cfg)
	if err != nil {
		return nil, "", err
	}
	return db, SQLite, nil
}

// OpenSQLiteFile opens a SQLite file with the settings every deskprov store
// uses: WAL so readers never wait for the writer, a busy timeout so writers
// queue instead of failing, foreign keys enforced, and write transactions that
// take the lock when they begin (BEGIN IMMEDIATE), which avoids the deadlock
// of two readers both upgrading to writers.
func OpenSQLiteFile(path string, cfg *gorm.Config) (*gorm.DB, error) {
	if cfg == nil {
		cfg = &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }}
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	sqlDB, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	pool := &ownedPool{DB: sqlDB, mirror: mirrorFor(path)}
	db, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: "sqlite3", Conn: pool}), cfg)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	var mode string
	if err := db.Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return db, nil
}

// EngineOf tells which engine a gorm handle talks to.
func EngineOf(db *gorm.DB) Engine {
	if db.Dialector.Name() == "postgres" {
		return Postgres
	}
	return SQLite
}

// Ping checks that the store answers.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// secret is a server-wide random value shared by every instance on one store.
type secret struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value []byte `gorm:"not null"`
}

func (secret) TableName() string { return "server_secrets" }

// Migrate creates the store's own tables.
func Migrate(db *gorm.DB) error { return db.AutoMigrate(&secret{}, &generation{}) }

// Secret returns the named secret, creating it with size random bytes on first
// use. Two instances racing to create it agree on one value.
func Secret(ctx context.Context, db *gorm.DB, name string, size int) ([]byte, error) {
	var s secret
	err := db.WithContext(ctx).First(&s, "name = ?", name).Error
	if err == nil {
		return s.Value, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, err
	}
	v := make([]byte, size)
	if _, err := rand.Read(v); err != nil {
		return nil, err
	}
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&secret{Name: name, Value: v}).Error; err != nil {
		return nil, err
	}
	if err := db.WithContext(ctx).First(&s, "name = ?", name).Error; err != nil {
		return nil, err
	}
	return s.Value, nil
}

// IsUniqueViolation reports whether err comes from a unique constraint on
// either engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "duplicate key value")
}

// ForUpdate adds a row lock to a query on PostgreSQL. SQLite needs none: its
// write transactions hold the database lock from BEGIN (see OpenSQLiteFile).
func ForUpdate(tx *gorm.DB) *gorm.DB {
	if EngineOf(tx) == Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}
