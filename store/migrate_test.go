package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

// Tables of a young package, for the migration race: each AutoMigrate
// creates a table and its row type, which is where unserialised CREATE
// TABLEs collide (pg_type_typname_nsp_index).
type raceA struct {
	ID   uint
	Name string `gorm:"uniqueIndex;size:64"`
}
type raceB struct {
	ID    uint
	Value string
}
type raceC struct {
	ID  uint
	Ref uint `gorm:"index"`
}

func migrateRace(db *gorm.DB) error { return db.AutoMigrate(&raceA{}, &raceB{}, &raceC{}) }

func TestInstancesStartedTogetherOnAnEmptyPostgreSQLAllMigrate(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	const instances = 6
	dbs := make([]*gorm.DB, instances)
	for i := range dbs {
		db, _, err := store.Open(dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if sqlDB, err := db.DB(); err == nil {
				sqlDB.Close()
			}
		})
		dbs[i] = db
	}
	var wg sync.WaitGroup
	errs := make([]error, instances)
	start := make(chan struct{})
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = store.MigrateAll(context.Background(), db, "test", migrateRace)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if v, _, err := store.RecordedSchema(context.Background(), dbs[0]); err != nil || v != store.SchemaVersion {
		t.Errorf("recorded schema %d, %v; want %d", v, err, store.SchemaVersion)
	}
}

func TestAStoreMigratedByANewerDeskprovIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		before, err := store.MigrateAll(ctx, db, "old", migrateRace)
		if err != nil || before != 0 {
			t.Fatalf("first migration: before %d, %v", before, err)
		}
		if before, err := store.MigrateAll(ctx, db, "old", migrateRace); err != nil || before != store.SchemaVersion {
			t.Fatalf("second migration: before %d, %v", before, err)
		}
		newer := store.SchemaVersion + 1
		if err := db.Exec("UPDATE schema_info SET version = ?, written_by = ? WHERE id = 1", newer, "v9.9.9").Error; err != nil {
			t.Fatal(err)
		}
		db.Exec("DROP TABLE race_cs")
		_, err = store.MigrateAll(ctx, db, "old", migrateRace)
		if !store.IsSchemaTooNew(err) {
			t.Fatalf("migration against a newer schema: %v", err)
		}
		for _, want := range []string{fmt.Sprintf("version %d", newer), fmt.Sprintf("version %d that this deskprov knows", store.SchemaVersion), "v9.9.9"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal %q does not say %q", err, want)
			}
		}
		if db.Migrator().HasTable(&raceC{}) {
			t.Error("the refused migration still changed the schema")
		}
	})
}
