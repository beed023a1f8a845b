// Package store opens the database deskprov keeps its state in: an embedded
// SQLite file by default, PostgreSQL when the DSN says postgres://.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
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
		db, err := gorm.Open(postgres.Open(withConnectTimeout(dsn)), cfg)
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
	path := SQLitePath(dsn, dataDir)
	if err := createPrivate(path); err != nil {
		return nil, "", err
	}
	db, err := OpenSQLiteFile(path, cfg)
	if err != nil {
		return nil, "", err
	}
	return db, SQLite, nil
}

// connectTimeout bounds a dial to PostgreSQL when the DSN sets none: a
// database host that drops packets would otherwise hold each request for the
// system's TCP timeout (minutes) before it could be answered 503.
const connectTimeout = "5"

func withConnectTimeout(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn // pgx reports the problem, naming it
	}
	q := u.Query()
	if q.Get("connect_timeout") != "" {
		return dsn
	}
	q.Set("connect_timeout", connectTimeout)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLitePath is the file of a SQLite store: --db sqlite://PATH, or
// deskprov.db in the data directory.
func SQLitePath(dsn, dataDir string) string {
	if path := strings.TrimPrefix(dsn, "sqlite://"); path != "" {
		return path
	}
	return filepath.Join(dataDir, "deskprov.db")
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
	// 16 MiB of page cache a connection, not SQLite's 2 MiB: an inventory
	// flush reads and then updates the rows of 500 phones at a time, about
	// a thousand pages spread over the devices table and its lastSeen
	// index, and with 2 MiB the pages its read brought in were gone again
	// before its update wrote them (at a million phones each poll is such
	// a row). Allocated as pages are used; most connections use far less.
	q.Set("_cache_size", "-16384")
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
// use. Two instances racing to create it agree on one value. When the store
// has a Sealer (SealSecrets), the value is stored sealed; a value stored in
// clear before is returned as it is, and sealed by SealSecrets.
func Secret(ctx context.Context, db *gorm.DB, name string, size int) ([]byte, error) {
	sealer := sealerOf(db)
	var s secret
	err := db.WithContext(ctx).First(&s, "name = ?", name).Error
	if err == nil {
		return openSecret(sealer, s, size)
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, err
	}
	v := make([]byte, size)
	if _, err := rand.Read(v); err != nil {
		return nil, err
	}
	stored := v
	if sealer != nil {
		sealed, err := sealer.Seal(base64.StdEncoding.EncodeToString(v), secretBinding(name))
		if err != nil {
			return nil, fmt.Errorf("seal server secret %s: %w", name, err)
		}
		stored = []byte(sealed)
	}
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&secret{Name: name, Value: stored}).Error; err != nil {
		return nil, err
	}
	if err := db.WithContext(ctx).First(&s, "name = ?", name).Error; err != nil {
		return nil, err
	}
	return openSecret(sealer, s, size)
}

// Sealer encrypts small values at rest (internal/sealbox.Box), binding each
// to the row it belongs to.
type Sealer interface {
	Seal(plain, bind string) (string, error)
	Open(stored, bind string) (string, error)
}

// sealedPrefix marks a sealed value (internal/sealbox.Prefix).
const sealedPrefix = "v1:"

var sealers sync.Map // *sql.DB → Sealer

// SealSecrets makes Secret keep db's server secrets sealed by sealer, and
// seals those stored in clear; it returns how many it sealed. serve calls it
// once, before anything reads a secret.
func SealSecrets(ctx context.Context, db *gorm.DB, sealer Sealer) (int, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return 0, err
	}
	sealers.Store(sqlDB, sealer)
	var all []secret
	if err := db.WithContext(ctx).Find(&all).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, s := range all {
		if isSealedSecret(s.Value) {
			continue
		}
		sealed, err := sealer.Seal(base64.StdEncoding.EncodeToString(s.Value), secretBinding(s.Name))
		if err != nil {
			return n, fmt.Errorf("seal server secret %s: %w", s.Name, err)
		}
		res := db.WithContext(ctx).Model(&secret{}).Where("name = ? AND value = ?", s.Name, s.Value).Update("value", []byte(sealed))
		if res.Error != nil {
			return n, res.Error
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

func sealerOf(db *gorm.DB) Sealer {
	sqlDB, err := db.DB()
	if err != nil {
		return nil
	}
	if v, ok := sealers.Load(sqlDB); ok {
		return v.(Sealer)
	}
	return nil
}

func secretBinding(name string) string { return "server_secrets.value:" + name }

// isSealedSecret tells a sealed value from a clear one: secrets are random
// bytes of at most 64, a sealed one is longer text with the prefix.
func isSealedSecret(v []byte) bool {
	return len(v) > 64 && strings.HasPrefix(string(v), sealedPrefix)
}

func openSecret(sealer Sealer, s secret, size int) ([]byte, error) {
	if !isSealedSecret(s.Value) {
		return s.Value, nil
	}
	if sealer == nil {
		return nil, fmt.Errorf("server secret %s is sealed and this server has no key to open it: start it with the --secret-key-file it was started with", s.Name)
	}
	plain, err := sealer.Open(string(s.Value), secretBinding(s.Name))
	if err != nil {
		return nil, fmt.Errorf("server secret %s: %w", s.Name, err)
	}
	v, err := base64.StdEncoding.DecodeString(plain)
	if err != nil || len(v) != size {
		return nil, fmt.Errorf("server secret %s does not decode to %d bytes", s.Name, size)
	}
	return v, nil
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
