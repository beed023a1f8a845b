package store_test

import (
	"context"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

func TestGenerationCountsEveryConcurrentBump(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		if g, err := store.Generation(ctx, db, "x"); err != nil || g != 0 {
			t.Fatalf("fresh generation = %d, %v", g, err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); store.Bump(db, "x") }()
		}
		wg.Wait()
		if g, _ := store.Generation(ctx, db, "x"); g != 10 {
			t.Fatalf("generation = %d, want 10", g)
		}
	})
}

func TestABumpInARolledBackTransactionIsUndone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		db.Transaction(func(tx *gorm.DB) error {
			store.Bump(tx, "y")
			return context.Canceled
		})
		if g, _ := store.Generation(context.Background(), db, "y"); g != 0 {
			t.Fatalf("generation = %d after rollback, want 0", g)
		}
	})
}

func TestSecretIsStableAcrossCalls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		a, err := store.Secret(ctx, db, "k", 32)
		if err != nil || len(a) != 32 {
			t.Fatalf("secret: %v len %d", err, len(a))
		}
		b, _ := store.Secret(ctx, db, "k", 32)
		if string(a) != string(b) {
			t.Fatal("secret changed between calls")
		}
	})
}
