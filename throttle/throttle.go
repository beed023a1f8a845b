// Package throttle counts attempts per key in fixed time windows, in the store,
// so that every deskprov instance on one database sees the same strikes.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/textfield"
)

// Limiter counts strikes against keys such as "login:user:admin" or
// "login:addr:203.0.113.7".
type Limiter struct {
	db  *gorm.DB
	Now func() time.Time
}

type strike struct {
	Key         string    `gorm:"primaryKey;size:200"`
	WindowStart time.Time `gorm:"not null"`
	Count       int       `gorm:"not null"`
}

func (strike) TableName() string { return "throttle_strikes" }

// Migrate creates the strike and backoff tables.
func Migrate(db *gorm.DB) error { return db.AutoMigrate(&strike{}, &backoff{}) }

// New returns a limiter on db.
func New(db *gorm.DB) *Limiter { return &Limiter{db: db, Now: time.Now} }

// Rule is a limit of Max strikes per Window.
type Rule struct {
	Max    int
	Window time.Duration
}

// Blocked reports whether key has used up its strikes in the current window,
// and how long until the window ends.
func (l *Limiter) Blocked(ctx context.Context, key string, r Rule) (bool, time.Duration, error) {
	key = storedKey(key)
	start := l.Now().UTC().Truncate(r.Window)
	var s strike
	err := l.db.WithContext(ctx).Where("key = ?", key).Limit(1).Find(&s).Error
	if err != nil {
		return false, 0, err
	}
	if s.Key == "" || !s.WindowStart.Equal(start) || s.Count < r.Max {
		return false, 0, nil
	}
	return true, start.Add(r.Window).Sub(l.Now().UTC()), nil
}

// Strike counts one attempt against key and reports whether key is now over
// its limit. The count is one atomic upsert, so concurrent strikes all count.
func (l *Limiter) Strike(ctx context.Context, key string, r Rule) (over bool, retryAfter time.Duration, err error) {
	key = storedKey(key)
	now := l.Now().UTC()
	start := now.Truncate(r.Window)
	err = l.db.WithContext(ctx).Exec(`INSERT INTO throttle_strikes (key, window_start, count) VALUES (?, ?, 1)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN throttle_strikes.window_start = excluded.window_start THEN throttle_strikes.count + 1 ELSE 1 END,
  window_start = excluded.window_start`, key, start).Error
	if err != nil {
		return false, 0, err
	}
	var s strike
	if err := l.db.WithContext(ctx).Where("key = ?", key).Limit(1).Find(&s).Error; err != nil {
		return false, 0, err
	}
	return s.Count > r.Max, start.Add(r.Window).Sub(now), nil
}

// Reset forgets the strikes against key (after a successful attempt).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	key = storedKey(key)
	return l.db.WithContext(ctx).Where("key = ?", key).Delete(&strike{}).Error
}

// storedKey is the form of key the table keeps. Keys carry what clients
// typed (a username, an extension); one too long for the column, or with a
// NUL or bytes that are not UTF-8, which PostgreSQL refuses, is kept as its
// SHA-256 instead, so it still counts and never fails the request.
func storedKey(key string) string {
	if len(key) <= 200 && textfield.Valid(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
