package store_test

import (
	"context"
	"errors"
	"strings"
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

// storeTestSealer seals by reversing and tagging: enough to see that Secret
// stores what the sealer made and opens it back, bound to the row.
type storeTestSealer struct{}

func (storeTestSealer) Seal(plain, bind string) (string, error) {
	return "v1:" + bind + "|" + strings.Repeat("x", 40) + "|" + plain, nil
}

func (storeTestSealer) Open(stored, bind string) (string, error) {
	rest, ok := strings.CutPrefix(stored, "v1:"+bind+"|"+strings.Repeat("x", 40)+"|")
	if !ok {
		return "", errors.New("wrong binding")
	}
	return rest, nil
}

func TestSecretsAreSealedWhenTheStoreHasASealer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		legacy, err := store.Secret(ctx, db, "old", 32)
		if err != nil {
			t.Fatal(err)
		}
		n, err := store.SealSecrets(ctx, db, storeTestSealer{})
		if err != nil || n != 1 {
			t.Fatalf("sealed %d, %v", n, err)
		}
		raw := func(name string) string {
			var v []byte
			if err := db.Raw("SELECT value FROM server_secrets WHERE name = ?", name).Row().Scan(&v); err != nil {
				t.Fatal(err)
			}
			return string(v)
		}
		if r := raw("old"); !strings.HasPrefix(r, "v1:server_secrets.value:old|") {
			t.Fatalf("the clear secret was not sealed: %q", r)
		}
		if again, err := store.Secret(ctx, db, "old", 32); err != nil || string(again) != string(legacy) {
			t.Fatalf("sealing changed the secret: %v", err)
		}
		fresh, err := store.Secret(ctx, db, "new", 32)
		if err != nil || len(fresh) != 32 {
			t.Fatalf("%d bytes, %v", len(fresh), err)
		}
		if r := raw("new"); !strings.HasPrefix(r, "v1:server_secrets.value:new|") {
			t.Fatalf("a new secret was stored in clear: %q", r)
		}
		if again, _ := store.Secret(ctx, db, "new", 32); string(again) != string(fresh) {
			t.Fatal("a sealed secret did not open to itself")
		}
		// Moved to another row, a sealed value does not open.
		if err := db.Exec("UPDATE server_secrets SET value = ? WHERE name = ?", raw("new"), "old").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := store.Secret(ctx, db, "old", 32); err == nil {
			t.Fatal("a sealed secret moved to another row opened")
		}
	})
}
