package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SchemaVersion is the schema this build of deskprov writes and knows. Raise
// it with any migration an older build could not run against (a dropped or
// renamed column, a changed meaning): an older serve then refuses the store
// instead of misreading it.
//
// 2: files moved into the blob store (package blob): shared phone files
// out of phone_file_blobs, phones' uploads into phone_uploads. A build of
// version 1 would answer 503 for them, so it refuses the store instead.
//
// 3: the inventory's times (first and last seen, the config fetched) moved
// from devices into device_seen (provisioning/seen.go), their columns
// dropped from devices: a build of version 2 would fail every inventory
// read and write.
const SchemaVersion = 3

// migrateLockClass is the first half of the PostgreSQL advisory lock key that
// serialises migrations ("dpmg"); the second half is the schema's name, so
// that two deployments in different schemas of one database do not wait for
// each other.
const migrateLockClass = 0x64706d67

// schemaInfo records the schema version of the store: one row, id 1.
type schemaInfo struct {
	ID        int    `gorm:"primaryKey;autoIncrement:false"`
	Version   int    `gorm:"not null"`
	WrittenBy string `gorm:"size:64;not null"`
	UpdatedAt time.Time
}

func (schemaInfo) TableName() string { return "schema_info" }

// SchemaTooNew is returned when the store was migrated by a newer deskprov.
type SchemaTooNew struct {
	Recorded, Known int
	WrittenBy       string
}

func (e *SchemaTooNew) Error() string {
	by := ""
	if e.WrittenBy != "" {
		by = " (by deskprov " + e.WrittenBy + ")"
	}
	return fmt.Sprintf("the database schema is version %d%s, newer than version %d that this deskprov knows: run the newer deskprov here too, or restore the database backup taken before the upgrade", e.Recorded, by, e.Known)
}

// RecordedSchema reads the recorded schema version: 0 for a store that holds
// none yet (empty, or migrated before versions were recorded).
func RecordedSchema(ctx context.Context, db *gorm.DB) (version int, writtenBy string, err error) {
	if !db.Migrator().HasTable(&schemaInfo{}) {
		return 0, "", nil
	}
	var s schemaInfo
	if err := db.WithContext(ctx).Limit(1).Find(&s, "id = 1").Error; err != nil {
		return 0, "", err
	}
	return s.Version, s.WrittenBy, nil
}

// MigrateAll runs every package's migration under one lock and records the
// schema version, refusing (with *SchemaTooNew, before changing anything) a
// store a newer deskprov has migrated. It returns the version recorded
// before.
//
// On PostgreSQL the lock is a session advisory lock, held on a connection of
// its own for the whole run, so that instances started together on an empty
// database migrate one after another (without it, two CREATE TABLEs race and
// one fails on pg_type's unique index). On SQLite nothing more is needed: the
// data directory lock (LockDataDir) already keeps a second process out.
func MigrateAll(ctx context.Context, db *gorm.DB, build string, steps ...func(*gorm.DB) error) (before int, err error) {
	if EngineOf(db) == Postgres {
		sqlDB, err := db.DB()
		if err != nil {
			return 0, err
		}
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("take the migration lock: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, hashtext(current_schema()))", migrateLockClass); err != nil {
			return 0, fmt.Errorf("take the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, hashtext(current_schema()))", migrateLockClass)
	}
	before, by, err := RecordedSchema(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if before > SchemaVersion {
		return before, &SchemaTooNew{Recorded: before, Known: SchemaVersion, WrittenBy: by}
	}
	for _, m := range append([]func(*gorm.DB) error{Migrate, func(db *gorm.DB) error { return db.AutoMigrate(&schemaInfo{}) }}, steps...) {
		if err := m(db.WithContext(ctx)); err != nil {
			return before, fmt.Errorf("migrate the store: %w", err)
		}
	}
	if before < SchemaVersion {
		rec := schemaInfo{ID: 1, Version: SchemaVersion, WrittenBy: build, UpdatedAt: time.Now().UTC()}
		if err := db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&rec).Error; err != nil {
			return before, fmt.Errorf("record the schema version: %w", err)
		}
	}
	return before, nil
}

// IsSchemaTooNew tells whether err is a refusal of a newer schema.
func IsSchemaTooNew(err error) bool {
	var e *SchemaTooNew
	return errors.As(err, &e)
}
