package store_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestKeyHMACIsUnderTheNamedSecret: a Key's HMAC is keyed by the server
// secret of its name, so two instances (two Keys) agree, and other names differ.
func TestKeyHMACIsUnderTheNamedSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		got, err := store.NewKey(db, "k").HMAC(ctx, "msg")
		if err != nil {
			t.Fatal(err)
		}
		secret, err := store.Secret(ctx, db, "k", 32)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("msg"))
		if want := hex.EncodeToString(m.Sum(nil)); got != want {
			t.Fatalf("HMAC %s, want %s", got, want)
		}
		if again, _ := store.NewKey(db, "k").HMAC(ctx, "msg"); again != got {
			t.Fatal("two Keys of one name disagree")
		}
		if other, _ := store.NewKey(db, "other").HMAC(ctx, "msg"); other == got {
			t.Fatal("two names give one HMAC")
		}
	})
}
