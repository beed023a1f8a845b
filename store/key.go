package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"gorm.io/gorm"
)

// Key is a named 32-byte server secret (Secret) read once and then kept: the
// secrets behind HMACs are read on hot paths (every phone poll) and never
// change once made.
type Key struct {
	db   *gorm.DB
	name string

	mu sync.Mutex
	v  []byte
}

// NewKey returns the secret name of db, read (or created) on first use.
func NewKey(db *gorm.DB, name string) *Key { return &Key{db: db, name: name} }

// Bytes returns the secret.
func (k *Key) Bytes(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.v == nil {
		v, err := Secret(ctx, k.db, k.name, 32)
		if err != nil {
			return nil, err
		}
		k.v = v
	}
	return k.v, nil
}

// HMAC returns the hex HMAC-SHA256 of msg under the secret: the at-rest form
// of a code or token, useless without the secret.
func (k *Key) HMAC(ctx context.Context, msg string) (string, error) {
	key, err := k.Bytes(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil)), nil
}
