// Package storetest gives each test a fresh store on every engine deskprov
// supports: SQLite always, PostgreSQL too when DESKPROV_TEST_POSTGRES holds a
// DSN. One suite, two backends.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
)

// EnvPostgres names the variable holding the PostgreSQL DSN for tests.
const EnvPostgres = "DESKPROV_TEST_POSTGRES"

// Each runs fn once per available engine, as subtests named after the engine,
// each with a fresh, migrated store (store.Migrate only; callers migrate their
// own packages).
func Each(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	// Under CI the PostgreSQL half always runs (and fails without a server).
	if os.Getenv(EnvPostgres) != "" || os.Getenv("CI") != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	}
}

// SQLite opens a fresh SQLite file in the test's temporary directory.
func SQLite(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := store.OpenSQLiteFile(filepath.Join(t.TempDir(), "test.db"), nil)
	if err != nil {
		t.Fatalf("open SQLite: %v", err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if err := store.Migrate(db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// Postgres opens a fresh schema on the server named by DESKPROV_TEST_POSTGRES,
// dropped when the test ends. It skips the test when the variable is empty,
// except under CI (CI set), where every store test must run on PostgreSQL.
func Postgres(t testing.TB) *gorm.DB {
	t.Helper()
	db, _, err := store.Open(PostgresEmpty(t), "")
	if err != nil {
		t.Fatalf("open PostgreSQL schema: %v", err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.SetMaxOpenConns(20)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if err := store.Migrate(db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// PostgresEmpty creates a fresh, empty schema on the server named by
// DESKPROV_TEST_POSTGRES and returns a DSN that works in it, for tests that
// open several connections (or start servers) on one store. The schema is
// dropped when the test ends, after the cleanups registered later (which
// close those connections). It skips as Postgres does.
func PostgresEmpty(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(EnvPostgres + " is not set, and CI must run every store test on PostgreSQL too: run the suite through ./scripts/test, which starts one")
		}
		t.Skip(EnvPostgres + " is not set")
	}
	admin, _, err := store.Open(dsn, "")
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return u.String()
}
